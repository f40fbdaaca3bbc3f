// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw radix bitmap.
 *
 * dm-cbw tracks one bit per chunk of the origin ("readable")
 * and one per slot of the COW device ("used").  A 64 TiB origin cut into
 * 4 KiB chunks has 2^34 chunks: a flat bitmap would be 2 GiB, most of it
 * describing long runs of equal bits.  This bitmap is a radix tree whose
 * memory follows the places where bits differ from their neighbours:
 * creating it costs nothing whatever its size, setting or clearing any
 * range costs a few nodes at the range's two ends, and a chunk changed
 * on its own costs about one small leaf.
 *
 * Structure
 * ---------
 *
 * The tree has a fixed height over [0, 2^(9 + 5 * height)) bits; the
 * height is the smallest (at least 1) that covers the bitmap's size.
 *
 *   - A leaf (level 0) holds 512 bits: 8 words of 64 bits, a cache
 *     line's worth.
 *   - An interior node of level L >= 1 has 32 slots, each covering
 *     2^(9 + 5 * (L - 1)) bits, so that the node covers 2^(9 + 5 * L).
 *   - A slot holds a pointer to a node of the level below, or one of two
 *     tags: CLEAR (NULL), "every bit here is clear", or FULL (the
 *     pointer value 1), "every bit here is set".
 *   - The root is a slot too, bm->root: a tag, or the interior node of
 *     level bm->height.
 *   - Each interior node has a summary word, map: bit i is set if slot i
 *     holds a node, bit 32 + i if it holds FULL.
 *
 *   level   a node covers       a slot covers
 *     0       2^9 bits  (leaf)   -
 *     1       2^14               2^9
 *     2       2^19               2^14
 *     5       2^34               2^29     (64 TiB in 4 KiB chunks)
 *    10       2^59               2^54     (the limit, CBW_BITMAP_MAX_BITS)
 *
 * A bitmap of 2^20 bits (height 3), created clear, then bits 0-3 set,
 * a few bits near 150000 set, and everything from 2^19 on set:
 *
 *   bm->root
 *     |
 *     v
 *   [ o F . . ... . ]     level 3, slots of 2^19 bits; map: node 0, full 1
 *     |                   (slots 2-31 lie beyond the size: see "Padding")
 *     v
 *   [ o . ... . o . ... . ]     level 2, slots of 2^14 bits
 *     |         |               (slot 9: bits 147456-163839)
 *     v         v
 *   [ o . ... . ]   [ . . . . o . ... . ]     level 1, slots of 512 bits
 *     |                       |               (slot 4: 149504-150015)
 *     v                       v
 *   leaf: bits 0-3 set      leaf: a few bits set
 *
 *   o: a node, F: FULL, .: CLEAR.
 *
 * Padding.  The bits from the size up to the end of the tree have no
 * meaning: no change reaches them, every reader clamps its answer to the
 * size.  When a tag is expanded into a node, the padding takes the tag's
 * value, and whether a node is uniform is judged on its live bits (those
 * below the size) only.  So a bitmap of any size, all set or all clear,
 * is one tag.  cbw_bitmap_grow() clears the old padding before the bits
 * in it become live.
 *
 * Invariants (between two writer calls):
 *
 *   1. No node is uniform: each has a live set bit and a live clear bit.
 *      A part of the tree whose live bits are all equal is a tag in its
 *      parent's slot (or in the root).
 *   2. Bit i of a node's map is set iff slot i holds a node; bit 32 + i
 *      iff slot i holds FULL.  With 1: slot i holds a set bit iff bit i
 *      or bit 32 + i is set, and a clear bit iff bit 32 + i is clear.
 *   3. A slot wholly beyond the size holds a tag.
 *   4. bm->weight is the number of live set bits.
 *   5. Each interior node records its level; node->level - 1 is the level
 *      of the nodes in its slots.
 *
 * Costs (h = height: 5 for 2^34 bits, 8 for 2^48):
 *
 *   - cbw_bitmap_test(): h dependent loads and one word.
 *   - cbw_bitmap_next_set() / next_clear(): at each level, at most one
 *     descent that fails (into the slot holding @from, when nothing after
 *     @from in it matches), then one find-first-bit in the map picks the
 *     first slot to the right that matches; that is a tag (the answer is
 *     its first bit) or a node, which by invariant 1 holds a match that
 *     one more descent finds.  O(h) word operations, however far the
 *     answer is.
 *   - cbw_bitmap_set() / clear() of [s, e): only the slots holding s and
 *     e - 1 are covered in part; every slot between them is covered
 *     whole and becomes a tag.  So the walk follows at most two paths
 *     from the root and looks at no more than 32 slots per node on them:
 *     O(32 * h).  Nodes below slots covered whole are counted (for the
 *     number of changed bits) and freed: O(those nodes), which is memory
 *     the bitmap gives back, at one call_rcu() each, all under the
 *     caller's lock; callers that may change a large, fragmented range
 *     at once should cut it into steps.  Setting all of 2^34 bits of a
 *     bitmap that is all clear touches one slot.
 *   - cbw_bitmap_weight(), size(), bytes(): O(1).
 *   - Memory: a leaf is 80 bytes (64 of bits, 16 of rcu_head), an
 *     interior node 288 (256 of slots, the map, the level, rcu_head).
 *     A chunk that is the only change in its leaf costs that leaf, plus
 *     every interior node on its path that serves it alone: for 2^34
 *     bits the very first change costs 80 + 5 * 288 = 1520 bytes.  With
 *     many scattered changes the upper levels are shared and a change
 *     costs its leaf plus a share of the nodes above it: about 450 bytes
 *     each for 10^5 random chunks out of 2^34, 270 for 10^6, 100 for
 *     10^7.  When every leaf differs (the worst case), the tree takes
 *     about 1.4 times a flat bitmap: 80 / 64 for the leaves, and one
 *     288-byte node per 32 leaves.
 *
 * Why 512-bit leaves and 32 slots.  A lone change pays for its whole leaf
 * and for the interior nodes above it that it alone needs.  Smaller
 * leaves would pay the 16-byte rcu_head on less data (256-bit leaves: 48
 * bytes, a third of it overhead, and one more level for 2^34) and spread
 * the same interior cost over fewer bits; bigger ones (1024 bits, 144
 * bytes) nearly double the price of a lone chunk's leaf.  For the interior
 * nodes, 64 slots (552 bytes) would save no level for 2^34 bits (still
 * 5) and cost about 40% more per scattered change; 16 slots (152 bytes)
 * cost a fifth less per change but need 7 levels, that is two more
 * dependent loads on every lookup and a larger reserve.  32 slots also
 * let the two summary masks of a node share one 64-bit word, which the
 * lock-free readers need (see below).
 *
 * Concurrency
 * -----------
 *
 * Writers (set, clear, grow, destroy) are serialised by the caller, and
 * the tree is theirs: they read slots with rcu_dereference_protected().
 * Readers (test, next_set, next_clear, weight, size, bytes) take no lock
 * but rcu_read_lock(), and may race with one writer.  The rules that make
 * this safe:
 *
 *   - A writer publishes a node only when it is complete: a tag is
 *     expanded into a fresh node from the reserve, the change is applied
 *     to it, and only then does rcu_assign_pointer() store it in its slot.
 *     That release pairs with the dependency ordering of rcu_dereference()
 *     in the readers: a reader that sees the pointer sees the contents.
 *   - In a published node, the writer changes each leaf word, each slot
 *     and each map with one WRITE_ONCE() (rcu_assign_pointer() or
 *     RCU_INIT_POINTER() for slots), and readers load them with
 *     READ_ONCE() or rcu_dereference(): each load sees the old or the new
 *     word, nothing in between.
 *   - A node's map has both bits of a slot in one word.  With two words,
 *     a reader could load the old "node" word and the new "full" word of
 *     a slot going from FULL to a node, take the slot for CLEAR, and skip
 *     set bits that never changed.  Readers use the map only to pick
 *     candidate slots, then read the slot itself and act on what it
 *     holds, so an old or new map with an old or new slot always yields,
 *     bit by bit, an old or a new value: a slot changes type only when
 *     the change covers some of its bits, and its other bits keep their
 *     value in both the old and the new form.
 *   - A node that becomes uniform, or lies under a slot a change covers
 *     whole, is unlinked (its slot gets the tag) and then handed to
 *     call_rcu(); it is freed only after every reader that could have
 *     loaded its pointer has left its read-side section.  The writer never
 *     touches an unlinked node again, so such a reader sees it as it was
 *     when unlinked.  Unlinked nodes go back to the slab, never into the
 *     reserve: reusing one at once would let a late reader walk a node that
 *     now describes other bits.
 *   - grow builds the new root above the old one, publishes it, and then
 *     publishes the new size with smp_store_release(); readers load the
 *     size with smp_load_acquire() before the root, so a reader that sees
 *     the new size also sees the new root.  A reader needs no height:
 *     each interior node records its level, and a tag means the same at
 *     any height.
 *   - The weight is written once at the end of a change; readers may see
 *     it disagree with the bits while a change is in flight.
 *
 * A reader may thus see, for each bit a writer is changing, its old or
 * its new value, and every other bit as it is; it never sees a torn word
 * and never follows a pointer to freed memory.  Several reader calls are
 * not a snapshot of one moment unless the caller excludes writers.
 *
 * Reserve
 * -------
 *
 * set and clear run under the caller's spinlock, so they cannot allocate.
 * They take nodes from a per-bitmap reserve that cbw_bitmap_refill()
 * fills beforehand, without the caller's lock, under the reserve's own
 * spinlock (dropped around each allocation).
 *
 * How many nodes can one change need?  A node is made only for a slot
 * that holds the tag of the other value and that the range covers in
 * part.  Only the slots holding the range's first and last bit can be
 * covered in part, so at each level there are at most two of them, and
 * only one at the root: at most 2 * h - 1 interior nodes and 2 leaves.
 * refill tops the reserve up to that, so one refill suffices for one
 * change of any range.  Before changing anything, set and clear walk the
 * two end paths to count the nodes the change needs exactly, take them
 * from the reserve in one go, or return -ENOMEM with nothing changed: a
 * change never runs out of nodes halfway, and a change that needs no node
 * succeeds even with an empty reserve.
 *
 * A caller with several writers sharing one bitmap loops: refill, take
 * its lock, change; on -ENOMEM drop the lock and start again.  Each round
 * that fails did so because another writer used the nodes, so that
 * writer made progress.
 *
 * The walks recurse; the depth is the height, at most 10.
 */

