// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw copy engine: the busy tree, copy steps moved in rounds of two
 * stages (read the origin, write the COW slots), their deadlines, the
 * error policies, the end of a oneshot copy's stages in the task that
 * ends them, and the worker, cbw_snap_work().  The design of the I/O
 * paths is in dm-cbw-io.h.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/interval_tree_generic.h>
#include <linux/jiffies.h>

#include "compat.h"
#include "dm-cbw-io.h"

/*
 * The busy tree is not static: the I/O paths share it (dm-cbw-io.h).  Its
 * search helper stays static: newer kernels (7.2) define it with the
 * tree's storage class, and this declaration keeps it static there too
 * (the linkage of an earlier static declaration wins).
 */
static struct cbw_range *cbw_busy_tree_subtree_search(struct cbw_range *node,
						      u64 start, u64 last);
#define RANGE_START(r) ((r)->start)
#define RANGE_LAST(r) ((r)->last)
INTERVAL_TREE_DEFINE(struct cbw_range, rb, u64, subtree_last,
		     RANGE_START, RANGE_LAST, /* extern */, cbw_busy_tree)

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

/* The -errno of a failure, for the events. */
static int reason_errno(enum cbw_reason reason)
{
	switch (reason) {
	case CBW_OK:
		return 0;
	case CBW_IO_ERROR:
		return -EIO;
	case CBW_TIMEOUT:
		return -ETIMEDOUT;
	case CBW_COW_FULL:
		return -ENOSPC;
	case CBW_NOMEM:
		return -ENOMEM;
	default:
		return -ECANCELED;
	}
}

/**
 * __cbw_release_range() - take a busy interval out of the busy tree.
 * @snap: the snapshot.
 * @r: the interval, in @snap->busy.
 *
 * Take @r out of the busy tree and give its waiters to the worker.
 *
 * Context: any; caller holds snap->lock.
 * Return: true if the worker has work now.
 */
bool __cbw_release_range(struct cbw_snap *snap, struct cbw_range *r)
{
	bool any = !bio_list_empty(&r->waiters) || !bio_list_empty(&r->readers);

	cbw_busy_tree_remove(r, &snap->busy);
	bio_list_merge(&snap->deferred, &r->waiters);
	bio_list_merge(&snap->access_deferred, &r->readers);
	bio_list_init(&r->waiters);
	bio_list_init(&r->readers);
	return any;
}

/**
 * cbw_release_range() - __cbw_release_range() under snap->lock, then wake
 * the worker if needed.
 * @snap: the snapshot.
 * @r: the interval, in @snap->busy.
 *
 * Context: process context, interrupts enabled.
 */
void cbw_release_range(struct cbw_snap *snap, struct cbw_range *r)
{
	bool wake;

	spin_lock_irq(&snap->lock);
	wake = __cbw_release_range(snap, r);
	spin_unlock_irq(&snap->lock);
	if (wake)
		cbw_snap_wake(snap);
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
	/*
	 * A oneshot copy's I/O was issued, and ends, on the CPU of the task
	 * that wrote: with other copies in flight (the task has more writes
	 * out) the worker goes on elsewhere, beside that task.
	 */
	if (copy->oneshot && atomic_read(&snap->nr_copies) > 1)
		cbw_snap_wake_elsewhere(snap);
	else
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

/**
 * cbw_piece_end() - the end of a copy bio.
 * @bio: a bio of a copy's stage (fill_piece_bio()).
 *
 * Context: any.
 */
void cbw_piece_end(struct bio *bio)
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

/**
 * cbw_copy_timer_fn() - a copy's deadline passed.
 * @t: the copy's @timer.
 *
 * Unless the copy is ending, it is marked expired and queued for the
 * worker, which handles the timeout (copy_timed_out()).
 *
 * Context: timer callback.
 */
void cbw_copy_timer_fn(struct timer_list *t)
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

/**
 * cbw_free_copy() - give back the pages and the struct of a copy that ended.
 * @snap: the snapshot.
 * @copy: the copy, counted in @snap->nr_copies, or in @snap->nr_cow_io
 *	  once detached.
 *
 * Wakes the worker if a guest write waits for a copy's pages or struct,
 * and suspend or destroy when the last copy they wait for ended.
 *
 * Context: engine held; does not sleep.
 */
void cbw_free_copy(struct cbw_snap *snap, struct cbw_copy *copy)
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
 * in the background and its data is thrown away (cbw_finish_copy()), and
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
	return __cbw_release_range(snap, &copy->range);
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

	for (s = cbw_next_to_copy(snap, first, last); s <= last;
	     s = cbw_next_to_copy(snap, e, last)) {
		e = cbw_to_copy_end(snap, s, last);
		/* Counted as dropped as they leave, also before a failure. */
		r = cbw_snap_remove_chunks(snap, s, e - s, &snap->dropped);
		if (r < 0) {
			broke = cbw_snap_do_break(snap, CBW_NOMEM);
			break;
		}
		trace_cbw_drop(snap, s, e - 1, r);
		n += r;
	}
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
			cbw_fail_write(snap, bio, reason_status(reason));
		return false;
	case CBW_BREAK:
		return cbw_snap_do_break(snap, reason);
	case CBW_DROP:
		return drop_chunks(snap, copy->range.start, copy->range.last);
	}
	return false;
}

