// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of module/dm-cbw-map.c, compiled here as it is, against the
 * userspace shim in ../shim/.  The file is included, so that the test can
 * check the invariants of the design comment after every change.
 *
 * The model is a flat array: slot of each chunk of a window of MODEL_N
 * chunks placed at several offsets of the chunk space (0, around a
 * MAX_DELTA boundary, near 2^59).  Random insertions (single chunks,
 * short and long runs, ascending and descending), removals of ranges
 * (the runs handed to the callback are checked too) and queries (also
 * lookup_run, whose runs need consecutive slots too) are
 * compared with it.  Then: a million scattered and a million ascending
 * chunks for the memory per chunk, keys far apart, -ENOMEM with nothing
 * changed, bad arguments.
 *
 * The seed is printed; CBW_TEST_SEED=N repeats a run.
 */

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../module/dm-cbw-map.c"

#include "tap.h"
#include "../shim/rng.h"

#ifdef __SANITIZE_ADDRESS__
#define BUILD_NAME	"asan+ubsan"
#define OPS(n)		((n) / 4)
#else
#define BUILD_NAME	"plain"
#define OPS(n)		(n)
#endif

#define MODEL_N		((u64)60000)

/* The slot of @chunk alone (the module looks chunks up by runs). */
static u64 lookup(struct cbw_map *map, u64 chunk)
{
	u64 count;

	return cbw_map_lookup_run(map, chunk, chunk, &count);
}

/* ---- Invariants ---------------------------------------------------------- */

static const char *invariant_error(const struct cbw_map *map)
{
	const struct map_index *idx = rcu_dereference_protected(map->idx, true);
	size_t cap = idx ? idx->cap : 0;
	u64 total = 0, d, prev;
	size_t i;
	unsigned int p;

	if (cap < map->nr_refs + map->nr_spare)
		return "the index has no room for the spare leaves";
	for (i = 0; i < cap; i++) {
		const struct map_leaf *leaf = wleaf(idx->r, i);

		if (i >= map->nr_refs) {
			if (idx->r[i].lw || idx->r[i].base)
				return "an index slot past the last leaf is not zero";
			continue;
		}
		if (!leaf)
			return "a leaf in the index is NULL";
		if (i && idx->r[i].base <= idx->r[i - 1].base)
			return "index not sorted";
		if (!leaf->nr || leaf->nr > LEAF_CAP)
			return "empty or overfull leaf";
		for (p = 0; p < leaf->nr; p++) {
			d = e_delta(leaf->e[p]);
			if (d >= MAX_DELTA)
				return "offset too large";
			if (p && d <= prev)
				return "entries not sorted";
			prev = d;
			if (i + 1 < map->nr_refs &&
			    idx->r[i].base + d >= idx->r[i + 1].base)
				return "entry beyond the next leaf's base";
		}
		if (idx->r[i].lw != leaf_word(leaf))
			return "the dense count in the index is wrong";
		total += leaf->nr;
	}
	if (total != map->entries)
		return "entry count wrong";
	return NULL;
}

/* ---- Model ----------------------------------------------------------------- */

struct model {
	u64 off;
	u64 slot[MODEL_N];
	u64 entries;
	u64 next_slot;
};

static struct model m;

struct run {
	u64 slot, count;
};

struct runs {
	struct run r[MODEL_N];
	size_t n;
};

static struct runs got, want;

static void collect(void *ctx, u64 slot, u64 count)
{
	struct runs *rs = ctx;

	rs->r[rs->n].slot = slot;
	rs->r[rs->n].count = count;
	rs->n++;
}

static void add_run(struct runs *rs, u64 slot)
{
	if (rs->n && rs->r[rs->n - 1].slot + rs->r[rs->n - 1].count == slot) {
		rs->r[rs->n - 1].count++;
		return;
	}
	rs->r[rs->n].slot = slot;
	rs->r[rs->n].count = 1;
	rs->n++;
}

