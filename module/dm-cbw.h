/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw: copy-before-write snapshots for device-mapper.
 *
 * Internal interface between the snapshot state (dm-cbw-core.c) and the
 * two targets: "cbw" (dm-cbw-target.c), which sits on the origin and copies
 * a chunk's old data to the COW device before the first write to it, and
 * "snapshot-access" (dm-cbw-access.c), the read-only frozen image.
 *
 * struct cbw_snap is opaque to the targets.  It is created by the cbw
 * constructor and reference counted: a snapshot-access target keeps it
 * alive after the cbw target is gone, and then fails every read.
 */
#ifndef DM_CBW_H
#define DM_CBW_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/sched/clock.h>
#include <linux/types.h>

#define DM_MSG_PREFIX "cbw"

struct cbw_snap;

/*
 * enum cbw_policy - what a failed copy does.
 * @CBW_FAIL_WRITE: the guest bio fails; the snapshot stays valid and the
 *		    chunk stays to copy.
 * @CBW_BREAK: the guest bio goes on; the snapshot breaks: every later
 *	       snapshot read fails and no more copies are made.
 * @CBW_DROP: the guest bio goes on; the chunks whose copy failed leave the
 *	      snapshot, the rest stays readable.
 */
enum cbw_policy {
	CBW_FAIL_WRITE,
	CBW_BREAK,
	CBW_DROP,
};

/*
 * enum cbw_reason - why a copy failed, or why the snapshot broke.
 * @CBW_OK: no failure.
 * @CBW_IO_ERROR: reading the origin or writing the COW device failed.
 * @CBW_TIMEOUT: the copy took longer than the copy timeout.
 * @CBW_COW_FULL: no free slot on the COW device.
 * @CBW_NOMEM: no memory for the chunk tables.
 * @CBW_USER: broken by the "break" message.
 */
enum cbw_reason {
	CBW_OK,
	CBW_IO_ERROR,
	CBW_TIMEOUT,
	CBW_COW_FULL,
	CBW_NOMEM,
	CBW_USER,
};

/**
 * struct cbw_options - the cbw table's feature arguments.
 * @timeout_ms: copy timeout in milliseconds, 0 for none.
 * @policy: what a failed copy does.
 * @incremental: start with an empty snapshot set.
 * @discard_passdown: discard the COW slots that snapshot discards free.
 * @low_water: raise a dm event when fewer COW slots than this are free.
 * @track: the table tracks changes: the snapshot set is the changed set
 *	   (cbw_snap_fill()), added at the first resume.
 */
struct cbw_options {
	unsigned int timeout_ms;
	enum cbw_policy policy;
	bool incremental;
	bool discard_passdown;
	u64 low_water;
	bool track;
};

/*
 * struct cbw_range - an interval of chunks that is busy.
 *
 * A copy in flight (@copying), a snapshot discard, or one snapshot read.
 * Guest writes that touch a busy interval wait on @waiters; snapshot
 * reads wait on @readers, only for an @exclusive interval (a copy or a
 * discard); snapshot discards wait for any interval.  Every field is
 * protected by the snapshot's lock.
 */
struct cbw_range {
	struct rb_node rb;
	u64 start;
	u64 last;
	u64 subtree_last;
	bool copying;
	bool exclusive;
	struct bio_list waiters;
	struct bio_list readers;
};

/*
 * struct cbw_write_io - per-bio data of the cbw target.
 *
 * Set by cbw_snap_map_write() when the bio leaves the fast path; read and
 * written afterwards only by the holder of the copy engine (see
 * dm-cbw-io.h).  @start_ns is a cbw_clock_ns() time.
 */
struct cbw_write_io {
	u64 start_ns;
	bool waited;
};

/*
 * The clock of the wait statistics: local_clock(), which reads the CPU's
 * cycle counter.  ktime_get_ns() reads the system clocksource, which can
 * be a device (HPET, ACPI PM timer) whose every read costs microseconds,
 * and a guest write on the slow path reads the clock twice.  Times taken
 * on different CPUs may be a little apart when the counters are not
 * synchronised: cbw_clock_since() counts a negative span as 0.
 */
static inline u64 cbw_clock_ns(void)
{
	return local_clock();
}

static inline u64 cbw_clock_since(u64 start_ns)
{
	u64 now = local_clock();

	return now > start_ns ? now - start_ns : 0;
}

/*
 * struct cbw_read_io - per-bio data of a snapshot-access read or discard.
 *
 * Written by cbw_snap_map_access(), the worker and cbw_snap_access_end(),
 * for one bio at a time; @range is linked into the snapshot's busy tree
 * (under the snapshot's lock) while @in_range is set.  @from_origin: a
 * read sent to the origin, whose data is frozen only if the snapshot did
 * not break before it ended.
 */
