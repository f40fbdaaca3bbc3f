// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of module/dm-cbw-bitmap.c, compiled here as it is, against the
 * userspace shim in shim/.  The file is included, so that the test can
 * walk the tree and check the invariants of the design comment.
 *
 * A flat bitmap is the model: every change goes to both and the answers
 * are compared after each one (set/clear return values, weight, test,
 * next_set, next_clear; the whole content and the invariants too while
 * the size allows).  Sizes sit on and around the level boundaries.  Then
 * targeted checks: the reserve and -ENOMEM with nothing changed, memory
 * back to the minimum, grow, bad arguments, 2^34 and larger bitmaps, and
 * lock-free readers racing a writer.
 *
 * The seed is printed; CBW_TEST_SEED=N repeats a run.
 */

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../module/dm-cbw-bitmap.c"

#include "tap.h"
#include "../shim/rng.h"

/* The sanitizer build is slower: it runs a third of the random ops. */
#ifdef __SANITIZE_ADDRESS__
#define BUILD_NAME	"asan+ubsan"
#define OPS(n)		((n) / 3)
#else
#define BUILD_NAME	"plain"
#define OPS(n)		(n)
#endif

/* What a node of level 1, 2, 3 covers. */
#define SPAN1	(1ULL << (LEAF_SHIFT + FAN_SHIFT))
#define SPAN2	(1ULL << (LEAF_SHIFT + 2 * FAN_SHIFT))
#define SPAN3	(1ULL << (LEAF_SHIFT + 3 * FAN_SHIFT))

/* Full content compare after each change up to this size. */
#define FULL_CHECK_BITS	(1ULL << 20)


/* ---- The model: a flat bitmap ------------------------------------------- */

/*
 * Plain words, plus the number of set bits in each block of 64 words so
 * that searches over long uniform runs of a 2^24-bit model stay quick.
 */
#define BLOCK_WORDS	64
#define BLOCK_BITS	(BLOCK_WORDS * 64)

struct model {
	u64 nbits;
	u64 *w;
	u32 *count;
	u64 weight;
};

static u64 words_for(u64 nbits)
{
	return (nbits + 63) / 64;
}

static u64 blocks_for(u64 nbits)
{
	return (nbits + BLOCK_BITS - 1) / BLOCK_BITS;
}

/* Live bits in block @b. */
static u64 block_bits(const struct model *m, u64 b)
{
	u64 left = m->nbits - b * BLOCK_BITS;

	return left < BLOCK_BITS ? left : BLOCK_BITS;
}

static void model_alloc(struct model *m, u64 nbits)
{
	/* Whole blocks of words, so that the last block is all there. */
	u64 n = blocks_for(nbits) * BLOCK_WORDS;

	m->w = realloc(m->w, (n ? n : 1) * 8);
	m->count = realloc(m->count, (n ? n / BLOCK_WORDS : 1) * 4);
	if (!m->w || !m->count)
		abort();
}

/* Set or clear the bits of @mask in word @i; returns how many changed. */
static unsigned int model_word(struct model *m, u64 i, u64 mask, bool set)
{
	u64 old = m->w[i];
	u64 new = set ? old | mask : old & ~mask;
	unsigned int d;

	if (old == new)
		return 0;
	d = __builtin_popcountll(old ^ new);
	if (set)
		m->count[i / BLOCK_WORDS] += d;
	else
		m->count[i / BLOCK_WORDS] -= d;
	m->w[i] = new;
	return d;
}

/* Set or clear [s, e); returns the number of bits that changed. */
static u64 model_change(struct model *m, u64 s, u64 e, bool set)
{
	u64 changed = 0, i, last;

	if (s >= e)
		return 0;
	i = s / 64;
	last = (e - 1) / 64;
	if (i == last) {
		changed = model_word(m, i, (~0ULL >> (63 - (e - 1) % 64)) &
					   (~0ULL << (s % 64)), set);
	} else {
		changed = model_word(m, i, ~0ULL << (s % 64), set);
		for (i++; i < last; i++) {
			/* Whole words: the common case is nothing to do. */
			if (m->w[i] != (set ? ~0ULL : 0))
				changed += model_word(m, i, ~0ULL, set);
		}
		changed += model_word(m, last, ~0ULL >> (63 - (e - 1) % 64), set);
	}
	if (set)
		m->weight += changed;
	else
		m->weight -= changed;
	return changed;
}

static void model_init(struct model *m, u64 nbits, bool set)
{
	m->w = NULL;
	m->count = NULL;
	model_alloc(m, nbits);
	memset(m->w, 0, blocks_for(nbits) * BLOCK_WORDS * 8);
	memset(m->count, 0, blocks_for(nbits) * 4);
	m->nbits = nbits;
	m->weight = 0;
	if (set)
		model_change(m, 0, nbits, true);
}

static void model_free(struct model *m)
{
	free(m->w);
	free(m->count);
	m->w = NULL;
	m->count = NULL;
}

static bool model_test(const struct model *m, u64 b)
{
	return m->w[b / 64] >> (b % 64) & 1;
}

static u64 model_next(const struct model *m, u64 from, bool set)
{
	u64 i, w;

	if (from >= m->nbits)
		return m->nbits;
	i = from / 64;
	w = (set ? m->w[i] : ~m->w[i]) & (~0ULL << (from % 64));
	while (!w) {
		if (++i >= words_for(m->nbits))
			return m->nbits;
		/* At a block boundary, skip the blocks without a match. */
		while (!(i % BLOCK_WORDS) && i < words_for(m->nbits)) {
			u64 b = i / BLOCK_WORDS;

			if (m->count[b] != (set ? 0 : block_bits(m, b)))
				break;
			i += BLOCK_WORDS;
		}
		if (i >= words_for(m->nbits))
			return m->nbits;
		w = set ? m->w[i] : ~m->w[i];
	}
	from = i * 64 + __builtin_ctzll(w);
	return from < m->nbits ? from : m->nbits;
}

