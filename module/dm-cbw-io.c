// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw I/O paths: guest writes on the cbw target, the copy engine, and
 * reads and discards of the frozen image (snapshot-access).
 *
 * Chunks and sets.  The origin is cut into chunks of 2^chunk_shift
 * sectors (the last one may be partial).  A chunk is "readable" while it
 * is part of the snapshot (the readable bitmap), and "copied" once its
 * frozen data is in a COW slot (it is then in the chunk map,
 * dm-cbw-map.c).  A readable chunk that is not copied is "to copy": its
 * frozen data is still only on the origin.  The to-copy set is not stored
 * anywhere: so a copy costs one map entry (8 to 12 bytes), however
 * scattered the copied chunks are.
 *
 * Guest writes.  A write, write-zeroes or discard whose chunks are not to
 * copy goes straight to the origin: the map function looks its chunk up
 * in the map (no lock, preemption off for the search) and, if it has no
 * slot, tests the readable bitmap under rcu_read_lock(); it allocates
 * nothing.  A bio inside one chunk may start that chunk's copy
 * itself (see "One-chunk copies" below).  Any other bio goes to the
 * worker, which marks the chunk interval busy (a struct cbw_copy in the
 * busy tree), allocates COW slots and copies the to-copy chunks of the
 * interval (a run per stretch of adjacent chunks in adjacent slots, at
 * most MAX_COPY_SECTORS per step).  Steps that keep starting where the
 * previous one ended belong to a sequential stream and copy ahead of
 * their bio (ahead_window()), so that a stream of small writes makes few
 * large copies, and the stream's next step starts in the background as
 * soon as its writes reach the window copied last ("Background
 * copy-ahead").  Bios that touch a busy interval wait on it.  When the
 * copy ends its slots are published in the map (the chunks stop being to
 * copy) and the waiting bios go round again: they now go to the origin.
 *
 * The copy engine.  A copy moves its runs in rounds of at most COPY_PAGES
 * pages, taken from the snapshot's page cache (dm-cbw-pages.h): a bio per
 * run reads a piece of the run from the origin into the pages, then a bio
 * per run writes the pieces to their slots.  The worker issues each stage;
 * when the devices complete the I/O while it is issued (brd, or a stack
 * of bio-based targets over it) the worker goes straight on to the next
 * stage, otherwise the stage's last bio hands the copy back to the
 * worker.  So a copy on such devices runs from the guest write to its
 * resubmission in one pass of the worker, with no other thread involved.
 *
 * One-chunk copies in the submitter's context.  Going through the worker
 * costs two task switches per guest write, and serialises every copy on
 * one CPU.  So a write inside one chunk that is to copy, and not part of
 * a sequential stream, starts its copy in the map function (start_
 * oneshot()) when everything it needs is at hand without waiting: the
 * engine (below), a copy struct, cached pages, a bio, a COW slot.  The
 * copy's read bio then goes on current->bio_list: the block layer issues
 * it once the map function returns, in the same task.  When a stage of
 * such a "oneshot" copy ends in a task that is submitting bios, and the
 * engine is free, the stage's end goes on there: it queues the write bio,
 * and after the write it publishes the slot, releases the interval and
 * queues the waiting writes to the origin (oneshot_next()).  So on devices
 * that complete in the submitter's context the whole copy runs inside
 * the guest's own submission.  Anything else (an error, a timeout, a
 * missing map leaf, the engine held, an interrupt context) hands the copy
 * to the worker as a stage that ended, and the worker goes on from there.
 *
 * Synchronisation.  snap->lock (a spinlock, taken with interrupts off)
 * protects the busy tree, the bio lists, the copied count and every
 * change of the readable bitmap; the map has a spinlock of its own,
 * taken inside snap->lock where both are held.
 *
 * The engine.  The worker-side state (the page cache, COW slot
 * allocation, the fields of a copy marked "engine", the stream detector,
 * and every change of the readable bitmap and the map once the snapshot
 * has started) belongs to whoever holds the engine: a bit in snap->engine
 * taken with test_and_set_bit_lock().  The worker holds it for its whole
 * run (and may sleep); the map function and a oneshot stage's end only
 * try to take it, never sleep while they hold it, and give up to the
 * worker when it is taken.  A worker that finds it taken leaves a mark
 * (ENGINE_WANTED) and returns; the holder queues the worker again when
 * it lets go.  During an incremental set-up only messages change the
 * sets, and every guest write is held, so no one else holds the engine.
 * So the holder may look at the readable bitmap and the map without the
 * lock, and what it saw stays as it was until it changes it itself.
 *
 *  - A chunk leaves the to-copy set in two ways only: its slot enters
 *    the map after its copy has completed on the COW device, or it leaves
 *    the readable set (its frozen data is no longer wanted).  So a bio
 *    the fast path finds nothing to copy for (readable bit clear, or a
 *    slot in the map) is safe to send to the origin, whatever happens
 *    next.  Anything else sends the bio to the worker, which looks
 *    again.
 *  - A snapshot read of a to-copy chunk reads the origin: it marks the
 *    chunk busy until the read ends, so that a write to the chunk (and the
 *    copy it needs) waits for it.  A snapshot read of a copied chunk reads
 *    its slot, and also marks the chunk busy: a snapshot discard, which
 *    frees slots, waits for it.  Reads wait only for a copy or a discard
 *    of their chunk, never for guest writes.
 *
 * Slot reuse.  A slot is published in the map only after its copy has
 * completed, and the to-copy bit is cleared only after that: no reader
 * looks a slot up before its data is there.  A slot leaves the map only
 * when its chunk leaves the readable set (snapshot discard, under an
 * exclusive busy interval, so no read of the chunk is in flight and none
 * can start), and it is freed only after that (and after its discard on
 * the COW device).  So a reader never sees data a slot held for an
 * earlier chunk.
 *
 * The map functions never sleep or allocate memory other than from a
 * mempool without waiting: bios that need more are put on lists for the
 * worker; per-bio data carries what a read needs.
 *
 * Lifetime.  The map function and a oneshot stage's end touch the
 * snapshot only while the guest write of the copy is in flight (it waits
 * on the copy's interval, or is queued on current->bio_list), so dm
 * cannot suspend the target, and the destructor cannot run, under them.
 *
 * Timeouts.  A copy has a deadline: its start plus the timeout.  If the
 * copy has not ended by then, the worker applies the error policy to it
 * at once (the bios waiting on it fail or go on), and the copy goes on
 * in the background: with CBW_FAIL_WRITE the interval stays busy and a
 * late success still publishes the slots (the origin did not change:
 * every write on it failed); otherwise the copy is detached: it ends
 * with its stage in flight and its data is thrown away, its slots are
 * freed when it ends, and suspend and destroy do not wait for it (it
 * counts in @nr_cow_io, see dm-cbw-core.c).  A break detaches every copy
 * in flight the same way.  A copy that no write waits on at its deadline
 * (a background step) is not late: its deadline moves on by the timeout.
 * A suspend detaches every copy still running once dm has drained the
 * guest writes (none waits on them then; their chunks stay to copy), so
 * a stuck COW device holds up no suspend.  Time a bio
 * spends waiting for a snapshot read before its copy starts is not part
 * of the copy's timeout.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/interval_tree_generic.h>
#include <linux/jiffies.h>
#include <linux/slab.h>

#include "compat.h"
#include "dm-cbw-snap.h"

/* The most one copy step covers; a larger bio is copied in several steps. */
#define MAX_COPY_SECTORS	(16U << (20 - SECTOR_SHIFT))

/* Runs in one copy step; a step ends early when they run out. */
#define MAX_RUNS		8

/* Copy-ahead stops when fewer COW slots than this (in sectors) are free. */
#define AHEAD_MIN_FREE_SECTORS	(64U << (20 - SECTOR_SHIFT))

/*
 * Copy-ahead: from the third copy step in a row that starts where the
 * previous one ended (@hits >= 2: a sequential stream), a step copies
 * ahead of its bio, twice as far as the previous step did, up to a whole
 * step (@step chunks).  Slots spent on chunks that are then never written
 * are lost to the snapshot, so copy-ahead stops while fewer than 64 MiB
 * of slots are free, and takes at most an eighth of them.  Engine held.
 * Return: the number of chunks the step may cover from its first, 0 for
 * no copy-ahead.
 */
static u64 ahead_window(struct cbw_snap *snap, unsigned int hits, u64 step)
{
	u64 free = cbw_cow_total(snap->store) - cbw_cow_used(snap->store);

	if (hits < 2 || free < (AHEAD_MIN_FREE_SECTORS >> snap->chunk_shift))
		return 0;
	return min(clamp(snap->seq_window * 2, 1ULL, step), free / 8);
}

/* The most pages a copy moves at a time (one round): 1 MiB. */
#define COPY_PAGES		256U

struct cbw_copy;

/*
 * struct cbw_run - chunks [@chunk, @chunk + @count) to slots [@slot,
 * @slot + @count), moved in one piece per round.
 * @copy: the copy the run is part of.
 * @chunk: the first chunk.
 * @slot: the first slot.
 * @count: the number of chunks.
 * @done: sectors moved by the rounds before (engine).
 * @piece: sectors this round moves, 0 for none (engine).
 * @pl: the pages of this round's piece (engine).
 * @error: written by the end of a bio of the run, read by the engine
 *	   once the stage ended.
 */
struct cbw_run {
	struct cbw_copy *copy;
	u64 chunk;
	u64 slot;
	u64 count;
	sector_t done;
	sector_t piece;
	struct page_list *pl;
	int error;
};

/* The two stages of a round. */
enum copy_stage {
	COPY_READ,		/* from the origin into the pages */
	COPY_WRITE,		/* from the pages to the COW slots */
};

/*
 * struct cbw_copy - one copy step: the to-copy chunks of the busy interval
 * @range, in @nr_runs runs.  The data moves in rounds through the copy's
 * pages: a round reads a piece of one or more runs (COPY_READ), then
 * writes those pieces to their slots (COPY_WRITE).
 * @range: the busy interval; in the busy tree until the copy ends or is
 *	   detached (@detached); @waiters wait on it.
 * @snap: the snapshot.
 * @event: entry in snap->events while the worker has to look at it; @lock.
 * @timer: fires at the copy's deadline.
 * @runs: the runs; written by the engine.
 * @nr_runs: number of @runs.
 * @pages: the copy's buffer, a chain of @nr_pages pages (engine).
 * @nr_pages: see @pages.
 * @stage: the stage in flight, or the one that just ended (engine; the
 *	   ends of the stage's bios read it).
 * @pending: bios of the stage in flight, plus one while issuing.
 * @reason: why the copy failed before any run began (engine).
 * @oneshot: one chunk, one round, started by the map function: a stage's
 *	     end may go on in the task that ends it; constant.
 * @stage_done: the stage ended after its issuing returned; @lock.
 * @finished: the copy is ending: the timer must not queue it; @lock.
 * @expired: the deadline passed and the worker has not handled it yet;
 *	     snap->lock.
 * @timed_out: the worker handled the timeout (engine).
 * @detached: the interval left the busy tree at the timeout or because
 *	      the snapshot broke; the stage in flight ends in the
 *	      background and the data is thrown away (engine; see
 *	      __detach_copy()).
 */
struct cbw_copy {
	struct cbw_range range;
	struct cbw_snap *snap;
	struct list_head event;
	struct timer_list timer;
	struct cbw_run runs[MAX_RUNS];
	unsigned int nr_runs;
	struct page_list *pages;
	unsigned int nr_pages;
	enum copy_stage stage;
	atomic_t pending;
	enum cbw_reason reason;
	bool oneshot;
	bool stage_done;
	bool finished;
	bool expired;
	bool timed_out;
	bool detached;
};

#define RANGE_START(r) ((r)->start)
#define RANGE_LAST(r) ((r)->last)
INTERVAL_TREE_DEFINE(struct cbw_range, rb, u64, subtree_last,
		     RANGE_START, RANGE_LAST, static, busy_tree)

/**
 * cbw_copy_size() - the size of a copy step, for its mempool.
 *
 * Context: any.
 * Return: sizeof(struct cbw_copy).
 */
size_t cbw_copy_size(void)
{
	return sizeof(struct cbw_copy);
}

/* Bits of snap->engine. */
enum {
	ENGINE_HELD,		/* someone holds the engine */
	ENGINE_WANTED,		/* the worker found it held and returned */
	ENGINE_AHEAD,		/* a write took snap->ahead_at */
};

static bool engine_take(struct cbw_snap *snap)
{
	return !test_and_set_bit_lock(ENGINE_HELD, &snap->engine);
}

/*
 * Try to take the engine (see "The engine" above), never waiting, and not
 * while the worker waits for it: a stream of oneshot copies must not
 * keep the worker out.  Return: true if taken.
 */
static bool engine_trylock(struct cbw_snap *snap)
{
	return !test_bit(ENGINE_WANTED, &snap->engine) && engine_take(snap);
}

/* Let go of the engine; run the worker if it waits for the engine. */
static void engine_unlock(struct cbw_snap *snap)
{
	clear_bit_unlock(ENGINE_HELD, &snap->engine);
	/* Pairs with the barrier in engine_lock_worker(). */
	smp_mb__after_atomic();
	if (test_bit(ENGINE_WANTED, &snap->engine))
		cbw_snap_wake(snap);
}

/*
 * The worker takes the engine, or leaves a mark (which also keeps new
 * holders out) for the holder, which queues the worker again when it
 * lets go.  Return: true if taken.
 */
static bool engine_lock_worker(struct cbw_snap *snap)
{
	if (!engine_take(snap)) {
		set_bit(ENGINE_WANTED, &snap->engine);
		/* Pairs with the barrier in engine_unlock(). */
		smp_mb__after_atomic();
		if (!engine_take(snap))
			return false;
	}
	clear_bit(ENGINE_WANTED, &snap->engine);
	return true;
}

/*
 * Background copy-ahead.  A step that copies ahead for a sequential stream
 * arms a trigger, snap->ahead_at: the chunk after its bio, or for a step
 * started in the background its own first chunk.  The write that covers
 * the trigger (in the map function, or as it leaves the slow path) takes
 * it and kicks the worker, which starts the stream's next step at once,
 * with no bio on it (copy_ahead_now()).  So the copy of the next window
 * runs while the stream writes to the window copied last, on another CPU,
 * instead of after it: at most two windows are copied ahead of the
 * stream's writes.
 */
static void ahead_arm(struct cbw_snap *snap, u64 chunk)
{
	atomic64_set(&snap->ahead_at, chunk);
}

static void ahead_disarm(struct cbw_snap *snap)
{
	atomic64_set(&snap->ahead_at, AHEAD_NONE);
}

/*
 * Queue the worker on another CPU than this one if there is one: the task
 * writing the stream goes on here while the worker copies.  A CPU that
 * goes offline meanwhile runs the work elsewhere (see queue_work_on()).
 */
static void wake_elsewhere(struct cbw_snap *snap)
{
	unsigned int this = raw_smp_processor_id();
	unsigned int cpu = cpumask_next(this, cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	if (cpu == this || cpu >= nr_cpu_ids)
		cbw_snap_wake(snap);
	else
		queue_work_on(cpu, snap->wq, &snap->worker);
}

/*
 * A write of chunks [@first, @last] goes to the origin: if it covers the
 * trigger, take it and kick the worker; otherwise this costs one
 * atomic64_read() and a compare.  The write is in flight, so the
 * snapshot outlives the call.  Any context.
 */
static __always_inline void ahead_check(struct cbw_snap *snap, u64 first,
					u64 last)
{
	u64 t = atomic64_read(&snap->ahead_at);

	if (likely(t - first > last - first))
		return;
	if (atomic64_cmpxchg(&snap->ahead_at, t, AHEAD_NONE) != t)
		return;
	if (!test_and_set_bit(ENGINE_AHEAD, &snap->engine))
		wake_elsewhere(snap);
}

/**
 * cbw_snap_stop_ahead() - no step starts in the background any more.
 * @snap: the snapshot.
 *
 * Steps that started before are counted in @snap->nr_copies: the caller
 * then waits for them; the worker detaches those that no write needs any
 * more (see detach_copies() and copy_timed_out()).  cbw_snap_resume()
 * allows them again.
 *
 * Context: process context.
 */
void cbw_snap_stop_ahead(struct cbw_snap *snap)
{
	spin_lock_irq(&snap->lock);
	WRITE_ONCE(snap->quiesced, true);
	spin_unlock_irq(&snap->lock);
	ahead_disarm(snap);
	clear_bit(ENGINE_AHEAD, &snap->engine);
	/* It detaches the copies that timed out and keep their interval. */
	cbw_snap_wake(snap);
}

/**
 * cbw_snap_event() - raise a dm event on the cbw device.
 * @snap: the snapshot.
 *
 * Nothing once the cbw target is being destroyed: the destructor marks
 * the snapshot dead, then waits for the worker (the one caller that may
 * run after it) before the target goes.
 *
 * Context: process context, no spinlock held (dm takes a mutex).
 */
void cbw_snap_event(struct cbw_snap *snap)
{
	bool dead;

	spin_lock_irq(&snap->lock);
	dead = snap->state == SNAP_DEAD;
	spin_unlock_irq(&snap->lock);
	if (!dead)
		dm_table_event(snap->ti->table);
}

static blk_status_t reason_status(enum cbw_reason reason)
{
	switch (reason) {
	case CBW_TIMEOUT:
		return BLK_STS_TIMEOUT;
	case CBW_COW_FULL:
		return BLK_STS_NOSPC;
	default:
		return BLK_STS_IOERR;
	}
}

/* First and last chunk a bio with data touches. */
static void bio_chunks(struct cbw_snap *snap, struct bio *bio, u64 *first,
		       u64 *last)
{
	sector_t s = bio->bi_iter.bi_sector;

	*first = sector_to_chunk(snap, s);
	*last = sector_to_chunk(snap, s + bio_sectors(bio) - 1);
}

/*
 * The first chunk in [@from, @last] still to copy (readable, no slot), or
 * @last + 1.  Exact for the engine's holder (the only writer of both
 * sets) and for callers that exclude it; otherwise each chunk's answer is
 * true at some moment of the call.  Any context.
 */
static u64 next_to_copy(struct cbw_snap *snap, u64 from, u64 last)
{
	u64 s, e, u;

	/* No walk looks past @last: a bio inside one chunk costs one. */
	for (s = bm_next_set(snap->readable, from); s <= last;
	     s = e <= last ? bm_next_set(snap->readable, e) : last + 1) {
		e = s == last ? last + 1 :
		    min(bm_next_clear(snap->readable, s), last + 1);
		u = cbw_map_next_unmapped(snap->map, s, e - 1);
		if (u < e)
			return u;
	}
	return last + 1;
}

/*
 * The first chunk after @from (a chunk to copy) that is not to copy, at
 * most @last + 1.  Same exactness as next_to_copy().
 */
static u64 to_copy_end(struct cbw_snap *snap, u64 from, u64 last)
{
	u64 e = min(bm_next_clear(snap->readable, from), last + 1);

	return e > from ? cbw_map_next_mapped(snap->map, from, e - 1) : e;
}

/*
 * Exact for the engine's holder; a hint otherwise.  One chunk (most
 * writes) is looked up in the map first: a copied chunk, the usual case
 * once a chunk has been written, then needs no walk of the readable set.
 */
static __always_inline bool any_to_copy(struct cbw_snap *snap, u64 first,
					u64 last)
{
	if (first == last)
		return !cbw_map_test(snap->map, first) &&
		       bm_test(snap->readable, first);
	return next_to_copy(snap, first, last) <= last;
}

/* Submit a bio to a device picked outside the map function. */
static void remap_submit(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
	cbw_submit_remapped(bio);
}

/* The end of a guest bio's slow path: count its wait. */
static void account_write(struct cbw_snap *snap, struct bio *bio)
{
	struct cbw_write_io *wio = dm_per_bio_data(bio, sizeof(*wio));

	if (wio->waited) {
		atomic64_inc(&snap->waited);
		atomic64_add(cbw_clock_since(wio->start_ns), &snap->wait_ns);
		wio->waited = false;
	}
}

static void submit_write(struct cbw_snap *snap, struct bio *bio)
{
	u64 first, last;

	bio_chunks(snap, bio, &first, &last);
	ahead_check(snap, first, last);
	account_write(snap, bio);
	remap_submit(bio, snap->origin->bdev);
}

/* The map function lets a write through to the origin. */
static __always_inline int pass_write(struct cbw_snap *snap, struct bio *bio,
				      u64 first, u64 last)
{
	ahead_check(snap, first, last);
	bio_set_dev(bio, snap->origin->bdev);
	return DM_MAPIO_REMAPPED;
}

static void fail_write(struct cbw_snap *snap, struct bio *bio,
		       blk_status_t status)
{
	account_write(snap, bio);
	bio->bi_status = status;
	bio_endio(bio);
}

/*
 * Take @r out of the busy tree and give its waiters to the worker.
 * Caller holds snap->lock.  Return: true if the worker has work now.
 */
static bool __release_range(struct cbw_snap *snap, struct cbw_range *r)
{
	bool any = !bio_list_empty(&r->waiters) || !bio_list_empty(&r->readers);

	busy_tree_remove(r, &snap->busy);
	bio_list_merge(&snap->deferred, &r->waiters);
	bio_list_merge(&snap->access_deferred, &r->readers);
	bio_list_init(&r->waiters);
	bio_list_init(&r->readers);
	return any;
}

/* __release_range() under snap->lock, then wake the worker if needed. */
static void release_range(struct cbw_snap *snap, struct cbw_range *r)
{
	bool wake;

	spin_lock_irq(&snap->lock);
	wake = __release_range(snap, r);
	spin_unlock_irq(&snap->lock);
	if (wake)
		cbw_snap_wake(snap);
}

static void init_range(struct cbw_range *r, u64 start, u64 last,
		       bool copying, bool exclusive)
{
	r->start = start;
	r->last = last;
	r->copying = copying;
	r->exclusive = exclusive;
	bio_list_init(&r->waiters);
	bio_list_init(&r->readers);
}

/*
 * The copy engine.
 */

/* Queue a copy for the worker.  Caller holds snap->lock. */
static void __queue_event(struct cbw_snap *snap, struct cbw_copy *copy)
{
	if (list_empty(&copy->event))
		list_add_tail(&copy->event, &snap->events);
}

static bool oneshot_next(struct cbw_snap *snap, struct cbw_copy *copy);

/*
 * Hand a copy whose stage ended to the worker.  The snapshot is not
 * touched after the unlock: once the worker has the copy it may finish
 * it, and the last copy's end lets the destructor free the snapshot.
 */
static void stage_to_worker(struct cbw_snap *snap, struct cbw_copy *copy)
{
	unsigned long flags;

	spin_lock_irqsave(&snap->lock, flags);
	copy->stage_done = true;
	__queue_event(snap, copy);
	cbw_snap_wake(snap);
	spin_unlock_irqrestore(&snap->lock, flags);
}

/*
 * May the end of a oneshot copy's stage go on in this context?  Only in a
 * task that is submitting bios (the bios it issues then only queue on
 * current->bio_list) and that could sleep: submit_bio_noacct() and
 * del_timer_sync() are annotated so, and a driver may end a bio inside
 * its dispatch, under a lock or rcu_read_lock().
 */
static bool may_go_on(void)
{
	if (!in_task() || !current->bio_list || irqs_disabled() ||
	    rcu_preempt_depth())
		return false;
	return !IS_ENABLED(CONFIG_PREEMPT_COUNT) || preemptible();
}

/*
 * Drop a reference on the stage in flight.  When every bio of the stage
 * ended before the issuer dropped its own reference (a device that
 * completes in the submitter's context, such as brd), the issuer goes on
 * at once (@issuer).  Otherwise the last bio goes on with a oneshot copy
 * itself if it can (it ends in a task that is submitting bios, so the
 * next bios only queue, and the engine is free), or hands the copy to the
 * worker.  Return: true if the issuer goes on.
 */
static bool stage_put(struct cbw_copy *copy, bool issuer)
{
	struct cbw_snap *snap = copy->snap;

	if (!atomic_dec_and_test(&copy->pending))
		return false;
	if (issuer)
		return true;

	if (copy->oneshot && may_go_on() && engine_trylock(snap)) {
		bool went_on = oneshot_next(snap, copy);

		/* The copy is not the worker's yet: it pins @snap. */
		engine_unlock(snap);
		if (went_on)
			return false;
	}
	stage_to_worker(snap, copy);
	return false;
}

/* The end of a copy bio; any context. */
static void piece_end(struct bio *bio)
{
	struct cbw_run *run = bio->bi_private;
	struct cbw_copy *copy = run->copy;

	if (bio->bi_status) {
		run->error = -EIO;
		DMERR_LIMIT("copy of chunks %llu-%llu failed (%s: %d)",
			    run->chunk, run->chunk + run->count - 1,
			    copy->stage == COPY_READ ? "read" : "write",
			    blk_status_to_errno(bio->bi_status));
	}
	bio_put(bio);
	stage_put(copy, false);
}

/* Allocate a bio for a piece of @nr_pages pages in @stage. */
static struct bio *alloc_piece_bio(struct cbw_snap *snap, unsigned int nr_pages,
				   enum copy_stage stage, gfp_t gfp)
{
	if (stage == COPY_READ)
		return cbw_bio_alloc(snap->origin->bdev, nr_pages,
				     REQ_OP_READ, gfp, &snap->bios);
	return cbw_bio_alloc(snap->cow->bdev, nr_pages, REQ_OP_WRITE, gfp,
			     &snap->bios);
}

/*
 * Aim @bio, from alloc_piece_bio() for @stage, at the round's piece of
 * @run (its chunks on the origin, or its slots) and give it the piece's
 * pages.
 */
static void fill_piece_bio(struct cbw_snap *snap, struct bio *bio,
			   struct cbw_run *run, enum copy_stage stage)
{
	unsigned int left = run->piece << SECTOR_SHIFT, len;
	struct page_list *pl = run->pl;

	bio->bi_iter.bi_sector = chunk_to_sector(snap, stage == COPY_READ ?
						 run->chunk : run->slot) +
				 run->done;
	bio->bi_end_io = piece_end;
	bio->bi_private = run;
	for (; left; left -= len, pl = pl->next) {
		len = min_t(unsigned int, left, PAGE_SIZE);
		__bio_add_page(bio, pl->page, len, 0);
	}
}

/*
 * A bio for the round's piece of @run in @stage.  Return: the bio, or
 * NULL (only if @gfp does not wait).
 */
static struct bio *piece_bio(struct cbw_snap *snap, struct cbw_run *run,
			     enum copy_stage stage, gfp_t gfp)
{
	struct bio *bio = alloc_piece_bio(snap,
					  DIV_ROUND_UP(run->piece, PAGE_SECTORS),
					  stage, gfp);

	if (bio)
		fill_piece_bio(snap, bio, run, stage);
	return bio;
}

static void copy_timer_fn(struct timer_list *t)
{
	struct cbw_copy *copy = timer_container_of(copy, t, timer);
	struct cbw_snap *snap = copy->snap;
	unsigned long flags;

	spin_lock_irqsave(&snap->lock, flags);
	if (!copy->finished) {
		copy->expired = true;
		__queue_event(snap, copy);
	}
	spin_unlock_irqrestore(&snap->lock, flags);
	cbw_snap_wake(snap);
}

static void free_run_slots(struct cbw_snap *snap, struct cbw_copy *copy)
{
	unsigned int i;

	for (i = 0; i < copy->nr_runs; i++)
		cbw_cow_free(snap->store, copy->runs[i].slot,
			     copy->runs[i].count);
	copy->nr_runs = 0;
	cbw_snap_check_low_water(snap);
}

static void free_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	bool detached = copy->detached;
	unsigned long flags;

	cbw_pages_put(&snap->pages, copy->pages, copy->nr_pages);
	mempool_free(copy, &snap->copy_pool);
	if (snap->starved) {
		/* A guest write waits for a copy's pages or struct. */
		snap->starved = false;
		cbw_snap_wake(snap);
	}
	if (detached) {
		spin_lock_irqsave(&snap->lock, flags);
		snap->nr_cow_io--;
		spin_unlock_irqrestore(&snap->lock, flags);
	} else if (atomic_dec_and_test(&snap->nr_copies)) {
		wake_up(&snap->copies_done);
	}
}

/*
 * Detach @copy from the guest writes: its interval leaves the busy tree
 * (the bios that waited on it go round again), the stage in flight ends
 * in the background and its data is thrown away (finish_copy()), and
 * its slots are freed only then.  From now on it counts in
 * snap->nr_cow_io instead of snap->nr_copies: a suspend does not wait
 * for it, and a snapshot whose cbw target goes away meanwhile lives on
 * until it ends (see dm-cbw-core.c).  Engine held, snap->lock held.
 * Return: true if the worker has work now.
 */
static bool __detach_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	copy->detached = true;
	snap->nr_cow_io++;
	if (atomic_dec_and_test(&snap->nr_copies))
		wake_up(&snap->copies_done);
	return __release_range(snap, &copy->range);
}

