// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of module/dm-cbw-pages.c, compiled here as it is, against the
 * userspace shim in ../shim/ (a page is a counted kmalloc() block, so
 * allocations fail on demand).
 *
 * Checked: the reserve is allocated up front and kept; get takes cached
 * pages first and then allocates; put keeps up to the cap and frees the
 * rest; when no page is out, get gives at least one page even when every
 * allocation fails; a failed init leaves nothing; random get/put
 * sequences against a model of the counts, with allocations failing at
 * random; nothing leaks.
 *
 * The seed is printed; CBW_TEST_SEED=N repeats a run.
 */

#include <stdlib.h>
#include <time.h>

#include "../../module/dm-cbw-pages.c"

#include "tap.h"
#include "../shim/rng.h"

#define RESERVE		16
#define CAP		64

/* Length of a chain, and whether its pages are all different. */
static unsigned int chain_len(struct page_list *pl, bool *distinct)
{
	struct page_list *a, *b;
	unsigned int n = 0;

	*distinct = true;
	for (a = pl; a; a = a->next, n++)
		for (b = a->next; b; b = b->next)
			if (a == b || a->page == b->page)
				*distinct = false;
	return n;
}

static void basics(void)
{
	struct page_list *a = NULL, *b = NULL;
	long live0 = shim_live;
	struct cbw_pages p;
	unsigned int n;
	bool distinct;

	int r = cbw_pages_init(&p, RESERVE, CAP);

	tap_ok(!r && p.nr_free == RESERVE && shim_live - live0 == 2 * RESERVE,
	       "init allocates the reserve (%u pages)", r ? 0 : p.nr_free);

	n = cbw_pages_get(&p, 1, &a);
	tap_ok(n == 1 && p.nr_free == RESERVE - 1 && p.nr_out == 1 &&
	       shim_live - live0 == 2 * RESERVE,
	       "one page comes from the cache, nothing allocated");
	n = cbw_pages_get(&p, 100, &a);
	tap_ok(n == 100 && p.nr_free == 0 && p.nr_out == 101 &&
	       chain_len(a, &distinct) == 101 && distinct,
	       "100 more: the cache, then allocations, at the chain's head (101 distinct pages)");

	cbw_pages_put(&p, a, 101);
	tap_ok(p.nr_free == CAP && p.nr_out == 0 &&
	       shim_live - live0 == 2 * CAP,
	       "put keeps the cap (%u) and frees the rest", p.nr_free);

	shim_fail_countdown = 1;
	shim_fail_sticky = true;
	n = cbw_pages_get(&p, CAP + 10, &b);
	tap_ok(n == CAP && p.nr_free == 0,
	       "allocations failing: get gives the cached pages only (%u)", n);
	a = NULL;
	n = cbw_pages_get(&p, 5, &a);
	tap_ok(n == 0 && !a, "nothing cached and allocations failing: no page, chain untouched");
	cbw_pages_put(&p, b, CAP);
	n = cbw_pages_get(&p, 1, &a);
	tap_ok(n == 1, "nothing out again: a page even though allocations fail");
	cbw_pages_put(&p, a, 1);
	shim_fail_countdown = 0;
	shim_fail_sticky = false;

	cbw_pages_exit(&p);
	tap_ok(shim_live == live0 && p.nr_free == 0, "exit frees every cached page");

	shim_fail_countdown = 7;
	tap_ok(cbw_pages_init(&p, RESERVE, CAP) == -ENOMEM && shim_live == live0,
	       "init failing half-way: -ENOMEM, nothing left allocated");
	shim_fail_countdown = 0;

	r = cbw_pages_init(&p, 8, 4);
	tap_ok(!r && p.cap == 8, "a cap below the reserve is raised to it");
	cbw_pages_exit(&p);
}

/* Random gets and puts, allocations failing at random, against the counts. */
static void random_ops(unsigned int ops)
{
	struct page_list *held[32] = { NULL };
	unsigned int cnt[32] = { 0 }, out = 0, i, k, n, want;
	long live0 = shim_live;
	bool ok = true, distinct;
	struct cbw_pages p;

	if (cbw_pages_init(&p, RESERVE, CAP)) {
		tap_ok(false, "init for the random run");
		return;
	}
	for (i = 0; i < ops && ok; i++) {
		k = rnd_below(32);
		if (!cnt[k]) {
			want = 1 + rnd_below(rnd_below(4) ? 20 : 300);
			shim_fail_countdown = rnd_below(3) ? 0 : 1 + rnd_below(40);
			n = cbw_pages_get(&p, want, &held[k]);
			shim_fail_countdown = 0;
			ok = n <= want && (out || n >= 1) &&
			     chain_len(held[k], &distinct) == n;
			cnt[k] = n;
			out += n;
		} else {
			cbw_pages_put(&p, held[k], cnt[k]);
			out -= cnt[k];
			held[k] = NULL;
			cnt[k] = 0;
		}
		ok = ok && p.nr_out == out && p.nr_free <= p.cap &&
		     p.nr_free + p.nr_out >= RESERVE &&
		     shim_live - live0 == 2 * (long)(p.nr_free + p.nr_out);
	}
	tap_ok(ok, "%u random gets and puts: counts, cap, reserve, pages all accounted (stopped at %u)",
	       ops, i);
	for (k = 0; k < 32; k++)
		cbw_pages_put(&p, held[k], cnt[k]);
	cbw_pages_exit(&p);
	tap_ok(shim_live == live0, "the random run leaked nothing");
}

int main(void)
{
	const char *seed = getenv("CBW_TEST_SEED");

	rng_state = seed ? strtoull(seed, NULL, 0) : (u64)time(NULL);
	tap_diag("pages unit test, seed %llu", (unsigned long long)rng_state);

	basics();
	random_ops(20000);

	tap_ok(shim_live == 0, "nothing leaked");
	tap_ok(shim_warnings == 0, "no WARN_ON fired (%d)", shim_warnings);
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}
