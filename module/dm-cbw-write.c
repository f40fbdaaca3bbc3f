// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw guest writes: the cbw target's map function, whose fast path
 * sends a write that needs no copy to the origin and which starts the
 * copy of one chunk for a write inside it (a oneshot copy), and the slow
 * path in the worker, which makes the copy steps of the other writes,
 * follows sequential streams and copies ahead of them.  The design of
 * the I/O paths is in dm-cbw-io.h.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/jiffies.h>

#include "dm-cbw-io.h"

/* The most one copy step covers; a larger bio is copied in several steps. */
#define MAX_COPY_SECTORS	(16U << (20 - SECTOR_SHIFT))

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

/*
 * Background copy-ahead.  A step that copies ahead for a sequential stream
 * arms a trigger, snap->ahead_at: the chunk after its bio, or for a step
 * started in the background its own first chunk.  The write that covers
 * the trigger (in the map function, or as it leaves the slow path) takes
 * it and kicks the worker, which starts the stream's next step at once,
 * with no bio on it (cbw_copy_ahead_now()).  So the copy of the next
 * window runs while the stream writes to the window copied last, on
 * another CPU, instead of after it: at most two windows are copied ahead
 * of the stream's writes.
 */

/* Arm the trigger at @chunk (ahead_disarm() disarms it).  Engine held. */
static void ahead_arm(struct cbw_snap *snap, u64 chunk)
{
	atomic64_set(&snap->ahead_at, chunk);
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
		cbw_snap_wake_elsewhere(snap);
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
 * cbw_next_to_copy() - the first chunk of a range still to copy.
 * @snap: the snapshot.
 * @from: the first chunk of the range.
 * @last: the last chunk of the range.
 *
 * The first chunk in [@from, @last] still to copy (readable, no slot), or
 * @last + 1.  Exact for the engine's holder (the only writer of both
 * sets) and for callers that exclude it; otherwise each chunk's answer is
 * true at some moment of the call.
 *
 * Context: any.
 * Return: the chunk, or @last + 1.
 */
u64 cbw_next_to_copy(struct cbw_snap *snap, u64 from, u64 last)
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

/**
 * cbw_to_copy_end() - the end of a stretch of chunks to copy.
 * @snap: the snapshot.
 * @from: a chunk to copy.
 * @last: the last chunk to look at.
 *
 * Same exactness as cbw_next_to_copy().
 *
 * Context: any.
 * Return: the first chunk after @from that is not to copy, at most
 * @last + 1.
 */
u64 cbw_to_copy_end(struct cbw_snap *snap, u64 from, u64 last)
{
	u64 e = min(bm_next_clear(snap->readable, from), last + 1);

	return e > from ? cbw_map_next_mapped(snap->map, from, e - 1) : e;
}

/*
 * The end of a guest bio's slow path, going to the origin (@error 0) or
 * failing with @error: count its wait, and fire cbw_write_wait.
 */
static void account_write(struct cbw_snap *snap, struct bio *bio, int error)
{
	struct cbw_write_io *wio = dm_per_bio_data(bio, sizeof(*wio));
	u64 ns, first, last;

	if (wio->waited) {
		ns = cbw_clock_since(wio->start_ns);
		atomic64_inc(&snap->waited);
		atomic64_add(ns, &snap->wait_ns);
		wio->waited = false;
		if (trace_cbw_write_wait_enabled()) {
			bio_chunks(snap, bio, &first, &last);
			trace_cbw_write_wait(snap, first, last, ns, error);
		}
	}
}

/**
 * cbw_submit_write() - send a guest write that left the map function to
 * the origin.
 * @snap: the snapshot.
 * @bio: the write, with nothing left to copy.
 *
 * Takes the stream's trigger if the write covers it, and counts the
 * write's wait.
 *
 * Context: engine held, in a task that may submit bios (the worker, or
 * see may_go_on()).
 */