static u64 model_next(u64 from, u64 last, bool mapped)
{
	u64 i;

	for (i = from; i <= last; i++)
		if ((m.slot[i] != CBW_NO_SLOT) == mapped)
			return i;
	return last + 1;
}

static u64 model_count(u64 first, u64 last)
{
	u64 i, n = 0;

	for (i = first; i <= last; i++)
		n += m.slot[i] != CBW_NO_SLOT;
	return n;
}

static int failures;

static u64 model_run(u64 a, u64 b)
{
	u64 i;

	if (m.slot[a] == CBW_NO_SLOT)
		return model_next(a, b, true) - a;
	for (i = a + 1; i <= b && m.slot[i] == m.slot[a] + (i - a); i++)
		;
	return i - a;
}

static void fail(const char *what, u64 a, u64 b, u64 g, u64 w)
{
	if (failures++ < 10)
		tap_diag("%s(%llu, %llu): got %llu, want %llu", what,
			 (unsigned long long)a, (unsigned long long)b,
			 (unsigned long long)g, (unsigned long long)w);
}

static void check_queries(struct cbw_map *map, int n)
{
	u64 a, b, off = m.off, run;

	while (n--) {
		a = rnd_below(MODEL_N);
		b = min(MODEL_N - 1, a + rnd_below(rnd() & 1 ? 64 : 8000));
		if (lookup(map, off + a) != m.slot[a])
			fail("lookup", a, a, lookup(map, off + a), m.slot[a]);
		if (cbw_map_test(map, off + a) != (m.slot[a] != CBW_NO_SLOT))
			fail("test", a, a, cbw_map_test(map, off + a),
			     m.slot[a] != CBW_NO_SLOT);
		if (cbw_map_next_mapped(map, off + a, off + b) - off !=
		    model_next(a, b, true))
			fail("next_mapped", a, b,
			     cbw_map_next_mapped(map, off + a, off + b) - off,
			     model_next(a, b, true));
		if (cbw_map_next_unmapped(map, off + a, off + b) - off !=
		    model_next(a, b, false))
			fail("next_unmapped", a, b,
			     cbw_map_next_unmapped(map, off + a, off + b) - off,
			     model_next(a, b, false));
		if (cbw_map_lookup_run(map, off + a, off + b, &run) != m.slot[a] ||
		    run != model_run(a, b))
			fail("lookup_run", a, b, run, model_run(a, b));
		if (cbw_map_count(map, off + a, off + b) != model_count(a, b))
			fail("count", a, b, cbw_map_count(map, off + a, off + b),
			     model_count(a, b));
	}
	if (cbw_map_entries(map) != m.entries)
		fail("entries", 0, 0, cbw_map_entries(map), m.entries);
}

/* Insert the unmapped run that starts at a random unmapped chunk. */
static void random_insert(struct cbw_map *map, u64 maxlen, bool random_slot)
{
	u64 a = rnd_below(MODEL_N), b, len, i, slot;
	int r;

	if (m.slot[a] != CBW_NO_SLOT)
		return;
	len = 1 + rnd_below(maxlen);
	b = min(MODEL_N - 1, a + len - 1);
	len = min(len, model_next(a, b, true) - a);
	slot = random_slot ? rnd_below(CBW_MAP_MAX_SLOTS - len) : m.next_slot;
	m.next_slot = slot + len;
	r = cbw_map_insert(map, m.off + a, slot, len);
	if (r) {
		fail("insert", a, len, r, 0);
		return;
	}
	for (i = 0; i < len; i++)
		m.slot[a + i] = slot + i;
	m.entries += len;
}