/*
 * The snapshot is broken: detach every copy in flight (also one that
 * timed out under CBW_FAIL_WRITE and keeps its interval), so that the
 * writes waiting on copies go to the origin now, however long the
 * copies' I/O takes.  Or a suspend waits for the copies: dm has drained
 * the guest writes, so no write waits on any of them (a background step,
 * or one that timed out under CBW_FAIL_WRITE, whose writes failed):
 * detach them; the origin still holds their chunks' data, which stay to
 * copy.  Engine held.
 */
static void detach_copies(struct cbw_snap *snap)
{
	struct rb_node *node, *next;
	struct cbw_copy *copy;
	struct cbw_range *r;
	bool wake = false, all;

	spin_lock_irq(&snap->lock);
	all = snap->broken != CBW_OK;
	for (node = rb_first_cached(&snap->busy); node; node = next) {
		next = rb_next(node);
		r = rb_entry(node, struct cbw_range, rb);
		if (!r->copying)
			continue;
		copy = container_of(r, struct cbw_copy, range);
		if (all || (snap->quiesced && bio_list_empty(&r->waiters)))
			wake |= __detach_copy(snap, copy);
	}
	spin_unlock_irq(&snap->lock);
	if (wake)
		cbw_snap_wake(snap);
}

/*
 * Make a successfully copied run readable from its slots: map them (the
 * chunks stop being to copy), then count them.  The chunks are still
 * readable: the copy's busy interval keeps discards out, and the drop
 * policy takes only chunks without a slot.  Return: 0, or -ENOMEM
 * (nothing changed).
 */
