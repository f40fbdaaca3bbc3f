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
 * A leaf is one 4 KiB block holding up to LEAF_CAP (511) entries, sorted
 * by chunk; an entry packs the chunk's offset from the leaf's base (32
 * bits) and the slot (32 bits).  Because the offset is in the high bits,
 * entries sort as plain integers.  The index refs[] is one sorted array
 * of (base, leaf), 16 bytes per leaf.
 *
 * Invariants (under @lock):
 *  - refs[] is sorted by base, strictly;
 *  - every entry of leaf i has a chunk in [refs[i].base, refs[i + 1].base)
 *    and an offset below MAX_DELTA, and the entries of a leaf are sorted
 *    and distinct;
 *  - no leaf in refs[] is empty.
 *
 * Costs.  A lookup is a binary search in refs[] and one in the leaf.  An
 * insertion moves at most a leaf's entries; a full leaf splits in two
 * halves, except that a chunk beyond a full leaf's last entry starts a
 * new leaf (so chunks copied in ascending order fill leaves completely).
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
 * time grows with the map (16 bytes per 511 copied chunks).
 */

#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "dm-cbw-map.h"

#define LEAF_BYTES	4096
#define SLOT_BITS	32
#define SLOT_MASK	(CBW_MAP_MAX_SLOTS - 1)
#define MAX_DELTA	BIT_ULL(64 - SLOT_BITS)

/*
 * struct map_leaf - a block of sorted entries.
 * @next: the next spare leaf, while the leaf is in the spare list.
 * @nr: number of entries, while the leaf is in refs[].
 * @e: the entries, (chunk - base) << SLOT_BITS | slot.
 */
struct map_leaf {
	union {
		struct map_leaf *next;
		unsigned int nr;
	};
	u64 e[];
};

#define LEAF_CAP	((LEAF_BYTES - offsetof(struct map_leaf, e)) / sizeof(u64))

struct leaf_ref {
	u64 base;
	struct map_leaf *leaf;
};

/**
 * struct cbw_map - the chunk map.
 * @lock: protects every field below.
 * @refs: the leaves, sorted by base; @nr_refs used, @cap allocated.
 * @nr_refs: see @refs.
 * @cap: see @refs; at least @nr_refs + @nr_spare.
 * @spare: leaves allocated for the next insertion, linked by @next.
 * @nr_spare: number of @spare leaves.
 * @entries: number of entries in all leaves.
 */
