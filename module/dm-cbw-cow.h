/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw COW store: packed allocation of chunk-sized slots on the COW
 * device.  The map from a copied chunk to its slot is dm-cbw-map.h.
 *
 * Slot N is sectors [N << chunk_shift, (N + 1) << chunk_shift) of the COW
 * device.  The store knows nothing about I/O: the snapshot decides when a
 * slot is written, published, unpublished and freed (see dm-cbw-io.h for
 * why a reader never sees a slot's earlier contents).
 *
 * Concurrency: allocation, freeing and growing are serialised by the
 * store's own mutex (process context); cbw_cow_alloc_nowait() only tries
 * it.
 */
#ifndef DM_CBW_COW_H
#define DM_CBW_COW_H

#include <linux/types.h>

struct cbw_cow;

struct cbw_cow *cbw_cow_create(u64 slots);
void cbw_cow_destroy(struct cbw_cow *cow);
int cbw_cow_grow(struct cbw_cow *cow, u64 slots);
s64 cbw_cow_alloc(struct cbw_cow *cow, u64 want, u64 *slot);
s64 cbw_cow_alloc_nowait(struct cbw_cow *cow, u64 want, u64 *slot);
void cbw_cow_free(struct cbw_cow *cow, u64 slot, u64 count);
u64 cbw_cow_used(struct cbw_cow *cow);
u64 cbw_cow_total(struct cbw_cow *cow);
size_t cbw_cow_bytes(struct cbw_cow *cow);

#endif /* DM_CBW_COW_H */