static int publish_run(struct cbw_snap *snap, struct cbw_run *run)
{
	int r;

	r = cbw_map_insert(snap->map, run->chunk, run->slot, run->count);
	if (r)
		return r;
	spin_lock_irq(&snap->lock);
	snap->copied += run->count;
	spin_unlock_irq(&snap->lock);
	return 0;
}

static void note_error(struct cbw_snap *snap, enum cbw_reason reason)
{
	spin_lock_irq(&snap->lock);
	if (snap->first_error == CBW_OK)
		snap->first_error = reason;
	spin_unlock_irq(&snap->lock);
}

/*
 * The drop policy: the chunks of [first, last] that are still to copy
 * leave the snapshot.  Without the memory to do so, the snapshot breaks
 * (the chunks then stay to copy, but no read of a broken snapshot gets
 * that far, and no write copies any more).  The copy's interval is
 * busy, so no read sees the chunks half-way.  Return: true if a dm event
 * is due.
 */
static bool drop_chunks(struct cbw_snap *snap, u64 first, u64 last)
{
	bool broke = false;
	u64 s, e, n = 0;
	s64 r;

	for (s = next_to_copy(snap, first, last); s <= last;
	     s = next_to_copy(snap, e, last)) {
		e = to_copy_end(snap, s, last);
		r = cbw_snap_remove_chunks(snap, s, e - s);
		if (r < 0) {
			broke = cbw_snap_do_break(snap, CBW_NOMEM);
			break;
		}
		n += r;
	}
	/* The chunks that left before a failure count too. */
	spin_lock_irq(&snap->lock);
	snap->dropped += n;
	spin_unlock_irq(&snap->lock);
	if (n)
		DMERR_LIMIT("dropped %llu chunks from the snapshot", n);
	return n != 0 || broke;
}