static void random_remove(struct cbw_map *map, u64 maxlen)
{
	u64 a = rnd_below(MODEL_N), b, i;

	b = min(MODEL_N - 1, a + rnd_below(maxlen));
	want.n = 0;
	for (i = a; i <= b; i++) {
		if (m.slot[i] == CBW_NO_SLOT)
			continue;
		add_run(&want, m.slot[i]);
		m.slot[i] = CBW_NO_SLOT;
		m.entries--;
	}
	got.n = 0;
	cbw_map_remove(map, m.off + a, m.off + b, collect, &got);
	if (got.n != want.n ||
	    memcmp(got.r, want.r, got.n * sizeof(got.r[0])))
		fail("remove runs", a, b, got.n, want.n);
}

/* A descending pass: each chunk below the previous one (rebase, new leaf). */
static void descending(struct cbw_map *map, u64 n)
{
	u64 a = MODEL_N - 1 - rnd_below(MODEL_N / 8), step = 1 + rnd_below(3);

	while (n-- && a >= step) {
		a -= step;
		if (m.slot[a] != CBW_NO_SLOT)
			continue;
		if (cbw_map_insert(map, m.off + a, m.next_slot, 1)) {
			fail("insert", a, 1, 1, 0);
			return;
		}
		m.slot[a] = m.next_slot++;
		m.entries++;
	}
}

static void model_round(u64 off, int ops)
{
	struct cbw_map *map = cbw_map_create(GFP_KERNEL);
	const char *err = NULL;
	int op, before = failures;
	u64 i;

	m.off = off;
	m.entries = 0;
	m.next_slot = 0;
	for (i = 0; i < MODEL_N; i++)
		m.slot[i] = CBW_NO_SLOT;
	for (op = 0; op < ops && !err; op++) {
		switch (rnd_below(10)) {
		case 0: case 1: case 2:
			random_insert(map, 1, false);
			break;
		case 3:
			random_insert(map, 8, rnd() & 1);
			break;
		case 4:
			random_insert(map, 700, false);
			break;
		case 5:
			random_insert(map, 4000, false);
			break;
		case 6:
			descending(map, 600);
			break;
		case 7:
			random_remove(map, 30);
			break;
		case 8:
			random_remove(map, op % 50 ? 600 : MODEL_N);
			break;
		default:
			break;
		}
		err = invariant_error(map);
		check_queries(map, 20);
	}
	tap_ok(!err, "offset %#llx: invariants after %d random operations%s%s",
	       (unsigned long long)off, op, err ? ": " : "", err ? err : "");
	tap_ok(failures == before,
	       "offset %#llx: lookup, next_mapped, next_unmapped, count, entries and removed runs match the model (%llu entries at the end)",
	       (unsigned long long)off, (unsigned long long)m.entries);
	cbw_map_remove(map, m.off, m.off + MODEL_N - 1, NULL, NULL);
	tap_ok(cbw_map_entries(map) == 0 && map->nr_refs == 0,
	       "offset %#llx: removing everything frees every leaf",
	       (unsigned long long)off);
	cbw_map_destroy(map);
}

/* ---- A million chunks (and a tenth of that) ------------------------------------------------------ */

static void million(bool scattered, u64 space, u64 n)
{
	u64 i, *keys = malloc(n * sizeof(*keys)), bad = 0;
	struct cbw_map *map = cbw_map_create(GFP_KERNEL);
	double per;

	for (i = 0; i < n; i++)
		keys[i] = scattered ? rnd_below(space) : i;
	for (i = 0; i < n; i++) {
		if (lookup(map, keys[i]) != CBW_NO_SLOT) {
			keys[i] = U64_MAX;	/* a repeat: skip it */
			continue;
		}
		if (cbw_map_insert(map, keys[i], i, 1))
			bad++;
	}
	for (i = 0; i < n; i++)
		if (keys[i] != U64_MAX && lookup(map, keys[i]) != i)
			bad++;
	per = (double)cbw_map_bytes(map) / cbw_map_entries(map);
	tap_ok(!bad && !invariant_error(map),
	       "%llu %s chunks%s: every lookup finds its slot",
	       (unsigned long long)cbw_map_entries(map),
	       scattered ? "scattered" : "ascending",
	       scattered ? " over 2^34" : "");
	tap_ok(per <= (scattered ? 16.0 : 8.5),
	       "%s: %.2f bytes per chunk (%zu leaves of 4 KiB, fill %.0f%%)",
	       scattered ? "scattered" : "ascending", per, map->nr_refs,
	       100.0 * cbw_map_entries(map) / (map->nr_refs * LEAF_CAP));
	cbw_map_destroy(map);
	free(keys);
}

