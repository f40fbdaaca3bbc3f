/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw I/O paths: guest writes on the cbw target (dm-cbw-write.c), the
 * copy engine and the worker (dm-cbw-copy.c), and reads and discards of
 * the frozen image (snapshot-access, dm-cbw-read.c).  Their design comes
 * first; then what the three files share.
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
 * nothing.  A bio inside one chunk may start that chunk's copy itself (see
 * "One-chunk copies" below).  Any other bio goes to the worker, which
 * marks the chunk interval busy (a struct cbw_copy in the busy tree),
 * allocates COW slots and copies the to-copy chunks of the interval (a run
 * per stretch of adjacent chunks in adjacent slots, at most
 * MAX_COPY_SECTORS per step).  Steps that keep starting where the previous
 * one ended belong to a sequential stream and copy ahead of their bio
 * (ahead_window()), so that a stream of small writes makes few large
 * copies, and the stream's next step starts in the background as soon as
 * its writes reach the window copied last ("Background copy-ahead" in
 * dm-cbw-write.c).  Bios that touch a busy interval wait on it.  When the
 * copy ends its slots are published in the map (the chunks stop being to
 * copy) and the waiting writes go to the origin right there, or, with
 * chunks still to copy, round again (release_copy()).
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
 * costs two task switches per guest write.  So a write inside one chunk
 * that is to copy, and not part of a sequential stream, starts its copy
 * in the map function (start_oneshot()) while no other copy is in flight
 * and everything it needs is at hand without waiting:
 * the engine (below), a copy struct, cached pages, a bio, a COW slot.  The
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
 * Copies in flight together.  With copies already in flight (the guest
 * has more writes out than one), a write that needs a copy goes to the
 * worker instead, queued on another CPU than the submitter's
 * (cbw_snap_wake_elsewhere()), and so does a oneshot copy's stage that
 * ended in an interrupt then: the task that writes goes on submitting
 * while the worker copies beside it.  The worker holds a plug for its
 * whole run, so the reads, COW writes and released guest writes of every
 * copy it moves in that run reach the devices together, and on a device
 * that completes later they end together and come back to the worker as
 * one batch, as dm-kcopyd's jobs do.  A copy's I/O therefore waits at
 * most for the rest of the worker's run before it is issued (or less: a
 * plug is flushed when its task sleeps, and by the block layer once it
 * holds many requests).  On bio-based devices that complete in the
 * submitter's context (brd) no copy stays in flight, so every one-chunk
 * copy starts in the map function there.  nr_copies is read without a
 * lock and counts background steps too: it only chooses the faster path.
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
 * a stuck COW device holds up no suspend.  Time a bio spends waiting for a
 * snapshot read before its copy starts is not part of the copy's timeout.
 */

#ifndef DM_CBW_IO_H
#define DM_CBW_IO_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/timer.h>

#include "compat.h"
#include "dm-cbw-snap.h"
#include "dm-cbw-trace.h"

/* Runs in one copy step; a step ends early when they run out. */
#define MAX_RUNS		8

/* The most pages a copy moves at a time (one round): 1 MiB. */
#define COPY_PAGES		256U

struct cbw_copy;

/*
 * struct cbw_run - chunks [@chunk, @chunk + @count) to slots [@slot,
 * @slot + @count), moved in one piece per round.
 * @copy: the copy the run is part of; constant.
 * @chunk: the first chunk; constant once planned (engine).
 * @slot: the first slot; constant once planned (engine).
 * @count: the number of chunks; constant once planned (engine).
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
 *	   detached (@detached); @waiters wait on it; snap->lock, like
 *	   every struct cbw_range.
 * @snap: the snapshot; constant.
 * @event: entry in snap->events while the worker has to look at it;
 *	   snap->lock.
 * @timer: fires at the copy's deadline; armed and deleted by the engine.
 * @runs: the runs; written by the engine.
 * @nr_runs: number of @runs (engine).
 * @pages: the copy's buffer, a chain of @nr_pages pages (engine).
 * @nr_pages: see @pages.
 * @stage: the stage in flight, or the one that just ended (engine; the
 *	   ends of the stage's bios read it).
 * @pending: bios of the stage in flight, plus one while issuing; atomic.
 * @reason: why the copy failed before any run began (engine).
 * @oneshot: one chunk, one round, started by the map function: a stage's
 *	     end may go on in the task that ends it; constant.
 * @stage_done: the stage ended after its issuing returned; snap->lock.
 * @finished: the copy is ending: the timer must not queue it; snap->lock.
 * @expired: the deadline passed and the worker has not handled it yet;
 *	     snap->lock.
 * @timed_out: the worker handled the timeout (engine).
 * @detached: the interval left the busy tree at the timeout, because
 *	      the snapshot broke, or at a suspend (no write waits on the
 *	      copy); the stage in flight ends in the background and the
 *	      data is thrown away (engine; see __detach_copy()).
 * @start_ns: cbw_clock_ns() at the copy's start if the cbw_copy_end
 *	      event was on then, else 0: the event's latency (engine).
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
	u64 start_ns;
};

/*
 * The busy tree: the struct cbw_range intervals in snap->busy, made by
 * INTERVAL_TREE_DEFINE() in dm-cbw-copy.c, so documented here.
 */