/*
 * Whether a guest write waits on the copy.  Only the holder of the engine
 * adds writes to a copy's waiters (process_write(), start_oneshot()), so
 * the answer holds while the caller, which holds the engine, acts on it.
 */
static bool waited_on(struct cbw_snap *snap, struct cbw_copy *copy)
{
	bool waited;

	spin_lock_irq(&snap->lock);
	waited = !bio_list_empty(&copy->range.waiters);
	spin_unlock_irq(&snap->lock);
	return waited;
}

/*
 * A copy failed (or timed out): apply the error policy to the bios
 * waiting on it.  With CBW_FAIL_WRITE the writes fail and the reads go
 * round again (their chunks are still to copy, on the origin); *keep_busy
 * (if not NULL) is then set: a timed-out copy's interval stays busy.
 * Otherwise the snapshot breaks, or the failed chunks are dropped, and
 * every bio goes round again: writes then go to the origin, reads of lost
 * chunks fail.
 *
 * A copy that no write waits on (a step started in the background that
 * its stream's writes have not reached yet) protects nothing yet: the
 * policy is not applied, and the chunks of its failed runs stay to copy.
 * A write that reaches them later copies them again, and meets the policy
 * if that copy fails too.
 *
 * Either way the failure is counted (first error) and ends the stream.
 * Caller holds the engine, not snap->lock.  Return: true if a dm event is
 * due.
 */
static bool apply_policy(struct cbw_snap *snap, struct cbw_copy *copy,
			 enum cbw_reason reason, bool *keep_busy)
{
	enum cbw_policy policy = READ_ONCE(snap->policy);
	struct bio_list failed = BIO_EMPTY_LIST;
	struct bio *bio;

	note_error(snap, reason);
	/* It ends the stream: no step starts in the background. */
	snap->seq_hits = 0;
	ahead_disarm(snap);
	if (keep_busy)
		*keep_busy = false;
	if (!waited_on(snap, copy))
		return false;
	if (READ_ONCE(snap->broken))
		policy = CBW_BREAK;	/* nothing to protect any more */
	switch (policy) {
	case CBW_FAIL_WRITE:
		if (keep_busy)
			*keep_busy = true;
		spin_lock_irq(&snap->lock);
		bio_list_merge(&failed, &copy->range.waiters);
		bio_list_init(&copy->range.waiters);
		spin_unlock_irq(&snap->lock);
		while ((bio = bio_list_pop(&failed)))
			fail_write(snap, bio, reason_status(reason));
		return false;
	case CBW_BREAK:
		return cbw_snap_do_break(snap, reason);
	case CBW_DROP:
		return drop_chunks(snap, copy->range.start, copy->range.last);
	}
	return false;
}

/*
 * The copy is ending: its deadline no longer queues it for the worker, and
 * any such event already queued is dropped.
 */
static void mark_finished(struct cbw_snap *snap, struct cbw_copy *copy)
{
	unsigned long flags;

	spin_lock_irqsave(&snap->lock, flags);
	copy->finished = true;
	list_del_init(&copy->event);
	spin_unlock_irqrestore(&snap->lock, flags);
	timer_delete_sync(&copy->timer);
}

/*
 * The copy moved all its runs, or failed, or timed out and its last stage
 * ended: publish the slots of the runs that succeeded, apply the error
 * policy for those that did not, and let the waiting bios go on.
 */
static bool finish_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	enum cbw_reason reason = copy->reason;
	bool event = false;
	unsigned int i;

	mark_finished(snap, copy);
	if (copy->detached) {
		/* The policy was applied at the timeout; throw the data away. */
		free_run_slots(snap, copy);
		free_copy(snap, copy);
		return false;
	}

	for (i = 0; i < copy->nr_runs; i++) {
		struct cbw_run *run = &copy->runs[i];
		bool broken = READ_ONCE(snap->broken);

		if (!run->error && !broken && publish_run(snap, run))
			run->error = -ENOMEM;
		if (run->error || broken) {
			if (run->error) {
				atomic64_inc(&snap->copy_errors);
				if (reason == CBW_OK)
					reason = run->error == -ENOMEM ?
						 CBW_NOMEM : CBW_IO_ERROR;
			}
			cbw_cow_free(snap->store, run->slot, run->count);
		}
	}
	cbw_snap_check_low_water(snap);

	/* A copy that timed out under CBW_FAIL_WRITE has no writes left. */
	if (reason != CBW_OK && !copy->timed_out)
		event = apply_policy(snap, copy, reason, NULL);

	release_range(snap, &copy->range);
	free_copy(snap, copy);
	return event;
}

/*
 * The deadline passed and the copy is still running.  If no write waits
 * on it (a step started in the background that its stream has not
 * reached), the deadline moves on by the timeout: nothing is late yet,
 * and a write that comes to wait on the copy waits at most about the
 * timeout before the policy answers it; but while a suspend waits for
 * the copies the copy is detached (its chunks stay to copy).  Otherwise, with CBW_FAIL_WRITE
 * the interval stays busy until the copy ends (the writes waiting now,
 * and those arriving meanwhile, fail); under the other policies the
 * policy is applied, the interval is released, and the copy ends with
 * the stage in flight, its data thrown away.
 */
static bool copy_timed_out(struct cbw_snap *snap, struct cbw_copy *copy)
{
	unsigned int timeout_ms;
	bool event, keep_busy, wake, waited, quiesced;

	spin_lock_irq(&snap->lock);
	waited = !bio_list_empty(&copy->range.waiters);
	quiesced = snap->quiesced;
	/* Nothing depends on it: a suspend need not wait for it. */
	wake = !waited && quiesced && __detach_copy(snap, copy);
	spin_unlock_irq(&snap->lock);
	if (wake)
		cbw_snap_wake(snap);
	if (!waited) {
		timeout_ms = READ_ONCE(snap->timeout_ms);
		if (timeout_ms && !quiesced)
			mod_timer(&copy->timer,
				  jiffies + msecs_to_jiffies(timeout_ms));
		return false;
	}
	copy->timed_out = true;
	atomic64_inc(&snap->timeouts);
	atomic64_inc(&snap->copy_errors);
	DMERR_LIMIT("copy of chunks %llu-%llu timed out",
		    copy->range.start, copy->range.last);
	event = apply_policy(snap, copy, CBW_TIMEOUT, &keep_busy);
	if (keep_busy)
		return event;

	spin_lock_irq(&snap->lock);
	wake = __detach_copy(snap, copy);
	spin_unlock_irq(&snap->lock);
	if (wake)
		cbw_snap_wake(snap);
	return event;
}

/* Sectors of a run (the device's last chunk may be partial). */
static sector_t run_sectors(struct cbw_snap *snap, struct cbw_run *run)
{
	sector_t first = chunk_to_sector(snap, run->chunk);

	return min(chunk_to_sector(snap, run->chunk + run->count),
		   snap->sectors) - first;
}

/*
 * Plan the next round: give the copy's pages, in order, to the next
 * pieces of the runs that neither failed nor ended, each piece on pages
 * of its own.  Return: false if nothing is left to move.
 */
static bool plan_round(struct cbw_snap *snap, struct cbw_copy *copy)
{
	struct page_list *pl = copy->pages;
	unsigned int left = copy->nr_pages, i, n;
	bool any = false;

	for (i = 0; i < copy->nr_runs && left; i++) {
		struct cbw_run *run = &copy->runs[i];
		sector_t rest = run_sectors(snap, run) - run->done;

		if (run->error || !rest)
			continue;
		run->piece = min_t(sector_t, rest,
				   (sector_t)left << PAGE_SECTORS_SHIFT);
		run->pl = pl;
		n = DIV_ROUND_UP(run->piece, PAGE_SECTORS);
		left -= n;
		while (n--)
			pl = pl->next;
		any = true;
	}
	return any;
}

/* The round's writes ended: its pieces are moved (or failed). */
static void end_round(struct cbw_copy *copy)
{
	unsigned int i;

	for (i = 0; i < copy->nr_runs; i++) {
		copy->runs[i].done += copy->runs[i].piece;
		copy->runs[i].piece = 0;
	}
}

/*
 * Issue the round's pieces for @stage, in the worker: reads from the
 * origin, or writes to the COW slots of the pieces that were read.
 * Return: true if the stage already ended (see stage_put()).
 */
static bool issue_stage(struct cbw_snap *snap, struct cbw_copy *copy,
			enum copy_stage stage)
{
	unsigned int i;

	copy->stage = stage;
	atomic_set(&copy->pending, 1);
	for (i = 0; i < copy->nr_runs; i++) {
		struct cbw_run *run = &copy->runs[i];

		if (!run->piece || run->error)
			continue;
		atomic_inc(&copy->pending);
		/* GFP_NOIO waits for the bio set's reserve: never NULL. */
		submit_bio_noacct(piece_bio(snap, run, stage, GFP_NOIO));
	}
	return stage_put(copy, true);
}

