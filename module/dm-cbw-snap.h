/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw: the snapshot's private state, shared by dm-cbw-core.c (life
 * cycle, sets, status) and the I/O paths (dm-cbw-io.h: dm-cbw-write.c,
 * dm-cbw-copy.c, dm-cbw-read.c).  The targets see only dm-cbw.h.
 */
#ifndef DM_CBW_SNAP_H
#define DM_CBW_SNAP_H

#include <linux/bio.h>
#include <linux/cpumask.h>
#include <linux/kref.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "dm-cbw.h"
#include "dm-cbw-bitmap.h"
#include "dm-cbw-cow.h"
#include "dm-cbw-map.h"
#include "dm-cbw-pages.h"

/*
 * enum snap_state - where the cbw target is in its life.
 * @SNAP_NEW: constructed, never resumed; not visible to snapshot-access.
 * @SNAP_LIVE: resumed: snapshot reads flow.
 * @SNAP_SUSPENDED: suspended: snapshot reads are parked.
 * @SNAP_DEAD: destroyed: snapshot reads fail.
 */
enum snap_state {
	SNAP_NEW,
	SNAP_LIVE,
	SNAP_SUSPENDED,
	SNAP_DEAD,
};

/**
 * struct cbw_snap - one copy-before-write snapshot.
 * @kref: references: the cbw target, and each snapshot-access target.
 * @ti: the cbw target, for dm events; not used once @state is SNAP_DEAD.
 * @origin: the origin device (owned by the cbw target).
 * @cow: the COW device (owned by the cbw target).
 * @origin_dev: the origin's device number; constant.
 * @cow_dev: the COW device's number; constant.
 * @md: the mapped device holding the cbw target; only compared once
 *      @state is SNAP_DEAD (it may be gone).
 * @md_devt: @md's device number; constant.
 * @chunk_shift: log2 of the chunk size in sectors; constant.
 * @sectors: size of the snapshot in sectors (the cbw target's length);
 *	     constant.
 * @nr_chunks: number of chunks, the last one may be partial; constant.
 * @discard_passdown: discard freed slots on the COW device; constant.
 * @low_water: free-slot count under which an event fires; constant.
 * @node: entry in the list of snapshots; cbw_registry_lock.
 * @lock: protects the fields marked "@lock" and every change of
 *	  @readable.
 * @state: enum snap_state; @lock.  A snapshot stays on the list of
 *	   snapshots in SNAP_DEAD until its COW I/O has ended.
 * @setup: incremental set-up: guest writes are held on @held until it
 *	   ends; cleared once, under @set_lock and @lock, with release
 *	   order after the set-up's changes of @readable; read with
 *	   acquire order by the write fast path (which looks again under
 *	   @lock).
 * @set_lock: serialises the incremental set-up's changes of @readable
 *	      (add and remove messages, which may run concurrently) with
 *	      each other and with its end (cbw_snap_start()), so that no
 *	      change lands after the end.
 * @held: guest writes held during the set-up; @lock.
 * @readable: bit set = chunk in the snapshot.  Changed under @lock
 *	      (and @set_lock during the set-up); read without a lock (the
 *	      bitmap's readers are lock-free) by the write fast path.
 * @map: copied chunk -> COW slot; its own lock.  A chunk is "to copy"
 *	 while it is readable and not in @map (see dm-cbw-io.h).
 * @copied: chunks both readable and in @map; @lock.
 * @store: the COW store (slot allocation); serialised by its own mutex
 *	   (dm-cbw-cow.h).
 * @broken: why the snapshot broke, CBW_OK if it did not; written under
 *	    @lock, read with READ_ONCE() by the fast path.
 * @first_error: the first copy failure; @lock.
 * @low_fired: the low-water event fired and was not re-armed; @lock.
 * @dropped: chunks dropped by the drop policy; @lock, changed with their
 *	bits in @readable (cbw_snap_remove_chunks()).
 * @discarded: chunks dropped by snapshot discards; locked as @dropped.
 * @policy: enum cbw_policy; WRITE_ONCE()/READ_ONCE().
 * @timeout_ms: copy timeout, 0 = none; WRITE_ONCE()/READ_ONCE().
 * @busy: interval tree of struct cbw_range; @lock.
 * @deferred: cbw bios for the worker; @lock.
 * @access_deferred: snapshot-access bios for the worker; @lock.
 * @parked: snapshot-access bios waiting for the cbw target's resume;
 *	    @lock.
 * @events: copies that ended or timed out, for the worker; @lock.
 * @seq_next: the chunk after the last copy step (engine).
 * @seq_window: the copy-ahead window in chunks (engine).
 * @seq_hits: copy steps in a row that started at @seq_next (engine).
 * @ahead_at: the chunk whose write starts the stream's next step in the
 *	      background, AHEAD_NONE if none; armed by the engine, taken
 *	      (atomic64_cmpxchg()) by the write that covers it, cleared
 *	      also by cbw_snap_stop_ahead(); atomic.
 * @quiesced: suspended: no step starts in the background, and copies
 *	      that no write needs are detached; written under @lock with
 *	      WRITE_ONCE() (the worker's unlocked hint).
 * @wq: the worker's queue; @worker runs on it.
 * @worker: runs cbw_snap_work().
 * @engine: bits: who holds the copy engine, and whether a write took
 *	    @ahead_at (see dm-cbw-io.h); atomic.
 * @bios: the bio set of the copies' reads and writes.
 * @pages: the copies' page cache (engine).
 * @starved: a guest write waits for a copy struct or a page (engine);
 *	     the next copy to end wakes the worker.
 * @copy_pool: struct cbw_copy for copies in flight.
 * @nr_copies: copies in flight that guest writes may wait on (also
 *	       timed-out ones that keep their interval busy); not those
 *	       detached (see dm-cbw-io.h); @copies_done is woken when it
 *	       drops to 0; atomic.
 * @copies_done: wait queue for suspend and destroy.
 * @nr_cow_io: background I/O that still writes or discards COW slots:
 *	       detached copies, and discards of freed slots (the slots are
 *	       freed when they end); changed by the engine holder; @lock.
 * @cow_discards: discards of freed slots that ended, for the worker;
 *		  @lock.
 * @discards_to_issue: discards of freed slots that the worker made, for
 *		       @discard_issuer to submit; @lock.
 * @discard_issuer: submits @discards_to_issue, on system_unbound_wq,
 *		    outside the engine (see dm-cbw-read.c).
 * @orphaned: the cbw target is gone but @nr_cow_io was not 0: the last
 *	      of that I/O to end frees the copy machinery (@reap); @lock.
 * @reap: frees the copy machinery of an orphaned snapshot, on a queue
 *	  of the module's (it destroys @wq).
 * @pins: an orphaned snapshot holds its origin and COW device open
 *	  (@nr_pins of them) until it is reaped: their I/O is still out.
 *	  Opened by the constructor (closed again if it fails), then
 *	  closed by the destructor or, for an orphan, by the reap (never
 *	  both: see @orphaned); no lock.
 * @nr_pins: the number of @pins open; as @pins.
 * @access_ref: counts snapshot-access bios in flight; live while @state
 *		is SNAP_NEW or SNAP_LIVE.
 * @access_drained: completed when @access_ref is dead and drained.
 * @copies: copy jobs issued (statistics, atomic).
 * @copy_errors: copy jobs failed or timed out (statistics, atomic).
 * @timeouts: copies timed out (statistics, atomic).
 * @waited: guest bios that waited (statistics, atomic).
 * @wait_ns: their total wait (statistics, atomic).
 * @origin_reads: snapshot reads from the origin (statistics, atomic).
 * @cow_reads: snapshot reads from the COW device (statistics, atomic).
 * @failed_reads: snapshot reads failed (statistics, atomic).
 *
 * The members that a write which needs no copy reads (@origin, @map,
 * @readable, @ahead_at, @chunk_shift, @setup, @broken) come first, in
 * one cache line (kmalloc() aligns the struct to its power-of-two size).
 */