#include <asm/barrier.h>
#include <linux/bitops.h>
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/types.h>

#include "compat-include.h"
#include "dm-cbw-bitmap.h"

#define LEAF_SHIFT	9
#define LEAF_BITS	BIT(LEAF_SHIFT)
#define LEAF_WORDS	(LEAF_BITS / BITS_PER_LONG)
#define FAN_SHIFT	5
#define FANOUT		BIT(FAN_SHIFT)
#define MAX_HEIGHT	10

/* Slot tags; a node pointer is anything else. */
#define CLEAR		NULL
#define FULL		((void *)1UL)

/* A search that found nothing in a part of the tree. */
#define NOT_FOUND	U64_MAX

static_assert(CBW_BITMAP_MAX_BITS == 1ULL << (LEAF_SHIFT + FAN_SHIFT * MAX_HEIGHT));
static_assert(LEAF_BITS % BITS_PER_LONG == 0);
static_assert(2 * FANOUT == 64);	/* the two masks of the map share a u64 */

/*
 * struct cbw_leaf - 512 bits.
 * @word: the bits; WRITE_ONCE by the writer once published, READ_ONCE by
 *        readers.
 * @rcu: for the free after a grace period, once unlinked.
 * @next: the next leaf in the reserve.
 */
struct cbw_leaf {
	unsigned long word[LEAF_WORDS];
	union {
		struct rcu_head rcu;
		struct cbw_leaf *next;
	};
};

