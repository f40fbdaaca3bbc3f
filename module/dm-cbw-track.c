// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw change tracking: the histories of changed chunks; the design is
 * at the top of dm-cbw-track.h.
 */

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "dm-cbw.h"
#include "dm-cbw-bitmap.h"
#include "dm-cbw-track.h"

/**
 * struct cbw_track - one tracking history (see dm-cbw-track.h).
 * @changed: the changed set; the pointer changes under @mutex and @lock
 *	     (only in cbw_track_begin()), the bits under @lock.
 * @kref: references: the track tables of @md that hold it; taken and
 *	  dropped under cbw_registry_lock.
 * @node: entry in cbw_tracks; cbw_registry_lock.
 * @md: the mapped device; constant.
 * @origin: the origin's device number; constant.
 * @chunk_shift: log2 of the chunk size in sectors; constant.
 * @sectors: the tracked length in sectors; constant.
 * @nr_chunks: chunks in @sectors, the last one may be partial; constant.
 * @mutex: see dm-cbw-track.h.
 * @lock: see dm-cbw-track.h.
 * @pending: the pending set, NULL if none or committed whole; @mutex and
 *	     @lock to change the pointer, @mutex to change its bits.
 * @set: CBW_TRACK_SET_*; @mutex and @lock.
 * @set_generation: the pending set's generation; as @set.
 * @uuid: the identity; as @set.
 * @generation: the changed set's generation; as @set.
 * @fresh: no snapshot took a set and no identity was given back: the
 *	   identity may still be set (cbw_track_set_id()); as @set.
 * @all: every chunk counts as changed, whatever @changed holds: the
 *	 history's past is unknown (a new history), or a mark failed for
 *	 want of memory; written under @lock (and @mutex but by a failed
 *	 mark), read without it by the map function (a stale false only
 *	 costs a mark).
 * @begun: a table began with the history (cbw_track_begin()): only such
 *	   a history is continued by the device's next track table; as
 *	   @set.
 * @wq: runs @refill; WQ_MEM_RECLAIM, as the writes wait on it.
 * @refill: tops the changed set's node reserve up after a mark used it.
 */
struct cbw_track {
	struct cbw_bitmap *changed;
	struct kref kref;
	struct list_head node;
	struct mapped_device *md;
	dev_t origin;
	unsigned int chunk_shift;
	sector_t sectors;
	u64 nr_chunks;

	struct mutex mutex;		/* see the header */
	spinlock_t lock;		/* see the header */
	struct cbw_bitmap *pending;
	int set;
	u64 set_generation;
	uuid_t uuid;
	u64 generation;
	bool fresh;
	bool all;
	bool begun;

	struct workqueue_struct *wq;
	struct work_struct refill;
};

static LIST_HEAD(cbw_tracks);

static void refill_work(struct work_struct *work)
{
	struct cbw_track *t = container_of(work, struct cbw_track, refill);

	mutex_lock(&t->mutex);
	/* A failure here only sends the next marks to the slow path. */
	cbw_bitmap_refill(t->changed, GFP_NOIO);
	mutex_unlock(&t->mutex);
}

/*
 * The history of @md that a table began with, or NULL: the live table's
 * (a table that failed its first resume may hold one too; it stays live).
 * Histories of inactive tables that never began are not continued.
 * cbw_registry_lock held.
 */
static struct cbw_track *__find(struct mapped_device *md)
{
	struct cbw_track *t;

	list_for_each_entry(t, &cbw_tracks, node)
		if (t->md == md && READ_ONCE(t->begun))
			return t;
	return NULL;
}

/**
 * __cbw_track_origin_taken() - whether another device tracks an origin.
 * @origin: the origin's device number.
 * @md: the device asking; its own history does not count.
 *
 * Context: process context, cbw_registry_lock held.
 * Return: true if a history of another mapped device is on @origin.
 */
bool __cbw_track_origin_taken(dev_t origin, struct mapped_device *md)
{
	struct cbw_track *t;

	list_for_each_entry(t, &cbw_tracks, node)
		if (t->md != md && t->origin == origin)
			return true;
	return false;
}

/* Free a history no table holds: its registry entry is gone or never was. */
static void track_free(struct cbw_track *t)
{
	destroy_workqueue(t->wq);
	/* No reader is left: no table holds the history. */
	cbw_bitmap_destroy(t->changed);
	cbw_bitmap_destroy(t->pending);
	mutex_destroy(&t->mutex);
	kfree(t);
}

