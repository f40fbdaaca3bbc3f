/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw radix bitmap: a large bitmap whose memory follows the regions
 * that differ from their neighbours, not its size.  dm-cbw keeps the
 * "readable" chunk set and the COW slot allocator in it (a chunk is to
 * copy while it is readable and has no slot in the chunk map).
 * The design, invariants and costs are described at the top of
 * dm-cbw-bitmap.c.
 *
 * Concurrency, in short:
 *
 *  - Writers: cbw_bitmap_set(), cbw_bitmap_clear(), cbw_bitmap_grow() and
 *    cbw_bitmap_destroy() must be serialised by the caller (one lock of
 *    its own around all of them).  set and clear never sleep and never
 *    allocate: they take the nodes they need from a reserve that
 *    cbw_bitmap_refill() tops up beforehand.
 *  - cbw_bitmap_refill() may run at any time, also concurrently with a
 *    writer and with other refills; it has its own lock for the reserve.
 *  - Readers: cbw_bitmap_test(), cbw_bitmap_next_set(),
 *    cbw_bitmap_next_clear(), cbw_bitmap_weight(), cbw_bitmap_size() and
 *    cbw_bitmap_bytes() need no lock at all, may run in any context
 *    (atomic and interrupt context included) and may race with one
 *    writer.  They enter an RCU read-side critical section themselves.
 *    A reader racing with a writer sees, for each bit the writer changes,
 *    either its old or its new value, and every other bit as it is;
 *    the answers of several reader calls (or of a reader call and the
 *    weight) are not a snapshot of one moment unless the caller excludes
 *    writers.
 *  - Nodes a writer unlinks are freed after an RCU grace period
 *    (call_rcu()).  Call cbw_bitmap_exit() (which waits for those frees
 *    with rcu_barrier()) from the module's exit path after every bitmap
 *    is destroyed.
 */
#ifndef DM_CBW_BITMAP_H
#define DM_CBW_BITMAP_H

#include <linux/bits.h>
#include <linux/gfp.h>
#include <linux/types.h>

/*
 * The largest number of bits a bitmap can hold: 2^59, the span of a tree
 * of ten interior levels (see dm-cbw-bitmap.c).
 */
#define CBW_BITMAP_MAX_BITS	BIT_ULL(59)

struct cbw_bitmap;

/**
 * cbw_bitmap_init() - create the node caches shared by all bitmaps.
 *
 * Call once from the module's init function, before any other function
 * of this file.
 *
 * Context: process context; may sleep.
 * Return: 0, or -ENOMEM.
 */
int cbw_bitmap_init(void);

/**
 * cbw_bitmap_exit() - wait for deferred node frees, destroy the caches.
 *
 * Call once from the module's exit function (or from the init function's
 * unwinding), after every bitmap has been destroyed.  It waits, with
 * rcu_barrier(), for the RCU callbacks that free the nodes writers
 * unlinked, so that none runs after the module is gone.
 *
 * Context: process context; sleeps.
 */
void cbw_bitmap_exit(void);

/**
 * cbw_bitmap_create() - allocate a bitmap with every bit set or clear.
 * @nbits: number of bits, at most %CBW_BITMAP_MAX_BITS (0 is allowed).
 * @set: true to start with every bit set, false for every bit clear.
 * @gfp: allocation flags.
 *
 * The new bitmap holds no node, whatever @nbits is: its memory is that of
 * the bitmap structure.  Its node reserve is empty; call
 * cbw_bitmap_refill() before the first cbw_bitmap_set() or
 * cbw_bitmap_clear().
 *
 * Context: any context if @gfp does not allow sleeping, else process
 * context.
 * Return: the bitmap, or NULL if out of memory or if @nbits is too large.
 */
struct cbw_bitmap *cbw_bitmap_create(u64 nbits, bool set, gfp_t gfp);

/**
 * cbw_bitmap_destroy() - free a bitmap and all its nodes.
 * @bm: the bitmap, or NULL.
 *
 * The caller guarantees that no writer and no reader uses @bm any more,
 * and none will: the nodes are freed at once, not after a grace period.
 * If lock-free readers may still be inside @bm, wait for them first
 * (synchronize_rcu()).  Nodes that earlier writes unlinked may still be
 * waiting for their RCU callback; cbw_bitmap_exit() waits for those.
 *
 * Context: any context; does not sleep.  Time is proportional to the
 * number of nodes.
 */
void cbw_bitmap_destroy(struct cbw_bitmap *bm);

/**
 * cbw_bitmap_refill() - top up the node reserve for one change.
 * @bm: the bitmap.
 * @gfp: allocation flags for the nodes (e.g. GFP_NOIO, or GFP_NOWAIT in
 *       atomic context).
 *
 * After a successful refill, the next cbw_bitmap_set() or
 * cbw_bitmap_clear() of any range cannot fail for want of memory, as
 * long as nothing else takes nodes from the reserve in between: no other
 * set or clear, and no cbw_bitmap_grow() (which changes how many nodes a
 * change may need; refill again after it).  Callers with several writers
 * refill, take their lock, try the change, and on -ENOMEM drop the lock
 * and start again.
 *
 * Takes the reserve's own lock (with interrupts off), never the caller's;
 * the nodes are allocated with that lock dropped.
 *
 * Context: any context if @gfp does not allow sleeping, else process
 * context (may sleep).
 * Return: 0, or -ENOMEM (the reserve may have grown part of the way).
 */
int cbw_bitmap_refill(struct cbw_bitmap *bm, gfp_t gfp);

