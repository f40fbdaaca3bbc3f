// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw core: the state of one copy-before-write snapshot.
 *
 * The origin is cut into chunks of 2^chunk_shift sectors (the last one may
 * be partial).  A chunk is "to copy" while its bit in @to_copy is set: its
 * frozen data is still on the origin.  The first write, write-zeroes or
 * discard that touches such a chunk first copies the chunk to the COW
 * device (kcopyd), then the bit is cleared and the bio goes on to the
 * origin.  Chunk N lives at sector N << chunk_shift of the COW device.
 *
 * Synchronisation.  One spinlock, snap->lock, protects the bitmap's
 * changes, the tree of busy chunk intervals and the deferred bio list.
 *
 *  - A bit only ever goes from 1 to 0, and only after the copy of that
 *    chunk has completed on the COW device.  So the I/O paths may test
 *    bits without the lock: a clear bit is final, a set bit sends the bio
 *    to the slow path, which looks again under the lock.
 *  - A copy marks its interval busy (a cbw_range with ->copying) before it
 *    starts.  Writes and reads that touch it wait on the range and are
 *    re-run by the worker when the copy ends.
 *  - A snapshot read of a chunk that is still to copy reads the origin; it
 *    marks the chunk busy for the duration of the read, so that a write to
 *    the chunk (and the copy it needs) waits until the read has finished.
 *    Reads never wait for writes, only for a copy in flight.
 *
 * The map functions never sleep or allocate: the slow path of a write is
 * deferred to the worker; a snapshot read uses its per-bio data.
 *
 * Snapshot reads and the cbw table's lifetime.  Snapshot reads are I/O of
 * another mapped device, so the device-mapper core does not wait for them
 * when it suspends the cbw device.  The cbw postsuspend hook does: it
 * kills @access_ref, waits for the reads in flight, and from then on parks
 * new reads.  Resuming the same table lets them go; destroying it (the
 * table was replaced or removed) fails them with EIO.  So a snapshot read
 * never overlaps I/O of a table that replaced this one.
 */

#include <linux/dm-kcopyd.h>
#include <linux/interval_tree_generic.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/percpu-refcount.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "dm-cbw.h"

#define MIN_COPY_JOBS	16