static struct cbw_track *track_new(struct dm_target *ti, dev_t origin,
				   sector_t chunk_sectors)
{
	struct cbw_track *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return NULL;
	kref_init(&t->kref);
	INIT_LIST_HEAD(&t->node);
	t->md = dm_table_get_md(ti->table);
	t->origin = origin;
	t->chunk_shift = __ffs(chunk_sectors);
	t->sectors = ti->len;
	t->nr_chunks = DIV_ROUND_UP_SECTOR_T(ti->len, chunk_sectors);
	mutex_init(&t->mutex);
	spin_lock_init(&t->lock);
	uuid_gen(&t->uuid);
	t->generation = 1;
	t->fresh = true;
	t->all = true;
	INIT_WORK(&t->refill, refill_work);
	t->changed = cbw_bitmap_create(t->nr_chunks, false, GFP_KERNEL);
	t->wq = alloc_workqueue("kcbw_track", WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	if (!t->changed || !t->wq || cbw_bitmap_refill(t->changed, GFP_KERNEL)) {
		if (t->wq)
			destroy_workqueue(t->wq);
		cbw_bitmap_destroy(t->changed);
		mutex_destroy(&t->mutex);
		kfree(t);
		return NULL;
	}
	return t;
}

/**
 * cbw_track_get() - the history a track table continues, or a new one.
 * @ti: the cbw target being constructed.
 * @origin: its origin's device number.
 * @chunk_sectors: its chunk size.
 * @trackp: set to the history, with a reference for the table.
 *
 * A table of a device whose live (or inactive) table tracks continues
 * that history, if origin, chunk size and length are the same; else a new
 * history starts.  Sets @ti->error on failure.
 *
 * Context: process context (the constructor); takes cbw_registry_lock.
 * Return: 0; -EINVAL (the device's history tracks another origin, chunk
 * size or length); -EBUSY (another device has a cbw target on @origin);
 * -ENOMEM.
 */
int cbw_track_get(struct dm_target *ti, dev_t origin, sector_t chunk_sectors,
		  struct cbw_track **trackp)
{
	struct mapped_device *md = dm_table_get_md(ti->table);
	unsigned int shift = __ffs(chunk_sectors);
	struct cbw_track *t, *fresh = NULL;
	int r = 0;

	mutex_lock(&cbw_registry_lock);
	for (;;) {
		if (__cbw_track_origin_taken(origin, md) ||
		    __cbw_snap_origin_taken(origin, md)) {
			ti->error = "Origin already has a cbw target";
			r = -EBUSY;
			break;
		}
		t = __find(md);
		if (t && (t->origin != origin || t->sectors != ti->len ||
			  t->chunk_shift != shift)) {
			ti->error = "Table does not match the live table's tracking";
			r = -EINVAL;
			break;
		}
		if (t) {
			kref_get(&t->kref);
			break;
		}
		if (fresh) {
			list_add_tail(&fresh->node, &cbw_tracks);
			t = fresh;
			fresh = NULL;
			break;
		}
		/* Made without the lock, then everything is checked again. */
		mutex_unlock(&cbw_registry_lock);
		fresh = track_new(ti, origin, chunk_sectors);
		if (!fresh) {
			ti->error = "Cannot allocate tracking";
			return -ENOMEM;
		}
		mutex_lock(&cbw_registry_lock);
	}
	mutex_unlock(&cbw_registry_lock);
	if (fresh)
		track_free(fresh);
	if (!r)
		*trackp = t;
	return r;
}

/* The last reference went: unlink the history.  cbw_registry_lock held. */
static void track_unlink(struct kref *kref)
{
	struct cbw_track *t = container_of(kref, struct cbw_track, kref);

	list_del_init(&t->node);
}

/**
 * cbw_track_put() - drop a table's reference to its history.
 * @t: the history.
 *
 * The last reference frees the history: its changes are forgotten.
 *
 * Context: process context (the destructor); takes cbw_registry_lock.
 */
void cbw_track_put(struct cbw_track *t)
{
	bool last;

	/* Under the lock: cbw_track_get() takes references under it. */
	mutex_lock(&cbw_registry_lock);
	last = kref_put(&t->kref, track_unlink);
	mutex_unlock(&cbw_registry_lock);
	if (last)
		track_free(t);
}

/**
 * cbw_track_spare() - an empty changed set for a snapshot table to bring.
 * @t: the history.
 *
 * A track snapshot swaps it in as the changed set at its first resume,
 * where allocating what a change needs is possible but a whole bitmap is
 * better made beforehand.
 *
 * Context: process context (the constructor).
 * Return: the bitmap, or NULL (out of memory).
 */
struct cbw_bitmap *cbw_track_spare(struct cbw_track *t)
{
	struct cbw_bitmap *bm = cbw_bitmap_create(t->nr_chunks, false,
						  GFP_KERNEL);

	if (bm && cbw_bitmap_refill(bm, GFP_KERNEL)) {
		cbw_bitmap_destroy(bm);
		bm = NULL;
	}
	return bm;
}

/* Set @first..@first + @count - 1 in the changed set.  @mutex held. */
static int changed_set(struct cbw_track *t, u64 first, u64 count)
{
	s64 r;

	do {
		if (cbw_bitmap_refill(t->changed, GFP_NOIO))
			return -ENOMEM;
		spin_lock_irq(&t->lock);
		r = cbw_bitmap_set(t->changed, first, count);
		spin_unlock_irq(&t->lock);
		/* -ENOMEM: a map function took the nodes; they made progress. */
	} while (r == -ENOMEM);
	return r < 0 ? r : 0;
}

/*
 * Merge the pending set into the changed set, and end it: the generation
 * goes back to the pending set's unless it was committed.  Idempotent
 * until it succeeds (setting bits twice changes nothing).  @mutex held.
 */
static int merge_pending(struct cbw_track *t)
{
	struct cbw_bitmap *pending = t->pending;
	u64 s = 0, e;
	int r;

	if (t->set == CBW_TRACK_SET_NONE)
		return 0;
	while (pending) {
		rcu_read_lock();
		s = cbw_bitmap_next_set(pending, s);
		e = s < t->nr_chunks ? cbw_bitmap_next_clear(pending, s) : s;
		rcu_read_unlock();
		if (s >= t->nr_chunks)
			break;
		r = changed_set(t, s, e - s);
		if (r)
			return r;
		s = e;
	}
	spin_lock_irq(&t->lock);
	if (t->set == CBW_TRACK_SET_PENDING)
		t->generation = t->set_generation;
	t->set = CBW_TRACK_SET_NONE;
	t->pending = NULL;
	spin_unlock_irq(&t->lock);
	cbw_bitmap_destroy(pending);
	return 0;
}

/**
 * cbw_track_begin() - a track table's first resume.
 * @t: the history.
 * @spare: for a snapshot table, its empty changed set from
 *	   cbw_track_spare(), taken over (set to NULL) on success; NULL for a
 *	   track-only table.
 * @fill: for a snapshot table, adds a run of chunks to its snapshot set.
 * @data: @fill's first argument.
 *
 * The pending set of the snapshot before (if any) merges into the changed
 * set.  Then, for a snapshot table, the changed set becomes the snapshot
 * set (through @fill) and the pending set, and an empty changed set of
 * the next generation starts.  The device is suspended: no bio is in a
 * map function or waits for a mark, and none comes until the resume.
 * On failure nothing is lost and the call may be made again (at the next
 * resume): the steps done are done again harmlessly.
 *
 * Context: process context (the preresume hook); sleeps; allocates with
 * GFP_NOIO.
 * Return: 0, or -ENOMEM (or @fill's error).
 */
int cbw_track_begin(struct cbw_track *t, struct cbw_bitmap **spare,
		    int (*fill)(void *data, u64 start, u64 count), void *data)
{
	struct cbw_bitmap *pending, *gone = NULL;
	u64 s = 0, e;
	int r;

	mutex_lock(&t->mutex);
	r = merge_pending(t);
	if (r || !spare)
		goto out;
	if (t->all) {
		/* Every chunk: one run, and a pending set of every chunk. */
		pending = cbw_bitmap_create(t->nr_chunks, true, GFP_NOIO);
		if (!pending || cbw_bitmap_refill(pending, GFP_NOIO)) {
			cbw_bitmap_destroy(pending);
			r = -ENOMEM;
			goto out;
		}
		r = t->nr_chunks ? fill(data, 0, t->nr_chunks) : 0;
		if (r) {
			cbw_bitmap_destroy(pending);
			goto out;
		}
		gone = t->changed;
	} else {
		for (;;) {
			rcu_read_lock();
			s = cbw_bitmap_next_set(t->changed, s);
			e = s < t->nr_chunks ?
			    cbw_bitmap_next_clear(t->changed, s) : s;
			rcu_read_unlock();
			if (s >= t->nr_chunks)
				break;
			r = fill(data, s, e - s);
			if (r)
				goto out;
			s = e;
		}
		pending = t->changed;
	}
	spin_lock_irq(&t->lock);
	t->pending = pending;
	WRITE_ONCE(t->changed, *spare);
	t->all = false;
	t->set = CBW_TRACK_SET_PENDING;
	t->set_generation = t->generation;
	t->generation++;
	t->fresh = false;
	spin_unlock_irq(&t->lock);
	*spare = NULL;
	/* No map function runs: the device is suspended (see the header). */
	cbw_bitmap_destroy(gone);
out:
	if (!r)
		WRITE_ONCE(t->begun, true);
	mutex_unlock(&t->mutex);
	return r;
}

/**
 * cbw_track_mark() - mark a write's chunks changed, in the map function.
 * @t: the history.
 * @first: the write's first chunk.
 * @last: its last chunk.
 *
 * A write to chunks already marked takes no lock: one lock-free lookup.
 * Otherwise the bits are set under @t->lock with nodes from the bitmap's
 * reserve, which a worker tops up afterwards when the change took some.
 *
 * Context: the map function (any context; does not sleep or allocate).
 * Return: true once marked; false if the reserve lacks the nodes: call
 * cbw_track_mark_wait() from a task that may sleep.
 */
bool cbw_track_mark(struct cbw_track *t, u64 first, u64 last)
{
	struct cbw_bitmap *bm = READ_ONCE(t->changed);
	unsigned long flags;
	bool marked;
	s64 r;

	if (READ_ONCE(t->all))
		return true;
	/* The bitmap's readers enter their RCU read-side sections. */
	if (first == last)
		marked = cbw_bitmap_test(bm, first);
	else
		marked = cbw_bitmap_next_clear(bm, first) > last;
	if (likely(marked))
		return true;
	spin_lock_irqsave(&t->lock, flags);
	r = cbw_bitmap_set(bm, first, last - first + 1);
	spin_unlock_irqrestore(&t->lock, flags);
	if (r == -ENOMEM)
		return false;
	/* -EINVAL: a range past the end, which a bio of the table is not. */
	WARN_ON_ONCE(r < 0);
	/* Only when the change took nodes: a wake-up costs the writer. */
	if (r > 0 && cbw_bitmap_reserve_low(bm))
		queue_work(t->wq, &t->refill);
	return true;
}

/**
 * cbw_track_mark_wait() - mark a write's chunks changed, allocating.
 * @t: the history.
 * @first: the write's first chunk.
 * @last: its last chunk.
 *
 * If the memory for the mark cannot be had, every chunk counts as changed
 * from now on (the next backup of the history copies everything) rather
 * than the write going on unmarked or failing.
 *
 * Context: process context; sleeps; allocates with GFP_NOIO.
 */
void cbw_track_mark_wait(struct cbw_track *t, u64 first, u64 last)
{
	mutex_lock(&t->mutex);
	if (changed_set(t, first, last - first + 1)) {
		spin_lock_irq(&t->lock);
		t->all = true;
		spin_unlock_irq(&t->lock);
		DMERR_LIMIT("no memory to track a write: every chunk counts as changed");
	}
	mutex_unlock(&t->mutex);
}

/**
 * cbw_track_add() - mark chunks changed by hand (a saved set given back).
 * @t: the history.
 * @first: the first chunk.
 * @last: the last chunk, below the chunk count.
 *
 * Context: process context (a message); sleeps.
 * Return: 0, or -ENOMEM (part of the range may be marked).
 */
int cbw_track_add(struct cbw_track *t, u64 first, u64 last)
{
	int r;

	mutex_lock(&t->mutex);
	r = changed_set(t, first, last - first + 1);
	mutex_unlock(&t->mutex);
	return r;
}

/**
 * cbw_track_commit() - the backup of the pending set is done, or part.
 * @t: the history.
 * @first: the first chunk done (unless @all).
 * @last: the last chunk done (unless @all).
 * @all: the whole set is done: it is freed.
 *
 * The chunks committed do not merge back into the changed set at the
 * next table's resume, and the generation does not go back.
 *
 * Context: process context (a message of the snapshot table that took
 * the pending set); sleeps.
 * Return: 0; -ENOENT if there is no pending set (none was taken, or it
 * was committed whole); -ENOMEM (part of the range may be committed).
 */
int cbw_track_commit(struct cbw_track *t, u64 first, u64 last, bool all)
{
	struct cbw_bitmap *gone = NULL;
	int r = 0;
	s64 n;

	mutex_lock(&t->mutex);
	if (!t->pending) {
		r = -ENOENT;
		goto out;
	}
	if (all) {
		gone = t->pending;
	} else {
		do {
			if (cbw_bitmap_refill(t->pending, GFP_NOIO)) {
				r = -ENOMEM;
				goto out;
			}
			/* Only @mutex holders change the pending set's bits. */
			n = cbw_bitmap_clear(t->pending, first, last - first + 1);
		} while (n == -ENOMEM);
	}
	spin_lock_irq(&t->lock);
	t->set = CBW_TRACK_SET_COMMITTED;
	if (gone)
		t->pending = NULL;
	spin_unlock_irq(&t->lock);
	/* Status reads the pending set under @lock only: it is unlinked. */
	cbw_bitmap_destroy(gone);
out:
	mutex_unlock(&t->mutex);
	return r;
}

/**
 * cbw_track_set_id() - give a new history a saved identity.
 * @t: the history.
 * @uuid: the saved uuid.
 * @generation: the saved generation, at least 1.
 *
 * Only once, and only before a snapshot took a set of the history: the
 * tool restores a history saved at a clean deactivation by marking its
 * chunks (cbw_track_add()) and then giving its identity, so that a
 * history whose restore was cut short keeps its new identity.  From then
 * on only the chunks marked count as changed: those given back and those
 * written since the history began.
 *
 * Context: process context (a message).
 * Return: 0, or -EBUSY (not a new history).
 */
int cbw_track_set_id(struct cbw_track *t, const uuid_t *uuid, u64 generation)
{
	int r = -EBUSY;

	mutex_lock(&t->mutex);
	spin_lock_irq(&t->lock);
	if (t->fresh) {
		uuid_copy(&t->uuid, uuid);
		t->generation = generation;
		t->fresh = false;
		t->all = false;
		r = 0;
	}
	spin_unlock_irq(&t->lock);
	mutex_unlock(&t->mutex);
	return r;
}

/**
 * cbw_track_next_changed() - the next run of changed chunks.
 * @t: the history.
 * @from: the chunk to start looking at.
 * @end: set to the chunk after the run.
 *
 * Context: process context (a message); takes @t->mutex, so that the
 * changed set is not swapped meanwhile.
 * Return: the run's first chunk, or the chunk count if there is none.
 */
u64 cbw_track_next_changed(struct cbw_track *t, u64 from, u64 *end)
{
	u64 s;

	mutex_lock(&t->mutex);
	if (t->all) {
		s = from;
		*end = t->nr_chunks;
	} else {
		rcu_read_lock();
		s = cbw_bitmap_next_set(t->changed, from);
		*end = s < t->nr_chunks ?
		       cbw_bitmap_next_clear(t->changed, s) : s;
		rcu_read_unlock();
	}
	mutex_unlock(&t->mutex);
	return s;
}

/**
 * cbw_track_get_stats() - the identity and the sets' sizes.
 * @t: the history.
 * @st: filled in.
 *
 * Context: any; takes @t->lock with interrupts disabled.
 */
void cbw_track_get_stats(struct cbw_track *t, struct cbw_track_stats *st)
{
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	uuid_copy(&st->uuid, &t->uuid);
	st->generation = t->generation;
	st->changed = t->all ? t->nr_chunks : cbw_bitmap_weight(t->changed);
	st->set = t->set;
	st->set_generation = t->set_generation;
	st->set_chunks = t->pending ? cbw_bitmap_weight(t->pending) : 0;
	st->memory = cbw_bitmap_bytes(t->changed) +
		     (t->pending ? cbw_bitmap_bytes(t->pending) : 0);
	spin_unlock_irqrestore(&t->lock, flags);
}
