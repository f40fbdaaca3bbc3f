/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A set of chunks as a list of runs: [first, last] chunk numbers,
 * inclusive.
 *
 * A list is *normalized* when its runs are sorted, and neither overlap nor
 * touch (run i + 1 starts at least two chunks after run i ends).  The
 * parsers (chunkset_file.h) and cbw_map_read() (map_read.h) return
 * normalized lists; runs_add() keeps a list normalized as long as the
 * runs come in order.
 */
#ifndef CBWCTL_RUNS_H
#define CBWCTL_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One run of adjacent chunks, both ends inclusive (first <= last). */
struct chunk_run {
	uint64_t first;
	uint64_t last;
};

/*
 * struct chunk_runs - a growing array of runs.
 * @run: the runs.
 * @nr: how many there are.
 * @alloc: how many fit in @run.
 *
 * Start from { 0 } (empty); free with runs_free().
 */
struct chunk_runs {
	struct chunk_run *run;
	size_t nr;
	size_t alloc;
};

/**
 * runs_add() - add the chunks [@first, @last] to @r.
 * @r: the list.
 * @first: the first chunk.
 * @last: the last chunk, at least @first.
 *
 * A run that overlaps or touches the list's last run and does not start
 * before it is merged into it, so that runs added in order make a
 * normalized list without runs_normalize().
 *
 * Return: false when out of memory (@r is unchanged).
 */
bool runs_add(struct chunk_runs *r, uint64_t first, uint64_t last);

/**
 * runs_normalize() - sort the runs of @r and merge those that overlap or
 * touch.
 * @r: the list.
 */
void runs_normalize(struct chunk_runs *r);

/**
 * runs_chunks() - the number of chunks in a normalized list.
 * @r: the list.
 *
 * Return: the sum of the runs' lengths (UINT64_MAX if that overflows,
 * which only a run of all 2^64 chunk numbers can do).
 */
uint64_t runs_chunks(const struct chunk_runs *r);

/**
 * runs_subtract() - the chunks of @a that are not in @b.
 * @a: a normalized list.
 * @b: a normalized list.
 * @out: an empty list; filled with the difference, normalized.
 *
 * Return: false when out of memory (free @out all the same).
 */
bool runs_subtract(const struct chunk_runs *a, const struct chunk_runs *b,
		   struct chunk_runs *out);

/** runs_free() - free the runs of @r and make it empty again. */
void runs_free(struct chunk_runs *r);

#endif /* CBWCTL_RUNS_H */
