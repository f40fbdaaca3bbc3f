/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The runs of readable chunks of a cbw snapshot, read with the cbw
 * target's "map" message (Documentation/dm-cbw.rst, "Messages").
 *
 * A reply is a line of words: "<first>-<last>" for each run of readable
 * chunks, in order, then "end", or "more <chunk>" when the kernel's
 * result buffer was full: "map <chunk>" gives the rest.  snapmap_parse()
 * checks one reply strictly (a changed kernel interface gives an error,
 * not a wrong backup); struct snapmap walks the whole map one reply at a
 * time, so its memory stays bounded however many runs there are.
 *
 * The runs are read under the snapshot's lock one at a time, and chunks
 * may leave the snapshot meanwhile (dropped, discarded): a run from the
 * map may hold chunks that no longer read.  Chunks never join the
 * snapshot after its incremental set-up, so no run is missed.
 */
#ifndef CBWCTL_SNAPMAP_H
#define CBWCTL_SNAPMAP_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_runs.h"		/* struct chunk_run */

/**
 * snapmap_parse() - parse one "map" reply.
 * @reply: the reply text.
 * @from: the chunk the "map" message started at.
 * @chunks: the number of chunks of the cbw device.
 * @runs: where the runs go (readable chunks, both ends included).
 * @max_runs: the room in @runs; a reply with more runs is refused.
 * @count: set to the number of runs.
 * @next: set to the chunk to ask from for the rest ("more <chunk>"), or to
 *	  @chunks when the reply ended with "end".
 *
 * The runs must lie in [@from, @chunks), each with first <= last, in
 * increasing order without overlap; "more <chunk>" must point past @from
 * and past the last run, below @chunks.  Words are separated by single
 * spaces; nothing may follow "end" or "more <chunk>".
 *
 * Return: NULL on success, else a short static text saying what is
 * wrong; @runs, @count and @next may then be partly written.
 */
const char *snapmap_parse(const char *reply, uint64_t from, uint64_t chunks,
			  struct chunk_run *runs, size_t max_runs,
			  size_t *count, uint64_t *next);

/**
 * struct snapmap - a walk through the map of one cbw device.
 * @dev: the cbw device's name.
 * @verb: the message: "map" (snapmap_init()'s), or "track_map" for the
 *	  changed set of a track table (the same reply format).
 * @chunks: its number of chunks.
 * @from: the chunk the last "map" message started at: the last reply's
 *	  span is [@from, @next), and the chunks of the span outside its
 *	  runs were not readable when it was read (holes).
 * @next: the chunk the next "map" message starts at; @chunks after "end".
 * @runs: the runs of the last reply.
 * @size: the room in @runs.
 * @count: how many runs @runs holds.
 * @pos: the next run of @runs to hand out.
 * @fetched: NULL, or called after each reply is parsed, before its first
 *	     run is handed out (also for a reply without runs), with @m and
 *	     @data: a negative errno from it stops the walk, and
 *	     snapmap_next() returns it (the callback says why itself).
 * @data: for @fetched.
 */
struct snapmap {
	const char *dev;
	const char *verb;
	uint64_t chunks;
	uint64_t from;
	uint64_t next;
	struct chunk_run *runs;
	size_t size;
	size_t count;
	size_t pos;
	int (*fetched)(const struct snapmap *m, void *data);
	void *data;
};

/**
 * snapmap_init() - start a walk through the map of @dev from chunk 0.
 * @m: the walk.
 * @dev: the cbw device's name (kept, not copied).
 * @chunks: its number of chunks (status field 2).
 *
 * Nothing is sent before the first snapmap_next().  The caller may set
 * @m->fetched and @m->data afterwards.
 */
void snapmap_init(struct snapmap *m, const char *dev, uint64_t chunks);

/**
 * snapmap_next() - the next run of readable chunks.
 * @m: the walk.
 * @run: set to the run.
 *
 * Sends a "map" message to the device whenever the runs of the last reply
 * are used up.
 *
 * Return: 1 with @run set, 0 at the end of the map, or a negative errno
 * after lib_error() said why: -EIO (the message failed or its reply is
 * malformed) or -ENOMEM; or the error of @m->fetched.
 */
int snapmap_next(struct snapmap *m, struct chunk_run *run);

/** snapmap_release() - free what the walk allocated. */
void snapmap_release(struct snapmap *m);

#endif /* CBWCTL_SNAPMAP_H */