struct cbw_map {
	spinlock_t lock;		/* see above */
	struct leaf_ref *refs;
	size_t nr_refs;
	size_t cap;
	struct map_leaf *spare;
	size_t nr_spare;
	u64 entries;
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

/* Index of the last leaf whose base is at most @key, or -1. */
static long find_ref(const struct cbw_map *map, u64 key)
{
	size_t lo = 0, hi = map->nr_refs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (map->refs[mid].base <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* Index of the first entry of @leaf at offset @delta or beyond. */
static unsigned int leaf_lower(const struct map_leaf *leaf, u64 delta)
{
	unsigned int lo = 0, hi = leaf->nr, mid;
	u64 e;

	if (delta >= MAX_DELTA)
		return leaf->nr;
	e = mk_entry(delta, 0);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (leaf->e[mid] < e)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline u64 key_at(const struct cbw_map *map, size_t i, unsigned int p)
{
	return map->refs[i].base + e_delta(map->refs[i].leaf->e[p]);
}

/*
 * The first entry whose chunk is @key or beyond: leaf *@i, entry *@p.
 * Return: false if there is none.
 */
static bool locate(const struct cbw_map *map, u64 key, size_t *i,
		   unsigned int *p)
{
	long r = find_ref(map, key);

	if (r < 0) {
		*i = 0;
		*p = 0;
	} else {
		*i = r;
		*p = leaf_lower(map->refs[r].leaf, key - map->refs[r].base);
		if (*p == map->refs[r].leaf->nr) {
			(*i)++;
			*p = 0;
		}
	}
	return *i < map->nr_refs;
}

/* The last entry of the run of consecutive chunks that starts at @p. */
static unsigned int run_end(const struct map_leaf *leaf, unsigned int p)
{
	unsigned int lo = p, hi = leaf->nr - 1, mid;
	u64 d = e_delta(leaf->e[p]);

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

	if (map)
		spin_lock_init(&map->lock);
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
	struct map_leaf *leaf;
	size_t i;

	if (!map)
		return;
	for (i = 0; i < map->nr_refs; i++)
		kfree(map->refs[i].leaf);
	while (map->spare) {
		leaf = map->spare;
		map->spare = leaf->next;
		kfree(leaf);
	}
	kvfree(map->refs);
	kfree(map);
}

/*
 * Make sure @need spare leaves exist and refs[] has room for all of them.
 * The caller is the only writer, so nothing takes them meanwhile.
 */
static int reserve(struct cbw_map *map, size_t need)
{
	unsigned int noio = memalloc_noio_save();
	struct leaf_ref *refs, *old;
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
		spin_lock_irqsave(&map->lock, flags);
		leaf->next = map->spare;
		map->spare = leaf;
		map->nr_spare++;
		spin_unlock_irqrestore(&map->lock, flags);
	}

	spin_lock_irqsave(&map->lock, flags);
	want = map->nr_refs + map->nr_spare;
	cap = map->cap;
	spin_unlock_irqrestore(&map->lock, flags);
	if (cap < want) {
		cap = max3(want, cap * 2, (size_t)16);
		refs = kvmalloc_array(cap, sizeof(*refs), GFP_KERNEL);
		if (!refs)
			goto out;
		spin_lock_irqsave(&map->lock, flags);
		old = map->refs;
		if (map->nr_refs)
			memcpy(refs, old, map->nr_refs * sizeof(*refs));
		map->refs = refs;
		map->cap = cap;
		spin_unlock_irqrestore(&map->lock, flags);
		kvfree(old);
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

/* Put @leaf into refs[] at @i with base @base; refs[] has room. */
static void add_ref(struct cbw_map *map, size_t i, u64 base,
		    struct map_leaf *leaf)
{
	memmove(&map->refs[i + 1], &map->refs[i],
		(map->nr_refs - i) * sizeof(*map->refs));
	map->refs[i].base = base;
	map->refs[i].leaf = leaf;
	map->nr_refs++;
}

static void del_ref(struct cbw_map *map, size_t i)
{
	map->nr_refs--;
	memmove(&map->refs[i], &map->refs[i + 1],
		(map->nr_refs - i) * sizeof(*map->refs));
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
	struct map_leaf *left = map->refs[i].leaf, *right = take_spare(map);
	unsigned int h = left->nr / 2, j;
	u64 shift;

	if (!right)
		return false;
	shift = e_delta(left->e[h]);
	for (j = h; j < left->nr; j++)
		right->e[j - h] = left->e[j] - mk_entry(shift, 0);
	right->nr = left->nr - h;
	left->nr = h;
	add_ref(map, i + 1, map->refs[i].base + shift, right);
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
	struct map_leaf *leaf = map->refs[0].leaf;
	u64 up = map->refs[0].base - key;
	unsigned int j;

	if (leaf->nr == LEAF_CAP ||
	    up + e_delta(leaf->e[leaf->nr - 1]) >= MAX_DELTA)
		return false;
	for (j = 0; j < leaf->nr; j++)
		leaf->e[j] += mk_entry(up, 0);
	map->refs[0].base = key;
	return true;
}

/* Insert one entry that is not in the map; false only on a bug. */
static bool insert_one(struct cbw_map *map, u64 key, u64 slot)
{
	struct map_leaf *leaf;
	unsigned int p;
	long r = find_ref(map, key);
	size_t i;
	u64 d;

	if (r < 0) {
		if (!map->nr_refs || !rebase_first(map, key))
			return new_leaf_at(map, 0, key, slot);
		r = 0;
	}
	i = r;
	leaf = map->refs[i].leaf;
	d = key - map->refs[i].base;
	/* Every entry of the leaf is below @key: start a leaf after it. */
	if (d >= MAX_DELTA)
		return new_leaf_at(map, i + 1, key, slot);
	p = leaf_lower(leaf, d);
	if (leaf->nr == LEAF_CAP) {
		if (p == leaf->nr)
			return new_leaf_at(map, i + 1, key, slot);
		if (!split(map, i))
			return false;
		/* At p == h the chunk lies below the right leaf's base. */
		if (p > leaf->nr) {
			p -= leaf->nr;
			i++;
			leaf = map->refs[i].leaf;
			d = key - map->refs[i].base;
		}
	}
	leaf_put(leaf, p, mk_entry(d, slot));
	return true;
}

/* Remove the entry of @key, which is in the map; return an emptied leaf. */
static struct map_leaf *remove_one(struct cbw_map *map, u64 key)
{
	struct map_leaf *leaf;
	unsigned int p;
	size_t i;

	if (WARN_ON_ONCE(!locate(map, key, &i, &p) || key_at(map, i, p) != key))
		return NULL;
	leaf = map->refs[i].leaf;
	leaf->nr--;
	memmove(&leaf->e[p], &leaf->e[p + 1], (leaf->nr - p) * sizeof(u64));
	if (leaf->nr)
		return NULL;
	del_ref(map, i);
	return leaf;
}

/* Are @need spare leaves there, with room for them in refs[]? */
static bool reserved(struct cbw_map *map, size_t need)
{
	unsigned long flags;
	bool r;

	spin_lock_irqsave(&map->lock, flags);
	r = map->nr_spare >= need && map->cap >= map->nr_refs + map->nr_spare;
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
	for (n = 0; n < count; n++)
		if (!insert_one(map, chunk + n, slot + n))
			break;
	if (n == count) {
		map->entries += count;
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
 * Context: any context.
 * Return: the slot of @chunk, or %CBW_NO_SLOT.
 */
u64 cbw_map_lookup_run(struct cbw_map *map, u64 chunk, u64 last, u64 *count)
{
	const struct map_leaf *leaf;
	u64 slot = CBW_NO_SLOT, k;
	unsigned long flags;
	unsigned int p;
	size_t i;

	spin_lock_irqsave(&map->lock, flags);
	if (!locate(map, chunk, &i, &p) || key_at(map, i, p) != chunk) {
		k = i < map->nr_refs ? key_at(map, i, p) : U64_MAX;
		*count = min(k, last + 1) - chunk;
		goto out;
	}
	slot = e_slot(map->refs[i].leaf->e[p]);
	/* Slots need not follow on where chunks do: step, don't search. */
	for (k = chunk + 1; k <= last; k++) {
		leaf = map->refs[i].leaf;
		if (++p == leaf->nr) {
			if (++i == map->nr_refs)
				break;
			p = 0;
		}
		if (key_at(map, i, p) != k ||
		    e_slot(map->refs[i].leaf->e[p]) != slot + (k - chunk))
			break;
	}
	*count = k - chunk;
out:
	spin_unlock_irqrestore(&map->lock, flags);
	return slot;
}

/**
 * cbw_map_next_mapped() - the first mapped chunk in a range.
 * @map: the map.
 * @from: the first chunk to look at.
 * @last: the last chunk to look at.
 *
 * Context: any context.
 * Return: the first chunk in [@from, @last] with a slot, or @last + 1.
 */
u64 cbw_map_next_mapped(struct cbw_map *map, u64 from, u64 last)
{
	u64 k = last + 1;
	unsigned long flags;
	unsigned int p;
	size_t i;

	spin_lock_irqsave(&map->lock, flags);
	if (from <= last && locate(map, from, &i, &p))
		k = min(key_at(map, i, p), last + 1);
	spin_unlock_irqrestore(&map->lock, flags);
	return k;
}

/**
 * cbw_map_next_unmapped() - the first chunk without a slot in a range.
 * @map: the map.
 * @from: the first chunk to look at.
 * @last: the last chunk to look at.
 *
 * Context: any context.
 * Return: the first chunk in [@from, @last] without a slot, or @last + 1.
 */
u64 cbw_map_next_unmapped(struct cbw_map *map, u64 from, u64 last)
{
	const struct map_leaf *leaf;
	unsigned long flags;
	unsigned int p;
	u64 k = from;
	size_t i;

	spin_lock_irqsave(&map->lock, flags);
	while (k <= last) {
		if (!locate(map, k, &i, &p) || key_at(map, i, p) != k)
			break;
		if (k == last) {	/* no need to find where the run ends */
			k++;
			break;
		}
		leaf = map->refs[i].leaf;
		k = key_at(map, i, run_end(leaf, p)) + 1;
	}
	spin_unlock_irqrestore(&map->lock, flags);
	return min(k, last + 1);
}

/**
 * cbw_map_count() - how many chunks of a range have a slot.
 * @map: the map.
 * @first: the first chunk.
 * @last: the last chunk.
 *
 * Context: any context.
 * Return: the number of mapped chunks in [@first, @last].
 */
u64 cbw_map_count(struct cbw_map *map, u64 first, u64 last)
{
	const struct map_leaf *leaf;
	unsigned int p, end;
	unsigned long flags;
	u64 n = 0, base;
	size_t i;

	spin_lock_irqsave(&map->lock, flags);
	if (first > last || !locate(map, first, &i, &p))
		goto out;
	for (; i < map->nr_refs; i++, p = 0) {
		base = map->refs[i].base;
		leaf = map->refs[i].leaf;
		if (base > last)
			break;
		end = last - base >= MAX_DELTA ? leaf->nr :
			leaf_lower(leaf, last - base + 1);
		n += end - p;
		if (end < leaf->nr)
			break;
	}
out:
	spin_unlock_irqrestore(&map->lock, flags);
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
	unsigned int p, q;
	unsigned long flags;
	u64 n = 0, base;
	size_t i;

	*empty = NULL;
	spin_lock_irqsave(&map->lock, flags);
	if (!locate(map, k, &i, &p) || key_at(map, i, p) > last)
		goto out;
	leaf = map->refs[i].leaf;
	base = map->refs[i].base;
	for (q = p + 1; q < leaf->nr; q++)
		if (base + e_delta(leaf->e[q]) > last ||
		    e_delta(leaf->e[q]) != e_delta(leaf->e[q - 1]) + 1 ||
		    e_slot(leaf->e[q]) != e_slot(leaf->e[q - 1]) + 1)
			break;
	*chunk = key_at(map, i, p);
	*slot = e_slot(leaf->e[p]);
	n = q - p;
	memmove(&leaf->e[p], &leaf->e[q], (leaf->nr - q) * sizeof(u64));
	leaf->nr -= n;
	map->entries -= n;
	if (!leaf->nr) {
		del_ref(map, i);
		*empty = leaf;
	}
out:
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
		kfree(empty);
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
	unsigned long flags;
	size_t n;

	spin_lock_irqsave(&map->lock, flags);
	n = sizeof(*map) + (map->nr_refs + map->nr_spare) * LEAF_BYTES +
	    map->cap * sizeof(*map->refs);
	spin_unlock_irqrestore(&map->lock, flags);
	return n;
}