struct cbw_snap {
	/* What the write fast path reads, and all of it: one cache line. */
	struct dm_dev *origin;
	struct cbw_map *map;
	struct cbw_bitmap *readable;
	atomic64_t ahead_at;
	unsigned int chunk_shift;
	bool setup;
	enum cbw_reason broken;

	struct kref kref;
	struct dm_target *ti;
	struct dm_dev *cow;
	dev_t origin_dev;
	dev_t cow_dev;
	struct mapped_device *md;
	dev_t md_devt;
	sector_t sectors;
	u64 nr_chunks;
	bool discard_passdown;
	u64 low_water;

	struct list_head node;

	struct mutex set_lock;		/* the set-up's changes and its end */
	spinlock_t lock;		/* see the comment in dm-cbw-io.h */
	enum snap_state state;
	struct bio_list held;
	u64 copied;
	struct cbw_cow *store;
	enum cbw_reason first_error;
	bool low_fired;
	u64 dropped;
	u64 discarded;
	enum cbw_policy policy;
	unsigned int timeout_ms;
	struct rb_root_cached busy;
	struct bio_list deferred;
	struct bio_list access_deferred;
	struct bio_list parked;
	struct list_head events;
	u64 seq_next;
	u64 seq_window;
	unsigned int seq_hits;
	bool quiesced;