/* Sectors of a run (the device's last chunk may be partial). */
static sector_t run_sectors(struct cbw_snap *snap, struct cbw_run *run)
{
	sector_t first = chunk_to_sector(snap, run->chunk);

	return min(chunk_to_sector(snap, run->chunk + run->count),
		   snap->sectors) - first;
}

/* The bytes a copy moves, for its events. */
static u64 copy_bytes(struct cbw_snap *snap, struct cbw_copy *copy)
{
	u64 bytes = 0;
	unsigned int i;

	for (i = 0; i < copy->nr_runs; i++)
		bytes += (u64)run_sectors(snap, &copy->runs[i]) << SECTOR_SHIFT;
	return bytes;
}

/* The first run's first slot, 0 if the copy has no runs. */
static u64 copy_slot(struct cbw_copy *copy)
{
	return copy->nr_runs ? copy->runs[0].slot : 0;
}

/**
 * cbw_trace_copy_start() - a copy starts, one of its events is on.
 * @snap: the snapshot.
 * @copy: the copy, planned, its interval final.
 *
 * Takes the start time of the cbw_copy_end event's latency if that event
 * is on, and fires cbw_copy_start.  Called by trace_copy_start().
 *
 * Context: any, engine held; does not sleep.
 */
void cbw_trace_copy_start(struct cbw_snap *snap, struct cbw_copy *copy)
{
	if (trace_cbw_copy_end_enabled())
		copy->start_ns = cbw_clock_ns();
	if (trace_cbw_copy_start_enabled())
		trace_cbw_copy_start(snap, copy->range.start, copy->range.last,
				     copy_slot(copy), copy->nr_runs,
				     copy_bytes(snap, copy));
}

/*
 * The outcome of a copy whose data is thrown away (detached, or ended
 * after a break): the error of a run that failed, whether the copy was
 * detached before its I/O ended or after; else -ETIMEDOUT if it timed
 * out, -ECANCELED if not.
 */
static int thrown_errno(struct cbw_copy *copy)
{
	unsigned int i;

	for (i = 0; i < copy->nr_runs; i++)
		if (copy->runs[i].error)
			return copy->runs[i].error == -ENOMEM ? -ENOMEM : -EIO;
	return copy->timed_out ? -ETIMEDOUT : -ECANCELED;
}

/*
 * A copy ends, with @error (0, or the -errno of its failure): the
 * cbw_copy_end event.  Its latency is 0 if the event was off when the
 * copy started.  Before the copy is freed, and before its runs are.
 * Engine held.
 */