/* New bits are clear: the words beyond the old size always were. */
static void model_grow(struct model *m, u64 nbits)
{
	u64 old = blocks_for(m->nbits);

	model_alloc(m, nbits);
	memset(m->w + old * BLOCK_WORDS, 0,
	       (blocks_for(nbits) - old) * BLOCK_WORDS * 8);
	memset(m->count + old, 0, (blocks_for(nbits) - old) * 4);
	m->nbits = nbits;
}

/* ---- Looking inside the tree -------------------------------------------- */

/* Failure context: the first failed check of a test says what and where. */
static char why[1024];

#define FAIL(...) ({ snprintf(why, sizeof(why), __VA_ARGS__); false; })

struct tree_count {
	unsigned long leaves;
	unsigned long inodes;
};

/*
 * Whether the live bits below a node are all equal, worked out here
 * rather than with the code under test.
 */
static bool leaf_uniform(const struct cbw_leaf *leaf, u64 base, u64 limit)
{
	u64 b, end = min(base + LEAF_BITS, limit);
	bool first = leaf->word[0] & 1;

	for (b = base; b < end; b++)
		if ((leaf->word[(b - base) / 64] >> ((b - base) % 64) & 1) != first)
			return false;
	return true;
}

static bool inode_uniform(struct cbw_inode *n, u64 base, u64 limit)
{
	void *first = slot_load(&n->slot[0]);
	unsigned int i;

	if (!is_tag(first))
		return false;
	for (i = 1; i < FANOUT; i++) {
		if (base + ((u64)i << level_shift(n->level - 1)) >= limit)
			break;
		if (slot_load(&n->slot[i]) != first)
			return false;
	}
	return true;
}

/* Invariants 1, 2, 3 and 5 of the design comment, below slot @p. */
static bool check_slot(void *p, unsigned int level, u64 base, u64 limit,
		       struct tree_count *tc)
{
	struct cbw_inode *n = p;
	unsigned int i;

	if (is_tag(p))
		return true;
	if (!level) {
		tc->leaves++;
		if (leaf_uniform(p, base, limit))
			return FAIL("uniform leaf at %llu", (unsigned long long)base);
		return true;
	}
	tc->inodes++;
	if (n->level != level)
		return FAIL("node at %llu has level %u, not %u",
			    (unsigned long long)base, n->level, level);
	for (i = 0; i < FANOUT; i++) {
		void *c = slot_load(&n->slot[i]);
		u64 cbase = base + ((u64)i << level_shift(level - 1));
		bool node = n->map >> i & 1, full = n->map >> (FANOUT + i) & 1;

		if (node != !is_tag(c) || full != (c == FULL))
			return FAIL("map of the node at %llu (level %u) wrong for slot %u",
				    (unsigned long long)base, level, i);
		if (cbase >= limit && !is_tag(c))
			return FAIL("node beyond the size at %llu",
				    (unsigned long long)cbase);
		if (!check_slot(c, level - 1, cbase, limit, tc))
			return false;
	}
	if (inode_uniform(n, base, limit))
		return FAIL("uniform node at %llu (level %u)",
			    (unsigned long long)base, level);
	return true;
}

static bool check_tree(struct cbw_bitmap *bm)
{
	struct tree_count tc = { 0, 0 };
	void *root = slot_load(&bm->root);

	if (bm->height != height_for(bm->nbits))
		return FAIL("height %u for %llu bits", bm->height,
			    (unsigned long long)bm->nbits);
	if (!check_slot(root, bm->height, 0, bm->nbits, &tc))
		return false;
	if (tc.leaves != bm->tree_leaves || tc.inodes != bm->tree_inodes)
		return FAIL("node counts %lu/%lu, tree has %lu/%lu",
			    bm->tree_leaves, bm->tree_inodes, tc.leaves,
			    tc.inodes);
	return true;
}

/* Write the live bits below slot @p into the flat @out. */
static void expand(void *p, unsigned int level, u64 base, u64 limit,
		   struct model *out)
{
	struct cbw_inode *n = p;
	u64 end = min(base + level_span(level), limit);
	unsigned int i;

	if (base >= limit)
		return;
	if (is_tag(p)) {
		model_change(out, base, end, p == FULL);
		return;
	}
	if (!level) {
		struct cbw_leaf *leaf = p;
		u64 k;

		/* Leaves start on a word of the model; mask the padding. */
		for (k = 0; k < (end - base + 63) / 64; k++) {
			u64 left = end - base - k * 64;

			out->w[base / 64 + k] = leaf->word[k] &
				(left >= 64 ? ~0ULL : (1ULL << left) - 1);
		}
		return;
	}
	for (i = 0; i < FANOUT; i++)
		expand(slot_load(&n->slot[i]), level - 1,
		       base + ((u64)i << level_shift(level - 1)), limit, out);
}

static bool check_content(struct cbw_bitmap *bm, const struct model *m)
{
	struct model got;
	u64 i;

	model_init(&got, m->nbits, false);
	expand(slot_load(&bm->root), bm->height, 0, bm->nbits, &got);
	for (i = 0; i < words_for(m->nbits); i++) {
		if (got.w[i] != m->w[i]) {
			model_free(&got);
			return FAIL("content differs in word %llu: %#llx, model %#llx",
				    (unsigned long long)i,
				    (unsigned long long)got.w[i],
				    (unsigned long long)m->w[i]);
		}
	}
	model_free(&got);
	return true;
}

static size_t reserve_bytes(const struct cbw_bitmap *bm)
{
	return bm->nr_free_leaves * sizeof(struct cbw_leaf) +
	       bm->nr_free_inodes * sizeof(struct cbw_inode);
}

/* The memory of a bitmap without nodes in its tree. */
static bool check_minimal(const struct cbw_bitmap *bm)
{
	if (bm->tree_leaves || bm->tree_inodes)
		return FAIL("%lu leaves and %lu nodes left in the tree",
			    bm->tree_leaves, bm->tree_inodes);
	if (cbw_bitmap_bytes(bm) != sizeof(*bm) + reserve_bytes(bm))
		return FAIL("bytes() %zu, expected %zu", cbw_bitmap_bytes(bm),
			    sizeof(*bm) + reserve_bytes(bm));
	return true;
}

/* ---- Comparing answers -------------------------------------------------- */