/*
 * struct cbw_inode - an interior node.
 * @slot: CLEAR, FULL, or a node of level @level - 1.
 * @map: bit i: @slot[i] is a node; bit FANOUT + i: @slot[i] is FULL.
 *       WRITE_ONCE by the writer once published, READ_ONCE by readers.
 * @level: 1 for a node whose slots hold leaves; set before publication,
 *         never changed.
 * @rcu: for the free after a grace period, once unlinked.
 * @next: the next node in the reserve.
 */
struct cbw_inode {
	void __rcu *slot[FANOUT];
	u64 map;
	unsigned int level;
	union {
		struct rcu_head rcu;
		struct cbw_inode *next;
	};
};

/*
 * struct cbw_bitmap - the bitmap.
 * @root: a tag, or the interior node of level @height.
 * @nbits: the size; written by writers with smp_store_release().
 * @weight: live set bits; written by writers with WRITE_ONCE().
 * @height: the level of the root; writers, READ_ONCE by refill.
 * @tree_leaves: leaves in the tree; writers, READ_ONCE by bytes.
 * @tree_inodes: interior nodes in the tree; as @tree_leaves.
 * @lock: protects the reserve (the four fields below it).
 * @free_leaves: the reserve's leaves.
 * @free_inodes: the reserve's interior nodes.
 * @nr_free_leaves: length of @free_leaves.
 * @nr_free_inodes: length of @free_inodes.
 */
struct cbw_bitmap {
	void __rcu *root;
	u64 nbits;
	u64 weight;
	unsigned int height;
	unsigned long tree_leaves;
	unsigned long tree_inodes;

	spinlock_t lock;		/* the reserve: the four fields below */
	struct cbw_leaf *free_leaves;
	struct cbw_inode *free_inodes;
	unsigned int nr_free_leaves;
	unsigned int nr_free_inodes;
};

/*
 * struct cbw_op - one change in progress.
 * @start: the first bit to change.
 * @end: the bit after the last one to change, at most @limit.
 * @limit: the live bits are [0, @limit).
 * @set: set the bits (else clear them).
 * @changed: live bits whose value changed so far.
 * @leaves: leaves the change needs (counted by op_need()).
 * @inodes: interior nodes the change needs.
 * @free_leaves: leaves taken from the reserve for the change.
 * @free_inodes: interior nodes taken from the reserve for the change.
 */
struct cbw_op {
	u64 start;
	u64 end;
	u64 limit;
	bool set;
	u64 changed;
	unsigned int leaves;
	unsigned int inodes;
	struct cbw_leaf *free_leaves;
	struct cbw_inode *free_inodes;
};

static struct kmem_cache *leaf_cache;
static struct kmem_cache *inode_cache;

static inline bool is_tag(const void *p)
{
	return p == CLEAR || p == FULL;
}

/* log2 of the bits a node of @level covers. */
static inline unsigned int level_shift(unsigned int level)
{
	return LEAF_SHIFT + FAN_SHIFT * level;
}

static inline u64 level_span(unsigned int level)
{
	return 1ULL << level_shift(level);
}

