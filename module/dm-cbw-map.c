// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw chunk map: copied chunk -> COW slot.
 *
 * What it must cost.  A snapshot of a large origin may see a few copied
 * chunks scattered over terabytes, or every chunk of a region copied in
 * order.  A radix tree (xarray) or a radix bitmap pays a node per
 * scattered chunk (hundreds of bytes); a hash table pays for its empty
 * buckets and its doubling.  This map is sorted instead, and keeps each
 * entry in 8 bytes whatever the spread:
 *
 *	refs[]:   base 0      base 9000       base 2^33
 *	          leaf A      leaf B          leaf C
 *	leaf B:   [nr | e0 e1 e2 ... ]     e = (chunk - base) << 32 | slot
 *
 * A leaf is one 4 KiB block holding up to LEAF_CAP (510) entries, sorted
 * by chunk; an entry packs the chunk's offset from the leaf's base (32
 * bits) and the slot (32 bits).  Because the offset is in the high bits,
 * entries sort as plain integers.  The index refs[] is one sorted array
 * of (base, leaf word), 16 bytes per leaf.
 *
 * Dense leaves.  A leaf whose n entries have the offsets 0..n-1 holds a
 * run of n copied chunks, which is what copies in order (and copy-ahead)
 * leave behind.  Its slot in refs[] says so: a leaf is LEAF_BYTES-aligned,
 * and the low bits of its address in refs[] hold n (0 for a leaf that is
 * not dense).  Whether a chunk is mapped, the question of every guest
 * write, is then answered from refs[] alone, without reading the leaf: on
 * a random write that is one cold page less.
 *
 * Invariants (under @lock):
 *  - refs[] is sorted by base, strictly;
 *  - every entry of leaf i has a chunk in [refs[i].base, refs[i + 1].base)
 *    and an offset below MAX_DELTA, and the entries of a leaf are sorted
 *    and distinct;
 *  - no leaf in refs[] is empty;
 *  - the dense count in refs[i] is that of leaf i (see leaf_word()).
 *
 * Costs.  A lookup is a search in refs[] and one in the leaf (none in a
 * dense leaf, for next_unmapped()), each begun where the key would lie
 * if the keys spread evenly (search_from()).  An insertion moves at most
 * a leaf's entries; a full leaf splits in two halves, except that a chunk
 * beyond a full leaf's last entry starts a new leaf (so chunks copied in
 * ascending order fill leaves completely).
 * Memory: 8 bytes per entry divided by the leaves' fill, which is about
 * 100% for ascending copies and about 70% for random ones (the usual
 * figure for split-in-half trees), so 8 to 12 bytes per copied chunk, plus
 * 16 bytes per leaf in refs[] (which grows by doubling).  Removal does
 * not merge leaves: a leaf emptied by half costs what it did when full,
 * until it is empty and freed.
 *
 * Allocation.  cbw_map_insert() computes the most leaves the insertion
 * can need (each split leaves half a leaf free for the consecutive
 * chunks that follow), allocates them and room for them in refs[] first,
 * without the lock, then inserts under the lock, where nothing can fail.
 * Growing refs[] copies it under the lock; that is the one step whose
 * time grows with the map (16 bytes per 510 copied chunks).
 *
 * Readers take no lock.  Every write (an insertion, a removal, a new
 * index) happens under @lock inside a write section of the sequence
 * count @seq; a reader runs its search in an RCU read-side section and
 * starts it again if @seq moved meanwhile.  So the write path's map
 * function pays no lock and no interrupt switch, and an answer is always
 * one of a moment when no write was under way.  A reader racing with a
 * write may see anything a half-done memmove() leaves; it only has to
 * stay inside memory it may read and finish its search:
 *  - the index and its capacity are read together (struct map_index),
 *    and the reader's count of leaves is clipped to that capacity;
 *  - index slots past the last leaf are zero (the index is allocated
 *    zeroed, and a removal clears the slot it vacates), and a reader
 *    stops at a NULL leaf;
 *  - a leaf's count is clipped to LEAF_CAP (a spare leaf's union holds
 *    a pointer there), and every entry offset is clipped to the leaf;
 *  - searches that step from run to run give up when the next chunk is
 *    not beyond the current one;
 *  - a leaf's dense count is loaded in one word with its address, and an
 *    answer from the dense count reads nothing from the leaf.
 * A leaf or an index that no reader can find any more is freed after an
 * RCU grace period (kfree_rcu(), kvfree_rcu()), so that a reader that
 * found it earlier never reads freed memory.  Spare leaves are never
 * freed but by cbw_map_destroy().
 */

#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/seqlock.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "compat-include.h"
#include "dm-cbw-map.h"

#define LEAF_BYTES	4096
#define SLOT_BITS	32
#define SLOT_MASK	(CBW_MAP_MAX_SLOTS - 1)
#define MAX_DELTA	BIT_ULL(64 - SLOT_BITS)
#define DENSE_MASK	((unsigned long)LEAF_BYTES - 1)