/*
 * Move a copy on from the stage that just ended: after the reads, write
 * the pieces; after the writes, read the next round.  Goes on as long as
 * stages end while they are issued, and returns with a stage in flight,
 * or once the copy is finished.  Return: true if a dm event is due.
 */
static bool run_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	for (;;) {
		if (copy->detached)
			return finish_copy(snap, copy);
		if (copy->stage == COPY_READ) {
			if (!issue_stage(snap, copy, COPY_WRITE))
				return false;
			continue;
		}
		end_round(copy);
		if (!plan_round(snap, copy))
			return finish_copy(snap, copy);
		if (!issue_stage(snap, copy, COPY_READ))
			return false;
	}
}

/*
 * Handle the copies whose stage ended in the background or whose deadline
 * passed.  Return: true if an event is due.
 */
static bool process_events(struct cbw_snap *snap)
{
	struct cbw_copy *copy;
	bool stage_done, expired, event = false;

	for (;;) {
		spin_lock_irq(&snap->lock);
		copy = list_first_entry_or_null(&snap->events, struct cbw_copy,
						event);
		if (copy) {
			list_del_init(&copy->event);
			stage_done = copy->stage_done;
			expired = copy->expired;
			copy->stage_done = false;
			copy->expired = false;
		}
		spin_unlock_irq(&snap->lock);
		if (!copy)
			return event;

		if (expired && !copy->timed_out && !copy->detached)
			event |= copy_timed_out(snap, copy);
		if (stage_done)
			event |= run_copy(snap, copy);
	}
}

/*
 * Allocate slots for the to-copy chunks of the copy's interval and
 * describe the runs.  The interval is cut short when the runs run out or
 * the COW device fills up after the first run.  Return: CBW_OK, or why
 * not even one run could be made.
 */
static enum cbw_reason plan_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	u64 s = copy->range.start, end = copy->range.last + 1, cs, ce, slot;
	s64 n = 0;

	while (copy->nr_runs < MAX_RUNS) {
		cs = next_to_copy(snap, s, end - 1);
		if (cs >= end)
			break;
		ce = to_copy_end(snap, cs, end - 1);
		while (cs < ce && copy->nr_runs < MAX_RUNS) {
			struct cbw_run *run = &copy->runs[copy->nr_runs];

			n = cbw_cow_alloc(snap->store, ce - cs, &slot);
			if (n < 0)
				goto out;
			run->copy = copy;
			run->chunk = cs;
			run->slot = slot;
			run->count = n;
			copy->nr_runs++;
			cs += n;
		}
		s = cs;
	}
out:
	cbw_snap_check_low_water(snap);
	if (!copy->nr_runs)
		return n == -ENOSPC ? CBW_COW_FULL : CBW_NOMEM;
	/* Cut the interval after the last run: the rest is a later step. */
	s = copy->runs[copy->nr_runs - 1].chunk + copy->runs[copy->nr_runs - 1].count;
	if (s <= copy->range.last) {
		spin_lock_irq(&snap->lock);
		busy_tree_remove(&copy->range, &snap->busy);
		copy->range.last = s - 1;
		busy_tree_insert(&copy->range, &snap->busy);
		spin_unlock_irq(&snap->lock);
	}
	return CBW_OK;
}

/*
 * Start a planned copy: its deadline, the rest of its pages (it holds
 * one; a copy that gets no more moves one page per round), its first
 * round.  Return: true if a dm event is due.
 */
static bool start_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	unsigned int timeout_ms = READ_ONCE(snap->timeout_ms);
	unsigned int i, want = 0;

	for (i = 0; i < copy->nr_runs; i++)
		want += DIV_ROUND_UP(run_sectors(snap, &copy->runs[i]),
				     PAGE_SECTORS);
	want = min(want, COPY_PAGES);
	if (want > copy->nr_pages)
		copy->nr_pages += cbw_pages_get(&snap->pages,
						want - copy->nr_pages,
						&copy->pages);
	atomic64_add(copy->nr_runs, &snap->copies);
	if (timeout_ms)
		mod_timer(&copy->timer, jiffies + msecs_to_jiffies(timeout_ms));
	/* As if an empty round had just been written. */
	copy->stage = COPY_WRITE;
	return run_copy(snap, copy);
}

/*
 * A copy struct and one page for a step, without waiting (engine held).
 * Return: the copy, without its interval yet, or NULL: a copy in flight
 * has them and gives them back when it ends.
 */
static struct cbw_copy *alloc_copy(struct cbw_snap *snap)
{
	struct cbw_copy *copy;

	copy = mempool_alloc(&snap->copy_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (!copy)
		return NULL;
	memset(copy, 0, sizeof(*copy));
	copy->nr_pages = cbw_pages_get(&snap->pages, 1, &copy->pages);
	if (!copy->nr_pages) {
		mempool_free(copy, &snap->copy_pool);
		return NULL;
	}
	copy->snap = snap;
	INIT_LIST_HEAD(&copy->event);
	timer_setup(&copy->timer, copy_timer_fn, 0);
	return copy;
}

/* Give back a copy from alloc_copy() that never started. */
static void put_unstarted_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	cbw_pages_put(&snap->pages, copy->pages, copy->nr_pages);
	mempool_free(copy, &snap->copy_pool);
}

/*
 * The slow path of a guest write, in the worker: wait for a busy interval
 * that overlaps the bio, or copy the bio's chunks (from its first chunk
 * still to copy, at most MAX_COPY_SECTORS in one step), or (nothing left
 * to copy) submit it.  Return: false if no copy could be allocated; the
 * bio was not touched then, and the worker runs again when a copy ends.
 */
static bool process_write(struct cbw_snap *snap, struct bio *bio)
{
	struct cbw_write_io *wio = dm_per_bio_data(bio, sizeof(*wio));
	u64 first, last, start, end, step, window, ahead;
	enum cbw_reason reason;
	struct cbw_copy *copy;
	struct cbw_range *r;
	unsigned int hits;
	bool event;

	bio_chunks(snap, bio, &first, &last);
	if (READ_ONCE(snap->broken) || !any_to_copy(snap, first, last)) {
		submit_write(snap, bio);
		return true;
	}

	/* None at hand: the next copy to end wakes the worker. */
	copy = alloc_copy(snap);
	if (!copy) {
		snap->starved = true;
		return false;
	}
	step = max_t(u64, MAX_COPY_SECTORS >> snap->chunk_shift, 1);
	start = next_to_copy(snap, first, last);
	end = min(last, start + step - 1);
	hits = start == snap->seq_next ? min(snap->seq_hits + 1, 2U) : 0;
	window = ahead_window(snap, hits, step);
	ahead = window ? max(end, min(start + window, snap->nr_chunks) - 1) : end;
	init_range(&copy->range, start, end, true, true);

	/*
	 * Look for a busy interval and insert the copy's in one go: a
	 * snapshot read that reads the origin must either make the copy
	 * wait, or wait for the copy.
	 */
	spin_lock_irq(&snap->lock);
	r = busy_tree_iter_first(&snap->busy, first, last);
	if (r) {
		/* A copy that timed out under CBW_FAIL_WRITE fails writes. */
		if (r->copying && container_of(r, struct cbw_copy, range)->timed_out) {
			spin_unlock_irq(&snap->lock);
			fail_write(snap, bio, BLK_STS_TIMEOUT);
		} else {
			bio_list_add(&r->waiters, bio);
			wio->waited = true;
			spin_unlock_irq(&snap->lock);
		}
		put_unstarted_copy(snap, copy);
		return true;
	}
	/* Copy ahead up to the first chunk that something else holds. */
	if (ahead > end) {
		r = busy_tree_iter_first(&snap->busy, end + 1, ahead);
		copy->range.last = r ? max(end + 1, r->start) - 1 : ahead;
	}
	bio_list_add(&copy->range.waiters, bio);
	wio->waited = true;
	busy_tree_insert(&copy->range, &snap->busy);
	spin_unlock_irq(&snap->lock);
	atomic_inc(&snap->nr_copies);

	reason = plan_copy(snap, copy);
	snap->seq_hits = hits;
	snap->seq_next = copy->range.last + 1;
	snap->seq_window = copy->range.last + 1 - start;
	if (reason == CBW_OK) {
		/* A step that copies ahead arms the stream's next one. */
		if (copy->range.last > end)
			ahead_arm(snap, end + 1);
		else
			ahead_disarm(snap);
		if (start_copy(snap, copy))
			cbw_snap_event(snap);
		return true;
	}
	ahead_disarm(snap);

	/*
	 * Not even one run: the copy failed before it began.  The policy
	 * applies to the bio's chunks, not to those copied ahead.
	 */
	if (copy->range.last > end) {
		spin_lock_irq(&snap->lock);
		busy_tree_remove(&copy->range, &snap->busy);
		copy->range.last = end;
		busy_tree_insert(&copy->range, &snap->busy);
		spin_unlock_irq(&snap->lock);
	}
	copy->reason = reason;
	atomic64_inc(&snap->copy_errors);
	DMERR_LIMIT("no copy of chunks %llu-%llu: %s", start, end,
		    cbw_reason_name(reason));
	event = finish_copy(snap, copy);
	if (event)
		cbw_snap_event(snap);
	return true;
}

/*
 * A write took the stream's trigger (see "Background copy-ahead"): start
 * the stream's next step now, from the chunk where the last step ended,
 * over the window copy-ahead gives it (up to the first chunk that
 * something else holds), if that chunk is to copy and free, and the
 * snapshot is not suspended.  No bio waits on the step: the stream's
 * writes that reach it before it ends wait on its interval as on any
 * copy.  If it fails before a write waits on it, no policy applies: the
 * chunks of its failed runs stay to copy (see apply_policy()); its
 * deadline passes only with a write waiting (see copy_timed_out()), and
 * a suspend throws it away (see detach_copies()).  The
 * step arms the trigger at its own first chunk.  Engine held.
 * Return: true if a dm event is due.
 */