static bool check_point(struct cbw_bitmap *bm, const struct model *m, u64 b)
{
	u64 r, want;

	if (b < m->nbits && cbw_bitmap_test(bm, b) != model_test(m, b))
		return FAIL("test(%llu) is %d", (unsigned long long)b,
			    cbw_bitmap_test(bm, b));
	r = cbw_bitmap_next_set(bm, b);
	want = model_next(m, b, true);
	if (r != want)
		return FAIL("next_set(%llu) = %llu, model %llu",
			    (unsigned long long)b, (unsigned long long)r,
			    (unsigned long long)want);
	r = cbw_bitmap_next_clear(bm, b);
	want = model_next(m, b, false);
	if (r != want)
		return FAIL("next_clear(%llu) = %llu, model %llu",
			    (unsigned long long)b, (unsigned long long)r,
			    (unsigned long long)want);
	return true;
}

/* A point of interest: random, or just around a level boundary. */
static u64 pick_point(u64 n)
{
	static const u64 units[] = { 64, 512, 1ULL << 14, 1ULL << 19 };
	u64 unit = units[rnd_below(4)];

	if (rnd() & 1)
		return rnd_below(n + 2);
	return rnd_below(n / unit + 1) * unit + rnd_below(3) - 1;
}

static bool check_answers(struct cbw_bitmap *bm, const struct model *m,
			  u64 s, u64 e)
{
	u64 pts[] = { 0, s - 1, s, s + 1, e - 1, e, e + 1, m->nbits - 1,
		      m->nbits, pick_point(m->nbits), pick_point(m->nbits),
		      pick_point(m->nbits), pick_point(m->nbits) };
	unsigned int i;

	if (cbw_bitmap_weight(bm) != m->weight)
		return FAIL("weight %llu, model %llu",
			    (unsigned long long)cbw_bitmap_weight(bm),
			    (unsigned long long)m->weight);
	if (cbw_bitmap_size(bm) != m->nbits)
		return FAIL("size %llu, model %llu",
			    (unsigned long long)cbw_bitmap_size(bm),
			    (unsigned long long)m->nbits);
	for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		if (pts[i] > m->nbits + 1)	/* wrapped below 0 */
			continue;
		if (!check_point(bm, m, pts[i]))
			return false;
	}
	return true;
}

/* ---- Random sequences --------------------------------------------------- */

static void pick_range(u64 n, u64 *s, u64 *e)
{
	static const u64 units[] = { 64, 512, 1ULL << 14, 1ULL << 19 };
	u64 unit = units[rnd_below(4)];
	u64 a, b;

	switch (rnd_below(9)) {
	case 0:				/* one bit */
		a = rnd_below(n);
		b = a + 1;
		break;
	case 1:				/* short */
		a = rnd_below(n);
		b = a + 1 + rnd_below(128);
		break;
	case 2:
		a = rnd_below(n);
		b = a + 1 + rnd_below(8192);
		break;
	case 3:				/* anything */
		a = rnd_below(n);
		b = a + rnd_below(n + 1);
		break;
	case 4:				/* everything */
		a = 0;
		b = n;
		break;
	case 5:				/* on and around boundaries */
		a = rnd_below(n / unit + 1) * unit + rnd_below(3) - 1;
		b = a + (rnd_below(4) + 1) * unit + rnd_below(3) - 1;
		break;
	case 6:
		a = rnd_below(n);
		b = n;
		break;
	case 7:
		a = 0;
		b = rnd_below(n + 1);
		break;
	default:			/* nothing */
		a = rnd_below(n + 1);
		b = a;
		break;
	}
	if (a > n)			/* also "-1" wrapped round */
		a = rnd_below(n + 1);
	if (b > n || b < a)
		b = n;
	*s = a;
	*e = b;
}

/*
 * @nops random changes and grows (up to @grow_max bits) on a bitmap of
 * @nbits, compared with the model after each.
 */
static bool run_random(u64 nbits, u64 grow_max, unsigned int nops)
{
	bool set = rnd() & 1;
	struct cbw_bitmap *bm = cbw_bitmap_create(nbits, set, GFP_KERNEL);
	struct model m;
	unsigned int i;
	bool ok = true;

	if (!bm)
		return FAIL("create failed");
	model_init(&m, nbits, set);
	for (i = 0; i < nops && ok; i++) {
		u64 s, e, want;
		bool small;
		s64 r;

		if (grow_max > m.nbits && rnd_below(100) < 3) {
			u64 to = m.nbits + 1 + rnd_below(grow_max - m.nbits);

			if (cbw_bitmap_grow(bm, to, GFP_KERNEL)) {
				ok = FAIL("op %u: grow to %llu failed", i,
					  (unsigned long long)to);
				break;
			}
			model_grow(&m, to);
			s = e = m.nbits;
		} else {
			set = rnd() & 1;
			pick_range(m.nbits, &s, &e);
			if (cbw_bitmap_refill(bm, GFP_KERNEL)) {
				ok = FAIL("op %u: refill failed", i);
				break;
			}
			if (set)
				r = cbw_bitmap_set(bm, s, e - s);
			else
				r = cbw_bitmap_clear(bm, s, e - s);
			want = model_change(&m, s, e, set);
			if (r < 0 || (u64)r != want) {
				ok = FAIL("op %u: %s(%llu, %llu) returned %lld, model %llu",
					  i, set ? "set" : "clear",
					  (unsigned long long)s,
					  (unsigned long long)(e - s),
					  (long long)r, (unsigned long long)want);
				break;
			}
		}
		small = m.nbits <= FULL_CHECK_BITS || i == nops - 1;
		if (!check_answers(bm, &m, s, e) ||
		    ((small || !(i % 32)) && !check_tree(bm)) ||
		    (small && !check_content(bm, &m))) {
			char ctx[900];

			snprintf(ctx, sizeof(ctx), "op %u (%llu bits, [%llu, %llu)): %.700s",
				 i, (unsigned long long)m.nbits,
				 (unsigned long long)s, (unsigned long long)e,
				 why);
			snprintf(why, sizeof(why), "%s", ctx);
			ok = false;
		}
	}

	/* Everything clear, then everything set: no node may remain. */
	if (ok) {
		cbw_bitmap_refill(bm, GFP_KERNEL);
		ok = cbw_bitmap_clear(bm, 0, m.nbits) == (s64)m.weight &&
		     cbw_bitmap_weight(bm) == 0 && check_minimal(bm) &&
		     cbw_bitmap_set(bm, 0, m.nbits) == (s64)m.nbits &&
		     cbw_bitmap_weight(bm) == m.nbits && check_minimal(bm) &&
		     check_tree(bm);
		if (!ok && !why[0])
			FAIL("clearing or setting everything");
	}
	cbw_bitmap_destroy(bm);
	model_free(&m);
	return ok;
}