/*
 * struct map_leaf - a block of sorted entries.
 * @next: the next spare leaf, while the leaf is in the spare list.
 * @nr: number of entries, while the leaf is in the index.
 * @rcu: for kfree_rcu(), once the leaf has left the index.
 * @e: the entries, (chunk - base) << SLOT_BITS | slot.
 *
 * Written under the map's lock, in a write section of its @seq.
 */
struct map_leaf {
	union {
		struct map_leaf *next;
		unsigned int nr;
		struct rcu_head rcu;
	};
	u64 e[];
};

#define LEAF_CAP	((LEAF_BYTES - offsetof(struct map_leaf, e)) / sizeof(u64))

/* The dense count of a leaf fits in the low bits of its address. */
static_assert(LEAF_CAP <= DENSE_MASK);

/*
 * struct leaf_ref - a slot of the index.
 * @base: the chunk that the leaf's entry offsets count from.
 * @lw: the leaf's address, ORed with its dense count (see leaf_word()).
 */
struct leaf_ref {
	u64 base;
	unsigned long lw;
};

/* find_ref() searches the bases as an array of u64 with a stride of 2. */
static_assert(offsetof(struct leaf_ref, base) == 0 &&
	      sizeof(struct leaf_ref) == 2 * sizeof(u64));

/*
 * struct map_index - the index: @cap slots, zero past the last leaf.
 * @rcu: for kvfree_rcu(), once a larger index replaced this one.
 * @cap: the number of slots in @r; never changes.
 * @r: the slots, written under the map's lock in a write section.
 */
struct map_index {
	struct rcu_head rcu;
	size_t cap;
	struct leaf_ref r[];
};

/**
 * struct cbw_map - the chunk map.
 * @lock: serialises writes; protects every field below for writers.
 * @seq: sequence count of the writes that readers can see (@idx, @nr_refs,
 *	 the slots and the leaves in the index); its write sections run
 *	 under @lock.
 * @idx: the index, sorted by base; NULL while empty.  Replaced under
 *	 @lock (RCU).
 * @nr_refs: number of leaves in @idx.
 * @spare: leaves allocated for the next insertion, linked by @next.
 * @nr_spare: number of @spare leaves; @idx has room for them.
 * @entries: number of entries in all leaves.
 */
struct cbw_map {
	spinlock_t lock;		/* see above */
	seqcount_spinlock_t seq;
	struct map_index __rcu *idx;
	size_t nr_refs;
	struct map_leaf *spare;
	size_t nr_spare;
	u64 entries;
};

/*
 * struct map_view - the leaves as one search sees them.
 * @r: the index's slots.
 * @nr: the number of leaves, at most the index's capacity.
 */
struct map_view {
	struct leaf_ref *r;
	size_t nr;
};

static inline u64 e_delta(u64 e)
{
	return e >> SLOT_BITS;
}

static inline u64 e_slot(u64 e)
{
	return e & SLOT_MASK;
}

static inline u64 mk_entry(u64 delta, u64 slot)
{
	return delta << SLOT_BITS | slot;
}

/* ---- Searches, for readers and writers alike ----------------------------- */

/* A leaf's entry count, clipped for a reader amid a write. */
static inline unsigned int leaf_nr(const struct map_leaf *leaf)
{
	return min_t(unsigned int, READ_ONCE(leaf->nr), LEAF_CAP);
}

static inline struct map_leaf *lw_leaf(unsigned long lw)
{
	return (struct map_leaf *)(lw & ~DENSE_MASK);
}

static inline unsigned int lw_dense(unsigned long lw)
{
	return lw & DENSE_MASK;
}

/* The leaf of slot @i: loaded once, as a writer stores it whole. */
static inline struct map_leaf *ref_leaf(const struct map_view *v, size_t i)
{
	return lw_leaf(READ_ONCE(v->r[i].lw));
}

/*
 * The first i in [0, @n) with @a[i * @stride] >= @x, or @n; the values are
 * sorted.  The search starts at @g (< @n), where @x would lie if the
 * values spread evenly, widens in doubling steps until it brackets the
 * answer, then halves.  Chunks copied in order, or at random, spread
 * about evenly over a leaf and over the index, so a lookup touches a
 * cache line or two of each where a binary search from the middle
 * touches six or more (each a miss, for a write to a random chunk).
 */
