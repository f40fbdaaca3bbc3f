// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw COW store: which slots of the COW device are in use (the map from
 * copied chunks to slots is dm-cbw-map.c).
 *
 * Slots are handed out next-fit: from a cursor that moves past each
 * allocation and wraps at the end, as long runs as possible, so that a
 * batch of adjacent chunks usually lands in adjacent slots (one copy job)
 * and freed slots are reused once the cursor comes round.  The used-slot
 * set is a radix bitmap, so it costs memory only where used and free
 * slots alternate.
 */

#include <linux/mutex.h>
#include <linux/slab.h>

#include "dm-cbw-bitmap.h"
#include "dm-cbw-cow.h"

/**
 * struct cbw_cow - the COW store.
 * @lock: serialises allocation, freeing and growing.
 * @used: bit set = slot in use; @lock.
 * @total: number of slots; written under @lock, read with READ_ONCE().
 * @nr_used: slots in use; written under @lock, read with READ_ONCE().
 * @cursor: where the next allocation starts looking; @lock.
 */
struct cbw_cow {
	struct mutex lock;		/* see above */
	struct cbw_bitmap *used;
	u64 total;
	u64 nr_used;
	u64 cursor;
};

/**
 * cbw_cow_create() - an empty COW store.
 * @slots: number of slots on the COW device.
 *
 * Context: process context; may sleep.
 * Return: the store, or NULL if out of memory.
 */
struct cbw_cow *cbw_cow_create(u64 slots)
{
	struct cbw_cow *cow = kzalloc(sizeof(*cow), GFP_KERNEL);

	if (!cow)
		return NULL;
	cow->used = cbw_bitmap_create(slots, false, GFP_KERNEL);
	if (!cow->used) {
		kfree(cow);
		return NULL;
	}
	mutex_init(&cow->lock);
	cow->total = slots;
	return cow;
}

/**
 * cbw_cow_destroy() - free the store.
 * @cow: the store; nothing else may use it any more.
 *
 * Context: process context.
 */
void cbw_cow_destroy(struct cbw_cow *cow)
{
	cbw_bitmap_destroy(cow->used);
	mutex_destroy(&cow->lock);
	kfree(cow);
}

/**
 * cbw_cow_grow() - the COW device grew: use its new space.
 * @cow: the store.
 * @slots: the new number of slots; a smaller number changes nothing.
 *
 * Context: process context; may sleep.
 * Return: 0, or -ENOMEM (the store is unchanged then).
 */
int cbw_cow_grow(struct cbw_cow *cow, u64 slots)
{
	int r = 0;

	mutex_lock(&cow->lock);
	if (slots > cow->total) {
		r = cbw_bitmap_grow(cow->used, slots, GFP_NOIO);
		if (!r)
			WRITE_ONCE(cow->total, slots);
	}
	mutex_unlock(&cow->lock);
	return r;
}

/* Allocate with the lock held; refill the bitmap's reserve if @wait. */
static s64 cow_alloc_locked(struct cbw_cow *cow, u64 want, u64 *slot,
			    bool wait)
{
	u64 s, e;
	s64 r;

	if (cow->nr_used >= cow->total)
		return -ENOSPC;
	s = cbw_bitmap_next_clear(cow->used, cow->cursor);
	if (s >= cow->total)
		s = cbw_bitmap_next_clear(cow->used, 0);
	e = min(cbw_bitmap_next_set(cow->used, s), cow->total);
	e = min(e, s + want);

	if (wait) {
		r = cbw_bitmap_refill(cow->used, GFP_NOIO);
		if (r)
			return r;
	}
	r = cbw_bitmap_set(cow->used, s, e - s);
	if (r < 0)
		return wait ? r : -EAGAIN;
	WRITE_ONCE(cow->nr_used, cow->nr_used + r);
	cow->cursor = e < cow->total ? e : 0;
	*slot = s;
	return r;
}

/**
 * cbw_cow_alloc() - allocate a run of adjacent free slots.
 * @cow: the store.
 * @want: the most slots wanted, at least 1.
 * @slot: the first slot of the run.
 *
 * The run is the first free run at or after the cursor (wrapping round),
 * cut to @want slots.
 *
 * Context: process context; may sleep.
 * Return: the number of slots allocated (1 to @want), -ENOSPC if no slot
 * is free, or -ENOMEM.
 */
s64 cbw_cow_alloc(struct cbw_cow *cow, u64 want, u64 *slot)
{
	s64 r;

	mutex_lock(&cow->lock);
	r = cow_alloc_locked(cow, want, slot, true);
	mutex_unlock(&cow->lock);
	return r;
}

/**
 * cbw_cow_alloc_nowait() - cbw_cow_alloc() that never sleeps.
 * @cow: the store.
 * @want: the most slots wanted, at least 1.
 * @slot: the first slot of the run.
 *
 * Gives up instead of waiting: when another thread holds the store, or
 * when marking the run used needs more bitmap nodes than the reserve that
 * the last cbw_cow_alloc() left holds.
 *
 * Context: process context (a task, not an interrupt); does not sleep.
 * Return: as cbw_cow_alloc(), or -EAGAIN (nothing changed).
 */
s64 cbw_cow_alloc_nowait(struct cbw_cow *cow, u64 want, u64 *slot)
{
	s64 r;

	if (!mutex_trylock(&cow->lock))
		return -EAGAIN;
	r = cow_alloc_locked(cow, want, slot, false);
	mutex_unlock(&cow->lock);
	return r;
}

/**
 * cbw_cow_free() - free slots.
 * @cow: the store.
 * @slot: the first slot.
 * @count: the number of slots, all in use.
 *
 * The caller guarantees that nothing reads or writes the slots any more.
 *
 * Context: process context; may sleep (waits for memory if it must: a
 * free never fails).
 */
void cbw_cow_free(struct cbw_cow *cow, u64 slot, u64 count)
{
	s64 r;

	mutex_lock(&cow->lock);
	if (cbw_bitmap_refill(cow->used, GFP_NOIO))
		cbw_bitmap_refill(cow->used, GFP_NOIO | __GFP_NOFAIL);
	r = cbw_bitmap_clear(cow->used, slot, count);
	if (!WARN_ON_ONCE(r != count))
		WRITE_ONCE(cow->nr_used, cow->nr_used - r);
	mutex_unlock(&cow->lock);
}

/**
 * cbw_cow_used() - slots in use.
 * @cow: the store.
 *
 * Context: any.
 * Return: the number of slots in use (a snapshot of a changing value).
 */
u64 cbw_cow_used(struct cbw_cow *cow)
{
	return READ_ONCE(cow->nr_used);
}

/**
 * cbw_cow_total() - slots on the COW device.
 * @cow: the store.
 *
 * Context: any.
 * Return: the number of slots.
 */
u64 cbw_cow_total(struct cbw_cow *cow)
{
	return READ_ONCE(cow->total);
}

/**
 * cbw_cow_bytes() - memory held by the store and its used-slot bitmap.
 * @cow: the store.
 *
 * Context: any.
 * Return: bytes.
 */
size_t cbw_cow_bytes(struct cbw_cow *cow)
{
	return sizeof(*cow) + cbw_bitmap_bytes(cow->used);
}