/**
 * cbw_bitmap_reserve_low() - whether a change may need a refill first.
 * @bm: the bitmap.
 *
 * A hint for callers that refill in the background after a change (see
 * cbw_bitmap_refill()): false means the reserve holds what any one change
 * needs.  Lock-free; racing changes and refills may make it stale.
 *
 * Context: any context.
 * Return: true if the reserve holds fewer nodes than cbw_bitmap_refill()
 * tops it up to.
 */
bool cbw_bitmap_reserve_low(const struct cbw_bitmap *bm);

/**
 * cbw_bitmap_set() - set a range of bits.
 * @bm: the bitmap.
 * @start: the first bit.
 * @count: the number of bits; 0 changes nothing.
 *
 * Cost: O(levels) for the range's two ends, plus the nodes that the
 * range covers whole (they are freed); never O(@count).
 *
 * The caller serialises it with every other writer.  Lock-free readers
 * may run meanwhile (see the top of this file).  Nodes the change needs
 * come from the reserve; nodes that become uniform are unlinked and
 * freed after an RCU grace period.
 *
 * Context: any context (does not sleep, does not allocate, takes only
 * the reserve's lock with interrupts off).
 * Return: the number of bits that were clear and are now set; -ENOMEM,
 * with the bitmap unchanged, if the reserve holds fewer nodes than the
 * change needs (call cbw_bitmap_refill() and try again); -EINVAL, with
 * the bitmap unchanged, if the range goes beyond cbw_bitmap_size().
 */
s64 cbw_bitmap_set(struct cbw_bitmap *bm, u64 start, u64 count);

/**
 * cbw_bitmap_clear() - clear a range of bits.
 * @bm: the bitmap.
 * @start: the first bit.
 * @count: the number of bits; 0 changes nothing.
 *
 * As cbw_bitmap_set(), with the bits cleared.
 *
 * Context: any context (does not sleep, does not allocate).
 * Return: the number of bits that were set and are now clear; -ENOMEM or
 * -EINVAL with the bitmap unchanged, as for cbw_bitmap_set().
 */
s64 cbw_bitmap_clear(struct cbw_bitmap *bm, u64 start, u64 count);

/**
 * cbw_bitmap_grow() - make a bitmap larger; the new bits are clear.
 * @bm: the bitmap.
 * @nbits: the new number of bits, at least cbw_bitmap_size() and at most
 *         %CBW_BITMAP_MAX_BITS.
 * @gfp: allocation flags for the nodes it may need.
 *
 * Existing bits keep their values.  The caller serialises it with every
 * other writer; lock-free readers may run meanwhile and see either the
 * old size or the new one (a reader that sees the new size also sees
 * the new bits, clear).  It consumes nodes from the reserve and may
 * need more per change afterwards: refill before the next set or clear.
 *
 * Context: any context if @gfp does not allow sleeping, else process
 * context (may sleep).
 * Return: 0; -ENOMEM with the bitmap unchanged; -EINVAL if @nbits is
 * smaller than the current size or too large.
 */
int cbw_bitmap_grow(struct cbw_bitmap *bm, u64 nbits, gfp_t gfp);

/**
 * cbw_bitmap_test() - the value of one bit.
 * @bm: the bitmap.
 * @bit: the bit, below cbw_bitmap_size().
 *
 * Lock-free; see the top of this file.  O(levels) dependent loads.
 *
 * Context: any context.
 * Return: true if the bit is set; false if it is clear or beyond the size.
 */
bool cbw_bitmap_test(const struct cbw_bitmap *bm, u64 bit);

/**
 * cbw_bitmap_next_set() - find the next set bit.
 * @bm: the bitmap.
 * @from: where to start looking.
 *
 * Lock-free; see the top of this file.  O(levels) word operations, however
 * far the answer is.
 *
 * Context: any context.
 * Return: the first set bit at or after @from, or cbw_bitmap_size() if
 * there is none.
 */
u64 cbw_bitmap_next_set(const struct cbw_bitmap *bm, u64 from);

/**
 * cbw_bitmap_next_clear() - find the next clear bit.
 * @bm: the bitmap.
 * @from: where to start looking.
 *
 * As cbw_bitmap_next_set(), for a clear bit.
 *
 * Context: any context.
 * Return: the first clear bit at or after @from, or cbw_bitmap_size() if
 * there is none.
 */
u64 cbw_bitmap_next_clear(const struct cbw_bitmap *bm, u64 from);

/**
 * cbw_bitmap_weight() - the number of set bits.
 * @bm: the bitmap.
 *
 * A counter the writers keep, O(1).  Lock-free; it is updated at the end
 * of each change, so a reader racing with a writer may see it disagree
 * with the bits for a moment.
 *
 * Context: any context.
 * Return: the number of set bits.
 */
u64 cbw_bitmap_weight(const struct cbw_bitmap *bm);

/**
 * cbw_bitmap_size() - the number of bits.
 * @bm: the bitmap.
 *
 * Context: any context.
 * Return: the number of bits, as given to cbw_bitmap_create() or the
 * last cbw_bitmap_grow().
 */
u64 cbw_bitmap_size(const struct cbw_bitmap *bm);

/**
 * cbw_bitmap_bytes() - the memory the bitmap holds.
 * @bm: the bitmap.
 *
 * The bitmap structure, the nodes in the tree and the nodes in the
 * reserve (object sizes; slab overhead not included).  Nodes waiting for
 * their RCU grace period are no longer counted.  Lock-free: racing with a
 * writer or a refill, the sum may be a moment old.
 *
 * Context: any context.
 * Return: the number of bytes.
 */
size_t cbw_bitmap_bytes(const struct cbw_bitmap *bm);

#endif /* DM_CBW_BITMAP_H */
