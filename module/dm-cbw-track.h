/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw change tracking: the chunks written through a cbw device since
 * a point in time, kept across the tables of the device so that a backup
 * reads only what changed since the last one.
 *
 * A *history* belongs to one mapped device and is shared by its tables
 * that have the "track" feature (reference counted).  It holds:
 *
 *  - an identity: a uuid made when the history starts (or given back by
 *    cbw_track_set_id() when a saved history is restored) and the
 *    *generation*, the number of the changed set being filled now;
 *  - the *changed* set: a radix bitmap of the chunks written since the
 *    point in time of generation - 1; or *all* chunks, for a new
 *    history (whose past is unknown: its first backup is a full one) and
 *    after a mark failed for want of memory;
 *  - at most one *pending* set: the changed set a snapshot took, kept
 *    until the table after it begins, so that a backup that failed gives
 *    its chunks back (they merge into the changed set).
 *
 * Life of a generation G (see Documentation/dm-cbw.rst, "Change
 * tracking"):
 *
 *   new history:             changed = all chunks, generation 1
 *   track table resumed:     changed = chunks written, generation G
 *   snapshot table resumed:  pending = changed (set G), the snapshot's
 *                            set is a copy of it; changed = {}, G + 1
 *   "commit" message:        set G is done (or part of it, by range)
 *   next table resumed:      pending merges into changed (all of it if
 *                            it was not committed, and the generation
 *                            goes back to G; else what was not)
 *
 * Locking: @mutex serialises every change of the sets' pointers and of
 * the pending set, the identity, and the nodes' reserve refills (which
 * must not race with a bitmap being freed); the changed set's bits are
 * changed under @lock, a spinlock, also from the map function, and read
 * without a lock (lock-free bitmap readers).  The changed set's pointer
 * changes only in cbw_track_begin(), a preresume: then no bio of any
 * table of the device is in a map function or waits for a mark, so the
 * map function reads it without a lock.  Lock order: @mutex, then @lock.
 */
#ifndef DM_CBW_TRACK_H
#define DM_CBW_TRACK_H

#include <linux/device-mapper.h>
#include <linux/types.h>
#include <linux/uuid.h>

struct cbw_track;
struct cbw_bitmap;

/**
 * struct cbw_track_stats - a consistent copy of a history's state.
 * @uuid: the history's identity.
 * @generation: the number of the changed set being filled.
 * @changed: chunks in the changed set.
 * @set: 0 no pending set, 1 pending (merges back whole), 2 committed
 *	 (what is left merges back).
 * @set_generation: the pending set's generation (if @set).
 * @set_chunks: chunks still in the pending set.
 * @memory: bytes of the sets' bitmaps.
 */
struct cbw_track_stats {
	uuid_t uuid;
	u64 generation;
	u64 changed;
	int set;
	u64 set_generation;
	u64 set_chunks;
	u64 memory;
};

enum {
	CBW_TRACK_SET_NONE,
	CBW_TRACK_SET_PENDING,
	CBW_TRACK_SET_COMMITTED,
};

int cbw_track_get(struct dm_target *ti, dev_t origin, sector_t chunk_sectors,
		  struct cbw_track **trackp);
void cbw_track_put(struct cbw_track *t);
struct cbw_bitmap *cbw_track_spare(struct cbw_track *t);
int cbw_track_begin(struct cbw_track *t, struct cbw_bitmap **spare,
		    int (*fill)(void *data, u64 start, u64 count), void *data);

bool cbw_track_mark(struct cbw_track *t, u64 first, u64 last);
void cbw_track_mark_wait(struct cbw_track *t, u64 first, u64 last);

int cbw_track_add(struct cbw_track *t, u64 first, u64 last);
int cbw_track_commit(struct cbw_track *t, u64 first, u64 last, bool all);
int cbw_track_set_id(struct cbw_track *t, const uuid_t *uuid, u64 generation);
u64 cbw_track_next_changed(struct cbw_track *t, u64 from, u64 *end);
void cbw_track_get_stats(struct cbw_track *t, struct cbw_track_stats *st);

bool __cbw_track_origin_taken(dev_t origin, struct mapped_device *md);

#endif /* DM_CBW_TRACK_H */