static void trace_copy_end(struct cbw_snap *snap, struct cbw_copy *copy,
			   int error)
{
	if (!trace_cbw_copy_end_enabled())
		return;
	trace_cbw_copy_end(snap, copy->range.start, copy->range.last,
			   copy_slot(copy), copy->nr_runs,
			   copy_bytes(snap, copy),
			   copy->start_ns ? cbw_clock_since(copy->start_ns) : 0,
			   error);
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
 * The waiters of a copy that ended: a write whose chunks are no longer to
 * copy goes to the origin now (in a oneshot stage's end, queued on
 * current->bio_list), any other goes to the worker.  Engine held, so the
 * test is exact.
 */
static void send_waiters(struct cbw_snap *snap, struct bio_list *waiters)
{
	unsigned long flags;
	bool wake = false;
	struct bio *bio;
	u64 first, last;

	while ((bio = bio_list_pop(waiters))) {
		bio_chunks(snap, bio, &first, &last);
		if (READ_ONCE(snap->broken) || !any_to_copy(snap, first, last)) {
			cbw_submit_write(snap, bio);
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
 * Take the interval of a copy that ended out of the busy tree: its
 * readers go to the worker, its writes on (send_waiters()), not round
 * the worker's deferred list behind the writes that came in meanwhile.
 * Engine held.
 */
static void release_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	struct bio_list waiters;
	unsigned long flags;
	bool wake;

	spin_lock_irqsave(&snap->lock, flags);
	waiters = copy->range.waiters;
	bio_list_init(&copy->range.waiters);
	/* Only the readers are left for the worker. */
	wake = __cbw_release_range(snap, &copy->range);
	spin_unlock_irqrestore(&snap->lock, flags);
	if (wake)
		cbw_snap_wake(snap);
	send_waiters(snap, &waiters);
}

/**
 * cbw_finish_copy() - end a copy.
 * @snap: the snapshot.
 * @copy: the copy.
 *
 * The copy moved all its runs, or failed, or timed out and its last stage
 * ended: publish the slots of the runs that succeeded, apply the error
 * policy for those that did not, and let the waiting bios go on.
 *
 * Context: the worker, engine held; may sleep.
 * Return: true if a dm event is due.
 */
bool cbw_finish_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	enum cbw_reason reason = copy->reason;
	bool event = false, thrown = false;
	unsigned int i;

	mark_finished(snap, copy);
	if (copy->detached) {
		trace_copy_end(snap, copy, thrown_errno(copy));
		/* The policy was applied at the timeout; throw the data away. */
		free_run_slots(snap, copy);
		cbw_free_copy(snap, copy);
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
			} else {
				thrown = true;
			}
			cbw_cow_free(snap->store, run->slot, run->count);
		}
	}
	cbw_snap_check_low_water(snap);
	/*
	 * Data thrown away because the snapshot broke: as if the break had
	 * detached the copy first (see the detached case above), where an
	 * I/O error of a run wins too.
	 */
	if (reason != CBW_OK)
		trace_copy_end(snap, copy, reason_errno(reason));
	else
		trace_copy_end(snap, copy, thrown ? thrown_errno(copy) : 0);

	/* A copy that timed out under CBW_FAIL_WRITE has no writes left. */
	if (reason != CBW_OK && !copy->timed_out)
		event = apply_policy(snap, copy, reason, NULL);

	release_copy(snap, copy);
	cbw_free_copy(snap, copy);
	return event;
}

/*
 * The deadline passed and the copy is still running.  If no write waits
 * on it (a step started in the background that its stream has not
 * reached), the deadline moves on by the timeout: nothing is late yet,
 * and a write that comes to wait on the copy waits at most about the
 * timeout before the policy answers it; but while a suspend waits for
 * the copies the copy is detached (its chunks stay to copy).  Otherwise,
 * with CBW_FAIL_WRITE the interval stays busy until the copy ends (the
 * writes waiting now, and those arriving meanwhile, fail); under the other
 * policies the policy is applied, the interval is released, and the copy
 * ends with the stage in flight, its data thrown away.
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
	trace_cbw_timeout(snap, copy->range.start, copy->range.last,
			  READ_ONCE(snap->timeout_ms));
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

/**
 * cbw_plan_round() - plan the next round of a copy.
 * @snap: the snapshot.
 * @copy: the copy.
 *
 * Give the copy's pages, in order, to the next pieces of the runs that
 * neither failed nor ended, each piece on pages of its own.
 *
 * Context: any, engine held.
 * Return: false if nothing is left to move.
 */
bool cbw_plan_round(struct cbw_snap *snap, struct cbw_copy *copy)
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
			return cbw_finish_copy(snap, copy);
		if (copy->stage == COPY_READ) {
			if (!issue_stage(snap, copy, COPY_WRITE))
				return false;
			continue;
		}
		end_round(copy);
		if (!cbw_plan_round(snap, copy))
			return cbw_finish_copy(snap, copy);
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

/**
 * cbw_plan_copy() - allocate slots for a copy step and describe its runs.
 * @snap: the snapshot.
 * @copy: the copy, its interval in @snap->busy.
 *
 * Allocate slots for the to-copy chunks of the copy's interval and
 * describe the runs.  The interval is cut short when the runs run out or
 * the COW device fills up after the first run.
 *
 * Context: the worker, engine held; may sleep.
 * Return: CBW_OK, or why not even one run could be made.
 */