static void test_random_sizes(void)
{
	static const struct {
		u64 nbits;
		unsigned int nops;
	} sizes[] = {
		{ 0, 50 }, { 1, 200 }, { 2, 200 }, { 63, 400 }, { 64, 400 },
		{ 65, 400 }, { 511, 800 }, { 512, 800 }, { 513, 800 },
		{ 512 * 64 + 23, 800 },
		{ SPAN1 - 1, 1500 }, { SPAN1, 1500 }, { SPAN1 + 1, 1500 },
		{ SPAN2 - 1, 800 }, { SPAN2, 800 }, { SPAN2 + 1, 800 },
		{ SPAN2 * 2 + 12345, 400 },
		{ SPAN3 - 1, 150 }, { SPAN3 + 1, 150 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		why[0] = '\0';
		if (!tap_ok(run_random(sizes[i].nbits, 0, OPS(sizes[i].nops)),
			    "random changes on %llu bits (%u ops)",
			    (unsigned long long)sizes[i].nbits,
			    OPS(sizes[i].nops)))
			tap_diag("%s", why);
	}
}

static void test_random_grow(void)
{
	static const u64 starts[] = { 0, 1, 100, SPAN1, SPAN1 - 5, SPAN2 + 3 };
	unsigned int i;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		why[0] = '\0';
		if (!tap_ok(run_random(starts[i], 1ULL << 21, OPS(600)),
			    "random changes and grows from %llu bits up to 2^21 (%u ops)",
			    (unsigned long long)starts[i], OPS(600)))
			tap_diag("%s", why);
	}
}

/* ---- Targeted checks ---------------------------------------------------- */

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		FAIL("line %d: %s", __LINE__, #cond);			\
		goto out;						\
	}								\
} while (0)

static void test_create(void)
{
	struct cbw_bitmap *bm = NULL;
	bool ok = false;

	why[0] = '\0';
	bm = cbw_bitmap_create(1ULL << 34, true, GFP_KERNEL);
	CHECK(bm);
	CHECK(cbw_bitmap_bytes(bm) == sizeof(*bm));
	CHECK(cbw_bitmap_weight(bm) == 1ULL << 34);
	CHECK(cbw_bitmap_test(bm, 0) && cbw_bitmap_test(bm, (1ULL << 34) - 1));
	CHECK(!cbw_bitmap_test(bm, 1ULL << 34));
	CHECK(cbw_bitmap_next_clear(bm, 0) == 1ULL << 34);
	CHECK(cbw_bitmap_next_set(bm, 5) == 5);
	cbw_bitmap_destroy(bm);

	bm = cbw_bitmap_create(CBW_BITMAP_MAX_BITS, false, GFP_KERNEL);
	CHECK(bm && bm->height == MAX_HEIGHT);
	CHECK(cbw_bitmap_next_set(bm, 0) == CBW_BITMAP_MAX_BITS);
	cbw_bitmap_destroy(bm);

	bm = cbw_bitmap_create(CBW_BITMAP_MAX_BITS + 1, false, GFP_KERNEL);
	CHECK(!bm);
	bm = cbw_bitmap_create(0, true, GFP_KERNEL);
	CHECK(bm && cbw_bitmap_size(bm) == 0 && cbw_bitmap_weight(bm) == 0);
	CHECK(cbw_bitmap_next_set(bm, 0) == 0 && cbw_bitmap_next_clear(bm, 0) == 0);
	CHECK(!cbw_bitmap_test(bm, 0));
	CHECK(cbw_bitmap_set(bm, 0, 0) == 0);
	ok = true;
out:
	cbw_bitmap_destroy(bm);
	if (!tap_ok(ok, "create: any size in O(1) memory, all set or clear"))
		tap_diag("%s", why);
}

static void test_bad_args(void)
{
	struct cbw_bitmap *bm = cbw_bitmap_create(1000, false, GFP_KERNEL);
	bool ok = false;

	why[0] = '\0';
	CHECK(bm && !cbw_bitmap_refill(bm, GFP_KERNEL));
	CHECK(cbw_bitmap_set(bm, 1000, 1) == -EINVAL);
	CHECK(cbw_bitmap_set(bm, 1000, 0) == 0);
	CHECK(cbw_bitmap_set(bm, 0, 1001) == -EINVAL);
	CHECK(cbw_bitmap_clear(bm, 999, 2) == -EINVAL);
	CHECK(cbw_bitmap_set(bm, U64_MAX - 1, 5) == -EINVAL);
	CHECK(cbw_bitmap_set(bm, 5, U64_MAX) == -EINVAL);
	CHECK(cbw_bitmap_weight(bm) == 0 && check_minimal(bm));
	CHECK(cbw_bitmap_grow(bm, 999, GFP_KERNEL) == -EINVAL);
	CHECK(cbw_bitmap_grow(bm, CBW_BITMAP_MAX_BITS + 1, GFP_KERNEL) == -EINVAL);
	CHECK(cbw_bitmap_grow(bm, 1000, GFP_KERNEL) == 0);
	CHECK(cbw_bitmap_size(bm) == 1000);
	CHECK(cbw_bitmap_next_set(bm, U64_MAX) == 1000);
	CHECK(!cbw_bitmap_test(bm, U64_MAX));
	ok = true;
out:
	cbw_bitmap_destroy(bm);
	if (!tap_ok(ok, "bad arguments: -EINVAL, nothing changed"))
		tap_diag("%s", why);
}