static __always_inline size_t search_from(const u64 *a, size_t stride,
					  size_t n, size_t g, u64 x)
{
	size_t lo, hi, mid, step = 1;

	if (a[g * stride] < x) {
		/* Everything below lo is below @x. */
		lo = g + 1;
		while (lo + step - 1 < n && a[(lo + step - 1) * stride] < x) {
			lo += step;
			step <<= 1;
		}
		hi = min(lo + step - 1, n);
	} else {
		/* a[hi] is at least @x. */
		hi = g;
		while (hi >= step && a[(hi - step) * stride] >= x) {
			hi -= step;
			step <<= 1;
		}
		lo = hi >= step ? hi - step + 1 : 0;
	}
	/* The answer is in [lo, hi]. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (a[mid * stride] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the last leaf whose base is at most @key, or -1. */
static __always_inline long find_ref(const struct map_view *v, u64 key)
{
	size_t n = v->nr, g;
	u64 b0, span;
	int s;

	if (!n)
		return -1;
	b0 = v->r[0].base;
	if (key < b0)
		return -1;
	span = v->r[n - 1].base - b0;
	if (key - b0 >= span)
		return n - 1;
	/* Where @key would lie; scaled so that the product fits in 64 bits. */
	s = max(fls64(span) - 32, 0);
	g = div64_u64(((key - b0) >> s) * (n - 1), span >> s);
	return (long)search_from(&v->r[0].base, 2, n, g, key + 1) - 1;
}

/* Index of the first of the @nr entries of @leaf at offset @delta or beyond. */
static __always_inline unsigned int leaf_lower(const struct map_leaf *leaf,
					       unsigned int nr, u64 delta)
{
	u64 top;

	if (!nr || delta >= MAX_DELTA)
		return nr;
	top = e_delta(leaf->e[nr - 1]);
	if (delta > top)
		return nr;
	/* nr distinct offsets, the last nr - 1: the leaf holds all of 0..top. */
	if (top <= nr - 1)
		return delta;
	return search_from(leaf->e, 1, nr, div64_u64(delta * (nr - 1), top),
			   mk_entry(delta, 0));
}

/*
 * Entry @p of leaf @i (@p clipped to the leaf) in *@e, its chunk in *@key.
 * Return: false if the slot has no leaf (a reader amid a write).
 */
static inline bool entry_at(const struct map_view *v, size_t i, unsigned int p,
			    u64 *key, u64 *e)
{
	const struct map_leaf *leaf = ref_leaf(v, i);

	if (unlikely(!leaf))
		return false;
	*e = leaf->e[min_t(unsigned int, p, LEAF_CAP - 1)];
	*key = v->r[i].base + e_delta(*e);
	return true;
}

/* The chunk of entry @p of leaf @i, or U64_MAX amid a write. */
static inline u64 key_at(const struct map_view *v, size_t i, unsigned int p)
{
	u64 key, e;

	return entry_at(v, i, p, &key, &e) ? key : U64_MAX;
}

/*
 * The first entry whose chunk is @key or beyond: leaf *@i, entry *@p.
 * Return: false if there is none.
 */
static __always_inline bool locate(const struct map_view *v, u64 key,
				   size_t *i, unsigned int *p)
{
	long r = find_ref(v, key);
	const struct map_leaf *leaf;
	unsigned int nr;

	*i = 0;
	*p = 0;
	if (r < 0)
		return v->nr > 0;
	leaf = ref_leaf(v, r);
	if (unlikely(!leaf)) {
		*i = v->nr;
		return false;
	}
	nr = leaf_nr(leaf);
	*i = r;
	*p = leaf_lower(leaf, nr, key - v->r[r].base);
	if (*p >= nr) {
		(*i)++;
		*p = 0;
	}
	return *i < v->nr;
}

/* The last entry of the run of consecutive chunks that starts at @p. */
static unsigned int run_end(const struct map_leaf *leaf, unsigned int nr,
			    unsigned int p)
{
	unsigned int lo = p, hi, mid;
	u64 d;

	if (unlikely(p >= nr))
		return p;
	hi = nr - 1;
	d = e_delta(leaf->e[p]);
	/* Distinct sorted offsets: entry q continues the run iff it is q - p on. */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (e_delta(leaf->e[mid]) - d == mid - p)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static u64 next_mapped(const struct map_view *v, u64 from, u64 last)
{
	unsigned int p;
	size_t i;

	if (from > last || !locate(v, from, &i, &p))
		return last + 1;
	return min(key_at(v, i, p), last + 1);
}

/*
 * The first chunk in [@from, @last] without an entry, or @last + 1.  A
 * dense leaf answers from its slot in the index; any other from its
 * entries, where a run of consecutive chunks ends at run_end().
 */
/* Whether chunk @k has a slot: next_unmapped() for one chunk, shorter. */
static __always_inline bool has_slot(const struct map_view *v, u64 k)
{
	const struct map_leaf *leaf;
	unsigned int nr, p, dense;
	unsigned long lw;
	long r = find_ref(v, k);
	u64 d;

	if (r < 0)
		return false;
	lw = READ_ONCE(v->r[r].lw);
	leaf = lw_leaf(lw);
	if (unlikely(!leaf))
		return false;
	d = k - v->r[r].base;
	dense = lw_dense(lw);
	if (dense)
		return d < dense;
	nr = leaf_nr(leaf);
	p = leaf_lower(leaf, nr, d);
	return p < nr && e_delta(leaf->e[p]) == d;
}

static __always_inline u64 next_unmapped(const struct map_view *v, u64 from, u64 last)
{
	const struct map_leaf *leaf;
	unsigned int p, nr, dense;
	unsigned long lw;
	u64 k = from, n, d, base;
	long r;

	while (k <= last) {
		r = find_ref(v, k);
		if (r < 0)
			break;
		lw = READ_ONCE(v->r[r].lw);
		leaf = lw_leaf(lw);
		if (unlikely(!leaf))
			break;
		base = v->r[r].base;
		d = k - base;
		dense = lw_dense(lw);
		if (dense) {
			/* The leaf holds offsets 0..dense - 1, and no other. */
			if (d >= dense)
				break;
			n = base + dense;
		} else {
			nr = leaf_nr(leaf);
			p = leaf_lower(leaf, nr, d);
			if (p >= nr || e_delta(leaf->e[p]) != d)
				break;
			if (k == last)	/* no need to find where the run ends */
				return last + 1;
			n = k + e_delta(leaf->e[run_end(leaf, nr, p)]) - d + 1;
		}
		if (unlikely(n <= k))	/* a reader amid a write */
			break;
		k = n;
	}
	return min(k, last + 1);
}

static u64 lookup_run(const struct map_view *v, u64 chunk, u64 last,
		      u64 *count)
{
	const struct map_leaf *leaf;
	u64 slot, k, key, e;
	unsigned int p;
	size_t i;

	if (!locate(v, chunk, &i, &p) || !entry_at(v, i, p, &key, &e) ||
	    key != chunk) {
		k = i < v->nr ? key_at(v, i, p) : U64_MAX;
		*count = min(k, last + 1) - chunk;
		return CBW_NO_SLOT;
	}
	slot = e_slot(e);
	/* Slots need not follow on where chunks do: step, don't search. */
	for (k = chunk + 1; k <= last; k++) {
		leaf = ref_leaf(v, i);
		if (unlikely(!leaf))
			break;
		if (++p >= leaf_nr(leaf)) {
			if (++i >= v->nr)
				break;
			p = 0;
		}
		if (!entry_at(v, i, p, &key, &e) || key != k ||
		    e_slot(e) != slot + (k - chunk))
			break;
	}
	*count = k - chunk;
	return slot;
}

static u64 count_mapped(const struct map_view *v, u64 first, u64 last)
{
	const struct map_leaf *leaf;
	unsigned int p, nr, end;
	u64 n = 0, base;
	size_t i;

	if (first > last || !locate(v, first, &i, &p))
		return 0;
	for (; i < v->nr; i++, p = 0) {
		base = v->r[i].base;
		leaf = ref_leaf(v, i);
		if (unlikely(!leaf) || base > last)
			break;
		nr = leaf_nr(leaf);
		end = last - base >= MAX_DELTA ? nr :
			leaf_lower(leaf, nr, last - base + 1);
		n += end - p;
		if (end < nr)
			break;
	}
	return n;
}

/* ---- Lock-free reading ----------------------------------------------------- */

/*
 * Begin a search: the view of the map as of the sequence number returned.
 * The caller is in an RCU read-side section (rcu_read_lock(), or
 * preemption disabled: see cbw_map_test()), and searches again while
 * read_seqcount_retry() says a write came between.
 */
static __always_inline unsigned int read_begin(struct cbw_map *map,
					       struct map_view *v)
{
	unsigned int seq = read_seqcount_begin(&map->seq);
	struct map_index *idx = rcu_dereference_check(map->idx,
						      rcu_read_lock_any_held());

	v->r = idx ? idx->r : NULL;
	v->nr = idx ? min(READ_ONCE(map->nr_refs), idx->cap) : 0;
	return seq;
}

/* ---- Writing (under @lock) ------------------------------------------------- */

/* The writer's index; the caller holds @map->lock. */
static struct map_index *windex(struct cbw_map *map)
{
	return rcu_dereference_protected(map->idx, lockdep_is_held(&map->lock));
}

static struct map_view wview(struct cbw_map *map)
{
	struct map_index *idx = windex(map);
	struct map_view v = { idx ? idx->r : NULL, map->nr_refs };

	return v;
}

/* The writer's leaf of slot @i. */
static inline struct map_leaf *wleaf(const struct leaf_ref *r, size_t i)
{
	return lw_leaf(r[i].lw);
}

/*
 * A leaf's address and dense count, for its slot in the index: n if its
 * n entries have the offsets 0..n-1 (sorted and distinct, they do if the
 * last is n - 1), else 0.  A leaf is LEAF_BYTES-aligned: kmalloc() aligns
 * a power-of-two size to itself, and reserve() checks.
 */
static unsigned long leaf_word(const struct map_leaf *leaf)
{
	unsigned int nr = leaf->nr;
	bool dense = nr && e_delta(leaf->e[nr - 1]) == nr - 1;

	return (unsigned long)leaf | (dense ? nr : 0);
}

/* Store slot @i's leaf again, after a change to its entries. */
static inline void retag(struct leaf_ref *r, size_t i)
{
	WRITE_ONCE(r[i].lw, leaf_word(wleaf(r, i)));
}

/* Copy slot @from to slot @to, the leaf word in one store. */
static inline void move_ref(struct leaf_ref *r, size_t to, size_t from)
{
	r[to].base = r[from].base;
	WRITE_ONCE(r[to].lw, r[from].lw);
}

/**
 * cbw_map_create() - an empty map.
 * @gfp: allocation flags.
 *
 * Context: process context if @gfp allows sleeping.
 * Return: the map, or NULL if out of memory.
 */
struct cbw_map *cbw_map_create(gfp_t gfp)
{
	struct cbw_map *map = kzalloc(sizeof(*map), gfp);

	if (map) {
		spin_lock_init(&map->lock);
		seqcount_spinlock_init(&map->seq, &map->lock);
	}
	return map;
}

/**
 * cbw_map_destroy() - free the map and its leaves.
 * @map: the map, or NULL; nothing else uses it any more.
 *
 * Context: process context (the index may be vmalloc'ed).
 */
void cbw_map_destroy(struct cbw_map *map)
{
	struct map_index *idx;
	struct map_leaf *leaf;
	size_t i;

	if (!map)
		return;
	idx = rcu_dereference_protected(map->idx, true);
	for (i = 0; i < map->nr_refs; i++)
		kfree(wleaf(idx->r, i));
	while (map->spare) {
		leaf = map->spare;
		map->spare = leaf->next;
		kfree(leaf);
	}
	kvfree(idx);
	kfree(map);
}

/*
 * Make sure @need spare leaves exist and the index has room for all of
 * them.  The caller is the only writer, so nothing takes them meanwhile.
 */
static int reserve(struct cbw_map *map, size_t need)
{
	unsigned int noio = memalloc_noio_save();
	struct map_index *idx, *old;
	struct map_leaf *leaf;
	unsigned long flags;
	size_t want, cap;
	int r = -ENOMEM;

	for (;;) {
		spin_lock_irqsave(&map->lock, flags);
		want = map->nr_spare < need;
		spin_unlock_irqrestore(&map->lock, flags);
		if (!want)
			break;
		leaf = kmalloc(LEAF_BYTES, GFP_KERNEL);
		if (!leaf)
			goto out;
		if (WARN_ON_ONCE(!IS_ALIGNED((unsigned long)leaf, LEAF_BYTES))) {
			kfree(leaf);
			goto out;
		}
		spin_lock_irqsave(&map->lock, flags);
		leaf->next = map->spare;
		map->spare = leaf;
		map->nr_spare++;
		spin_unlock_irqrestore(&map->lock, flags);
	}

	spin_lock_irqsave(&map->lock, flags);
	want = map->nr_refs + map->nr_spare;
	idx = windex(map);
	cap = idx ? idx->cap : 0;
	spin_unlock_irqrestore(&map->lock, flags);
	if (cap < want) {
		cap = max3(want, cap * 2, (size_t)16);
		idx = kvzalloc(struct_size(idx, r, cap), GFP_KERNEL);
		if (!idx)
			goto out;
		idx->cap = cap;
		spin_lock_irqsave(&map->lock, flags);
		old = windex(map);
		if (map->nr_refs)
			memcpy(idx->r, old->r, map->nr_refs * sizeof(*idx->r));
		write_seqcount_begin(&map->seq);
		rcu_assign_pointer(map->idx, idx);
		write_seqcount_end(&map->seq);
		spin_unlock_irqrestore(&map->lock, flags);
		if (old)
			kvfree_rcu(old, rcu);
	}
	r = 0;
out:
	memalloc_noio_restore(noio);
	return r;
}

static struct map_leaf *take_spare(struct cbw_map *map)
{
	struct map_leaf *leaf = map->spare;

	if (WARN_ON_ONCE(!leaf))
		return NULL;
	map->spare = leaf->next;
	map->nr_spare--;
	leaf->nr = 0;
	return leaf;
}

/* Put @leaf into the index at @i with base @base; the index has room. */
static void add_ref(struct cbw_map *map, size_t i, u64 base,
		    struct map_leaf *leaf)
{
	struct leaf_ref *r = windex(map)->r;
	size_t j;

	for (j = map->nr_refs; j > i; j--)
		move_ref(r, j, j - 1);
	r[i].base = base;
	WRITE_ONCE(r[i].lw, leaf_word(leaf));
	WRITE_ONCE(map->nr_refs, map->nr_refs + 1);
}

/* Take leaf @i out of the index, and clear the slot that falls vacant. */
static void del_ref(struct cbw_map *map, size_t i)
{
	struct leaf_ref *r = windex(map)->r;
	size_t n = map->nr_refs - 1;

	WRITE_ONCE(map->nr_refs, n);
	for (; i < n; i++)
		move_ref(r, i, i + 1);
	WRITE_ONCE(r[n].lw, 0);
	r[n].base = 0;
}

static bool new_leaf_at(struct cbw_map *map, size_t i, u64 key, u64 slot)
{
	struct map_leaf *leaf = take_spare(map);

	if (!leaf)
		return false;
	leaf->e[0] = mk_entry(0, slot);
	leaf->nr = 1;
	add_ref(map, i, key, leaf);
	return true;
}

/* Move the upper half of full leaf @i into a new leaf after it. */
static bool split(struct cbw_map *map, size_t i)
{
	struct leaf_ref *r = windex(map)->r;
	struct map_leaf *left = wleaf(r, i), *right = take_spare(map);
	unsigned int h = left->nr / 2, j;
	u64 shift;

	if (!right)
		return false;
	shift = e_delta(left->e[h]);
	for (j = h; j < left->nr; j++)
		right->e[j - h] = left->e[j] - mk_entry(shift, 0);
	right->nr = left->nr - h;
	left->nr = h;
	retag(r, i);
	add_ref(map, i + 1, r[i].base + shift, right);
	return true;
}

static void leaf_put(struct map_leaf *leaf, unsigned int p, u64 e)
{
	memmove(&leaf->e[p + 1], &leaf->e[p], (leaf->nr - p) * sizeof(u64));
	leaf->e[p] = e;
	leaf->nr++;
}

/* @key lies below every leaf: can leaf 0 take it as its new base? */
static bool rebase_first(struct cbw_map *map, u64 key)
{
	struct leaf_ref *r = windex(map)->r;
	struct map_leaf *leaf = wleaf(r, 0);
	u64 up = r[0].base - key;
	unsigned int j;

	if (leaf->nr == LEAF_CAP ||
	    up + e_delta(leaf->e[leaf->nr - 1]) >= MAX_DELTA)
		return false;
	for (j = 0; j < leaf->nr; j++)
		leaf->e[j] += mk_entry(up, 0);
	r[0].base = key;
	return true;	/* the caller puts @key into leaf 0, and retags it */
}

/* Insert one entry that is not in the map; false only on a bug. */
static bool insert_one(struct cbw_map *map, u64 key, u64 slot)
{
	struct map_view v = wview(map);
	struct map_leaf *leaf;
	long r = find_ref(&v, key);
	unsigned int p;
	size_t i;
	u64 d;

	if (r < 0) {
		if (!map->nr_refs || !rebase_first(map, key))
			return new_leaf_at(map, 0, key, slot);
		r = 0;
	}
	i = r;
	leaf = wleaf(v.r, i);
	d = key - v.r[i].base;
	/* Every entry of the leaf is below @key: start a leaf after it. */
	if (d >= MAX_DELTA)
		return new_leaf_at(map, i + 1, key, slot);
	p = leaf_lower(leaf, leaf->nr, d);
	if (leaf->nr == LEAF_CAP) {
		if (p == leaf->nr)
			return new_leaf_at(map, i + 1, key, slot);
		if (!split(map, i))
			return false;
		/* At p == h the chunk lies below the right leaf's base. */
		if (p > leaf->nr) {
			p -= leaf->nr;
			i++;
			leaf = wleaf(v.r, i);
			d = key - v.r[i].base;
		}
	}
	leaf_put(leaf, p, mk_entry(d, slot));
	retag(v.r, i);
	return true;
}

/* Remove the entry of @key, which is in the map; return an emptied leaf. */
static struct map_leaf *remove_one(struct cbw_map *map, u64 key)
{
	struct map_view v = wview(map);
	struct map_leaf *leaf;
	unsigned int p;
	size_t i;

	if (WARN_ON_ONCE(!locate(&v, key, &i, &p) || key_at(&v, i, p) != key))
		return NULL;
	leaf = wleaf(v.r, i);
	leaf->nr--;
	memmove(&leaf->e[p], &leaf->e[p + 1], (leaf->nr - p) * sizeof(u64));
	if (leaf->nr) {
		retag(v.r, i);
		return NULL;
	}
	del_ref(map, i);
	return leaf;
}

/* Are @need spare leaves there, with room for them in the index? */
static bool reserved(struct cbw_map *map, size_t need)
{
	struct map_index *idx;
	unsigned long flags;
	bool r;

	spin_lock_irqsave(&map->lock, flags);
	idx = windex(map);
	r = map->nr_spare >= need &&
	    (idx ? idx->cap : 0) >= map->nr_refs + map->nr_spare;
	spin_unlock_irqrestore(&map->lock, flags);
	return r;
}

/* Insert; reserve the leaves first if @may_alloc, else find them spare. */
static int insert(struct cbw_map *map, u64 chunk, u64 slot, u64 count,
		  bool may_alloc)
{
	struct map_leaf *empty;
	unsigned long flags;
	size_t need;
	u64 n;
	int r;

	if (!count || slot >= CBW_MAP_MAX_SLOTS ||
	    count > CBW_MAP_MAX_SLOTS - slot || chunk + count < chunk)
		return -EINVAL;
	if (WARN_ON_ONCE(cbw_map_next_mapped(map, chunk, chunk + count - 1) <
			 chunk + count))
		return -EINVAL;
	/*
	 * The chunks are consecutive and none is mapped, so they all go in
	 * at one place: after a split, the next half leaf's worth of them
	 * needs no new leaf.  Two more: the first may start a leaf, and a
	 * run may cross a MAX_DELTA boundary.  One chunk takes at most one
	 * leaf (a split or a new leaf): without @may_alloc, that is all
	 * that must be spare, so that a reservation of two serves the
	 * next insertion too.
	 */
	need = div64_u64(count, LEAF_CAP / 2 - 1) + 2;
	if (!may_alloc)
		r = reserved(map, count == 1 ? 1 : need) ? 0 : -EAGAIN;
	else
		r = reserve(map, need);
	if (r)
		return r;

	spin_lock_irqsave(&map->lock, flags);
	write_seqcount_begin(&map->seq);
	for (n = 0; n < count; n++)
		if (!insert_one(map, chunk + n, slot + n))
			break;
	if (n == count) {
		map->entries += count;
		write_seqcount_end(&map->seq);
		spin_unlock_irqrestore(&map->lock, flags);
		return 0;
	}
	/* A wrong reservation: undo, so that no chunk is half recorded. */
	while (n--) {
		empty = remove_one(map, chunk + n);
		if (empty) {
			empty->next = map->spare;
			map->spare = empty;
			map->nr_spare++;
		}
	}
	write_seqcount_end(&map->seq);
	spin_unlock_irqrestore(&map->lock, flags);
	return -ENOMEM;
}

/**
 * cbw_map_insert() - record that chunks now live in slots.
 * @map: the map.
 * @chunk: the first chunk.
 * @slot: the slot of @chunk; chunk @chunk + i is in slot @slot + i.
 * @count: the number of chunks, at least 1.
 *
 * Context: process context; may sleep.  Serialised with cbw_map_remove().
 * Return: 0, -ENOMEM (nothing changed), or -EINVAL (nothing changed).
 */
int cbw_map_insert(struct cbw_map *map, u64 chunk, u64 slot, u64 count)
{
	return insert(map, chunk, slot, count, true);
}

/**
 * cbw_map_insert_nowait() - cbw_map_insert() that never allocates.
 * @map: the map.
 * @chunk: the first chunk.
 * @slot: the slot of @chunk; chunk @chunk + i is in slot @slot + i.
 * @count: the number of chunks, at least 1.
 *
 * Context: any context.  Serialised with cbw_map_insert() and
 * cbw_map_remove().
 * Return: 0, -EAGAIN (the insertion might need leaves that are not
 * spare; nothing changed), -ENOMEM or -EINVAL (nothing changed).
 */
int cbw_map_insert_nowait(struct cbw_map *map, u64 chunk, u64 slot, u64 count)
{
	return insert(map, chunk, slot, count, false);
}

/**
 * cbw_map_lookup_run() - the slot of a chunk, and how far its run goes.
 * @map: the map.
 * @chunk: the chunk.
 * @last: the last chunk to look at, at least @chunk.
 * @count: set to the length of the run of mapped chunks in consecutive
 *	   slots, or of unmapped chunks, that starts at @chunk (up to @last).
 *
 * Context: any context; takes no lock.
 * Return: the slot of @chunk, or %CBW_NO_SLOT.
 */
u64 cbw_map_lookup_run(struct cbw_map *map, u64 chunk, u64 last, u64 *count)
{
	struct map_view v;
	unsigned int seq;
	u64 slot;

	rcu_read_lock();
	do {
		seq = read_begin(map, &v);
		slot = lookup_run(&v, chunk, last, count);
	} while (read_seqcount_retry(&map->seq, seq));
	rcu_read_unlock();
	return slot;
}

/**
 * cbw_map_next_mapped() - the first mapped chunk in a range.
 * @map: the map.
 * @from: the first chunk to look at.
 * @last: the last chunk to look at.
 *
 * Context: any context; takes no lock.
 * Return: the first chunk in [@from, @last] with a slot, or @last + 1.
 */
u64 cbw_map_next_mapped(struct cbw_map *map, u64 from, u64 last)
{
	struct map_view v;
	unsigned int seq;
	u64 k;

	rcu_read_lock();
	do {
		seq = read_begin(map, &v);
		k = next_mapped(&v, from, last);
	} while (read_seqcount_retry(&map->seq, seq));
	rcu_read_unlock();
	return k;
}

/*
 * The fast reader's section.  On PREEMPT_RT a reader of a sequence count
 * that sees a write under way takes the writer's lock, which sleeps
 * there: it must stay preemptible, so plain RCU it is.
 */
static __always_inline void fast_read_lock(void)
{
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		rcu_read_lock();
	else
		rcu_read_lock_sched();
}

static __always_inline void fast_read_unlock(void)
{
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		rcu_read_unlock();
	else
		rcu_read_unlock_sched();
}

/**
 * cbw_map_test() - whether a chunk has a slot.
 * @map: the map.
 * @chunk: the chunk.
 *
 * The question of every guest write, so it is kept short: the search
 * runs with preemption disabled (rcu_read_lock_sched(), inline), not in
 * rcu_read_lock() (two calls with preemptible RCU), but on PREEMPT_RT.
 * Since v5.0 a grace period also waits for code that runs with
 * preemption disabled, so kfree_rcu() and kvfree_rcu() cover this reader
 * as well.
 *
 * Context: any context; takes no lock.
 * Return: true if @chunk has a slot.
 */
bool cbw_map_test(struct cbw_map *map, u64 chunk)
{
	struct map_view v;
	unsigned int seq;
	bool r;

	fast_read_lock();
	do {
		seq = read_begin(map, &v);
		r = has_slot(&v, chunk);
	} while (read_seqcount_retry(&map->seq, seq));
	fast_read_unlock();
	return r;
}

/**
 * cbw_map_next_unmapped() - the first chunk without a slot in a range.
 * @map: the map.
 * @from: the first chunk to look at.
 * @last: the last chunk to look at.
 *
 * Context: any context; takes no lock.
 * Return: the first chunk in [@from, @last] without a slot, or @last + 1.
 */
u64 cbw_map_next_unmapped(struct cbw_map *map, u64 from, u64 last)
{
	struct map_view v;
	unsigned int seq;
	u64 k;

	rcu_read_lock();
	do {
		seq = read_begin(map, &v);
		k = next_unmapped(&v, from, last);
	} while (read_seqcount_retry(&map->seq, seq));
	rcu_read_unlock();
	return k;
}

/**
 * cbw_map_count() - how many chunks of a range have a slot.
 * @map: the map.
 * @first: the first chunk.
 * @last: the last chunk.
 *
 * Context: any context; takes no lock.
 * Return: the number of mapped chunks in [@first, @last].
 */
u64 cbw_map_count(struct cbw_map *map, u64 first, u64 last)
{
	struct map_view v;
	unsigned int seq;
	u64 n;

	rcu_read_lock();
	do {
		seq = read_begin(map, &v);
		n = count_mapped(&v, first, last);
	} while (read_seqcount_retry(&map->seq, seq));
	rcu_read_unlock();
	return n;
}

/*
 * Take the first entry in [@k, @last] out, with the entries after it in
 * its leaf whose chunks and slots both follow on.  Return: the number of
 * entries taken (0 if none), their first chunk and slot, and an emptied
 * leaf to free in *@empty.
 */
static u64 take_run(struct cbw_map *map, u64 k, u64 last, u64 *chunk,
		    u64 *slot, struct map_leaf **empty)
{
	struct map_leaf *leaf;
	struct map_view v;
	unsigned int p, q;
	unsigned long flags;
	u64 n = 0, base;
	size_t i;

	*empty = NULL;
	spin_lock_irqsave(&map->lock, flags);
	write_seqcount_begin(&map->seq);
	v = wview(map);
	if (!locate(&v, k, &i, &p) || key_at(&v, i, p) > last)
		goto out;
	leaf = wleaf(v.r, i);
	base = v.r[i].base;
	for (q = p + 1; q < leaf->nr; q++)
		if (base + e_delta(leaf->e[q]) > last ||
		    e_delta(leaf->e[q]) != e_delta(leaf->e[q - 1]) + 1 ||
		    e_slot(leaf->e[q]) != e_slot(leaf->e[q - 1]) + 1)
			break;
	*chunk = key_at(&v, i, p);
	*slot = e_slot(leaf->e[p]);
	n = q - p;
	memmove(&leaf->e[p], &leaf->e[q], (leaf->nr - q) * sizeof(u64));
	leaf->nr -= n;
	map->entries -= n;
	if (leaf->nr) {
		retag(v.r, i);
	} else {
		del_ref(map, i);
		*empty = leaf;
	}
out:
	write_seqcount_end(&map->seq);
	spin_unlock_irqrestore(&map->lock, flags);
	return n;
}

/**
 * cbw_map_remove() - forget the slots of the chunks in a range.
 * @map: the map.
 * @first: the first chunk.
 * @last: the last chunk.
 * @fn: called, without the lock, with each run of adjacent slots removed,
 *	in chunk order.  May be NULL.
 * @ctx: passed to @fn.
 *
 * Context: process context if @fn sleeps, else any context.
 */
void cbw_map_remove(struct cbw_map *map, u64 first, u64 last,
		    void (*fn)(void *ctx, u64 slot, u64 count), void *ctx)
{
	u64 k = first, run = 0, len = 0, chunk, slot, n;
	struct map_leaf *empty;

	while (k <= last) {
		n = take_run(map, k, last, &chunk, &slot, &empty);
		if (!n)
			break;
		/* Readers that found the leaf before may still read it. */
		if (empty)
			kfree_rcu(empty, rcu);
		k = chunk + n;
		if (len && slot == run + len) {
			len += n;
			continue;
		}
		if (len && fn)
			fn(ctx, run, len);
		run = slot;
		len = n;
	}
	if (len && fn)
		fn(ctx, run, len);
}

/**
 * cbw_map_entries() - number of mapped chunks.
 * @map: the map.
 *
 * Context: any context.
 * Return: the number of entries.
 */
u64 cbw_map_entries(struct cbw_map *map)
{
	unsigned long flags;
	u64 n;

	spin_lock_irqsave(&map->lock, flags);
	n = map->entries;
	spin_unlock_irqrestore(&map->lock, flags);
	return n;
}

/**
 * cbw_map_bytes() - memory held by the map.
 * @map: the map.
 *
 * Context: any context.
 * Return: bytes.
 */
size_t cbw_map_bytes(struct cbw_map *map)
{
	struct map_index *idx;
	unsigned long flags;
	size_t n;

	spin_lock_irqsave(&map->lock, flags);
	idx = windex(map);
	n = sizeof(*map) + (map->nr_refs + map->nr_spare) * LEAF_BYTES +
	    (idx ? struct_size(idx, r, idx->cap) : 0);
	spin_unlock_irqrestore(&map->lock, flags);
	return n;
}
