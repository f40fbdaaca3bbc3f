/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The readable chunks of a cbw snapshot, read with the cbw target's "map"
 * message, for 'cbwctl map' and for any command that reads the snapshot
 * run by run.
 *
 * The target answers "map [<chunk>]" with the runs of readable chunks from
 * <chunk> on, "<first>-<last> ...", ended by "end", or by "more <chunk>"
 * when its answer buffer is full; cbw_map_read() asks again from there
 * until "end".  The runs are read one at a time under the snapshot's lock:
 * while chunks are dropped or discarded, the result is not a picture of
 * one moment (see Documentation/dm-cbw.rst, "Messages").
 */
#ifndef CBWCTL_MAP_H
#define CBWCTL_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "runs.h"

/**
 * map_answer_parse() - parse one answer to "map <@from>".
 * @answer: the target's answer.
 * @from: the chunk the map was asked from.
 * @out: the runs are added to it (runs_add()).
 * @next: set to the chunk to ask from next, or UINT64_MAX after "end".
 *
 * The runs must be in increasing order, not overlap and start at or after
 * @from; "more <chunk>" must be past @from and past every run, so that
 * asking again makes progress.
 *
 * Return: NULL on success, else a short static text saying what is wrong
 * ("out of memory" when runs_add() fails).
 */
const char *map_answer_parse(const char *answer, uint64_t from,
			     struct chunk_runs *out, uint64_t *next);

/**
 * cbw_map_read() - the readable chunks of the snapshot of the cbw device
 * @name.
 * @name: a device whose table is one cbw target (the caller checks).
 * @out: an empty list; filled with the readable chunks, normalized.  Free
 *	 it with runs_free(), also after a failure.
 *
 * Works in every state: during the incremental set-up it gives the set
 * built so far; on a broken snapshot, the chunks that were readable.
 * Prints the reason when it fails.
 *
 * Return: CBW_EXIT_OK, or CBW_EXIT_FAILED (the message failed, or the
 * answer was not understood).
 */
int cbw_map_read(const char *name, struct chunk_runs *out);

#endif /* CBWCTL_MAP_H */