/**
 * cbw_busy_tree_insert() - add a busy interval to the busy tree.
 * @node: the interval, @node->start and @node->last set.
 * @root: snap->busy.
 *
 * Context: any; caller holds snap->lock.
 */
void cbw_busy_tree_insert(struct cbw_range *node, struct rb_root_cached *root);

/**
 * cbw_busy_tree_remove() - take a busy interval out of the busy tree.
 * @node: the interval, in @root.
 * @root: snap->busy.
 *
 * Context: any; caller holds snap->lock.
 */
void cbw_busy_tree_remove(struct cbw_range *node, struct rb_root_cached *root);

/**
 * cbw_busy_tree_iter_first() - the first busy interval that overlaps
 * chunks [@start, @last].
 * @root: snap->busy.
 * @start: the first chunk.
 * @last: the last chunk.
 *
 * Context: any; caller holds snap->lock.
 * Return: of the intervals that overlap, the one that starts first, or
 * NULL if none does.
 */
struct cbw_range *cbw_busy_tree_iter_first(struct rb_root_cached *root,
					   u64 start, u64 last);

/**
 * cbw_busy_tree_iter_next() - the next busy interval that overlaps chunks
 * [@start, @last].
 * @node: the interval found last, by cbw_busy_tree_iter_first() or this.
 * @start: the first chunk, as given to cbw_busy_tree_iter_first().
 * @last: the last chunk, likewise.
 *
 * Context: any; caller holds snap->lock, held since the search began.
 * Return: the overlapping interval that starts next after @node, or NULL.
 */
struct cbw_range *cbw_busy_tree_iter_next(struct cbw_range *node, u64 start,
					  u64 last);

/* dm-cbw-copy.c */
bool __cbw_release_range(struct cbw_snap *snap, struct cbw_range *r);
void cbw_release_range(struct cbw_snap *snap, struct cbw_range *r);
void cbw_piece_end(struct bio *bio);
void cbw_copy_timer_fn(struct timer_list *t);
void cbw_free_copy(struct cbw_snap *snap, struct cbw_copy *copy);
bool cbw_finish_copy(struct cbw_snap *snap, struct cbw_copy *copy);
bool cbw_plan_round(struct cbw_snap *snap, struct cbw_copy *copy);
enum cbw_reason cbw_plan_copy(struct cbw_snap *snap, struct cbw_copy *copy);
bool cbw_start_copy(struct cbw_snap *snap, struct cbw_copy *copy);
struct cbw_copy *cbw_alloc_copy(struct cbw_snap *snap);
void cbw_put_unstarted_copy(struct cbw_snap *snap, struct cbw_copy *copy);
void cbw_trace_copy_start(struct cbw_snap *snap, struct cbw_copy *copy);

/* dm-cbw-write.c */
u64 cbw_next_to_copy(struct cbw_snap *snap, u64 from, u64 last);
u64 cbw_to_copy_end(struct cbw_snap *snap, u64 from, u64 last);
void cbw_submit_write(struct cbw_snap *snap, struct bio *bio);
void cbw_fail_write(struct cbw_snap *snap, struct bio *bio,
		    blk_status_t status);
bool cbw_copy_ahead_now(struct cbw_snap *snap);
bool cbw_process_writes(struct cbw_snap *snap);

/* dm-cbw-read.c */
void cbw_process_cow_discards(struct cbw_snap *snap);
void cbw_process_access(struct cbw_snap *snap, struct bio *bio);

/*
 * Helpers that more than one of the three files calls, inline as they
 * were in one file: most are on a map function's path.
 */

/* Bits of snap->engine. */
enum {
	ENGINE_HELD,		/* someone holds the engine */
	ENGINE_WANTED,		/* the worker found it held and returned */
	ENGINE_AHEAD,		/* a write took snap->ahead_at */
};

