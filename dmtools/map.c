// SPDX-License-Identifier: GPL-2.0
/*
 * The readable chunks of a cbw snapshot as one list; see map.h.
 */

#include "map.h"
#include "msg.h"
#include "snapmap.h"

int cbw_map_read(const char *name, uint64_t chunks, struct chunk_runs *out)
{
	struct snapmap m;
	struct chunk_run run;
	int got, r = CBW_EXIT_OK;

	snapmap_init(&m, name, chunks);
	while ((got = snapmap_next(&m, &run)) > 0) {
		/* Runs come in order: runs_add() merges those that touch. */
		if (!runs_add(out, run.first, run.last)) {
			msg_error("out of memory");
			r = CBW_EXIT_FAILED;
			break;
		}
	}
	if (got < 0)
		r = CBW_EXIT_FAILED;	/* snapmap_next() said why */
	snapmap_release(&m);
	return r;
}