	struct workqueue_struct *wq;
	struct work_struct worker;
	unsigned long engine;
	struct bio_set bios;
	struct cbw_pages pages;
	bool starved;
	mempool_t copy_pool;
	atomic_t nr_copies;
	wait_queue_head_t copies_done;
	unsigned long nr_cow_io;
	struct list_head cow_discards;
	struct list_head discards_to_issue;
	struct work_struct discard_issuer;
	bool orphaned;
	struct work_struct reap;
	struct cbw_pin pins[2];
	unsigned int nr_pins;

	struct percpu_ref access_ref;
	struct completion access_drained;

	atomic64_t copies;
	atomic64_t copy_errors;
	atomic64_t timeouts;
	atomic64_t waited;
	atomic64_t wait_ns;
	atomic64_t origin_reads;
	atomic64_t cow_reads;
	atomic64_t failed_reads;
};

static_assert(L1_CACHE_BYTES < 64 ||
	      offsetofend(struct cbw_snap, broken) <= L1_CACHE_BYTES);

/* snap->ahead_at when no write starts a step in the background. */
#define AHEAD_NONE		(-1LL)

static inline u64 sector_to_chunk(struct cbw_snap *snap, sector_t s)
{
	return s >> snap->chunk_shift;
}

static inline sector_t chunk_to_sector(struct cbw_snap *snap, u64 c)
{
	return (sector_t)c << snap->chunk_shift;
}

/*
 * Bitmap lookups.  The bitmaps free their nodes after an RCU grace period,
 * so every lookup runs under rcu_read_lock(), with or without snap->lock.
 */
static inline u64 bm_next_set(const struct cbw_bitmap *bm, u64 from)
{
	u64 r;

	rcu_read_lock();
	r = cbw_bitmap_next_set(bm, from);
	rcu_read_unlock();
	return r;
}

static inline u64 bm_next_clear(const struct cbw_bitmap *bm, u64 from)
{
	u64 r;

	rcu_read_lock();
	r = cbw_bitmap_next_clear(bm, from);
	rcu_read_unlock();
	return r;
}

static inline bool bm_test(const struct cbw_bitmap *bm, u64 bit)
{
	bool r;

	rcu_read_lock();
	r = cbw_bitmap_test(bm, bit);
	rcu_read_unlock();
	return r;
}

/**
 * cbw_snap_wake() - kick the worker.
 * @snap: the snapshot.
 *
 * Context: any.
 */
static inline void cbw_snap_wake(struct cbw_snap *snap)
{
	queue_work(snap->wq, &snap->worker);
}

/**
 * cbw_snap_wake_elsewhere() - kick the worker on another CPU than this one.
 * @snap: the snapshot.
 *
 * For a task that goes on submitting I/O here while the worker copies:
 * the two then run side by side.  The CPU is the next one online that may
 * run work items (isolated CPUs are skipped); with none but this one, the
 * work runs here.  One that goes offline meanwhile runs the work elsewhere
 * (see queue_work_on()).
 *
 * Context: any.
 */
static inline void cbw_snap_wake_elsewhere(struct cbw_snap *snap)
{
	const struct cpumask *may = cbw_wq_cpus();
	unsigned int this = raw_smp_processor_id();
	unsigned int cpu = cpumask_next_and(this, may, cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first_and(may, cpu_online_mask);
	if (cpu == this || cpu >= nr_cpu_ids)
		cbw_snap_wake(snap);
	else
		queue_work_on(cpu, snap->wq, &snap->worker);
}

/* dm-cbw-copy.c */
void cbw_snap_work(struct work_struct *work);
size_t cbw_copy_size(void);
void cbw_snap_event(struct cbw_snap *snap);

/* dm-cbw-write.c */
void cbw_snap_stop_ahead(struct cbw_snap *snap);

/* dm-cbw-read.c */
void cbw_issue_cow_discards(struct work_struct *work);

/* dm-cbw-core.c */
s64 cbw_snap_add_chunks(struct cbw_snap *snap, u64 start, u64 count);
s64 cbw_snap_remove_chunks(struct cbw_snap *snap, u64 start, u64 count,
			   u64 *left);
void cbw_snap_check_low_water(struct cbw_snap *snap);
bool cbw_snap_do_break(struct cbw_snap *snap, enum cbw_reason reason);
void cbw_snap_reap_check(struct cbw_snap *snap);

#endif /* DM_CBW_SNAP_H */