static bool copy_ahead_now(struct cbw_snap *snap)
{
	u64 start = snap->seq_next, step, window;
	struct cbw_range *r;
	struct cbw_copy *copy;
	bool ok;

	step = max_t(u64, MAX_COPY_SECTORS >> snap->chunk_shift, 1);
	window = ahead_window(snap, snap->seq_hits, step);
	if (!window || READ_ONCE(snap->broken) || start >= snap->nr_chunks ||
	    next_to_copy(snap, start, start) != start)
		return false;

	copy = alloc_copy(snap);
	if (!copy)
		return false;
	init_range(&copy->range, start,
		   min(start + window, snap->nr_chunks) - 1, true, true);

	/*
	 * The window stops before the first chunk that something else holds
	 * (a snapshot read); none if that is its first.  Counted under the
	 * lock: cbw_snap_stop_ahead() then waits for it.
	 */
	spin_lock_irq(&snap->lock);
	r = busy_tree_iter_first(&snap->busy, start, copy->range.last);
	if (r && r->start > start)
		copy->range.last = r->start - 1;
	ok = !snap->quiesced && (!r || r->start > start);
	if (ok) {
		busy_tree_insert(&copy->range, &snap->busy);
		atomic_inc(&snap->nr_copies);
	}
	spin_unlock_irq(&snap->lock);
	if (!ok) {
		put_unstarted_copy(snap, copy);
		return false;
	}

	if (plan_copy(snap, copy) != CBW_OK) {
		/* Nothing copied, and no write waits: only readers may. */
		release_range(snap, &copy->range);
		free_copy(snap, copy);
		snap->seq_hits = 0;
		return false;
	}
	snap->seq_next = copy->range.last + 1;
	snap->seq_window = copy->range.last + 1 - start;
	ahead_arm(snap, start);
	return start_copy(snap, copy);
}

/*
 * Oneshot copies (see "One-chunk copies in the submitter's context").
 */

/*
 * The waiters of a oneshot copy that ended: a write whose chunks are no
 * longer to copy goes to the origin now (queued on current->bio_list),
 * any other goes to the worker.  Engine held, so the test is exact.
 */
static void oneshot_release(struct cbw_snap *snap, struct bio_list *waiters)
{
	unsigned long flags;
	bool wake = false;
	struct bio *bio;
	u64 first, last;

	while ((bio = bio_list_pop(waiters))) {
		bio_chunks(snap, bio, &first, &last);
		if (READ_ONCE(snap->broken) || !any_to_copy(snap, first, last)) {
			submit_write(snap, bio);
			continue;
		}
		spin_lock_irqsave(&snap->lock, flags);
		bio_list_add(&snap->deferred, bio);
		spin_unlock_irqrestore(&snap->lock, flags);
		wake = true;
	}
	if (wake)
		cbw_snap_wake(snap);
}

/*
 * The write of a oneshot copy ended well: publish the slot, release the
 * interval, send the waiting writes on.  Return: false if the copy's
 * deadline passed, or the map has no spare leaf for the slot (nothing
 * changed: the worker handles the timeout, or publishes with
 * finish_copy()).
 */
static bool finish_oneshot(struct cbw_snap *snap, struct cbw_copy *copy)
{
	struct cbw_run *run = &copy->runs[0];
	struct bio_list waiters;
	unsigned long flags;
	bool expired, wake;

	spin_lock_irqsave(&snap->lock, flags);
	expired = copy->expired;
	spin_unlock_irqrestore(&snap->lock, flags);
	if (expired || cbw_map_insert_nowait(snap->map, run->chunk, run->slot, 1))
		return false;

	/* Copied: a deadline that passes from now on is ignored. */
	mark_finished(snap, copy);

	spin_lock_irqsave(&snap->lock, flags);
	snap->copied++;
	busy_tree_remove(&copy->range, &snap->busy);
	waiters = copy->range.waiters;
	wake = !bio_list_empty(&copy->range.readers);
	bio_list_merge(&snap->access_deferred, &copy->range.readers);
	spin_unlock_irqrestore(&snap->lock, flags);
	if (wake)
		cbw_snap_wake(snap);
	oneshot_release(snap, &waiters);
	free_copy(snap, copy);
	return true;
}

/*
 * A stage of a oneshot copy ended where it may go on (may_go_on()),
 * engine held: after the read, queue the write; after the write, finish.
 * Either way a bio is now queued on current->bio_list that the copy's
 * end, and so the snapshot's destruction, must wait for: the write, or
 * the guest write released.  Return: false if the worker must take over
 * (an error, a timeout, a broken snapshot, no bio, no map leaf); nothing
 * changed then.
 */
static bool oneshot_next(struct cbw_snap *snap, struct cbw_copy *copy)
{
	struct cbw_run *run = &copy->runs[0];
	struct bio *bio;

	if (run->error || copy->timed_out || copy->detached ||
	    READ_ONCE(snap->broken))
		return false;
	if (copy->stage == COPY_WRITE)
		return finish_oneshot(snap, copy);

	bio = piece_bio(snap, run, COPY_WRITE, GFP_NOWAIT | __GFP_NOWARN);
	if (!bio)
		return false;
	copy->stage = COPY_WRITE;
	atomic_set(&copy->pending, 1);
	submit_bio_noacct(bio);		/* queued: it ends after we return */
	return true;
}

/*
 * In the map function: start the copy of @chunk, to copy, for @bio, a
 * write inside that chunk, if nothing on the way has to wait.  The bio
 * then waits on the copy, whose read is queued on current->bio_list.
 * Return: false if the worker must do it (nothing changed).
 */