struct cbw_read_io {
	struct cbw_range range;
	struct block_device *origin;
	struct block_device *cow;
	bool in_range;
	bool holds_ref;
	bool from_origin;
};

/**
 * struct cbw_snap_stats - a consistent copy of the snapshot's state.
 * @chunks: chunks in the snapshot's address space.
 * @in_snapshot: chunks in the snapshot (readable).
 * @to_copy: chunks still to copy before the origin may change them.
 * @copied: chunks in the snapshot whose old data is on the COW device.
 * @dropped: chunks that left the snapshot because their copy failed.
 * @slots_used: COW slots in use (copied, and copies in flight).
 * @slots_total: COW slots on the COW device.
 * @setup: in incremental set-up (guest writes are held).
 * @broken: the snapshot is broken (CBW_OK if not).
 * @first_error: the first copy failure, CBW_OK if none.
 * @policy: the current error policy.
 * @timeout_ms: the current copy timeout.
 * @copies: copy jobs issued (one per run of adjacent chunks).
 * @copy_errors: copy jobs that failed or timed out.
 * @timeouts: copies that timed out.
 * @waited: guest bios that waited (for a copy, or for a snapshot read).
 * @wait_ns: the total time they waited.
 * @origin_reads: snapshot reads served from the origin.
 * @cow_reads: snapshot reads served from the COW device.
 * @failed_reads: snapshot reads failed (outside the snapshot, broken).
 * @discarded: chunks that left the snapshot by snapshot discard.
 * @memory: bytes held by the bitmaps (the slot map's xarray is not
 *	    counted).
 * @dead: the cbw target is gone; every read fails.
 */
struct cbw_snap_stats {
	u64 chunks;
	u64 in_snapshot;
	u64 to_copy;
	u64 copied;
	u64 dropped;
	u64 slots_used;
	u64 slots_total;
	bool setup;
	enum cbw_reason broken;
	enum cbw_reason first_error;
	enum cbw_policy policy;
	unsigned int timeout_ms;
	u64 copies;
	u64 copy_errors;
	u64 timeouts;
	u64 waited;
	u64 wait_ns;
	u64 origin_reads;
	u64 cow_reads;
	u64 failed_reads;
	u64 discarded;
	u64 memory;
	bool dead;
};

extern struct mutex cbw_registry_lock;
bool __cbw_snap_origin_taken(dev_t origin, struct mapped_device *md);

int cbw_snap_create(struct dm_target *ti, struct dm_dev *origin,
		    struct dm_dev *cow, sector_t chunk_sectors,
		    const struct cbw_options *opts, struct cbw_snap **snapp);
void cbw_snap_destroy(struct cbw_snap *snap);
void cbw_snap_put(struct cbw_snap *snap);
void cbw_snap_presuspend(struct cbw_snap *snap);
int cbw_snap_preresume(struct cbw_snap *snap);
void cbw_snap_resume(struct cbw_snap *snap);
void cbw_snap_postsuspend(struct cbw_snap *snap);
struct cbw_snap *cbw_snap_lookup(dev_t dev, int *error);

int cbw_snap_map_write(struct cbw_snap *snap, struct bio *bio);
int cbw_snap_map_access(struct cbw_snap *snap, struct bio *bio,
			struct cbw_read_io *io);
void cbw_snap_access_end(struct cbw_snap *snap, struct cbw_read_io *io,
			 blk_status_t *error);

int cbw_snap_set_timeout(struct cbw_snap *snap, unsigned int ms);
int cbw_snap_set_policy(struct cbw_snap *snap, enum cbw_policy policy);
int cbw_snap_break(struct cbw_snap *snap);
int cbw_snap_fill(void *snap, u64 start, u64 count);
int cbw_snap_change_set(struct cbw_snap *snap, u64 first, u64 last, bool add);
int cbw_snap_start(struct cbw_snap *snap);
u64 cbw_snap_next_readable(struct cbw_snap *snap, u64 from, u64 *end);

sector_t cbw_snap_chunk_sectors(struct cbw_snap *snap);
sector_t cbw_snap_sectors(struct cbw_snap *snap);
u64 cbw_snap_chunks(struct cbw_snap *snap);
dev_t cbw_snap_origin_dev(struct cbw_snap *snap);
dev_t cbw_snap_cow_dev(struct cbw_snap *snap);
void cbw_snap_get_stats(struct cbw_snap *snap, struct cbw_snap_stats *st);

const char *cbw_policy_name(enum cbw_policy policy);
int cbw_policy_parse(const char *name, enum cbw_policy *policy);
const char *cbw_reason_name(enum cbw_reason reason);

int dm_cbw_target_init(void);
void dm_cbw_target_exit(void);
int dm_cbw_access_init(void);
void dm_cbw_access_exit(void);

#endif /* DM_CBW_H */