/* Keys 2^32 and more apart, inserted downwards and upwards. */
static void far_apart(void)
{
	struct cbw_map *map = cbw_map_create(GFP_KERNEL);
	u64 keys[64], i, bad = 0;

	for (i = 0; i < 64; i++)
		keys[i] = (i << 33) + (i & 1 ? MAX_DELTA - 1 : 0) + 5;
	for (i = 64; i-- > 0;)
		if (i % 2 && cbw_map_insert(map, keys[i], i, 1))
			bad++;
	for (i = 0; i < 64; i++)
		if (i % 2 == 0 && cbw_map_insert(map, keys[i], i, 1))
			bad++;
	for (i = 0; i < 64; i++)
		if (lookup(map, keys[i]) != i ||
		    lookup(map, keys[i] + 1) != CBW_NO_SLOT ||
		    cbw_map_next_mapped(map, keys[i] + 1, U64_MAX - 1) !=
		    (i < 63 ? keys[i + 1] : U64_MAX))
			bad++;
	if (cbw_map_count(map, 0, U64_MAX - 1) != 64 ||
	    cbw_map_insert(map, CBW_MAP_MAX_SLOTS, 1, 1) ||
	    lookup(map, CBW_MAP_MAX_SLOTS) != 1)
		bad++;
	tap_ok(!bad && !invariant_error(map),
	       "keys 2^32 and more apart, both directions: %zu leaves", map->nr_refs);
	cbw_map_destroy(map);
}

static void no_memory(void)
{
	struct cbw_map *map = cbw_map_create(GFP_KERNEL);
	u64 i, entries;
	size_t refs;
	int r, fails = 0;

	for (i = 0; i < 5000; i++)
		cbw_map_insert(map, i * 3, i, 1);
	entries = cbw_map_entries(map);
	refs = map->nr_refs;
	for (i = 1; i < 40; i++) {
		shim_fail_countdown = i;
		r = cbw_map_insert(map, 100000 + i * 10000, 0, 5000);
		shim_fail_countdown = 0;
		if (r == -ENOMEM &&
		    (cbw_map_entries(map) != entries || map->nr_refs != refs ||
		     cbw_map_next_mapped(map, 15000, U64_MAX - 1) != U64_MAX))
			fails++;
		if (!r)
			break;
	}
	tap_ok(!fails && !invariant_error(map) && i > 1,
	       "-ENOMEM changes nothing (%llu allocations failed in turn)",
	       (unsigned long long)i - 1);
	tap_ok(cbw_map_insert(map, 1, CBW_MAP_MAX_SLOTS, 1) == -EINVAL &&
	       cbw_map_insert(map, 1, CBW_MAP_MAX_SLOTS - 1, 2) == -EINVAL &&
	       cbw_map_insert(map, 1, 0, 0) == -EINVAL &&
	       cbw_map_insert(map, U64_MAX, 0, 2) == -EINVAL &&
	       cbw_map_entries(map) == entries + 5000,
	       "bad slot, count 0 and wrapping runs are refused");
	cbw_map_destroy(map);
}

/*
 * cbw_map_insert_nowait() against cbw_map_insert(): scattered single
 * chunks, each tried without allocation first.  It must never allocate,
 * must refuse (-EAGAIN, nothing changed) only when the spare leaves might
 * not do, and what it inserts must be found.
 */