static unsigned int height_for(u64 nbits)
{
	unsigned int height = 1;

	while (nbits > level_span(height))
		height++;
	return height;
}

/* The bits of a map that describe slot @i holding @p. */
static inline u64 slot_map(const void *p, unsigned int i)
{
	if (p == FULL)
		return BIT_ULL(FANOUT + i);
	return p ? BIT_ULL(i) : 0;
}

static inline u64 slot_map_mask(unsigned int i)
{
	return BIT_ULL(i) | BIT_ULL(FANOUT + i);
}

/* Writers own the tree: the caller's lock keeps other writers out. */
static inline void *slot_load(void __rcu **slotp)
{
	return rcu_dereference_protected(*slotp, true);
}

/* Slots of a node of @level at @base that hold live bits (at least 1). */
static unsigned int live_slots(u64 base, unsigned int level, u64 limit)
{
	unsigned int shift = level_shift(level - 1);
	u64 n = (limit - base + (1ULL << shift) - 1) >> shift;

	return min_t(u64, n, FANOUT);
}

/* Live bits of a leaf at @base (at least 1). */
static unsigned int live_bits(u64 base, u64 limit)
{
	return min_t(u64, limit - base, LEAF_BITS);
}

static inline unsigned long low_mask(unsigned int bits)
{
	return GENMASK(bits - 1, 0);
}

/* ---- Node life cycle ---------------------------------------------------- */

/*
 * A node of @level standing for @tag, from the nodes op_need() counted
 * and reserve_take() moved to @op: there is always one.
 */
static void *node_make(struct cbw_bitmap *bm, struct cbw_op *op,
		       unsigned int level, void *tag)
{
	struct cbw_inode *n;
	unsigned int i;

	if (!level) {
		struct cbw_leaf *leaf = op->free_leaves;

		op->free_leaves = leaf->next;
		memset(leaf->word, tag ? 0xff : 0, sizeof(leaf->word));
		WRITE_ONCE(bm->tree_leaves, bm->tree_leaves + 1);
		return leaf;
	}
	n = op->free_inodes;
	op->free_inodes = n->next;
	n->level = level;
	for (i = 0; i < FANOUT; i++)
		RCU_INIT_POINTER(n->slot[i], tag);
	n->map = tag ? GENMASK_ULL(2 * FANOUT - 1, FANOUT) : 0;
	WRITE_ONCE(bm->tree_inodes, bm->tree_inodes + 1);
	return n;
}

static void leaf_free_rcu(struct rcu_head *rcu)
{
	kmem_cache_free(leaf_cache, container_of(rcu, struct cbw_leaf, rcu));
}

static void inode_free_rcu(struct rcu_head *rcu)
{
	kmem_cache_free(inode_cache, container_of(rcu, struct cbw_inode, rcu));
}

/* Free an unlinked node once no reader can be inside it. */
static void node_retire(struct cbw_bitmap *bm, void *node, unsigned int level)
{
	if (!level) {
		struct cbw_leaf *leaf = node;

		WRITE_ONCE(bm->tree_leaves, bm->tree_leaves - 1);
		call_rcu(&leaf->rcu, leaf_free_rcu);
	} else {
		struct cbw_inode *n = node;

		WRITE_ONCE(bm->tree_inodes, bm->tree_inodes - 1);
		call_rcu(&n->rcu, inode_free_rcu);
	}
}

/*
 * Retire the unlinked subtree @p of @level at @base, children first.
 * Return: the number of live set bits it held.
 */
static u64 subtree_drop(struct cbw_bitmap *bm, void *p, unsigned int level,
			u64 base, u64 limit)
{
	struct cbw_inode *n = p;
	unsigned int i, nlive, shift;
	u64 weight = 0;

	if (p == FULL)
		return min(level_span(level), limit - base);
	if (p == CLEAR)
		return 0;
	if (!level) {
		struct cbw_leaf *leaf = p;
		unsigned int bits = live_bits(base, limit);

		for (i = 0; i < bits / BITS_PER_LONG; i++)
			weight += hweight_long(leaf->word[i]);
		if (bits % BITS_PER_LONG)
			weight += hweight_long(leaf->word[i] &
					       low_mask(bits % BITS_PER_LONG));
		node_retire(bm, leaf, 0);
		return weight;
	}
	/* Slots beyond the size hold tags (invariant 3). */
	shift = level_shift(level - 1);
	nlive = live_slots(base, level, limit);
	for (i = 0; i < nlive; i++)
		weight += subtree_drop(bm, slot_load(&n->slot[i]), level - 1,
				       base + ((u64)i << shift), limit);
	node_retire(bm, n, level);
	return weight;
}

/* Free a subtree at once: nobody can see it (destroy). */
static void subtree_free(void *p, unsigned int level)
{
	struct cbw_inode *n = p;
	unsigned int i;

	if (is_tag(p))
		return;
	if (!level) {
		kmem_cache_free(leaf_cache, p);
		return;
	}
	for (i = 0; i < FANOUT; i++)
		subtree_free(rcu_dereference_protected(n->slot[i], true),
			     level - 1);
	kmem_cache_free(inode_cache, n);
}