void cbw_submit_write(struct cbw_snap *snap, struct bio *bio)
{
	u64 first, last;

	bio_chunks(snap, bio, &first, &last);
	ahead_check(snap, first, last);
	account_write(snap, bio, 0);
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

/**
 * cbw_fail_write() - end a guest write that left the map function with an
 * error.
 * @snap: the snapshot.
 * @bio: the write.
 * @status: its error.
 *
 * Counts the write's wait.
 *
 * Context: any, engine held.
 */
void cbw_fail_write(struct cbw_snap *snap, struct bio *bio, blk_status_t status)
{
	account_write(snap, bio, blk_status_to_errno(status));
	bio->bi_status = status;
	bio_endio(bio);
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
		cbw_submit_write(snap, bio);
		return true;
	}

	/* None at hand: the next copy to end wakes the worker. */
	copy = cbw_alloc_copy(snap);
	if (!copy) {
		snap->starved = true;
		return false;
	}
	step = max_t(u64, MAX_COPY_SECTORS >> snap->chunk_shift, 1);
	start = cbw_next_to_copy(snap, first, last);
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
	r = cbw_busy_tree_iter_first(&snap->busy, first, last);
	if (r) {
		/* A copy that timed out under CBW_FAIL_WRITE fails writes. */
		if (r->copying && container_of(r, struct cbw_copy, range)->timed_out) {
			spin_unlock_irq(&snap->lock);
			cbw_fail_write(snap, bio, BLK_STS_TIMEOUT);
		} else {
			bio_list_add(&r->waiters, bio);
			wio->waited = true;
			spin_unlock_irq(&snap->lock);
		}
		cbw_put_unstarted_copy(snap, copy);
		return true;
	}
	/* Copy ahead up to the first chunk that something else holds. */
	if (ahead > end) {
		r = cbw_busy_tree_iter_first(&snap->busy, end + 1, ahead);
		copy->range.last = r ? max(end + 1, r->start) - 1 : ahead;
	}
	bio_list_add(&copy->range.waiters, bio);
	wio->waited = true;
	cbw_busy_tree_insert(&copy->range, &snap->busy);
	spin_unlock_irq(&snap->lock);
	atomic_inc(&snap->nr_copies);

	reason = cbw_plan_copy(snap, copy);
	snap->seq_hits = hits;
	snap->seq_next = copy->range.last + 1;
	snap->seq_window = copy->range.last + 1 - start;
	if (reason == CBW_OK) {
		/* A step that copies ahead arms the stream's next one. */
		if (copy->range.last > end)
			ahead_arm(snap, end + 1);
		else
			ahead_disarm(snap);
		if (cbw_start_copy(snap, copy))
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
		cbw_busy_tree_remove(&copy->range, &snap->busy);
		copy->range.last = end;
		cbw_busy_tree_insert(&copy->range, &snap->busy);
		spin_unlock_irq(&snap->lock);
	}
	copy->reason = reason;
	atomic64_inc(&snap->copy_errors);
	DMERR_LIMIT("no copy of chunks %llu-%llu: %s", start, end,
		    cbw_reason_name(reason));
	event = cbw_finish_copy(snap, copy);
	if (event)
		cbw_snap_event(snap);
	return true;
}

/**
 * cbw_copy_ahead_now() - start a stream's next step in the background.
 * @snap: the snapshot.
 *
 * A write took the stream's trigger (see "Background copy-ahead"): start
 * the stream's next step now, from the chunk where the last step ended,
 * over the window copy-ahead gives it (up to the first chunk that
 * something else holds), if that chunk is to copy and free, and the
 * snapshot is not suspended.  No bio waits on the step: the stream's
 * writes that reach it before it ends wait on its interval as on any
 * copy.  If it fails before a write waits on it, no policy applies: the
 * chunks of its failed runs stay to copy (see apply_policy()); its
 * deadline passes only with a write waiting (see copy_timed_out()), and
 * a suspend throws it away (see detach_copies()).  The step arms the
 * trigger at its own first chunk.
 *
 * Context: the worker, engine held; may sleep.
 * Return: true if a dm event is due.
 */