static inline bool engine_take(struct cbw_snap *snap)
{
	return !test_and_set_bit_lock(ENGINE_HELD, &snap->engine);
}

/*
 * Try to take the engine (see "The engine" above), never waiting, and not
 * while the worker waits for it: a stream of oneshot copies must not
 * keep the worker out.  Return: true if taken.
 */
static inline bool engine_trylock(struct cbw_snap *snap)
{
	return !test_bit(ENGINE_WANTED, &snap->engine) && engine_take(snap);
}

/* Let go of the engine; run the worker if it waits for the engine. */
static inline void engine_unlock(struct cbw_snap *snap)
{
	clear_bit_unlock(ENGINE_HELD, &snap->engine);
	/* Pairs with the barrier in engine_lock_worker(). */
	smp_mb__after_atomic();
	if (test_bit(ENGINE_WANTED, &snap->engine))
		cbw_snap_wake(snap);
}

/*
 * Disarm the trigger of a stream's next step (see "Background copy-ahead"
 * in dm-cbw-write.c, which arms it).
 */
static inline void ahead_disarm(struct cbw_snap *snap)
{
	atomic64_set(&snap->ahead_at, AHEAD_NONE);
}

/* First and last chunk a bio with data touches. */
static inline void bio_chunks(struct cbw_snap *snap, struct bio *bio,
			      u64 *first, u64 *last)
{
	sector_t s = bio->bi_iter.bi_sector;

	*first = sector_to_chunk(snap, s);
	*last = sector_to_chunk(snap, s + bio_sectors(bio) - 1);
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
	return cbw_next_to_copy(snap, first, last) <= last;
}

/*
 * A copy starts: the cbw_copy_start event, and the start time of the
 * cbw_copy_end event's latency.  A test of two static keys while both
 * events are off.  Engine held.
 */
static inline void trace_copy_start(struct cbw_snap *snap,
				    struct cbw_copy *copy)
{
	if (trace_cbw_copy_start_enabled() || trace_cbw_copy_end_enabled())
		cbw_trace_copy_start(snap, copy);
}

/* Submit a bio to a device picked outside the map function. */
static inline void remap_submit(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
	cbw_submit_remapped(bio);
}

static inline void init_range(struct cbw_range *r, u64 start, u64 last,
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
 * The flags of a copy's bios.  A copy stands between a guest write and the
 * origin: its I/O is as urgent as an O_DIRECT write, and carries the same
 * flags.  A write without REQ_SYNC | REQ_IDLE is background writeback to
 * writeback throttling (wbt, on by default on blk-mq devices), which
 * limits how many are in flight (fewer still once the device's latency
 * rises) and puts the submitter to sleep beyond that: the copies of
 * concurrent guest writes would queue behind each other, and the worker,
 * which holds the engine, would sleep in the middle of a pass.
 */
#define COPY_OPF		(REQ_SYNC | REQ_IDLE)

/* Allocate a bio for a piece of @nr_pages pages in @stage. */
static inline struct bio *alloc_piece_bio(struct cbw_snap *snap,
					  unsigned int nr_pages,
					  enum copy_stage stage, gfp_t gfp)
{
	if (stage == COPY_READ)
		return cbw_bio_alloc(snap->origin->bdev, nr_pages,
				     REQ_OP_READ | COPY_OPF, gfp, &snap->bios);
	return cbw_bio_alloc(snap->cow->bdev, nr_pages,
			     REQ_OP_WRITE | COPY_OPF, gfp, &snap->bios);
}

/*
 * Aim @bio, from alloc_piece_bio() for @stage, at the round's piece of
 * @run (its chunks on the origin, or its slots) and give it the piece's
 * pages.
 */
static inline void fill_piece_bio(struct cbw_snap *snap, struct bio *bio,
				  struct cbw_run *run, enum copy_stage stage)
{
	unsigned int left = run->piece << SECTOR_SHIFT, len;
	struct page_list *pl = run->pl;

	bio->bi_iter.bi_sector = chunk_to_sector(snap, stage == COPY_READ ?
						 run->chunk : run->slot) +
				 run->done;
	bio->bi_end_io = cbw_piece_end;
	bio->bi_private = run;
	for (; left; left -= len, pl = pl->next) {
		len = min_t(unsigned int, left, PAGE_SIZE);
		__bio_add_page(bio, pl->page, len, 0);
	}
}

#endif /* DM_CBW_IO_H */
