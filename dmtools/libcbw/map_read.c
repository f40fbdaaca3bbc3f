// SPDX-License-Identifier: GPL-2.0
/*
 * The readable chunks of a cbw snapshot as one list; see map_read.h.
 */

#include <errno.h>

#include "error.h"
#include "map_message.h"
#include "map_read.h"

int map_read_verb(const char *name, const char *verb, uint64_t chunks,
		  struct chunk_runs *out)
{
	struct snapmap m;
	struct chunk_run run;
	int got, r = 0;

	snapmap_init(&m, name, chunks);
	m.verb = verb;
	while ((got = snapmap_next(&m, &run)) > 0) {
		/* Runs come in order: runs_add() merges those that touch. */
		if (!runs_add(out, run.first, run.last)) {
			lib_error("out of memory");
			r = -ENOMEM;
			break;
		}
	}
	if (got < 0)
		r = got;	/* snapmap_next() said why */
	snapmap_release(&m);
	return r;
}

int cbw_map_read(const char *name, uint64_t chunks, struct chunk_runs *out)
{
	return map_read_verb(name, "map", chunks, out);
}