bool cbw_copy_ahead_now(struct cbw_snap *snap)
{
	u64 start = snap->seq_next, step, window;
	struct cbw_range *r;
	struct cbw_copy *copy;
	bool ok;

	step = max_t(u64, MAX_COPY_SECTORS >> snap->chunk_shift, 1);
	window = ahead_window(snap, snap->seq_hits, step);
	if (!window || READ_ONCE(snap->broken) || start >= snap->nr_chunks ||
	    cbw_next_to_copy(snap, start, start) != start)
		return false;

	copy = cbw_alloc_copy(snap);
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
	r = cbw_busy_tree_iter_first(&snap->busy, start, copy->range.last);
	if (r && r->start > start)
		copy->range.last = r->start - 1;
	ok = !snap->quiesced && (!r || r->start > start);
	if (ok) {
		cbw_busy_tree_insert(&copy->range, &snap->busy);
		atomic_inc(&snap->nr_copies);
	}
	spin_unlock_irq(&snap->lock);
	if (!ok) {
		cbw_put_unstarted_copy(snap, copy);
		return false;
	}

	if (cbw_plan_copy(snap, copy) != CBW_OK) {
		/* Nothing copied, and no write waits: only readers may. */
		cbw_release_range(snap, &copy->range);
		cbw_free_copy(snap, copy);
		snap->seq_hits = 0;
		return false;
	}
	snap->seq_next = copy->range.last + 1;
	snap->seq_window = copy->range.last + 1 - start;
	ahead_arm(snap, start);
	return cbw_start_copy(snap, copy);
}

/*
 * Oneshot copies (see "One-chunk copies in the submitter's context" in
 * dm-cbw-io.h): their start, in the map function.  The end of their
 * stages is in dm-cbw-copy.c.
 */

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
	timer_setup(&copy->timer, cbw_copy_timer_fn, 0);
	init_range(&copy->range, chunk, chunk, true, true);

	spin_lock_irqsave(&snap->lock, flags);
	if (cbw_busy_tree_iter_first(&snap->busy, chunk, chunk)) {
		spin_unlock_irqrestore(&snap->lock, flags);
		goto free_bio;
	}
	bio_list_add(&copy->range.waiters, bio);
	wio->waited = true;
	cbw_busy_tree_insert(&copy->range, &snap->busy);
	spin_unlock_irqrestore(&snap->lock, flags);

	if (cbw_cow_alloc_nowait(snap->store, 1, &slot) != 1) {
		/* Undo: the bio, and any that began to wait, go to the worker. */
		spin_lock_irqsave(&snap->lock, flags);
		__cbw_release_range(snap, &copy->range);
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
	cbw_plan_round(snap, copy);
	snap->seq_next = chunk + 1;
	snap->seq_window = 1;
	snap->seq_hits = 0;
	ahead_disarm(snap);
	atomic_inc(&snap->nr_copies);
	atomic64_inc(&snap->copies);
	if (timeout_ms)
		mod_timer(&copy->timer, jiffies + msecs_to_jiffies(timeout_ms));
	trace_copy_start(snap, copy);

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
	bool busy;

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
	/* See "Copies in flight together" in dm-cbw-io.h. */
	busy = atomic_read(&snap->nr_copies);
	if (first == last && !busy && start_oneshot(snap, bio, first))
		return DM_MAPIO_SUBMITTED;
	spin_lock_irqsave(&snap->lock, flags);
	bio_list_add(&snap->deferred, bio);
	spin_unlock_irqrestore(&snap->lock, flags);
	if (busy)
		cbw_snap_wake_elsewhere(snap);
	else
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

/**
 * cbw_process_writes() - take the deferred guest writes and process them.
 * @snap: the snapshot.
 *
 * Context: the worker, engine held; may sleep.
 * Return: false if there were none, or no copy could be allocated (the
 * rest stays deferred: a copy in flight wakes the worker when it ends).
 */
bool cbw_process_writes(struct cbw_snap *snap)
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