/*
 * The worst case for the reserve: a tag root, and both ends of the range
 * inside tags down to the leaves.  One refill must suffice, and the change
 * must use all of it.
 */
static void test_reserve_worst_case(void)
{
	/* Sizes whose last bits sit deep in the last slot at each level. */
	static const u64 sizes[] = { 1000, SPAN1 * 3 + 700, 1ULL << 34,
				     CBW_BITMAP_MAX_BITS };
	struct cbw_bitmap *bm = NULL;
	unsigned int i;
	bool ok = false;

	why[0] = '\0';
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		u64 n = sizes[i];

		bm = cbw_bitmap_create(n, false, GFP_KERNEL);
		CHECK(bm && !cbw_bitmap_refill(bm, GFP_KERNEL));
		CHECK(bm->nr_free_leaves == 2 &&
		      bm->nr_free_inodes == 2 * bm->height - 1);
		CHECK(!cbw_bitmap_reserve_low(bm));
		CHECK(cbw_bitmap_set(bm, 1, n - 2) == (s64)(n - 2));
		CHECK(bm->nr_free_leaves == 0 && bm->nr_free_inodes == 0);
		CHECK(cbw_bitmap_reserve_low(bm));
		CHECK(check_tree(bm));
		CHECK(!cbw_bitmap_test(bm, 0) && cbw_bitmap_test(bm, 1));
		CHECK(cbw_bitmap_test(bm, n - 2) && !cbw_bitmap_test(bm, n - 1));
		CHECK(cbw_bitmap_next_clear(bm, 1) == n - 1);
		CHECK(cbw_bitmap_next_set(bm, n - 1) == n);
		/* And back: the reverse needs nothing. */
		CHECK(cbw_bitmap_clear(bm, 1, n - 2) == (s64)(n - 2));
		CHECK(check_minimal(bm));
		/* A change inside a leaf that exists takes nothing. */
		CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL) && !cbw_bitmap_reserve_low(bm));
		CHECK(cbw_bitmap_set(bm, 5, 1) == 1 && cbw_bitmap_reserve_low(bm));
		CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
		CHECK(cbw_bitmap_set(bm, 6, 1) == 1 && !cbw_bitmap_reserve_low(bm));
		cbw_bitmap_destroy(bm);
		bm = NULL;
	}
	ok = true;
out:
	cbw_bitmap_destroy(bm);
	if (!tap_ok(ok, "reserve: one refill is enough for the worst change; reserve_low says when a change took nodes"))
		tap_diag("%s", why);
}

/* Save everything observable, to check that a failed call changed nothing. */
struct observed {
	u64 weight;
	u64 size;
	size_t bytes;
	unsigned long leaves;
	unsigned long inodes;
};

static void observe(const struct cbw_bitmap *bm, struct observed *o)
{
	o->weight = cbw_bitmap_weight(bm);
	o->size = cbw_bitmap_size(bm);
	o->bytes = cbw_bitmap_bytes(bm);
	o->leaves = bm->tree_leaves;
	o->inodes = bm->tree_inodes;
}