static void nowait(void)
{
	struct cbw_map *map = cbw_map_create(GFP_KERNEL);
	u64 i, n = OPS(100000), done = 0, again = 0, bad = 0, entries;
	long live;
	int r;

	for (i = 0; i < n; i++) {
		u64 key = rnd_below(1ULL << 30);

		if (lookup(map, key) != CBW_NO_SLOT)
			continue;
		live = shim_live;
		entries = cbw_map_entries(map);
		r = cbw_map_insert_nowait(map, key, i, 1);
		if (shim_live != live)
			bad++;
		if (r == -EAGAIN) {
			again++;
			if (cbw_map_entries(map) != entries ||
			    lookup(map, key) != CBW_NO_SLOT ||
			    cbw_map_insert(map, key, i, 1))
				bad++;
		} else if (r || lookup(map, key) != i) {
			bad++;
		} else {
			done++;
		}
	}
	tap_ok(!bad && !invariant_error(map) && done > again,
	       "insert_nowait: %llu inserted without allocating, %llu refused with nothing changed",
	       (unsigned long long)done, (unsigned long long)again);
	tap_ok(cbw_map_insert_nowait(map, 1ULL << 40, CBW_MAP_MAX_SLOTS, 1) == -EINVAL,
	       "insert_nowait refuses a bad slot");
	cbw_map_destroy(map);
}

/* search_from() against a linear scan: any sorted array, any start. */
static void search(void)
{
	static u64 a[2 * 700];
	u64 bad = 0, x, i, n, g, expect, stride, t;

	for (t = 0; t < OPS(200000); t++) {
		stride = 1 + (t & 1);
		n = 1 + rnd_below(600);
		a[0] = rnd_below(4);
		for (i = 1; i < n; i++)
			a[i * stride] = a[(i - 1) * stride] + rnd_below(rnd() & 1 ? 3 : 1000);
		g = rnd_below(n);
		x = rnd_below(a[(n - 1) * stride] + 3);
		for (expect = 0; expect < n && a[expect * stride] < x; expect++)
			;
		if (search_from(a, stride, n, g, x) != expect)
			bad++;
	}
	tap_ok(!bad, "search_from() finds what a linear scan finds (%llu wrong)",
	       (unsigned long long)bad);
}

/* ---- Lock-free readers racing a writer ------------------------------------ */

/*
 * Three regions.  Low: chunk 7k is always mapped (to slot k) and chunk
 * 7k + 3 never; the writer inserts and removes the chunks around them
 * (splits, shifted entries).  High: the writer fills and empties it in
 * long runs (new and freed leaves).  Far: keys MAX_DELTA apart, so that
 * each is a leaf of its own; every eighth is always mapped, the writer
 * toggles the others (index slots shifted by the hundred, leaves freed
 * all the time, an index that keeps growing).  Readers ask about the
 * fixed chunks, whose answers never change, and search the high region,
 * whose answers need only lie in range.
 *
 * With shim_preempt, readers search half-written leaves and indexes (see
 * the seqlock shim) and the writer pauses between stores.  Leaves and
 * indexes are freed by the grace-period thread, and kfree_rcu() scribbles
 * over the head of what it frees as the kernel's does, so a reader that
 * reads freed memory, or trusts a count it read there, is caught by
 * AddressSanitizer.  Each round starts from a new map, so that its index
 * grows (and is replaced) several times.
 */
#define RACE_LOW	((u64)70000)	/* a multiple of 7 */
#define RACE_HIGH	((u64)40000)
#define RACE_FAR	((u64)600)
#define RACE_FAR_BASE	BIT_ULL(40)
#define RACE_FAR_SLOT	((u64)1 << 30)
#define RACE_READERS	2

struct race {
	struct cbw_map *map;
	int started;
	int stop;
	long checks;
	long failures;
	char failure[200];
};

static inline u64 far_key(u64 j)
{
	return RACE_FAR_BASE + j * MAX_DELTA;
}

