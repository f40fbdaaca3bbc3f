// SPDX-License-Identifier: GPL-2.0
/*
 * Sets of chunks as lists of runs; see chunk_runs.h.
 */

#include <stdlib.h>
#include <string.h>

#include "chunk_runs.h"

/* Does a run starting at @first continue @prev (overlap or touch)? */
static bool continues(const struct chunk_run *prev, uint64_t first)
{
	return first <= prev->last || first - prev->last == 1;
}

bool runs_add(struct chunk_runs *r, uint64_t first, uint64_t last)
{
	struct chunk_run *prev = r->nr ? &r->run[r->nr - 1] : NULL;

	if (prev && first >= prev->first && continues(prev, first)) {
		if (last > prev->last)
			prev->last = last;
		return true;
	}
	if (r->nr == r->alloc) {
		size_t alloc = r->alloc ? 2 * r->alloc : 64;
		struct chunk_run *run;

		if (alloc > SIZE_MAX / sizeof(*run))
			return false;
		run = realloc(r->run, alloc * sizeof(*run));
		if (!run)
			return false;
		r->run = run;
		r->alloc = alloc;
	}
	r->run[r->nr].first = first;
	r->run[r->nr].last = last;
	r->nr++;
	return true;
}

static int compare_runs(const void *a, const void *b)
{
	const struct chunk_run *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return 0;
}

void runs_normalize(struct chunk_runs *r)
{
	size_t i, n = 0;

	if (r->nr < 2)
		return;
	qsort(r->run, r->nr, sizeof(r->run[0]), compare_runs);
	for (i = 1; i < r->nr; i++) {
		struct chunk_run *prev = &r->run[n];

		if (continues(prev, r->run[i].first)) {
			if (r->run[i].last > prev->last)
				prev->last = r->run[i].last;
		} else {
			r->run[++n] = r->run[i];
		}
	}
	r->nr = n + 1;
}

uint64_t runs_chunks(const struct chunk_runs *r)
{
	uint64_t sum = 0, len;
	size_t i;

	for (i = 0; i < r->nr; i++) {
		len = r->run[i].last - r->run[i].first + 1;
		if (!len || sum + len < sum)
			return UINT64_MAX;
		sum += len;
	}
	return sum;
}

bool runs_subtract(const struct chunk_runs *a, const struct chunk_runs *b,
		   struct chunk_runs *out)
{
	size_t i, j = 0;

	for (i = 0; i < a->nr; i++) {
		uint64_t first = a->run[i].first, last = a->run[i].last;

		/* Skip the runs of @b that end before this one starts. */
		while (j < b->nr && b->run[j].last < first)
			j++;
		/* Cut out the runs of @b that overlap it, in order. */
		for (; j < b->nr && b->run[j].first <= last; j++) {
			if (b->run[j].first > first &&
			    !runs_add(out, first, b->run[j].first - 1))
				return false;
			if (b->run[j].last >= last)
				goto next;	/* the rest is covered */
			first = b->run[j].last + 1;
		}
		if (!runs_add(out, first, last))
			return false;
next:
		;
	}
	return true;
}

void runs_free(struct chunk_runs *r)
{
	free(r->run);
	memset(r, 0, sizeof(*r));
}
