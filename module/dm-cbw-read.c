// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw snapshot reads and discards: the snapshot-access target's map
 * function and the end of its bios.  A read of the frozen image goes to
 * a chunk's COW slot or to the origin; a snapshot discard drops whole
 * chunks from the snapshot and discards their slots on the COW device.
 * The design of the I/O paths is in dm-cbw-io.h.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/slab.h>

#include "compat.h"
#include "dm-cbw-io.h"

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
	for (r = cbw_busy_tree_iter_first(&snap->busy, c, end); r;
	     r = cbw_busy_tree_iter_next(r, c, end)) {
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
	cbw_busy_tree_insert(&io->range, &snap->busy);
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
 * the COW device (discard_passdown).  The worker, which holds the engine,
 * only queues them (snap->discards_to_issue); snap->discard_issuer
 * submits them, outside the engine, and nothing waits for them: a slow
 * or stuck COW device, or writeback throttling (which makes the
 * submitter of a discard to a blk-mq device sleep while enough of them
 * are in flight), then holds up neither the copies nor their deadlines.
 * The slots stay in use until their discard ends (a copy written to them
 * before would be wiped out), and the worker frees them then.  Each
 * discard counts in snap->nr_cow_io from the moment it is queued, so a
 * discard not yet submitted keeps an orphan (see dm-cbw-core.c) alive.
 * The issuer runs on system_unbound_wq, not on snap->wq: asleep on a
 * COW device that does not answer, it must not hold the rescuer that
 * the worker may need under memory pressure.  free_machinery() flushes
 * it (nr_cow_io is 0 by then: it has nothing left to submit).
 */

/*
 * struct cow_discard - a discard of a run of freed slots.
 * @node: in snap->discards_to_issue until the issuer takes it, then in
 *	  snap->cow_discards once it ended; snap->lock.
 * @snap: the snapshot; constant.
 * @bdev: the COW device, kept open by the snapshot's pins until the
 *	  discard ended even if the cbw target goes first; constant.
 * @slot: the first slot; constant.
 * @count: the number of slots; constant.
 * @pending: bios in flight, plus one until all of them are submitted;
 *	     atomic.
 * @error: the error of a bio that failed (not for a device without
 *	   discard), 0 if none; WRITE_ONCE()/READ_ONCE().
 */
struct cow_discard {
	struct list_head node;
	struct cbw_snap *snap;
	struct block_device *bdev;
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

/* Submit the bios of one COW discard; its end may free the snapshot. */
static void issue_cow_discard(struct cow_discard *d)
{
	struct cbw_snap *snap = d->snap;
	sector_t s = chunk_to_sector(snap, d->slot);
	sector_t e = chunk_to_sector(snap, d->slot + d->count), n;
	/* A bio's size is an unsigned int of bytes. */
	sector_t most = round_down(UINT_MAX >> SECTOR_SHIFT,
				   chunk_to_sector(snap, 1));
	struct bio *bio;

	for (; s < e; s += n) {
		n = min(e - s, most);
		/* GFP_NOIO waits for the bio set's reserve: never NULL. */
		bio = cbw_bio_alloc(d->bdev, 0, REQ_OP_DISCARD, GFP_NOIO,
				    &snap->bios);
		bio->bi_iter.bi_sector = s;
		bio->bi_iter.bi_size = n << SECTOR_SHIFT;
		bio->bi_end_io = cow_discard_end;
		bio->bi_private = d;
		atomic_inc(&d->pending);
		submit_bio_noacct(bio);
	}
	cow_discard_put(d);
}

/**
 * cbw_issue_cow_discards() - submit the COW discards the worker queued.
 * @work: the snapshot's discard_issuer.
 *
 * The plug lets the block layer merge discards of adjacent runs.
 *
 * Context: system_unbound_wq, engine not held; may sleep (in writeback
 * throttling, or for the bio set's reserve).
 */
void cbw_issue_cow_discards(struct work_struct *work)
{
	struct cbw_snap *snap = container_of(work, struct cbw_snap,
					     discard_issuer);
	struct cow_discard *d;
	struct blk_plug plug;

	blk_start_plug(&plug);
	for (;;) {
		spin_lock_irq(&snap->lock);
		d = list_first_entry_or_null(&snap->discards_to_issue,
					     struct cow_discard, node);
		if (d)
			list_del(&d->node);
		spin_unlock_irq(&snap->lock);
		if (!d)
			break;
		issue_cow_discard(d);
	}
	blk_finish_plug(&plug);
}

/*
 * cbw_map_remove() callback, in the worker: queue a discard of the slots
 * on the COW device, to free them once it ended, or (no pass-down, or no
 * memory to track the discard: it is only a hint) free them now.
 */
static void discard_slots(void *data, u64 slot, u64 count)
{
	struct cbw_snap *snap = data;
	struct cow_discard *d = NULL;

	if (snap->discard_passdown)
		d = kmalloc(sizeof(*d), GFP_NOIO | __GFP_NOWARN);
	if (!d) {
		cbw_cow_free(snap->store, slot, count);
		return;
	}
	d->snap = snap;
	d->bdev = snap->cow->bdev;
	d->slot = slot;
	d->count = count;
	d->error = 0;
	atomic_set(&d->pending, 1);
	spin_lock_irq(&snap->lock);
	snap->nr_cow_io++;
	list_add_tail(&d->node, &snap->discards_to_issue);
	spin_unlock_irq(&snap->lock);
}

/**
 * cbw_process_cow_discards() - free the slots of the COW discards that ended.
 * @snap: the snapshot.
 *
 * Context: the worker, engine held; may sleep.
 */
void cbw_process_cow_discards(struct cbw_snap *snap)
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
	r = cbw_busy_tree_iter_first(&snap->busy, first, last);
	if (r) {
		bio_list_add(&r->readers, bio);
		spin_unlock_irq(&snap->lock);
		return;
	}
	init_range(&io->range, first, last, false, true);
	cbw_busy_tree_insert(&io->range, &snap->busy);
	io->in_range = true;
	spin_unlock_irq(&snap->lock);

	/* Out of the snapshot first: then no read can want the slots. */
	n = cbw_snap_remove_chunks(snap, first, last - first + 1,
				   &snap->discarded);
	if (n < 0) {
		end_access(bio, BLK_STS_IOERR);
		return;
	}
	trace_cbw_snap_discard(snap, first, last, n);

	cbw_map_remove(snap->map, first, last, discard_slots, snap);
	if (snap->discard_passdown)
		queue_work(system_unbound_wq, &snap->discard_issuer);
	cbw_snap_check_low_water(snap);
	end_access(bio, BLK_STS_OK);
}

/**
 * cbw_process_access() - a snapshot-access bio in the worker.
 * @snap: the snapshot.
 * @bio: the bio: parked, waiting, or a discard.
 *
 * Context: the worker, engine held; may sleep.
 */
void cbw_process_access(struct cbw_snap *snap, struct bio *bio)
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
 * no longer wait (see "Synchronisation" in dm-cbw-io.h), so such a read
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
		wake = __cbw_release_range(snap, &io->range);
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