static bool start_oneshot(struct cbw_snap *snap, struct bio *bio, u64 chunk)
{
	struct cbw_write_io *wio = dm_per_bio_data(bio, sizeof(*wio));
	unsigned int timeout_ms = READ_ONCE(snap->timeout_ms), nr_pages;
	struct cbw_copy *copy;
	struct cbw_run *run;
	struct bio *read;
	unsigned long flags;
	u64 slot;

	if (!current->bio_list || !engine_trylock(snap))
		return false;
	/* Sequential streams go to the worker, which copies ahead. */
	if (READ_ONCE(snap->broken) || chunk == snap->seq_next ||
	    !any_to_copy(snap, chunk, chunk))
		goto out;
	/* The copy must not cross the low-water mark: that raises an event. */
	if (cbw_cow_total(snap->store) - cbw_cow_used(snap->store) <=
	    snap->low_water)
		goto out;
	nr_pages = DIV_ROUND_UP(min(chunk_to_sector(snap, chunk + 1),
				    snap->sectors) - chunk_to_sector(snap, chunk),
				PAGE_SECTORS);
	if (nr_pages > COPY_PAGES || snap->pages.nr_free < nr_pages)
		goto out;
	copy = mempool_alloc(&snap->copy_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (!copy)
		goto out;
	/* Taken before anything changes: the slot could not be freed here. */
	read = alloc_piece_bio(snap, nr_pages, COPY_READ,
			       GFP_NOWAIT | __GFP_NOWARN);
	if (!read)
		goto free_copy;
	memset(copy, 0, sizeof(*copy));
	copy->snap = snap;
	copy->oneshot = true;
	INIT_LIST_HEAD(&copy->event);
	timer_setup(&copy->timer, copy_timer_fn, 0);
	init_range(&copy->range, chunk, chunk, true, true);

	spin_lock_irqsave(&snap->lock, flags);
	if (busy_tree_iter_first(&snap->busy, chunk, chunk)) {
		spin_unlock_irqrestore(&snap->lock, flags);
		goto free_bio;
	}
	bio_list_add(&copy->range.waiters, bio);
	wio->waited = true;
	busy_tree_insert(&copy->range, &snap->busy);
	spin_unlock_irqrestore(&snap->lock, flags);

	if (cbw_cow_alloc_nowait(snap->store, 1, &slot) != 1) {
		/* Undo: the bio, and any that began to wait, go to the worker. */
		spin_lock_irqsave(&snap->lock, flags);
		__release_range(snap, &copy->range);
		spin_unlock_irqrestore(&snap->lock, flags);
		cbw_snap_wake(snap);
		bio_put(read);
		mempool_free(copy, &snap->copy_pool);
		engine_unlock(snap);
		return true;
	}

	copy->nr_pages = cbw_pages_get(&snap->pages, nr_pages, &copy->pages);
	run = &copy->runs[0];
	run->copy = copy;
	run->chunk = chunk;
	run->slot = slot;
	run->count = 1;
	copy->nr_runs = 1;
	plan_round(snap, copy);
	snap->seq_next = chunk + 1;
	snap->seq_window = 1;
	snap->seq_hits = 0;
	ahead_disarm(snap);
	atomic_inc(&snap->nr_copies);
	atomic64_inc(&snap->copies);
	if (timeout_ms)
		mod_timer(&copy->timer, jiffies + msecs_to_jiffies(timeout_ms));

	fill_piece_bio(snap, read, run, COPY_READ);
	copy->stage = COPY_READ;
	atomic_set(&copy->pending, 1);
	submit_bio_noacct(read);	/* queued: it ends after we return */
	engine_unlock(snap);
	return true;

free_bio:
	bio_put(read);
free_copy:
	mempool_free(copy, &snap->copy_pool);
out:
	engine_unlock(snap);
	return false;
}

/*
 * The write map function's slow path: a bio during an incremental set-up,
 * or one with chunks to copy (as far as the fast path could tell).  Out
 * of line, so that the fast path keeps a small frame.
 */
static noinline int map_write_slow(struct cbw_snap *snap, struct bio *bio,
				   u64 first, u64 last)
{
	struct cbw_write_io *wio;
	unsigned long flags;

	if (READ_ONCE(snap->setup)) {
		spin_lock_irqsave(&snap->lock, flags);
		if (snap->setup) {
			bio_list_add(&snap->held, bio);
			spin_unlock_irqrestore(&snap->lock, flags);
			return DM_MAPIO_SUBMITTED;
		}
		spin_unlock_irqrestore(&snap->lock, flags);
		if (READ_ONCE(snap->broken) || !any_to_copy(snap, first, last))
			return pass_write(snap, bio, first, last);
	}

	/* dm_per_bio_data() is a call into dm-mod: only once a copy is due. */
	wio = dm_per_bio_data(bio, sizeof(*wio));
	wio->start_ns = cbw_clock_ns();
	wio->waited = false;
	if (first == last && start_oneshot(snap, bio, first))
		return DM_MAPIO_SUBMITTED;
	spin_lock_irqsave(&snap->lock, flags);
	bio_list_add(&snap->deferred, bio);
	spin_unlock_irqrestore(&snap->lock, flags);
	cbw_snap_wake(snap);
	return DM_MAPIO_SUBMITTED;
}

/**
 * cbw_snap_map_write() - map a write, write-zeroes or discard of the origin.
 * @snap: the snapshot.
 * @bio: the bio, already offset to origin sectors, with data.
 *
 * A bio whose chunks need no copy (copied, outside the snapshot, or the
 * snapshot is broken) is remapped to the origin, with no lock taken and
 * no allocation: the fast path reads the first cache line of @snap and
 * searches the chunk map.  A bio inside one chunk to copy starts the
 * chunk's copy here if it can without waiting (from mempools and caches
 * only) and waits on it; any other bio goes to the worker.  During an
 * incremental set-up every bio waits for its end.
 *
 * Context: the cbw target's map function; does not sleep.
 * Return: DM_MAPIO_REMAPPED or DM_MAPIO_SUBMITTED.
 */
int cbw_snap_map_write(struct cbw_snap *snap, struct bio *bio)
{
	u64 first, last;

	bio_chunks(snap, bio, &first, &last);
	/* Acquire: the set-up's changes of the readable set are seen. */
	if (likely(!smp_load_acquire(&snap->setup)) &&
	    (READ_ONCE(snap->broken) || !any_to_copy(snap, first, last)))
		return pass_write(snap, bio, first, last);
	return map_write_slow(snap, bio, first, last);
}

/*
 * Snapshot-access bios.  A read may span many chunks: the map function
 * cuts it (dm_accept_partial_bio()) to the longest prefix that goes to one
 * place in one piece, and dm sends the rest as a new bio.  A read that has
 * to wait, or is parked, is cut to its first chunk first, so the worker
 * only ever routes reads inside one chunk.
 */

/* In the map function: keep the read's chunks up to @end, dm sends the rest. */
static void cut_read(struct cbw_snap *snap, struct bio *bio, u64 end)
{
	sector_t s = bio->bi_iter.bi_sector, e = chunk_to_sector(snap, end + 1);

	if (e < bio_end_sector(bio))
		dm_accept_partial_bio(bio, e - s);
}

static void end_access(struct bio *bio, blk_status_t status)
{
	bio->bi_status = status;
	bio_endio(bio);
}

/*
 * Decide where a read goes: its first chunk's COW slot (copied), or the
 * origin (still to copy), holding its chunks busy until the read ends; or
 * nowhere yet (a copy or discard of its first chunk is in flight: the bio
 * waits on it and the worker runs this again); or nowhere (the chunk is
 * not in the snapshot, or the snapshot is broken: *status says why).
 * In the map function (@in_map), the read is cut to the run of chunks
 * that go the same way: readable, all to copy or all copied to
 * consecutive slots, and not under a copy or discard.  Elsewhere the read
 * is inside one chunk.
 * Return: the device to send the bio to, or NULL.
 */
static struct block_device *route_read(struct cbw_snap *snap, struct bio *bio,
				       struct cbw_read_io *io, bool in_map,
				       blk_status_t *status)
{
	struct block_device *bdev = io->origin;
	struct cbw_range *r;
	unsigned long flags;
	u64 c, end, n, slot;

	*status = BLK_STS_OK;
	bio_chunks(snap, bio, &c, &end);
	if (WARN_ON_ONCE(!in_map && end != c)) {
		*status = BLK_STS_IOERR;
		return NULL;
	}
	spin_lock_irqsave(&snap->lock, flags);
	if (snap->broken || !bm_test(snap->readable, c)) {
		spin_unlock_irqrestore(&snap->lock, flags);
		atomic64_inc(&snap->failed_reads);
		*status = BLK_STS_MEDIUM;
		return NULL;
	}
	end = min(bm_next_clear(snap->readable, c) - 1, end);
	slot = cbw_map_lookup_run(snap->map, c, end, &n);
	end = c + n - 1;
	for (r = busy_tree_iter_first(&snap->busy, c, end); r;
	     r = busy_tree_iter_next(r, c, end)) {
		if (!r->exclusive)
			continue;
		if (r->start <= c) {
			if (in_map)
				cut_read(snap, bio, c);
			bio_list_add(&r->readers, bio);
			spin_unlock_irqrestore(&snap->lock, flags);
			return NULL;
		}
		end = min(end, r->start - 1);
	}
	if (in_map)
		cut_read(snap, bio, end);
	if (slot != CBW_NO_SLOT) {
		bio->bi_iter.bi_sector += chunk_to_sector(snap, slot) -
					  chunk_to_sector(snap, c);
		bdev = io->cow;
	}
	init_range(&io->range, c, end, false, false);
	busy_tree_insert(&io->range, &snap->busy);
	io->in_range = true;
	io->from_origin = bdev == io->origin;
	spin_unlock_irqrestore(&snap->lock, flags);

	atomic64_inc(bdev == io->cow ? &snap->cow_reads : &snap->origin_reads);
	return bdev;
}

/*
 * Let a snapshot-access bio in: take a reference on @access_ref.  Return:
 * true if taken; false if the bio was parked (the cbw target is suspended;
 * in the map function, a read is cut to its first chunk first) or must
 * fail (*dead: the cbw target is gone).
 */
static bool access_enter(struct cbw_snap *snap, struct bio *bio, bool in_map,
			 bool *dead)
{
	unsigned long flags;
	u64 first, last;

	*dead = false;
	while (!percpu_ref_tryget_live(&snap->access_ref)) {
		/* The ref is killed only after @state left SNAP_LIVE. */
		spin_lock_irqsave(&snap->lock, flags);
		if (snap->state == SNAP_SUSPENDED) {
			if (in_map && bio_op(bio) == REQ_OP_READ) {
				bio_chunks(snap, bio, &first, &last);
				cut_read(snap, bio, first);
			}
			bio_list_add(&snap->parked, bio);
			spin_unlock_irqrestore(&snap->lock, flags);
			return false;
		}
		*dead = snap->state == SNAP_DEAD;
		spin_unlock_irqrestore(&snap->lock, flags);
		if (*dead)
			return false;
		/* Resumed since the tryget: try again. */
	}
	return true;
}

/* The whole chunks inside a discard; false if there are none. */
static bool discard_chunks(struct cbw_snap *snap, struct bio *bio, u64 *first,
			   u64 *last)
{
	sector_t s = bio->bi_iter.bi_sector, e = bio_end_sector(bio);
	sector_t mask = chunk_to_sector(snap, 1) - 1;

	*first = sector_to_chunk(snap, s + mask);
	/* The partial chunk at the end of the device counts as whole. */
	*last = e >= snap->sectors ? snap->nr_chunks : sector_to_chunk(snap, e);
	if (*last <= *first)
		return false;
	(*last)--;
	return true;
}

/*
 * COW discards.  The slots that a snapshot discard frees are discarded on
 * the COW device (discard_passdown) with bios that the worker issues and
 * does not wait for: a slow or stuck COW device then holds up neither
 * the copies nor their deadlines.  The slots stay in use until their
 * discard ends (a copy written to them before would be wiped out), and
 * the worker frees them then.  Each discard counts in snap->nr_cow_io.
 */

/*
 * struct cow_discard - a discard of a run of freed slots.
 * @node: in snap->cow_discards once it ended; snap->lock.
 * @snap: the snapshot.
 * @slot: the first slot.
 * @count: the number of slots.
 * @pending: bios in flight, plus one while they are issued.
 * @error: the error of a bio that failed (not for a device without
 *	   discard), 0 if none; WRITE_ONCE()/READ_ONCE().
 */
struct cow_discard {
	struct list_head node;
	struct cbw_snap *snap;
	u64 slot;
	u64 count;
	atomic_t pending;
	int error;
};

/*
 * Hand the ended discard to the worker.  The worker is kicked under the
 * lock: once the worker has the discard, its end may free the snapshot.
 */
static void cow_discard_put(struct cow_discard *d)
{
	struct cbw_snap *snap = d->snap;
	unsigned long flags;

	if (!atomic_dec_and_test(&d->pending))
		return;
	spin_lock_irqsave(&snap->lock, flags);
	list_add_tail(&d->node, &snap->cow_discards);
	cbw_snap_wake(snap);
	spin_unlock_irqrestore(&snap->lock, flags);
}

static void cow_discard_end(struct bio *bio)
{
	struct cow_discard *d = bio->bi_private;

	if (bio->bi_status && bio->bi_status != BLK_STS_NOTSUPP)
		WRITE_ONCE(d->error, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	cow_discard_put(d);
}

/*
 * cbw_map_remove() callback, in the worker: discard the slots on the COW
 * device and free them once that ended, or (no pass-down, or no memory
 * to track the discard: it is only a hint) free them now.
 */
static void discard_slots(void *data, u64 slot, u64 count)
{
	struct cbw_snap *snap = data;
	sector_t s = chunk_to_sector(snap, slot);
	sector_t e = chunk_to_sector(snap, slot + count), n;
	/* A bio's size is an unsigned int of bytes. */
	sector_t most = round_down(UINT_MAX >> SECTOR_SHIFT,
				   chunk_to_sector(snap, 1));
	struct cow_discard *d = NULL;
	struct bio *bio;

	if (snap->discard_passdown)
		d = kmalloc(sizeof(*d), GFP_NOIO | __GFP_NOWARN);
	if (!d) {
		cbw_cow_free(snap->store, slot, count);
		return;
	}
	d->snap = snap;
	d->slot = slot;
	d->count = count;
	d->error = 0;
	atomic_set(&d->pending, 1);
	spin_lock_irq(&snap->lock);
	snap->nr_cow_io++;
	spin_unlock_irq(&snap->lock);
	for (; s < e; s += n) {
		n = min(e - s, most);
		/* GFP_NOIO waits for the bio set's reserve: never NULL. */
		bio = cbw_bio_alloc(snap->cow->bdev, 0, REQ_OP_DISCARD,
				    GFP_NOIO, &snap->bios);
		bio->bi_iter.bi_sector = s;
		bio->bi_iter.bi_size = n << SECTOR_SHIFT;
		bio->bi_end_io = cow_discard_end;
		bio->bi_private = d;
		atomic_inc(&d->pending);
		submit_bio_noacct(bio);
	}
	cow_discard_put(d);
}

/* Free the slots of the COW discards that ended.  Engine held. */
static void process_cow_discards(struct cbw_snap *snap)
{
	struct cow_discard *d, *tmp;
	unsigned long n = 0;
	LIST_HEAD(done);
	int error;

	spin_lock_irq(&snap->lock);
	list_splice_init(&snap->cow_discards, &done);
	spin_unlock_irq(&snap->lock);
	if (list_empty(&done))
		return;
	list_for_each_entry_safe(d, tmp, &done, node) {
		error = READ_ONCE(d->error);
		if (error)
			DMWARN_LIMIT("discard of COW slots %llu-%llu failed: %d",
				     d->slot, d->slot + d->count - 1, error);
		cbw_cow_free(snap->store, d->slot, d->count);
		kfree(d);
		n++;
	}
	spin_lock_irq(&snap->lock);
	snap->nr_cow_io -= n;
	spin_unlock_irq(&snap->lock);
	cbw_snap_check_low_water(snap);
}

/*
 * A snapshot discard, in the worker: once no copy, read or discard of its
 * chunks is in flight, they leave the snapshot, and their slots are
 * discarded on the COW device and freed (see "COW discards").  The bio
 * ends once the chunks have left; the COW discards may still run.
 */
static void process_discard(struct cbw_snap *snap, struct bio *bio,
			    struct cbw_read_io *io)
{
	struct blk_plug plug;
	struct cbw_range *r;
	u64 first, last;
	s64 n;

	discard_chunks(snap, bio, &first, &last);
	spin_lock_irq(&snap->lock);
	if (snap->broken) {
		spin_unlock_irq(&snap->lock);
		end_access(bio, BLK_STS_OK);
		return;
	}
	r = busy_tree_iter_first(&snap->busy, first, last);
	if (r) {
		bio_list_add(&r->readers, bio);
		spin_unlock_irq(&snap->lock);
		return;
	}
	init_range(&io->range, first, last, false, true);
	busy_tree_insert(&io->range, &snap->busy);
	io->in_range = true;
	spin_unlock_irq(&snap->lock);

	/* Out of the snapshot first: then no read can want the slots. */
	n = cbw_snap_remove_chunks(snap, first, last - first + 1);
	if (n < 0) {
		end_access(bio, BLK_STS_IOERR);
		return;
	}
	spin_lock_irq(&snap->lock);
	snap->discarded += n;
	spin_unlock_irq(&snap->lock);

	/* The plug lets the block layer merge the COW discards. */
	blk_start_plug(&plug);
	cbw_map_remove(snap->map, first, last, discard_slots, snap);
	blk_finish_plug(&plug);
	cbw_snap_check_low_water(snap);
	end_access(bio, BLK_STS_OK);
}

/* A snapshot-access bio in the worker (parked, waiting, or a discard). */
static void process_access(struct cbw_snap *snap, struct bio *bio)
{
	struct cbw_read_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct block_device *bdev;
	blk_status_t status;
	bool dead;

	if (!io->holds_ref) {		/* was parked */
		io->holds_ref = access_enter(snap, bio, false, &dead);
		if (!io->holds_ref) {
			if (dead)
				end_access(bio, BLK_STS_IOERR);
			return;
		}
	}
	if (bio_op(bio) == REQ_OP_DISCARD) {
		process_discard(snap, bio, io);
		return;
	}
	bdev = route_read(snap, bio, io, false, &status);
	if (bdev)
		remap_submit(bio, bdev);
	else if (status != BLK_STS_OK)
		end_access(bio, status);
}

/**
 * cbw_snap_map_access() - map a read or discard of the frozen image.
 * @snap: the snapshot.
 * @bio: a read or a discard, offset to origin sectors.
 * @io: the bio's per-bio data, with @io->origin and @io->cow set to the
 *	devices the reader opened.
 *
 * Copied chunks are read from their COW slot, the others from the origin
 * (a read is cut where that changes, see route_read());
 * a read of a chunk whose copy or discard is in flight waits for it, and
 * any bio waits while the cbw target is suspended.  A read of a chunk
 * outside the snapshot, or of a broken snapshot, fails with
 * BLK_STS_MEDIUM (ENODATA).  A discard drops the whole chunks inside it
 * from the snapshot (in the worker); a discard smaller than a chunk does
 * nothing.
 *
 * Context: the snapshot-access target's map function; does not sleep.
 * Return: DM_MAPIO_REMAPPED, DM_MAPIO_SUBMITTED (waiting, or ended), or
 * DM_MAPIO_KILL when the cbw target is gone.  Unless DM_MAPIO_KILL is
 * returned, cbw_snap_access_end() must be called when the bio ends.
 */
int cbw_snap_map_access(struct cbw_snap *snap, struct bio *bio,
			struct cbw_read_io *io)
{
	struct block_device *bdev;
	blk_status_t status;
	unsigned long flags;
	u64 first, last;
	bool dead;

	io->in_range = false;
	io->holds_ref = false;
	io->from_origin = false;
	if (bio_op(bio) == REQ_OP_DISCARD &&
	    !discard_chunks(snap, bio, &first, &last)) {
		end_access(bio, BLK_STS_OK);
		return DM_MAPIO_SUBMITTED;
	}

	io->holds_ref = access_enter(snap, bio, true, &dead);
	if (!io->holds_ref)
		return dead ? DM_MAPIO_KILL : DM_MAPIO_SUBMITTED;

	if (bio_op(bio) == REQ_OP_DISCARD) {
		spin_lock_irqsave(&snap->lock, flags);
		bio_list_add(&snap->access_deferred, bio);
		spin_unlock_irqrestore(&snap->lock, flags);
		cbw_snap_wake(snap);
		return DM_MAPIO_SUBMITTED;
	}

	bdev = route_read(snap, bio, io, true, &status);
	if (bdev) {
		bio_set_dev(bio, bdev);
		return DM_MAPIO_REMAPPED;
	}
	if (status != BLK_STS_OK)
		end_access(bio, status);
	return DM_MAPIO_SUBMITTED;
}

/**
 * cbw_snap_access_end() - a bio mapped by cbw_snap_map_access() ended.
 * @snap: the snapshot.
 * @io: the bio's per-bio data.
 * @error: the bio's status; set to BLK_STS_MEDIUM for a read of the
 *	   origin that ends after the snapshot broke.
 *
 * Lets the bios that waited for this one go on.  A read sent to the
 * origin holds its chunks busy, so no guest write changes them under it
 * while the snapshot is valid; once the snapshot is broken, guest writes
 * no longer wait (see "Synchronisation" in dm-cbw-io.c), so such a read
 * that was still in flight may hold new data: it fails, like any read of
 * a broken snapshot.  (A guest write that the break let through was
 * issued after the break, so a read that saw its data ends after it.)
 *
 * Context: bio completion, any context (takes the snapshot's lock with
 * interrupts disabled).
 */
void cbw_snap_access_end(struct cbw_snap *snap, struct cbw_read_io *io,
			 blk_status_t *error)
{
	unsigned long flags;
	bool wake = false, broken = false;

	if (io->in_range) {
		spin_lock_irqsave(&snap->lock, flags);
		broken = io->from_origin && snap->broken;
		wake = __release_range(snap, &io->range);
		spin_unlock_irqrestore(&snap->lock, flags);
		io->in_range = false;
	}
	if (wake)
		cbw_snap_wake(snap);
	if (broken && *error == BLK_STS_OK) {
		*error = BLK_STS_MEDIUM;
		atomic64_inc(&snap->failed_reads);
	}
	if (io->holds_ref) {
		io->holds_ref = false;
		percpu_ref_put(&snap->access_ref);
	}
}

/*
 * Take the deferred guest writes and process them.  Return: false if
 * there were none, or no copy could be allocated (the rest stays
 * deferred: a copy in flight wakes the worker when it ends).
 */
static bool process_writes(struct cbw_snap *snap)
{
	struct bio_list writes;
	struct bio *bio;

	spin_lock_irq(&snap->lock);
	writes = snap->deferred;
	bio_list_init(&snap->deferred);
	spin_unlock_irq(&snap->lock);
	if (bio_list_empty(&writes))
		return false;

	while ((bio = bio_list_pop(&writes))) {
		if (!process_write(snap, bio)) {
			bio_list_add_head(&writes, bio);
			spin_lock_irq(&snap->lock);
			bio_list_merge_head(&snap->deferred, &writes);
			spin_unlock_irq(&snap->lock);
			return false;
		}
	}
	return true;
}

/*
 * Passes over the deferred writes in one run of the worker.  A copy that
 * ends in the worker puts the writes that waited on it back on the list:
 * the next pass resubmits them, with no round trip through the workqueue.
 * After a few passes the worker yields (the work is queued again, by the
 * copy's end or by the writes that came in), so a stream of writes does
 * not keep snapshot reads waiting.
 */
#define WORKER_PASSES		4

/**
 * cbw_snap_work() - the worker: COW discards that ended, the copies of a
 * broken snapshot to detach, copies that ended or timed out, a stream's
 * background copy-ahead step, the deferred guest writes, then the
 * deferred snapshot-access bios.
 * @work: the snapshot's work item.
 *
 * Context: the snapshot's workqueue; sleeps.
 */
void cbw_snap_work(struct work_struct *work)
{
	struct cbw_snap *snap = container_of(work, struct cbw_snap, worker);
	struct bio_list access;
	struct bio *bio;
	bool event = false, more;
	int pass;

	if (!engine_lock_worker(snap))
		return;
	for (pass = 0; pass < WORKER_PASSES; pass++) {
		process_cow_discards(snap);
		/* Copies whose I/O ended are finished, not thrown away. */
		event |= process_events(snap);
		/* Writes waiting on copies go on once the snapshot broke. */
		if (atomic_read(&snap->nr_copies) &&
		    (READ_ONCE(snap->broken) || READ_ONCE(snap->quiesced)))
			detach_copies(snap);
		/*
		 * A stream's background step before its writes: a write that
		 * reached the next window waits on the step instead of
		 * making a step of its own (which would arm a trigger that
		 * another write could take before this one is served).
		 */
		more = test_and_clear_bit(ENGINE_AHEAD, &snap->engine);
		if (more)
			event |= copy_ahead_now(snap);
		more |= process_writes(snap);
		if (!more)
			break;
	}

	spin_lock_irq(&snap->lock);
	access = snap->access_deferred;
	bio_list_init(&snap->access_deferred);
	spin_unlock_irq(&snap->lock);
	while ((bio = bio_list_pop(&access)))
		process_access(snap, bio);
	engine_unlock(snap);

	if (event)
		cbw_snap_event(snap);
	cbw_snap_reap_check(snap);
}