static bool same(const struct observed *a, const struct observed *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void test_enomem(void)
{
	struct cbw_bitmap *bm = NULL;
	struct observed before, after;
	struct model m;
	unsigned int k, failed = 0, succeeded = 0;
	bool ok = false;
	s64 r;

	why[0] = '\0';
	model_init(&m, SPAN2 + 77, false);

	/* No refill: a change that needs nodes fails, one that does not works. */
	bm = cbw_bitmap_create(m.nbits, false, GFP_KERNEL);
	CHECK(bm);
	observe(bm, &before);
	CHECK(cbw_bitmap_set(bm, 12345, 1) == -ENOMEM);
	observe(bm, &after);
	CHECK(same(&before, &after) && !cbw_bitmap_test(bm, 12345));
	CHECK(cbw_bitmap_set(bm, 0, m.nbits) == (s64)m.nbits);
	CHECK(cbw_bitmap_clear(bm, 0, m.nbits) == (s64)m.nbits);
	CHECK(check_minimal(bm));

	/* A reserve one node short. */
	CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
	bm->nr_free_inodes--;
	{
		struct cbw_inode *n = bm->free_inodes;

		bm->free_inodes = n->next;
		kmem_cache_free(inode_cache, n);
	}
	observe(bm, &before);
	CHECK(cbw_bitmap_set(bm, 1, m.nbits - 2) == -ENOMEM);
	observe(bm, &after);
	CHECK(same(&before, &after) && cbw_bitmap_next_set(bm, 0) == m.nbits);
	CHECK(check_tree(bm));

	/*
	 * Every allocation of a refill fails in turn (the refill of an empty
	 * reserve makes 2 leaves and 5 nodes for this height).  The worst
	 * change, which needs all 7, fails with nothing changed until the
	 * refill is complete; a random change on a random bitmap either works
	 * or fails with nothing changed.
	 */
	for (k = 1; k <= 16; k++) {
		u64 s = rnd_below(m.nbits), e = s + 1 + rnd_below(m.nbits - s);
		bool set = rnd() & 1;

		cbw_bitmap_destroy(bm);
		bm = cbw_bitmap_create(m.nbits, false, GFP_KERNEL);
		CHECK(bm);
		shim_fail_countdown = k;
		r = cbw_bitmap_refill(bm, GFP_NOWAIT);
		shim_fail_countdown = 0;
		CHECK(r == (k <= 7 ? -ENOMEM : 0));
		observe(bm, &before);
		r = cbw_bitmap_set(bm, 1, m.nbits - 2);
		observe(bm, &after);
		if (k <= 7) {
			CHECK(r == -ENOMEM && same(&before, &after));
			CHECK(cbw_bitmap_next_set(bm, 0) == m.nbits);
			failed++;
		} else {
			CHECK(r == (s64)m.nbits - 2);
			succeeded++;
		}
		CHECK(check_tree(bm));

		cbw_bitmap_destroy(bm);
		bm = cbw_bitmap_create(m.nbits, false, GFP_KERNEL);
		CHECK(bm);
		/* Some state first, built with a working allocator. */
		model_change(&m, 0, m.nbits, false);
		for (int j = 0; j < 20; j++) {
			u64 a = rnd_below(m.nbits), b = a + rnd_below(3000);

			b = b > m.nbits ? m.nbits : b;
			CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
			CHECK(cbw_bitmap_set(bm, a, b - a) ==
			      (s64)model_change(&m, a, b, true));
		}
		/* Empty the reserve, then refill with failures. */
		while (bm->free_leaves) {
			struct cbw_leaf *l = bm->free_leaves;

			bm->free_leaves = l->next;
			bm->nr_free_leaves--;
			kmem_cache_free(leaf_cache, l);
		}
		while (bm->free_inodes) {
			struct cbw_inode *n = bm->free_inodes;

			bm->free_inodes = n->next;
			bm->nr_free_inodes--;
			kmem_cache_free(inode_cache, n);
		}
		shim_fail_countdown = k;
		r = cbw_bitmap_refill(bm, GFP_NOWAIT);
		CHECK(r == 0 || r == -ENOMEM);
		shim_fail_countdown = 0;
		observe(bm, &before);
		r = set ? cbw_bitmap_set(bm, s, e - s) : cbw_bitmap_clear(bm, s, e - s);
		if (r == -ENOMEM) {
			failed++;
			observe(bm, &after);
			CHECK(same(&before, &after));
		} else {
			succeeded++;
			CHECK(r == (s64)model_change(&m, s, e, set));
		}
		CHECK(check_tree(bm) && check_content(bm, &m));
		CHECK(check_answers(bm, &m, s, e));
	}
	CHECK(failed && succeeded);

	/* create and grow report allocation failures, grow changes nothing. */
	cbw_bitmap_destroy(bm);
	bm = NULL;
	shim_fail_countdown = 1;
	CHECK(!cbw_bitmap_create(100, true, GFP_KERNEL));
	bm = cbw_bitmap_create(100, true, GFP_KERNEL);
	CHECK(bm);
	for (k = 1; k <= 3; k++) {
		observe(bm, &before);
		shim_fail_countdown = k;
		CHECK(cbw_bitmap_grow(bm, SPAN2 * 3, GFP_NOWAIT) == -ENOMEM);
		shim_fail_countdown = 0;
		observe(bm, &after);
		before.bytes = after.bytes = 0;	/* the reserve may have grown */
		CHECK(same(&before, &after) && check_tree(bm));
		CHECK(cbw_bitmap_next_clear(bm, 0) == 100);
	}
	ok = true;
out:
	shim_fail_countdown = 0;
	cbw_bitmap_destroy(bm);
	model_free(&m);
	if (!tap_ok(ok, "-ENOMEM leaves the bitmap unchanged (%u failed, %u worked)",
		    failed, succeeded))
		tap_diag("%s", why);
}

static void test_grow(void)
{
	static const struct {
		u64 from, to;
		bool set;
	} cases[] = {
		{ 100, 200, true },		/* same leaf */
		{ 100, 20000, true },		/* a new level */
		{ 0, 1000, true },		/* nothing live before */
		{ 512, 513, true },
		{ SPAN1, SPAN1 + 1, true },	/* exactly full tree */
		{ SPAN1, SPAN3 + 1, true },	/* several levels */
		{ SPAN1 - 1, SPAN2 * 5, false },
		{ 1ULL << 34, 1ULL << 48, true },
		{ 7, CBW_BITMAP_MAX_BITS, true },
	};
	struct cbw_bitmap *bm = NULL;
	unsigned int i;
	bool ok = false;

	why[0] = '\0';
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u64 from = cases[i].from, to = cases[i].to;
		u64 w = cases[i].set ? from : 0;

		bm = cbw_bitmap_create(from, cases[i].set, GFP_KERNEL);
		CHECK(bm);
		CHECK(cbw_bitmap_grow(bm, to, GFP_KERNEL) == 0);
		CHECK(check_tree(bm));
		CHECK(cbw_bitmap_size(bm) == to && cbw_bitmap_weight(bm) == w);
		CHECK(cbw_bitmap_next_clear(bm, 0) == (cases[i].set ? from : 0));
		CHECK(cbw_bitmap_next_set(bm, from) == to);
		CHECK(from == 0 || cbw_bitmap_test(bm, from - 1) == cases[i].set);
		CHECK(!cbw_bitmap_test(bm, from) && !cbw_bitmap_test(bm, to - 1));
		/* Setting the rest makes it one tag again. */
		CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
		CHECK(cbw_bitmap_set(bm, 0, to) == (s64)(to - w));
		CHECK(check_minimal(bm) && bm->root == FULL);
		cbw_bitmap_destroy(bm);
		bm = NULL;
	}
	ok = true;
out:
	if (!ok)
		tap_diag("case %u", i);
	cbw_bitmap_destroy(bm);
	if (!tap_ok(ok, "grow: new bits clear, old ones kept, padding cleared"))
		tap_diag("%s", why);
}

/*
 * 2^34 bits: scattered changes stay cheap, lookups jump over the gaps.
 * Then 10^5 random single chunks, to measure the cost of a change.
 */