/*
 * The tag that can stand for @leaf at @base, whose live bits are all
 * equal, or @leaf itself if they differ.
 */
static void *leaf_collapse(struct cbw_leaf *leaf, u64 base, u64 limit)
{
	unsigned long all = leaf->word[0] & 1 ? ~0UL : 0;
	unsigned int bits = live_bits(base, limit);
	unsigned int i;

	for (i = 0; i < bits / BITS_PER_LONG; i++)
		if (leaf->word[i] != all)
			return leaf;
	if (bits % BITS_PER_LONG &&
	    (leaf->word[i] ^ all) & low_mask(bits % BITS_PER_LONG))
		return leaf;
	return all ? FULL : CLEAR;
}

/* As leaf_collapse(), for an interior node. */
static void *inode_collapse(struct cbw_inode *n, u64 base, u64 limit)
{
	u32 live = low_mask(live_slots(base, n->level, limit));
	u32 nodes = (u32)n->map & live;
	u32 full = (u32)(n->map >> FANOUT) & live;

	if (nodes)
		return n;
	if (!full)
		return CLEAR;
	return full == live ? FULL : n;
}

/* ---- The reserve -------------------------------------------------------- */

/*
 * Fill the reserve up to @leaves and @inodes nodes.  Concurrent fills
 * may overshoot by a node or two each; the extra nodes serve later
 * changes.
 */
static int reserve_fill(struct cbw_bitmap *bm, unsigned int leaves,
			unsigned int inodes, gfp_t gfp)
{
	unsigned long flags;

	spin_lock_irqsave(&bm->lock, flags);
	while (bm->nr_free_leaves < leaves || bm->nr_free_inodes < inodes) {
		bool want_leaf = bm->nr_free_leaves < leaves;
		struct cbw_leaf *leaf = NULL;
		struct cbw_inode *n = NULL;

		spin_unlock_irqrestore(&bm->lock, flags);
		if (want_leaf)
			leaf = kmem_cache_alloc(leaf_cache, gfp);
		else
			n = kmem_cache_alloc(inode_cache, gfp);
		if (!leaf && !n)
			return -ENOMEM;
		spin_lock_irqsave(&bm->lock, flags);
		if (leaf) {
			leaf->next = bm->free_leaves;
			bm->free_leaves = leaf;
			WRITE_ONCE(bm->nr_free_leaves, bm->nr_free_leaves + 1);
		} else {
			n->next = bm->free_inodes;
			bm->free_inodes = n;
			WRITE_ONCE(bm->nr_free_inodes, bm->nr_free_inodes + 1);
		}
	}
	spin_unlock_irqrestore(&bm->lock, flags);
	return 0;
}

/* Move the nodes @op needs from the reserve to @op, all or none. */
static int reserve_take(struct cbw_bitmap *bm, struct cbw_op *op)
{
	unsigned long flags;
	unsigned int i;

	if (!op->leaves && !op->inodes)
		return 0;
	spin_lock_irqsave(&bm->lock, flags);
	if (bm->nr_free_leaves < op->leaves ||
	    bm->nr_free_inodes < op->inodes) {
		spin_unlock_irqrestore(&bm->lock, flags);
		return -ENOMEM;
	}
	for (i = 0; i < op->leaves; i++) {
		struct cbw_leaf *leaf = bm->free_leaves;

		bm->free_leaves = leaf->next;
		leaf->next = op->free_leaves;
		op->free_leaves = leaf;
	}
	for (i = 0; i < op->inodes; i++) {
		struct cbw_inode *n = bm->free_inodes;

		bm->free_inodes = n->next;
		n->next = op->free_inodes;
		op->free_inodes = n;
	}
	WRITE_ONCE(bm->nr_free_leaves, bm->nr_free_leaves - op->leaves);
	WRITE_ONCE(bm->nr_free_inodes, bm->nr_free_inodes - op->inodes);
	spin_unlock_irqrestore(&bm->lock, flags);
	return 0;
}

/* Give the nodes @op did not use back to the reserve. */
static void reserve_put(struct cbw_bitmap *bm, struct cbw_op *op)
{
	unsigned long flags;

	if (!op->free_leaves && !op->free_inodes)
		return;
	spin_lock_irqsave(&bm->lock, flags);
	while (op->free_leaves) {
		struct cbw_leaf *leaf = op->free_leaves;

		op->free_leaves = leaf->next;
		leaf->next = bm->free_leaves;
		bm->free_leaves = leaf;
		WRITE_ONCE(bm->nr_free_leaves, bm->nr_free_leaves + 1);
	}
	while (op->free_inodes) {
		struct cbw_inode *n = op->free_inodes;

		op->free_inodes = n->next;
		n->next = bm->free_inodes;
		bm->free_inodes = n;
		WRITE_ONCE(bm->nr_free_inodes, bm->nr_free_inodes + 1);
	}
	spin_unlock_irqrestore(&bm->lock, flags);
}

/* ---- Changes ------------------------------------------------------------ */

/*
 * Count in @op the nodes that applying it to the slot holding @p (a node
 * or tag of @level at @base) will make: the rules are those of
 * slot_update(), followed along the (at most two) slots covered in part.
 */