static void race_fail(struct race *rc, const char *what, u64 c, u64 res)
{
	if (__atomic_fetch_add(&rc->failures, 1, __ATOMIC_RELAXED) == 0)
		snprintf(rc->failure, sizeof(rc->failure), "%s at %llu gave %llu",
			 what, (unsigned long long)c, (unsigned long long)res);
}

static void race_check(struct race *rc, u64 state)
{
	struct cbw_map *map = rc->map;
	u64 c = (state >> 11) % (RACE_LOW / 7 - 1) * 7, n, r, h, e, j;

	r = cbw_map_lookup_run(map, c, c, &n);
	if (r != c / 7 || n != 1)
		race_fail(rc, "lookup_run of a fixed mapped chunk", c, r);
	if ((r = cbw_map_next_unmapped(map, c, c)) != c + 1)
		race_fail(rc, "next_unmapped of a fixed mapped chunk", c, r);
	if (!cbw_map_test(map, c))
		race_fail(rc, "test of a fixed mapped chunk", c, 0);
	if ((r = cbw_map_next_mapped(map, c, c)) != c)
		race_fail(rc, "next_mapped of a fixed mapped chunk", c, r);
	if ((r = cbw_map_count(map, c, c + 6)) < 1 || r > 6)
		race_fail(rc, "count of 7 chunks from a fixed mapped one", c, r);
	r = cbw_map_next_unmapped(map, c, c + 3);
	if (r < c + 1 || r > c + 3)
		race_fail(rc, "next_unmapped up to a fixed hole", c, r);
	c += 3;
	r = cbw_map_lookup_run(map, c, c + 3, &n);
	if (r != CBW_NO_SLOT || n < 1 || n > 4)
		race_fail(rc, "lookup_run of a fixed hole", c, r);
	if ((r = cbw_map_next_unmapped(map, c, c)) != c)
		race_fail(rc, "next_unmapped of a fixed hole", c, r);
	if (cbw_map_test(map, c))
		race_fail(rc, "test of a fixed hole", c, 1);
	r = cbw_map_next_mapped(map, c, c + 4);
	if (r < c + 1 || r > c + 4)
		race_fail(rc, "next_mapped up to a fixed mapped chunk", c, r);
	if ((r = cbw_map_count(map, c, c)) != 0)
		race_fail(rc, "count of a fixed hole", c, r);

	j = (state >> 30) % (RACE_FAR / 8) * 8;
	c = far_key(j);
	r = cbw_map_lookup_run(map, c, c + 1, &n);
	if (r != RACE_FAR_SLOT + j || n != 1)
		race_fail(rc, "lookup_run of a fixed far chunk", c, r);
	if (!cbw_map_test(map, c) || cbw_map_test(map, c + 1))
		race_fail(rc, "test of a fixed far chunk and the hole after it", c, 0);
	if ((r = cbw_map_next_mapped(map, c - 1, far_key(j + 8))) != c)
		race_fail(rc, "next_mapped up to a fixed far chunk", c, r);
	if ((r = cbw_map_count(map, c - 5, c + 5)) != 1)
		race_fail(rc, "count around a fixed far chunk", c, r);

	/* From the last fixed far key on: the leaves that come and go last. */
	c = far_key(RACE_FAR - 8);
	h = c + 1 + (state >> 50) % 4;
	if ((r = cbw_map_next_mapped(map, h, U64_MAX - 1)) < h)
		race_fail(rc, "next_mapped after the last fixed far chunk", h, r);
	if ((r = cbw_map_count(map, c, U64_MAX - 1)) < 1 || r > 8)
		race_fail(rc, "count from the last fixed far chunk", c, r);
	if ((r = cbw_map_next_unmapped(map, c, c + 3)) != c + 1)
		race_fail(rc, "next_unmapped after the last fixed far chunk", c, r);

	h = RACE_LOW + (state >> 23) % RACE_HIGH;
	e = h + (state >> 40) % 3000;
	if ((r = cbw_map_next_mapped(map, h, e)) < h || r > e + 1)
		race_fail(rc, "next_mapped in the high region", h, r);
	if ((r = cbw_map_next_unmapped(map, h, e)) < h || r > e + 1)
		race_fail(rc, "next_unmapped in the high region", h, r);
	if ((r = cbw_map_count(map, h, e)) > e - h + 1)
		race_fail(rc, "count in the high region", h, r);
	cbw_map_lookup_run(map, h, e, &n);
	if (n < 1 || n > e - h + 1)
		race_fail(rc, "lookup_run in the high region", h, n);
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
		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		race_check(rc, state);
		checks++;
	}
	shim_rcu_unregister(&self);
	__atomic_fetch_add(&rc->checks, checks, __ATOMIC_RELAXED);
	return NULL;
}

