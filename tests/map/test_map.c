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
	u64 total = 0, d, prev;
	size_t i;
	unsigned int p;

	if (map->cap < map->nr_refs + map->nr_spare)
		return "refs[] has no room for the spare leaves";
	for (i = 0; i < map->nr_refs; i++) {
		const struct map_leaf *leaf = map->refs[i].leaf;

		if (i && map->refs[i].base <= map->refs[i - 1].base)
			return "refs[] not sorted";
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
			    map->refs[i].base + d >= map->refs[i + 1].base)
				return "entry beyond the next leaf's base";
		}
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

	tap_ok(shim_live == 0, "nothing leaked");
	tap_ok(shim_warnings == 0 && shim_noio_depth == 0,
	       "no WARN_ON_ONCE fired, no allocation under the lock, NOIO scopes balanced (%d)",
	       shim_warnings);
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}