static void op_need(struct cbw_op *op, void *p, unsigned int level, u64 base)
{
	u64 end = min(base + level_span(level), op->limit);
	struct cbw_inode *n = p;
	unsigned int first, last, shift;
	u64 s, e;

	if (p == (op->set ? FULL : CLEAR))
		return;
	if (op->start <= base && op->end >= end)
		return;
	if (is_tag(p)) {
		if (level)
			op->inodes++;
		else
			op->leaves++;
	}
	if (!level)
		return;
	shift = level_shift(level - 1);
	s = max(op->start, base);
	e = min(op->end, end);
	first = (s - base) >> shift;
	last = (e - 1 - base) >> shift;
	/* The slots between @first and @last are covered whole. */
	op_need(op, is_tag(p) ? p : slot_load(&n->slot[first]), level - 1,
		base + ((u64)first << shift));
	if (last != first)
		op_need(op, is_tag(p) ? p : slot_load(&n->slot[last]),
			level - 1, base + ((u64)last << shift));
}

static void leaf_update(struct cbw_op *op, struct cbw_leaf *leaf, u64 base)
{
	unsigned int s = max(op->start, base) - base;
	unsigned int e = min(op->end, base + LEAF_BITS) - base;
	unsigned int i;

	for (i = s / BITS_PER_LONG; i <= (e - 1) / BITS_PER_LONG; i++) {
		unsigned int lo = max(s, i * BITS_PER_LONG) - i * BITS_PER_LONG;
		unsigned int hi = min(e, (i + 1) * BITS_PER_LONG) -
				  i * BITS_PER_LONG;
		unsigned long mask = GENMASK(hi - 1, lo);
		unsigned long old = leaf->word[i];
		unsigned long new = op->set ? old | mask : old & ~mask;

		if (new != old) {
			op->changed += hweight_long(old ^ new);
			WRITE_ONCE(leaf->word[i], new);
		}
	}
}

static void slot_update(struct cbw_bitmap *bm, struct cbw_op *op,
			void __rcu **slotp, unsigned int level, u64 base);

static void inode_update(struct cbw_bitmap *bm, struct cbw_op *op,
			 struct cbw_inode *n, u64 base)
{
	unsigned int shift = level_shift(n->level - 1);
	u64 s = max(op->start, base);
	u64 e = min(op->end, base + level_span(n->level));
	unsigned int first = (s - base) >> shift;
	unsigned int last = (e - 1 - base) >> shift;
	u64 map = n->map;
	unsigned int i;

	for (i = first; i <= last; i++) {
		slot_update(bm, op, &n->slot[i], n->level - 1,
			    base + ((u64)i << shift));
		map &= ~slot_map_mask(i);
		map |= slot_map(slot_load(&n->slot[i]), i);
	}
	WRITE_ONCE(n->map, map);
}

/*
 * Apply @op to the slot at @slotp, which holds a node or tag of @level
 * covering [@base, @base + span) and meets [op->start, op->end).  On
 * return the slot satisfies invariants 1 and 3; the caller fixes its map.
 */
static void slot_update(struct cbw_bitmap *bm, struct cbw_op *op,
			void __rcu **slotp, unsigned int level, u64 base)
{
	void *tag = op->set ? FULL : CLEAR;
	u64 end = min(base + level_span(level), op->limit);
	void *p = slot_load(slotp);
	void *q;
	u64 weight;

	if (p == tag)
		return;

	if (op->start <= base && op->end >= end) {
		/* Covered whole: unlink what is there, then free it. */
		RCU_INIT_POINTER(*slotp, tag);
		weight = subtree_drop(bm, p, level, base, op->limit);
		op->changed += op->set ? end - base - weight : weight;
		return;
	}

	if (is_tag(p)) {
		/*
		 * The other tag, covered in part: expand it into a node, change
		 * that while nobody can see it, then publish it.  It has bits
		 * of both values now, so it is not uniform.
		 */
		q = node_make(bm, op, level, p);
		if (level)
			inode_update(bm, op, q, base);
		else
			leaf_update(op, q, base);
		rcu_assign_pointer(*slotp, q);
		return;
	}

	if (level) {
		inode_update(bm, op, p, base);
		q = inode_collapse(p, base, op->limit);
	} else {
		leaf_update(op, p, base);
		q = leaf_collapse(p, base, op->limit);
	}
	if (q != p) {
		RCU_INIT_POINTER(*slotp, q);
		node_retire(bm, p, level);
	}
}

static s64 bitmap_change(struct cbw_bitmap *bm, u64 start, u64 count,
			 bool set)
{
	struct cbw_op op = {
		.start = start,
		.end = start + count,
		.limit = bm->nbits,
		.set = set,
	};

	if (start > bm->nbits || count > bm->nbits - start)
		return -EINVAL;
	if (!count)
		return 0;

	op_need(&op, slot_load(&bm->root), bm->height, 0);
	if (reserve_take(bm, &op))
		return -ENOMEM;
	slot_update(bm, &op, &bm->root, bm->height, 0);
	/* op_need() counted exactly what slot_update() used. */
	WARN_ON_ONCE(op.free_leaves || op.free_inodes);
	reserve_put(bm, &op);

	WRITE_ONCE(bm->weight,
		   set ? bm->weight + op.changed : bm->weight - op.changed);
	return op.changed;
}