static void test_big(void)
{
	const u64 n = 1ULL << 34;
	static const u64 bits[] = { 17, 1ULL << 20, (1ULL << 33) + 5,
				    (1ULL << 34) - 1 };
	struct cbw_bitmap *bm = NULL;
	unsigned int i, changes = 0;
	size_t bytes = 0;
	bool ok = false;

	why[0] = '\0';
	bm = cbw_bitmap_create(n, false, GFP_KERNEL);
	CHECK(bm && bm->height == 5);
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
		CHECK(cbw_bitmap_set(bm, bits[i], 1) == 1);
	}
	CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
	CHECK(cbw_bitmap_set(bm, 3ULL << 30, 1ULL << 30) == 1LL << 30);
	CHECK(check_tree(bm));
	/* 4 isolated bits: a leaf each and their paths; the range: none. */
	CHECK(bm->tree_leaves == 4);
	CHECK(cbw_bitmap_bytes(bm) - reserve_bytes(bm) < 8192);
	CHECK(cbw_bitmap_weight(bm) == 4 + (1ULL << 30));
	CHECK(cbw_bitmap_next_set(bm, 0) == 17);
	CHECK(cbw_bitmap_next_set(bm, 18) == 1ULL << 20);
	CHECK(cbw_bitmap_next_set(bm, (1ULL << 20) + 1) == 3ULL << 30);
	CHECK(cbw_bitmap_next_clear(bm, 3ULL << 30) == 4ULL << 30);
	CHECK(cbw_bitmap_next_set(bm, 4ULL << 30) == (1ULL << 33) + 5);
	CHECK(cbw_bitmap_next_set(bm, (1ULL << 33) + 6) == n - 1);
	CHECK(cbw_bitmap_next_clear(bm, n - 1) == n);
	CHECK(cbw_bitmap_test(bm, (1ULL << 33) + 5) &&
	      !cbw_bitmap_test(bm, (1ULL << 33) + 4));

	/* Set everything but one bit; clear everything. */
	CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
	CHECK(cbw_bitmap_set(bm, 0, n) == (s64)(n - 4 - (1ULL << 30)));
	CHECK(check_minimal(bm));
	CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
	CHECK(cbw_bitmap_clear(bm, 123456789, 1) == 1);
	CHECK(cbw_bitmap_next_clear(bm, 0) == 123456789);
	CHECK(cbw_bitmap_next_clear(bm, 123456790) == n);
	CHECK(cbw_bitmap_weight(bm) == n - 1);
	CHECK(cbw_bitmap_clear(bm, 0, n) == (s64)(n - 1));
	CHECK(check_minimal(bm));

	/* The cost of scattered single-chunk changes. */
	for (i = 0; i < 100000; i++) {
		CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
		changes += cbw_bitmap_set(bm, rnd_below(n), 1);
	}
	CHECK(check_tree(bm));
	bytes = cbw_bitmap_bytes(bm) - reserve_bytes(bm) - sizeof(*bm);
	tap_diag("2^34 bits, %u random chunks set: %zu bytes, %zu per chunk (%lu leaves, %lu nodes)",
		 changes, bytes, bytes / changes, bm->tree_leaves,
		 bm->tree_inodes);
	CHECK(bytes / changes < 600);
	ok = true;
out:
	cbw_bitmap_destroy(bm);
	if (!tap_ok(ok, "2^34 bits: scattered changes cost little, lookups jump"))
		tap_diag("%s", why);
}

/* The largest size: the far end of the tree works. */
static void test_max(void)
{
	const u64 n = CBW_BITMAP_MAX_BITS;
	struct cbw_bitmap *bm = cbw_bitmap_create(n, true, GFP_KERNEL);
	bool ok = false;

	why[0] = '\0';
	CHECK(bm && !cbw_bitmap_refill(bm, GFP_KERNEL));
	CHECK(cbw_bitmap_clear(bm, n - 3, 2) == 2);
	CHECK(!cbw_bitmap_refill(bm, GFP_KERNEL));
	CHECK(cbw_bitmap_clear(bm, 1ULL << 48, 1) == 1);
	CHECK(cbw_bitmap_next_clear(bm, 0) == 1ULL << 48);
	CHECK(cbw_bitmap_next_clear(bm, (1ULL << 48) + 1) == n - 3);
	CHECK(cbw_bitmap_next_set(bm, n - 3) == n - 1);
	CHECK(cbw_bitmap_weight(bm) == n - 3);
	CHECK(check_tree(bm));
	CHECK(cbw_bitmap_set(bm, 0, n) == 3 && check_minimal(bm));
	ok = true;
out:
	cbw_bitmap_destroy(bm);
	if (!tap_ok(ok, "2^59 bits, the limit: both ends work"))
		tap_diag("%s", why);
}

/* ---- Lock-free readers racing a writer ---------------------------------- */

/*
 * The writer never changes the "witness" bits, the first bit of every
 * leaf: they are set in the first run (the writer sets any range, and
 * clears only inside a leaf, after its first bit), clear in the second.
 * So slots keep changing between a tag and a node around bits that do
 * not change, and readers must always find them: next_set(p) (first run)
 * is at most the next witness, test(witness) is set.  Readers look near
 * the writer's current change half of the time.  Grace periods run in a
 * thread of their own, as they would in the kernel; the writer pauses
 * now and then between two stores (shim_preempt).
 */
#define RACE_READERS 1

struct race {
	struct cbw_bitmap *bm;
	u64 nbits;
	bool witness;		/* the value of the witnesses */
	u64 hot;		/* where the writer works */
	int started;
	int stop;
	long checks;
	long failures;
	char failure[200];
};

static void race_fail(struct race *rc, const char *what, u64 p, u64 r)
{
	if (__atomic_fetch_add(&rc->failures, 1, __ATOMIC_RELAXED) == 0)
		snprintf(rc->failure, sizeof(rc->failure),
			 "%s from %llu gave %llu", what,
			 (unsigned long long)p, (unsigned long long)r);
}

static void *race_reader(void *arg)
{
	struct race *rc = arg;
	struct shim_rcu_reader self = { 0, 0 };
	u64 state = (u64)(uintptr_t)&self;
	long checks = 0;

	shim_rcu_register(&self);
	__atomic_fetch_add(&rc->started, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&rc->stop, __ATOMIC_RELAXED)) {
		u64 p, w, r;

		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		p = (state >> 11) % rc->nbits;
		if (state >> 61) {
			/* In the leaves before the writer's, mostly the last. */
			u64 hot = __atomic_load_n(&rc->hot, __ATOMIC_RELAXED);

			p = hot / LEAF_BITS * LEAF_BITS - 1 -
			    (state >> 20) % ((state >> 62 & 1) ? 64 : 2048);
			if (p >= rc->nbits)
				p = hot;
		}
		w = (p + LEAF_BITS - 1) / LEAF_BITS * LEAF_BITS;
		if (w > rc->nbits)
			w = rc->nbits;
		r = rc->witness ? cbw_bitmap_next_set(rc->bm, p) :
				  cbw_bitmap_next_clear(rc->bm, p);
		if (r < p || r > w)
			race_fail(rc, rc->witness ? "next_set" : "next_clear", p, r);
		r = rc->witness ? cbw_bitmap_next_clear(rc->bm, p) :
				  cbw_bitmap_next_set(rc->bm, p);
		if (r < p || r > rc->nbits)
			race_fail(rc, "the other search", p, r);
		p = p / LEAF_BITS * LEAF_BITS;
		if (cbw_bitmap_test(rc->bm, p) != rc->witness)
			race_fail(rc, "test", p, !rc->witness);
		if (cbw_bitmap_weight(rc->bm) > rc->nbits)
			race_fail(rc, "weight", 0, cbw_bitmap_weight(rc->bm));
		checks++;
	}
	shim_rcu_unregister(&self);
	__atomic_fetch_add(&rc->checks, checks, __ATOMIC_RELAXED);
	return NULL;
}