/* The writer's model: the slot of each low and high chunk, and far key. */
struct race_model {
	u64 slot[RACE_LOW + RACE_HIGH];
	u64 far[RACE_FAR];
	u64 next_slot;
};

static bool toggle(struct cbw_map *map, u64 key, u64 *slot, u64 *next_slot)
{
	if (*slot != CBW_NO_SLOT) {
		cbw_map_remove(map, key, key, NULL, NULL);
		*slot = CBW_NO_SLOT;
		return true;
	}
	*slot = (*next_slot)++;
	return !cbw_map_insert(map, key, *slot, 1);
}

/* One writer step. */
static bool race_step(struct cbw_map *map, struct race_model *rm)
{
	u64 c, n, i, e;

	switch (rnd_below(4)) {
	case 0:
		/* A chunk between two fixed ones. */
		c = rnd_below(RACE_LOW / 7) * 7 + 1 + rnd_below(6);
		if (c % 7 == 3)
			c++;
		return toggle(map, c, &rm->slot[c], &rm->next_slot);
	case 1:
		/* A far key that is not fixed; often one of the last. */
		i = rnd() & 1 ? RACE_FAR - 1 - rnd_below(16) : rnd_below(RACE_FAR);
		if (!(i % 8))
			i++;
		if (i >= RACE_FAR)
			return true;
		return toggle(map, far_key(i), &rm->far[i], &rm->next_slot);
	}
	/* A run in the high region: fill its unmapped part, or empty it. */
	c = RACE_LOW + rnd_below(RACE_HIGH);
	n = 1 + rnd_below(min(RACE_HIGH - (c - RACE_LOW), (u64)4000));
	if (rnd() & 1) {
		cbw_map_remove(map, c, c + n - 1, NULL, NULL);
		for (i = c; i < c + n; i++)
			rm->slot[i] = CBW_NO_SLOT;
		return true;
	}
	/* Fill the first unmapped run from c on, inside the n chunks. */
	for (i = c; i < c + n && rm->slot[i] != CBW_NO_SLOT; i++)
		;
	for (e = i; e < c + n && rm->slot[e] == CBW_NO_SLOT; e++)
		rm->slot[e] = rm->next_slot + (e - i);
	rm->next_slot += e - i;
	return i == e || !cbw_map_insert(map, i, rm->slot[i], e - i);
}