/* ---- Lookups ------------------------------------------------------------ */

static u64 leaf_find(const struct cbw_leaf *leaf, u64 base, u64 from,
		     bool set)
{
	unsigned int bit = from - base;
	unsigned int i = bit / BITS_PER_LONG;
	unsigned long w = READ_ONCE(leaf->word[i]);

	w = (set ? w : ~w) & (~0UL << (bit % BITS_PER_LONG));
	while (!w) {
		if (++i == LEAF_WORDS)
			return NOT_FOUND;
		w = READ_ONCE(leaf->word[i]);
		if (!set)
			w = ~w;
	}
	return base + i * BITS_PER_LONG + __ffs(w);
}

static u64 inode_find(const struct cbw_inode *n, u64 base, u64 from,
		      bool set);

/*
 * The first bit at or after @from (inside the slot) whose value is @set,
 * in the slot holding @p, a node or tag of @level at @base.
 */
static u64 slot_find(const void *p, unsigned int level, u64 base, u64 from,
		     bool set)
{
	if (is_tag(p))
		return (p == FULL) == set ? from : NOT_FOUND;
	if (!level)
		return leaf_find(p, base, from, set);
	return inode_find(p, base, from, set);
}

static u64 inode_find(const struct cbw_inode *n, u64 base, u64 from,
		      bool set)
{
	unsigned int level = n->level - 1;
	unsigned int shift = level_shift(level);
	unsigned int i = (from - base) >> shift;
	u64 map = READ_ONCE(n->map);
	u32 candidates;
	u64 r;

	r = slot_find(rcu_dereference(n->slot[i]), level,
		      base + ((u64)i << shift), from, set);
	if (r != NOT_FOUND)
		return r;

	/* Slots to the right that hold a bit of value @set (invariant 2). */
	if (set)
		candidates = (u32)map | (u32)(map >> FANOUT);
	else
		candidates = ~(u32)(map >> FANOUT);
	candidates &= ~low_mask(i + 1);
	while (candidates) {
		u64 cbase;

		i = __ffs(candidates);
		candidates &= candidates - 1;
		cbase = base + ((u64)i << shift);
		/* The map may be a moment old: the slot itself decides. */
		r = slot_find(rcu_dereference(n->slot[i]), level, cbase, cbase,
			      set);
		if (r != NOT_FOUND)
			return r;
	}
	return NOT_FOUND;
}

static u64 bitmap_find(const struct cbw_bitmap *bm, u64 from, bool set)
{
	/* Pairs with smp_store_release() in cbw_bitmap_grow(). */
	u64 nbits = smp_load_acquire(&bm->nbits);
	const struct cbw_inode *root;
	u64 r;

	if (from >= nbits)
		return nbits;
	rcu_read_lock();
	root = rcu_dereference(bm->root);
	if (is_tag(root))
		r = (root == FULL) == set ? from : NOT_FOUND;
	else
		r = inode_find(root, 0, from, set);
	rcu_read_unlock();
	/* Padding bits beyond the size may match: they count as none. */
	return min(r, nbits);
}

/* ---- The interface ------------------------------------------------------ */

int cbw_bitmap_init(void)
{
	leaf_cache = kmem_cache_create("dm_cbw_bitmap_leaf",
				       sizeof(struct cbw_leaf), 0, 0, NULL);
	if (!leaf_cache)
		return -ENOMEM;
	inode_cache = kmem_cache_create("dm_cbw_bitmap_node",
					sizeof(struct cbw_inode), 0, 0, NULL);
	if (!inode_cache) {
		kmem_cache_destroy(leaf_cache);
		return -ENOMEM;
	}
	return 0;
}

void cbw_bitmap_exit(void)
{
	/* Wait for the call_rcu() frees of node_retire(). */
	rcu_barrier();
	kmem_cache_destroy(inode_cache);
	kmem_cache_destroy(leaf_cache);
}

struct cbw_bitmap *cbw_bitmap_create(u64 nbits, bool set, gfp_t gfp)
{
	struct cbw_bitmap *bm;

	if (nbits > CBW_BITMAP_MAX_BITS)
		return NULL;
	bm = kzalloc(sizeof(*bm), gfp);
	if (!bm)
		return NULL;
	RCU_INIT_POINTER(bm->root, set ? FULL : CLEAR);
	bm->nbits = nbits;
	bm->weight = set ? nbits : 0;
	bm->height = height_for(nbits);
	spin_lock_init(&bm->lock);
	return bm;
}