enum cbw_reason cbw_plan_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	u64 s = copy->range.start, end = copy->range.last + 1, cs, ce, slot;
	s64 n = 0;

	while (copy->nr_runs < MAX_RUNS) {
		cs = cbw_next_to_copy(snap, s, end - 1);
		if (cs >= end)
			break;
		ce = cbw_to_copy_end(snap, cs, end - 1);
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
		cbw_busy_tree_remove(&copy->range, &snap->busy);
		copy->range.last = s - 1;
		cbw_busy_tree_insert(&copy->range, &snap->busy);
		spin_unlock_irq(&snap->lock);
	}
	return CBW_OK;
}

/**
 * cbw_start_copy() - start a planned copy.
 * @snap: the snapshot.
 * @copy: the copy, planned by cbw_plan_copy().
 *
 * Start a planned copy: its deadline, the rest of its pages (it holds
 * one; a copy that gets no more moves one page per round), its first
 * round.
 *
 * Context: the worker, engine held; may sleep.
 * Return: true if a dm event is due.
 */
bool cbw_start_copy(struct cbw_snap *snap, struct cbw_copy *copy)
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
	trace_copy_start(snap, copy);
	/* As if an empty round had just been written. */
	copy->stage = COPY_WRITE;
	return run_copy(snap, copy);
}

/**
 * cbw_alloc_copy() - a copy struct and one page for a step, without waiting.
 * @snap: the snapshot.
 *
 * Context: engine held; does not sleep.
 * Return: the copy, without its interval yet, or NULL: a copy in flight
 * has them and gives them back when it ends.
 */
struct cbw_copy *cbw_alloc_copy(struct cbw_snap *snap)
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
	timer_setup(&copy->timer, cbw_copy_timer_fn, 0);
	return copy;
}

/**
 * cbw_put_unstarted_copy() - give back a copy from cbw_alloc_copy() that
 * never started.
 * @snap: the snapshot.
 * @copy: the copy.
 *
 * Context: engine held; does not sleep.
 */
void cbw_put_unstarted_copy(struct cbw_snap *snap, struct cbw_copy *copy)
{
	cbw_pages_put(&snap->pages, copy->pages, copy->nr_pages);
	mempool_free(copy, &snap->copy_pool);
}

/*
 * The end of a oneshot copy's stages (see "One-chunk copies in the
 * submitter's context" in dm-cbw-io.h; start_oneshot() in dm-cbw-write.c
 * starts them).
 */

/*
 * The write of a oneshot copy ended well: publish the slot, release the
 * interval, send the waiting writes on.  Return: false if the copy's
 * deadline passed, or the map has no spare leaf for the slot (nothing
 * changed: the worker handles the timeout, or publishes with
 * cbw_finish_copy()).
 */
static bool finish_oneshot(struct cbw_snap *snap, struct cbw_copy *copy)
{
	struct cbw_run *run = &copy->runs[0];
	unsigned long flags;
	bool expired;

	spin_lock_irqsave(&snap->lock, flags);
	expired = copy->expired;
	spin_unlock_irqrestore(&snap->lock, flags);
	if (expired || cbw_map_insert_nowait(snap->map, run->chunk, run->slot, 1))
		return false;

	/* Copied: a deadline that passes from now on is ignored. */
	mark_finished(snap, copy);
	trace_copy_end(snap, copy, 0);

	spin_lock_irqsave(&snap->lock, flags);
	snap->copied++;
	spin_unlock_irqrestore(&snap->lock, flags);
	release_copy(snap, copy);
	cbw_free_copy(snap, copy);
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
 * Passes over the deferred writes in one run of the worker.  A copy that
 * ends in the worker sends the writes that waited on it to the origin,
 * or, with chunks still to copy, back on the list: the next pass copies
 * them, with no round trip through the workqueue.
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
	struct blk_plug plug;
	struct bio *bio;
	bool event = false, more;
	int pass;

	if (!engine_lock_worker(snap))
		return;
	/* The run's I/O goes out together ("Copies in flight together"). */
	blk_start_plug(&plug);
	for (pass = 0; pass < WORKER_PASSES; pass++) {
		cbw_process_cow_discards(snap);
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
			event |= cbw_copy_ahead_now(snap);
		more |= cbw_process_writes(snap);
		if (!more)
			break;
	}

	spin_lock_irq(&snap->lock);
	access = snap->access_deferred;
	bio_list_init(&snap->access_deferred);
	spin_unlock_irq(&snap->lock);
	while ((bio = bio_list_pop(&access)))
		cbw_process_access(snap, bio);
	blk_finish_plug(&plug);
	engine_unlock(snap);

	if (event)
		cbw_snap_event(snap);
	cbw_snap_reap_check(snap);
}