/* One round on a new map; adds its steps, reader rounds and reader failures. */
static bool race_round(double seconds, struct race_model *rm, long *steps,
		       long *checks, long *nfail, char *failure, size_t len,
		       int *swaps)
{
	size_t cap0;
	struct race rc = { .map = cbw_map_create(GFP_KERNEL) };
	pthread_t readers[RACE_READERS], gp;
	u64 c, n, bad = 0;
	long step = 0;
	bool ok = true;
	double end;
	int i;

	for (c = 0; c < RACE_LOW + RACE_HIGH; c++)
		rm->slot[c] = c < RACE_LOW && c % 7 == 0 ? c / 7 : CBW_NO_SLOT;
	for (c = 0; c < RACE_FAR; c++)
		rm->far[c] = c % 8 ? CBW_NO_SLOT : RACE_FAR_SLOT + c;
	rm->next_slot = RACE_LOW;
	for (c = 0; c < RACE_LOW; c += 7)
		ok &= !cbw_map_insert(rc.map, c, c / 7, 1);
	for (c = 0; c < RACE_FAR; c += 8)
		ok &= !cbw_map_insert(rc.map, far_key(c), rm->far[c], 1);
	cap0 = rcu_dereference_protected(rc.map->idx, true)->cap;
	shim_rcu_defer = true;
	shim_preempt = 1;
	for (i = 0; i < RACE_READERS; i++)
		pthread_create(&readers[i], NULL, race_reader, &rc);
	pthread_create(&gp, NULL, shim_rcu_gp_thread, &rc.stop);
	while (__atomic_load_n(&rc.started, __ATOMIC_SEQ_CST) < RACE_READERS)
		sched_yield();
	end = shim_now() + seconds;
	while (ok && (step % 64 || shim_now() < end)) {
		ok = race_step(rc.map, rm);
		step++;
	}
	shim_preempt = 0;
	__atomic_store_n(&rc.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < RACE_READERS; i++)
		pthread_join(readers[i], NULL);
	pthread_join(gp, NULL);
	shim_rcu_sync();
	shim_rcu_defer = false;
	for (c = 0; c < RACE_LOW + RACE_HIGH; c++)
		if (cbw_map_lookup_run(rc.map, c, c, &n) != rm->slot[c])
			bad++;
	for (c = 0; c < RACE_FAR; c++)
		if (cbw_map_lookup_run(rc.map, far_key(c), far_key(c), &n) != rm->far[c])
			bad++;
	ok = ok && !bad && !invariant_error(rc.map);
	if (rc.failures && !*nfail)
		snprintf(failure, len, "%s", rc.failure);
	*nfail += rc.failures;
	*checks += rc.checks;
	*steps += step;
	/* The index doubles (at least) at each replacement. */
	for (; cap0 < rcu_dereference_protected(rc.map->idx, true)->cap; cap0 *= 2)
		(*swaps)++;
	cbw_map_destroy(rc.map);
	return ok;
}

static void test_race(int rounds, double seconds)
{
	struct race_model *rm = malloc(sizeof(*rm));
	long steps = 0, checks = 0, nfail = 0;
	char failure[200] = "";
	int i, swaps = 0;
	bool ok = true;

	for (i = 0; i < rounds; i++)
		ok &= race_round(seconds, rm, &steps, &checks, &nfail,
				 failure, sizeof(failure), &swaps);
	tap_ok(ok && swaps >= rounds,
	       "race: the writer's %ld steps in %d rounds (%d new indexes) all went in, each map matches its model",
	       steps, rounds, swaps);
	if (!tap_ok(!nfail,
		    "race: lock-free readers always found the fixed chunks (%ld reader rounds, %ld failures)",
		    checks, nfail))
		tap_diag("first failure: %s", failure);
	free(rm);
}

int main(void)
{
	const char *seed = getenv("CBW_TEST_SEED");

	rng_state = seed ? strtoull(seed, NULL, 0) : (u64)time(NULL);
	tap_diag("map unit test (%s build), seed %llu", BUILD_NAME,
		 (unsigned long long)rng_state);

	model_round(0, OPS(3000));
	model_round(MAX_DELTA - MODEL_N / 2, OPS(3000));
	model_round(BIT_ULL(63) - MODEL_N, OPS(3000));
	million(true, 1ULL << 34, OPS(1000000));
	million(true, 1ULL << 34, 100000);
	million(false, 0, OPS(1000000));
	far_apart();
	no_memory();
	nowait();
	search();
	test_race(5, 0.12);

	tap_ok(shim_live == 0, "nothing leaked");
	tap_ok(shim_warnings == 0 && shim_noio_depth == 0,
	       "no WARN_ON_ONCE fired, no allocation under the lock, NOIO scopes balanced (%d)",
	       shim_warnings);
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}