void cbw_bitmap_destroy(struct cbw_bitmap *bm)
{
	if (!bm)
		return;
	subtree_free(rcu_dereference_protected(bm->root, true), bm->height);
	while (bm->free_leaves) {
		struct cbw_leaf *leaf = bm->free_leaves;

		bm->free_leaves = leaf->next;
		kmem_cache_free(leaf_cache, leaf);
	}
	while (bm->free_inodes) {
		struct cbw_inode *n = bm->free_inodes;

		bm->free_inodes = n->next;
		kmem_cache_free(inode_cache, n);
	}
	kfree(bm);
}

int cbw_bitmap_refill(struct cbw_bitmap *bm, gfp_t gfp)
{
	/* The most one change can need; see "Reserve" above. */
	return reserve_fill(bm, 2, 2 * READ_ONCE(bm->height) - 1, gfp);
}

bool cbw_bitmap_reserve_low(const struct cbw_bitmap *bm)
{
	/* The same bound as cbw_bitmap_refill(). */
	return READ_ONCE(bm->nr_free_leaves) < 2 ||
	       READ_ONCE(bm->nr_free_inodes) < 2 * READ_ONCE(bm->height) - 1;
}

s64 cbw_bitmap_set(struct cbw_bitmap *bm, u64 start, u64 count)
{
	return bitmap_change(bm, start, count, true);
}

s64 cbw_bitmap_clear(struct cbw_bitmap *bm, u64 start, u64 count)
{
	return bitmap_change(bm, start, count, false);
}

int cbw_bitmap_grow(struct cbw_bitmap *bm, u64 nbits, gfp_t gfp)
{
	struct cbw_op op = {
		.start = bm->nbits,
		.end = min(nbits, level_span(bm->height)),
		.limit = nbits,
		.set = false,
	};
	void *root = slot_load(&bm->root);
	unsigned int height, level;
	int r;

	if (nbits < bm->nbits || nbits > CBW_BITMAP_MAX_BITS)
		return -EINVAL;
	if (nbits == bm->nbits)
		return 0;
	height = height_for(nbits);

	/*
	 * The old padding that becomes live may hold set bits (a FULL tag
	 * covers it): clear it first, without counting it in the weight.
	 * Then stack new roots on the old one, unless it is CLEAR, which
	 * stands for any height.
	 */
	if (op.start < op.end)
		op_need(&op, root, bm->height, 0);
	if (root != CLEAR)
		op.inodes += height - bm->height;
	r = reserve_fill(bm, op.leaves, op.inodes, gfp);
	if (!r)
		r = reserve_take(bm, &op);
	if (r)
		return r;

	if (op.start < op.end)
		slot_update(bm, &op, &bm->root, bm->height, 0);
	root = slot_load(&bm->root);
	for (level = bm->height + 1; level <= height && root; level++) {
		struct cbw_inode *n = node_make(bm, &op, level, CLEAR);

		RCU_INIT_POINTER(n->slot[0], root);
		n->map = slot_map(root, 0);
		root = n;
	}
	rcu_assign_pointer(bm->root, root);
	WRITE_ONCE(bm->height, height);
	/* Pairs with smp_load_acquire() in the readers: root, then size. */
	smp_store_release(&bm->nbits, nbits);
	reserve_put(bm, &op);
	return 0;
}

bool cbw_bitmap_test(const struct cbw_bitmap *bm, u64 bit)
{
	const struct cbw_inode *n;
	const struct cbw_leaf *leaf;
	const void *p;
	bool ret;

	/* Pairs with smp_store_release() in cbw_bitmap_grow(). */
	if (bit >= smp_load_acquire(&bm->nbits))
		return false;
	rcu_read_lock();
	p = rcu_dereference(bm->root);
	while (!is_tag(p)) {
		n = p;
		p = rcu_dereference(n->slot[(bit >> level_shift(n->level - 1)) &
					    (FANOUT - 1)]);
		if (n->level == 1)
			break;
	}
	if (is_tag(p)) {
		ret = p == FULL;
	} else {
		leaf = p;
		ret = READ_ONCE(leaf->word[bit % LEAF_BITS / BITS_PER_LONG]) >>
		      (bit % BITS_PER_LONG) & 1;
	}
	rcu_read_unlock();
	return ret;
}

u64 cbw_bitmap_next_set(const struct cbw_bitmap *bm, u64 from)
{
	return bitmap_find(bm, from, true);
}

u64 cbw_bitmap_next_clear(const struct cbw_bitmap *bm, u64 from)
{
	return bitmap_find(bm, from, false);
}

u64 cbw_bitmap_weight(const struct cbw_bitmap *bm)
{
	return READ_ONCE(bm->weight);
}

u64 cbw_bitmap_size(const struct cbw_bitmap *bm)
{
	/* Pairs with smp_store_release() in cbw_bitmap_grow(). */
	return smp_load_acquire(&bm->nbits);
}

size_t cbw_bitmap_bytes(const struct cbw_bitmap *bm)
{
	size_t leaves = READ_ONCE(bm->tree_leaves) +
			READ_ONCE(bm->nr_free_leaves);
	size_t inodes = READ_ONCE(bm->tree_inodes) +
			READ_ONCE(bm->nr_free_inodes);

	return sizeof(*bm) + leaves * sizeof(struct cbw_leaf) +
	       inodes * sizeof(struct cbw_inode);
}