/* Changes for @seconds, with the witnesses at @witness. */
static bool race_run(bool witness, double seconds, long *checks,
		     unsigned int *ops)
{
	struct race rc = { .nbits = SPAN2 * 2 + 777, .witness = witness };
	pthread_t readers[RACE_READERS], gp;
	double end;
	u64 area = 0;
	struct model m;
	unsigned int i;
	bool ok = true;

	rc.bm = cbw_bitmap_create(rc.nbits, witness, GFP_KERNEL);
	if (!rc.bm)
		return FAIL("create failed");
	model_init(&m, rc.nbits, witness);
	shim_rcu_defer = true;
	shim_preempt = 1;
	for (i = 0; i < RACE_READERS; i++)
		pthread_create(&readers[i], NULL, race_reader, &rc);
	pthread_create(&gp, NULL, shim_rcu_gp_thread, &rc.stop);
	while (__atomic_load_n(&rc.started, __ATOMIC_SEQ_CST) < RACE_READERS)
		sched_yield();
	end = shim_now() + seconds;
	for (i = 0; ok && (i % 64 || shim_now() < end); i++) {
		bool set = rnd() & 1;
		u64 s, e;
		s64 r;

		/* Most changes stay in a few leaves, for a while. */
		if (!(i % 64))
			area = rnd_below(rc.nbits / LEAF_BITS - 8) * LEAF_BITS;
		if (set == witness && rnd_below(8) == 0) {
			/* Towards the witnesses' value: any range. */
			pick_range(rc.nbits, &s, &e);
		} else if (set == witness) {
			s = area + rnd_below(8 * LEAF_BITS);
			e = s + 1 + rnd_below(LEAF_BITS);
		} else {
			/*
			 * Away from it: inside one leaf, after its witness,
			 * often up to the leaf's end (so that searches from
			 * there must go on to the next leaf's witness).
			 */
			s = area + rnd_below(8 * LEAF_BITS);
			if (!(s % LEAF_BITS))
				s++;
			if (rnd() & 1)
				e = s + LEAF_BITS - s % LEAF_BITS;
			else
				e = s + rnd_below(LEAF_BITS - s % LEAF_BITS + 1);
		}
		if (e > rc.nbits)
			e = rc.nbits;
		if (s > e)
			s = e;
		__atomic_store_n(&rc.hot, s, __ATOMIC_RELAXED);
		if (cbw_bitmap_refill(rc.bm, GFP_KERNEL))
			ok = FAIL("refill failed");
		r = set ? cbw_bitmap_set(rc.bm, s, e - s) :
			  cbw_bitmap_clear(rc.bm, s, e - s);
		if (r != (s64)model_change(&m, s, e, set))
			ok = FAIL("op %u returned %lld", i, (long long)r);
	}
	*ops += i;
	shim_preempt = 0;
	__atomic_store_n(&rc.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < RACE_READERS; i++)
		pthread_join(readers[i], NULL);
	pthread_join(gp, NULL);
	shim_rcu_sync();
	shim_rcu_defer = false;
	if (ok && rc.failures)
		ok = FAIL("%ld reader failures, first: %s", rc.failures, rc.failure);
	if (ok && !(check_tree(rc.bm) && check_content(rc.bm, &m)))
		ok = false;
	*checks += rc.checks;
	cbw_bitmap_destroy(rc.bm);
	model_free(&m);
	return ok;
}

static void test_race(void)
{
	unsigned int ops = 0;
	long checks = 0;
	bool ok;

	why[0] = '\0';
	ok = race_run(true, 0.4, &checks, &ops) &&
	     race_run(false, 0.4, &checks, &ops);
	if (!tap_ok(ok, "lock-free readers racing a writer never miss a stable bit (%u changes, %ld reader rounds)",
		    ops, checks))
		tap_diag("%s", why);
}

/* ---- Main --------------------------------------------------------------- */

int main(void)
{
	const char *env = getenv("CBW_TEST_SEED");
	u64 seed = env ? strtoull(env, NULL, 0) : 20240601;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rng_state = seed;
	tap_diag("dm-cbw-bitmap unit test (%s build), seed %llu (CBW_TEST_SEED to repeat)",
		 BUILD_NAME, (unsigned long long)seed);
	if (cbw_bitmap_init()) {
		tap_ok(false, "cbw_bitmap_init");
		return tap_done();
	}
	tap_diag("node sizes: leaf %zu bytes (%u bits), interior %zu bytes (%u slots), bitmap %zu",
		 sizeof(struct cbw_leaf), (unsigned int)LEAF_BITS, sizeof(struct cbw_inode),
		 (unsigned int)FANOUT, sizeof(struct cbw_bitmap));

	test_create();
	test_bad_args();
	test_reserve_worst_case();
	test_enomem();
	test_grow();
	test_big();
	test_max();
	test_random_sizes();
	test_random_grow();
	test_race();

	cbw_bitmap_exit();
	tap_ok(shim_live == 0, "no node leaked (%ld allocated in all)", shim_allocs);
	tap_ok(shim_warnings == 0, "no WARN_ON_ONCE fired, no allocation under a lock (%d)",
	       shim_warnings);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_diag("%.2f s", (double)(t1.tv_sec - t0.tv_sec) +
			   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return tap_done();
}