/* The most one copy covers; a larger bio is copied in several steps. */
#define MAX_COPY_SECTORS	(16U << (20 - SECTOR_SHIFT))

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
 * @origin: the origin device (owned by the cbw target).
 * @cow: the COW device (owned by the cbw target).
 * @origin_dev: the origin's device number; constant.
 * @cow_dev: the COW device's number; constant.
 * @md: the mapped device holding the cbw target.
 * @chunk_shift: log2 of the chunk size in sectors.
 * @sectors: size of the snapshot in sectors (the cbw target's length).
 * @nr_chunks: number of chunks, the last one may be partial.
 * @node: entry in the list of snapshots; cbw_snaps_lock.
 * @lock: protects @state, @to_copy changes, @busy, @deferred, @parked
 *	  and @copied.
 * @state: enum snap_state; @lock.
 * @to_copy: bit set = chunk still to copy; cleared under @lock, tested
 *	     without it.
 * @copied: chunks copied so far; @lock.
 * @busy: interval tree of struct cbw_range; @lock.
 * @deferred: bios for the worker; @lock.
 * @parked: snapshot reads waiting for the cbw target's resume; @lock.
 * @wq: the worker's queue; @worker runs on it.
 * @worker: runs process_deferred().
 * @kc: the kcopyd client doing the copies.
 * @copy_pool: struct cbw_copy for copies in flight.
 * @run_pool: struct cbw_run for kcopyd jobs in flight.
 * @nr_copies: copies in flight; @copies_done is woken when it drops to 0.
 * @copies_done: wait queue for cbw_snap_postsuspend().
 * @access_ref: counts snapshot reads in flight; live while @state is
 *		SNAP_NEW or SNAP_LIVE.
 * @access_drained: completed when @access_ref is dead and drained.
 * @copies: copy jobs issued (statistics, atomic).
 * @copy_errors: copy jobs failed (statistics, atomic).
 * @waited: times a bio waited (statistics, atomic).
 * @origin_reads: snapshot reads from the origin (statistics, atomic).
 * @cow_reads: snapshot reads from the COW device (statistics, atomic).
 */
struct cbw_snap {
	struct kref kref;
	struct dm_dev *origin;
	struct dm_dev *cow;
	dev_t origin_dev;
	dev_t cow_dev;
	struct mapped_device *md;
	unsigned int chunk_shift;
	sector_t sectors;
	unsigned long nr_chunks;

	struct list_head node;

	spinlock_t lock;		/* see the comment at the top */
	enum snap_state state;
	unsigned long *to_copy;
	unsigned long copied;
	struct rb_root_cached busy;
	struct bio_list deferred;
	struct bio_list parked;

	struct workqueue_struct *wq;
	struct work_struct worker;
	struct dm_kcopyd_client *kc;
	mempool_t copy_pool;
	mempool_t run_pool;
	atomic_t nr_copies;
	wait_queue_head_t copies_done;

	struct percpu_ref access_ref;
	struct completion access_drained;

	atomic64_t copies;
	atomic64_t copy_errors;
	atomic64_t waited;
	atomic64_t origin_reads;
	atomic64_t cow_reads;
};

/*
 * struct cbw_copy - the copy made for one write bio: the to-copy chunks in
 * [range.start, range.last], as one kcopyd job per run of adjacent chunks.
 * @pending counts the jobs in flight plus one held while issuing them;
 * @failed is set by a failing job before its atomic_dec_and_test() on
 * @pending, and read after the last one.  @partial: the bio reaches past
 * the range, and goes back to the worker for the next step.
 */
struct cbw_copy {
	struct cbw_range range;
	struct cbw_snap *snap;
	struct bio *bio;
	atomic_t pending;
	bool failed;
	bool partial;
};

/* struct cbw_run - one kcopyd job: chunks [start, start + count). */
struct cbw_run {
	struct cbw_copy *copy;
	unsigned long start;
	unsigned long count;
};

static LIST_HEAD(cbw_snaps);
static DEFINE_MUTEX(cbw_snaps_lock);

#define RANGE_START(r) ((r)->start)
#define RANGE_LAST(r) ((r)->last)
INTERVAL_TREE_DEFINE(struct cbw_range, rb, unsigned long, subtree_last,
		     RANGE_START, RANGE_LAST, static, busy_tree)

static inline unsigned long sector_to_chunk(struct cbw_snap *snap, sector_t s)
{
	return s >> snap->chunk_shift;
}

static inline sector_t chunk_to_sector(struct cbw_snap *snap, unsigned long c)
{
	return (sector_t)c << snap->chunk_shift;
}

/* First and last chunk a bio with data touches. */
static void bio_chunks(struct cbw_snap *snap, struct bio *bio,
		       unsigned long *first, unsigned long *last)
{
	sector_t s = bio->bi_iter.bi_sector;

	*first = sector_to_chunk(snap, s);
	*last = sector_to_chunk(snap, s + bio_sectors(bio) - 1);
}

static bool any_to_copy(struct cbw_snap *snap, unsigned long first,
			unsigned long last)
{
	return find_next_bit(snap->to_copy, last + 1, first) <= last;
}

static void remap_submit(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
	dm_submit_bio_remap(bio, NULL);
}

static void wake_worker(struct cbw_snap *snap)
{
	queue_work(snap->wq, &snap->worker);
}

/* Hand the bios waiting on @r to the worker.  Caller holds snap->lock. */
static bool __release_range(struct cbw_snap *snap, struct cbw_range *r)
{
	bool any = !bio_list_empty(&r->waiters);

	busy_tree_remove(r, &snap->busy);
	bio_list_merge(&snap->deferred, &r->waiters);
	bio_list_init(&r->waiters);
	return any;
}

/*
 * Copies.
 */

static void copy_end(struct cbw_copy *copy)
{
	struct cbw_snap *snap = copy->snap;
	struct bio *bio = copy->bio;
	unsigned long flags;
	bool wake;

	spin_lock_irqsave(&snap->lock, flags);
	wake = __release_range(snap, &copy->range);
	if (!copy->failed && copy->partial) {
		bio_list_add(&snap->deferred, bio);
		wake = true;
	}
	spin_unlock_irqrestore(&snap->lock, flags);
	if (wake)
		wake_worker(snap);

	/*
	 * Copy failed: the chunks stay to copy and the origin keeps its old
	 * data, so the snapshot stays valid; the write fails with EIO.
	 */
	if (copy->failed)
		bio_io_error(bio);
	else if (!copy->partial)
		remap_submit(bio, snap->origin->bdev);

	mempool_free(copy, &snap->copy_pool);
	if (atomic_dec_and_test(&snap->nr_copies))
		wake_up(&snap->copies_done);
}

static void copy_put(struct cbw_copy *copy)
{
	if (atomic_dec_and_test(&copy->pending))
		copy_end(copy);
}

/* kcopyd callback, in kcopyd's worker. */
static void run_done(int read_err, unsigned long write_err, void *context)
{
	struct cbw_run *run = context;
	struct cbw_copy *copy = run->copy;
	struct cbw_snap *snap = copy->snap;
	unsigned long flags;

	if (read_err || write_err) {
		atomic64_inc(&snap->copy_errors);
		DMERR_LIMIT("copy of chunks %lu-%lu failed (read %d, write %lu)",
			    run->start, run->start + run->count - 1,
			    read_err, write_err);
		copy->failed = true;
	} else {
		spin_lock_irqsave(&snap->lock, flags);
		bitmap_clear(snap->to_copy, run->start, run->count);
		snap->copied += run->count;
		spin_unlock_irqrestore(&snap->lock, flags);
	}
	mempool_free(run, &snap->run_pool);
	copy_put(copy);
}

static void issue_run(struct cbw_copy *copy, unsigned long start,
		      unsigned long end)
{
	struct cbw_snap *snap = copy->snap;
	struct dm_io_region from, to;
	struct cbw_run *run;
	sector_t first = chunk_to_sector(snap, start);
	sector_t count = min(chunk_to_sector(snap, end), snap->sectors) - first;

	run = mempool_alloc(&snap->run_pool, GFP_NOIO);
	run->copy = copy;
	run->start = start;
	run->count = end - start;

	from.bdev = snap->origin->bdev;
	from.sector = first;
	from.count = count;
	to.bdev = snap->cow->bdev;
	to.sector = first;
	to.count = count;

	atomic_inc(&copy->pending);
	atomic64_inc(&snap->copies);
	dm_kcopyd_copy(snap->kc, &from, 1, &to, 0, run_done, run);
}

/*
 * Copy the to-copy chunks in the copy's range, one kcopyd job per run of
 * adjacent chunks.  Only this copy clears bits inside its busy range, so
 * the runs are found without the lock.
 */
static void start_copy(struct cbw_copy *copy)
{
	struct cbw_snap *snap = copy->snap;
	unsigned long end = copy->range.last + 1;
	unsigned long s, e;

	for (s = find_next_bit(snap->to_copy, end, copy->range.start); s < end;
	     s = find_next_bit(snap->to_copy, end, e)) {
		e = find_next_zero_bit(snap->to_copy, end, s);
		issue_run(copy, s, e);
	}
	copy_put(copy);
}

/*
 * The slow path of a write, in the worker: wait for a busy interval that
 * overlaps the bio, or copy the bio's chunks (from its first chunk still
 * to copy, at most MAX_COPY_SECTORS in one step), or (nothing left to
 * copy) submit it.
 */
static void process_write(struct cbw_snap *snap, struct bio *bio)
{
	unsigned long first, last, start, end;
	struct cbw_copy *copy;
	struct cbw_range *r;

	bio_chunks(snap, bio, &first, &last);
	if (!any_to_copy(snap, first, last)) {
		remap_submit(bio, snap->origin->bdev);
		return;
	}

	copy = mempool_alloc(&snap->copy_pool, GFP_NOIO);

	spin_lock_irq(&snap->lock);
	if (!any_to_copy(snap, first, last)) {
		spin_unlock_irq(&snap->lock);
		mempool_free(copy, &snap->copy_pool);
		remap_submit(bio, snap->origin->bdev);
		return;
	}
	r = busy_tree_iter_first(&snap->busy, first, last);
	if (r) {
		bio_list_add(&r->waiters, bio);
		spin_unlock_irq(&snap->lock);
		mempool_free(copy, &snap->copy_pool);
		atomic64_inc(&snap->waited);
		return;
	}
	start = find_next_bit(snap->to_copy, last + 1, first);
	end = min(last, start + max(MAX_COPY_SECTORS >> snap->chunk_shift, 1U) - 1);
	copy->range.start = start;
	copy->range.last = end;
	copy->range.copying = true;
	bio_list_init(&copy->range.waiters);
	busy_tree_insert(&copy->range, &snap->busy);
	spin_unlock_irq(&snap->lock);

	copy->snap = snap;
	copy->bio = bio;
	copy->failed = false;
	copy->partial = end < last;
	atomic_set(&copy->pending, 1);
	atomic_inc(&snap->nr_copies);
	atomic64_inc(&snap->waited);
	start_copy(copy);
}

/**
 * cbw_snap_map_write() - map a write, write-zeroes or discard of the origin.
 * @snap: the snapshot.
 * @bio: the bio, already offset to origin sectors, with data.
 *
 * A bio whose chunks need no copy is remapped to the origin with no lock
 * taken and no allocation.  Any other bio goes to the worker.
 *
 * Context: the cbw target's map function; does not sleep.
 * Return: DM_MAPIO_REMAPPED or DM_MAPIO_SUBMITTED.
 */
int cbw_snap_map_write(struct cbw_snap *snap, struct bio *bio)
{
	unsigned long first, last, flags;

	bio_chunks(snap, bio, &first, &last);
	if (!any_to_copy(snap, first, last)) {
		bio_set_dev(bio, snap->origin->bdev);
		return DM_MAPIO_REMAPPED;
	}

	spin_lock_irqsave(&snap->lock, flags);
	bio_list_add(&snap->deferred, bio);
	spin_unlock_irqrestore(&snap->lock, flags);
	wake_worker(snap);
	return DM_MAPIO_SUBMITTED;
}

/*
 * Snapshot reads.  snapshot-access splits bios at chunk boundaries, so a
 * read touches exactly one chunk.
 */

/*
 * Decide where a read goes: the COW device (copied), or the origin (still
 * to copy; the chunk is marked busy until the read ends), or nowhere yet
 * (a copy is in flight: the bio waits on it and the worker runs this again).
 * Return: the device to send the bio to, or NULL if it waits.
 */
static struct block_device *route_read(struct cbw_snap *snap, struct bio *bio,
				       struct cbw_read_io *io)
{
	unsigned long c = sector_to_chunk(snap, bio->bi_iter.bi_sector);
	struct cbw_range *r;
	unsigned long flags;

	if (!test_bit(c, snap->to_copy))
		goto cow;

	spin_lock_irqsave(&snap->lock, flags);
	if (!test_bit(c, snap->to_copy)) {
		spin_unlock_irqrestore(&snap->lock, flags);
		goto cow;
	}
	for (r = busy_tree_iter_first(&snap->busy, c, c); r;
	     r = busy_tree_iter_next(r, c, c)) {
		if (r->copying) {
			bio_list_add(&r->waiters, bio);
			spin_unlock_irqrestore(&snap->lock, flags);
			atomic64_inc(&snap->waited);
			return NULL;
		}
	}
	io->range.start = c;
	io->range.last = c;
	io->range.copying = false;
	bio_list_init(&io->range.waiters);
	busy_tree_insert(&io->range, &snap->busy);
	io->in_range = true;
	spin_unlock_irqrestore(&snap->lock, flags);
	atomic64_inc(&snap->origin_reads);
	return io->origin;

cow:
	atomic64_inc(&snap->cow_reads);
	return io->cow;
}

/*
 * Let a snapshot read in: take a reference on @access_ref.  Return: true
 * if taken; false if the bio was parked (the cbw target is suspended) or
 * must fail (*dead: the cbw target is gone).
 */
static bool read_enter(struct cbw_snap *snap, struct bio *bio, bool *dead)
{
	unsigned long flags;

	*dead = false;
	while (!percpu_ref_tryget_live(&snap->access_ref)) {
		/* The ref is killed only after @state left SNAP_LIVE. */
		spin_lock_irqsave(&snap->lock, flags);
		if (snap->state == SNAP_SUSPENDED) {
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

static void process_read(struct cbw_snap *snap, struct bio *bio)
{
	struct cbw_read_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct block_device *bdev;
	bool dead;

	if (!io->holds_ref) {		/* was parked */
		io->holds_ref = read_enter(snap, bio, &dead);
		if (!io->holds_ref) {
			if (dead)
				bio_io_error(bio);
			return;
		}
	}
	bdev = route_read(snap, bio, io);
	if (bdev)
		remap_submit(bio, bdev);
}

/**
 * cbw_snap_map_read() - map a read of the frozen image.
 * @snap: the snapshot.
 * @bio: a read inside one chunk, already offset to origin sectors.
 * @io: the bio's per-bio data, with @io->origin and @io->cow set to the
 *	devices the reader opened.
 *
 * Copied chunks are read from the COW device, the others from the origin;
 * a read of a chunk whose copy is in flight waits for the copy, and a read
 * while the cbw target is suspended waits for its resume.
 *
 * Context: the snapshot-access target's map function; does not sleep.
 * Return: DM_MAPIO_REMAPPED, DM_MAPIO_SUBMITTED (waiting), or
 * DM_MAPIO_KILL when the cbw target is gone.  Unless DM_MAPIO_KILL is
 * returned, cbw_snap_read_end() must be called when the bio ends.
 */
int cbw_snap_map_read(struct cbw_snap *snap, struct bio *bio,
		      struct cbw_read_io *io)
{
	struct block_device *bdev;
	bool dead;

	io->in_range = false;
	io->holds_ref = read_enter(snap, bio, &dead);
	if (!io->holds_ref)
		return dead ? DM_MAPIO_KILL : DM_MAPIO_SUBMITTED;

	bdev = route_read(snap, bio, io);
	if (!bdev)
		return DM_MAPIO_SUBMITTED;
	bio_set_dev(bio, bdev);
	return DM_MAPIO_REMAPPED;
}

/**
 * cbw_snap_read_end() - a snapshot read mapped by cbw_snap_map_read() ended.
 * @snap: the snapshot.
 * @io: the bio's per-bio data.
 *
 * Lets the writes that waited for this read go on.
 *
 * Context: bio completion, any context (takes the snapshot's lock with
 * interrupts disabled).
 */
void cbw_snap_read_end(struct cbw_snap *snap, struct cbw_read_io *io)
{
	unsigned long flags;
	bool wake = false;

	if (io->in_range) {
		spin_lock_irqsave(&snap->lock, flags);
		wake = __release_range(snap, &io->range);
		spin_unlock_irqrestore(&snap->lock, flags);
		io->in_range = false;
	}
	if (wake)
		wake_worker(snap);
	if (io->holds_ref) {
		io->holds_ref = false;
		percpu_ref_put(&snap->access_ref);
	}
}

static void process_deferred(struct work_struct *work)
{
	struct cbw_snap *snap = container_of(work, struct cbw_snap, worker);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&snap->lock);
	bios = snap->deferred;
	bio_list_init(&snap->deferred);
	spin_unlock_irq(&snap->lock);

	while ((bio = bio_list_pop(&bios))) {
		if (op_is_write(bio_op(bio)))
			process_write(snap, bio);
		else
			process_read(snap, bio);
	}
}

/*
 * The list of snapshots: a snapshot-access target finds its snapshot by
 * the cbw device's number; a second cbw target on one origin is refused.
 */

static dev_t md_dev(struct mapped_device *md)
{
	return disk_devt(dm_disk(md));
}

/**
 * cbw_snap_lookup() - find the live snapshot of a cbw device.
 * @dev: the cbw device's number.
 *
 * While a table replaces another, both may be listed: the newest one that
 * has been resumed wins.
 *
 * Context: process context; takes a mutex.
 * Return: the snapshot with a reference taken (cbw_snap_put() it), or
 * NULL if @dev is not a cbw device that has been resumed.
 */
struct cbw_snap *cbw_snap_lookup(dev_t dev)
{
	struct cbw_snap *snap, *found = NULL;
	enum snap_state state;

	mutex_lock(&cbw_snaps_lock);
	list_for_each_entry_reverse(snap, &cbw_snaps, node) {
		if (md_dev(snap->md) != dev)
			continue;
		spin_lock_irq(&snap->lock);
		state = snap->state;
		spin_unlock_irq(&snap->lock);
		if (state == SNAP_LIVE || state == SNAP_SUSPENDED) {
			kref_get(&snap->kref);
			found = snap;
			break;
		}
	}
	mutex_unlock(&cbw_snaps_lock);
	return found;
}

/* Add @snap to the list unless another device has a cbw on its origin. */
static int register_snap(struct cbw_snap *snap)
{
	struct cbw_snap *other;
	int r = 0;

	mutex_lock(&cbw_snaps_lock);
	list_for_each_entry(other, &cbw_snaps, node) {
		if (other->origin_dev == snap->origin_dev && other->md != snap->md) {
			r = -EBUSY;
			break;
		}
	}
	if (!r)
		list_add_tail(&snap->node, &cbw_snaps);
	mutex_unlock(&cbw_snaps_lock);
	return r;
}

static void access_ref_dead(struct percpu_ref *ref)
{
	struct cbw_snap *snap = container_of(ref, struct cbw_snap, access_ref);

	complete(&snap->access_drained);
}

/**
 * cbw_snap_create() - set up the snapshot for a cbw target.
 * @ti: the cbw target; ti->error is set on failure.
 * @origin: the origin device.
 * @cow: the COW device, at least as large as the target.
 * @chunk_sectors: chunk size in sectors, a power of two.
 * @snapp: the new snapshot on success.
 *
 * Every chunk of the target starts in the "to copy" set.
 *
 * Context: process context (the constructor); may sleep.
 * Return: 0, -ENOMEM, or -EBUSY if another device has a cbw on @origin.
 */
int cbw_snap_create(struct dm_target *ti, struct dm_dev *origin,
		    struct dm_dev *cow, sector_t chunk_sectors,
		    struct cbw_snap **snapp)
{
	struct cbw_snap *snap;
	int r = -ENOMEM;

	snap = kzalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap) {
		ti->error = "Cannot allocate snapshot";
		return -ENOMEM;
	}
	kref_init(&snap->kref);
	snap->origin = origin;
	snap->cow = cow;
	snap->origin_dev = origin->bdev->bd_dev;
	snap->cow_dev = cow->bdev->bd_dev;
	snap->md = dm_table_get_md(ti->table);
	snap->chunk_shift = __ffs(chunk_sectors);
	snap->sectors = ti->len;
	snap->nr_chunks = DIV_ROUND_UP_SECTOR_T(ti->len, chunk_sectors);
	INIT_LIST_HEAD(&snap->node);
	spin_lock_init(&snap->lock);
	snap->busy = RB_ROOT_CACHED;
	bio_list_init(&snap->deferred);
	bio_list_init(&snap->parked);
	snap->state = SNAP_NEW;
	INIT_WORK(&snap->worker, process_deferred);
	atomic_set(&snap->nr_copies, 0);
	init_waitqueue_head(&snap->copies_done);
	init_completion(&snap->access_drained);

	snap->to_copy = kvcalloc(BITS_TO_LONGS(snap->nr_chunks),
				 sizeof(unsigned long), GFP_KERNEL);
	if (!snap->to_copy) {
		ti->error = "Cannot allocate chunk bitmap";
		goto bad_bitmap;
	}
	bitmap_set(snap->to_copy, 0, snap->nr_chunks);

	/* ALLOW_REINIT: resume revives it after a suspend killed it. */
	if (percpu_ref_init(&snap->access_ref, access_ref_dead,
			    PERCPU_REF_ALLOW_REINIT, GFP_KERNEL)) {
		ti->error = "Cannot allocate reference count";
		goto bad_ref;
	}
	if (mempool_init_kmalloc_pool(&snap->copy_pool, MIN_COPY_JOBS,
				      sizeof(struct cbw_copy)) ||
	    mempool_init_kmalloc_pool(&snap->run_pool, MIN_COPY_JOBS,
				      sizeof(struct cbw_run))) {
		ti->error = "Cannot allocate copy pools";
		goto bad_pools;
	}
	snap->wq = alloc_workqueue("kcbwd", WQ_MEM_RECLAIM, 0);
	if (!snap->wq) {
		ti->error = "Cannot allocate workqueue";
		goto bad_pools;
	}
	snap->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(snap->kc)) {
		r = PTR_ERR(snap->kc);
		ti->error = "Cannot create kcopyd client";
		goto bad_kcopyd;
	}
	r = register_snap(snap);
	if (r) {
		ti->error = "Origin already has a cbw target";
		goto bad_register;
	}
	*snapp = snap;
	return 0;

bad_register:
	dm_kcopyd_client_destroy(snap->kc);
bad_kcopyd:
	destroy_workqueue(snap->wq);
bad_pools:
	mempool_exit(&snap->run_pool);
	mempool_exit(&snap->copy_pool);
	percpu_ref_exit(&snap->access_ref);
bad_ref:
	kvfree(snap->to_copy);
bad_bitmap:
	kfree(snap);
	return r;
}

static void snap_release(struct kref *kref)
{
	struct cbw_snap *snap = container_of(kref, struct cbw_snap, kref);

	percpu_ref_exit(&snap->access_ref);
	kvfree(snap->to_copy);
	kfree(snap);
}

/**
 * cbw_snap_put() - drop a reference taken by cbw_snap_lookup().
 * @snap: the snapshot.
 *
 * Context: process context.
 */
void cbw_snap_put(struct cbw_snap *snap)
{
	kref_put(&snap->kref, snap_release);
}

/* Stop new snapshot reads and wait for the ones in flight. */
static void kill_reads(struct cbw_snap *snap)
{
	reinit_completion(&snap->access_drained);
	percpu_ref_kill(&snap->access_ref);
	wait_for_completion(&snap->access_drained);
}

/**
 * cbw_snap_destroy() - the cbw target is going away.
 * @snap: the snapshot.
 *
 * The snapshot becomes invalid: later reads of it, and the ones parked
 * while the target was suspended, fail with EIO.  Waits for the snapshot
 * reads and copies in flight, then releases the copy machinery and the
 * cbw target's reference.  The device-mapper core has suspended the
 * target (or never resumed it), so no write is in flight.
 *
 * Context: process context (the destructor); sleeps.
 */
void cbw_snap_destroy(struct cbw_snap *snap)
{
	enum snap_state state;
	struct bio_list parked;
	struct bio *bio;

	mutex_lock(&cbw_snaps_lock);
	list_del_init(&snap->node);
	mutex_unlock(&cbw_snaps_lock);

	spin_lock_irq(&snap->lock);
	state = snap->state;
	snap->state = SNAP_DEAD;
	parked = snap->parked;
	bio_list_init(&snap->parked);
	spin_unlock_irq(&snap->lock);

	if (state != SNAP_SUSPENDED)
		kill_reads(snap);
	while ((bio = bio_list_pop(&parked)))
		bio_io_error(bio);
	wait_event(snap->copies_done, !atomic_read(&snap->nr_copies));
	flush_workqueue(snap->wq);
	WARN_ON(!RB_EMPTY_ROOT(&snap->busy.rb_root));
	WARN_ON(!bio_list_empty(&snap->deferred));

	dm_kcopyd_client_destroy(snap->kc);
	destroy_workqueue(snap->wq);
	mempool_exit(&snap->run_pool);
	mempool_exit(&snap->copy_pool);
	snap->origin = NULL;
	snap->cow = NULL;
	cbw_snap_put(snap);
}

/**
 * cbw_snap_resume() - the cbw target is live: the snapshot exists.
 * @snap: the snapshot.
 *
 * From the first resume on, snapshot-access targets can find it; reads
 * parked while the target was suspended go on.
 *
 * Context: process context (the resume hook).
 */
void cbw_snap_resume(struct cbw_snap *snap)
{
	bool was_suspended;

	spin_lock_irq(&snap->lock);
	was_suspended = snap->state == SNAP_SUSPENDED;
	spin_unlock_irq(&snap->lock);
	/* Drained by cbw_snap_postsuspend(), so it cannot be in a switch. */
	if (was_suspended)
		percpu_ref_resurrect(&snap->access_ref);

	spin_lock_irq(&snap->lock);
	snap->state = SNAP_LIVE;
	bio_list_merge(&snap->deferred, &snap->parked);
	bio_list_init(&snap->parked);
	spin_unlock_irq(&snap->lock);
	wake_worker(snap);
}

/**
 * cbw_snap_postsuspend() - quiesce: copies and snapshot reads.
 * @snap: the snapshot.
 *
 * Waits for the copies in flight and the snapshot reads in flight; new
 * snapshot reads are parked until cbw_snap_resume() or fail at
 * cbw_snap_destroy().
 *
 * Context: process context (the postsuspend hook); sleeps.
 */
void cbw_snap_postsuspend(struct cbw_snap *snap)
{
	wait_event(snap->copies_done, !atomic_read(&snap->nr_copies));
	flush_workqueue(snap->wq);

	spin_lock_irq(&snap->lock);
	snap->state = SNAP_SUSPENDED;
	spin_unlock_irq(&snap->lock);
	kill_reads(snap);
}

/**
 * cbw_snap_chunk_sectors() - the chunk size.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the chunk size in sectors.
 */
sector_t cbw_snap_chunk_sectors(struct cbw_snap *snap)
{
	return (sector_t)1 << snap->chunk_shift;
}

/**
 * cbw_snap_sectors() - the size of the frozen image.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the size in sectors.
 */
sector_t cbw_snap_sectors(struct cbw_snap *snap)
{
	return snap->sectors;
}

/**
 * cbw_snap_origin_dev() - the origin's device number.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the device number.
 */
dev_t cbw_snap_origin_dev(struct cbw_snap *snap)
{
	return snap->origin_dev;
}

/**
 * cbw_snap_cow_dev() - the COW device's number.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the device number.
 */
dev_t cbw_snap_cow_dev(struct cbw_snap *snap)
{
	return snap->cow_dev;
}

/**
 * cbw_snap_get_stats() - copy the counters.
 * @snap: the snapshot.
 * @st: filled in.
 *
 * Context: any; takes the snapshot's lock with interrupts disabled.
 */
void cbw_snap_get_stats(struct cbw_snap *snap, struct cbw_snap_stats *st)
{
	unsigned long flags;

	spin_lock_irqsave(&snap->lock, flags);
	st->copied = snap->copied;
	st->valid = snap->state != SNAP_DEAD;
	spin_unlock_irqrestore(&snap->lock, flags);
	st->chunks = snap->nr_chunks;
	st->to_copy = snap->nr_chunks - st->copied;
	st->copies = atomic64_read(&snap->copies);
	st->copy_errors = atomic64_read(&snap->copy_errors);
	st->waited = atomic64_read(&snap->waited);
	st->origin_reads = atomic64_read(&snap->origin_reads);
	st->cow_reads = atomic64_read(&snap->cow_reads);
}

static int __init dm_cbw_init(void)
{
	int r;

	r = dm_cbw_target_init();
	if (r)
		return r;
	r = dm_cbw_access_init();
	if (r)
		dm_cbw_target_exit();
	return r;
}

static void __exit dm_cbw_exit(void)
{
	dm_cbw_access_exit();
	dm_cbw_target_exit();
}

module_init(dm_cbw_init);
module_exit(dm_cbw_exit);

MODULE_DESCRIPTION(DM_NAME " copy-before-write snapshots (cbw, snapshot-access)");
MODULE_AUTHOR("dm-cbw developers");
MODULE_LICENSE("GPL");
