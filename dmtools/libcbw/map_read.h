/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The readable chunks of a cbw snapshot as one list of runs, for
 * 'cbwctl map' and 'cbwctl bitmap import'.
 *
 * The map is read with the snapmap walk (snapmap.h: the "map" message,
 * its replies and their checks); cbw_map_read() collects its runs.  A
 * command that only goes through the runs once (backup) walks the map
 * itself, in bounded memory.  The runs are read one reply at a time under
 * the snapshot's lock: while chunks are dropped or discarded, the result
 * is not a picture of one moment (see Documentation/dm-cbw.rst,
 * "Messages").
 */
#ifndef CBWCTL_MAP_H
#define CBWCTL_MAP_H

#include <stdint.h>

#include "chunk_runs.h"

/**
 * cbw_map_read() - the readable chunks of the snapshot of the cbw device
 * @name.
 * @name: a device whose table is one cbw target (the caller checks).
 * @chunks: its number of chunks (status field 2, struct cbw_status); the
 *	    runs of the map must lie below it.
 * @out: an empty list; filled with the readable chunks, normalized.  Free
 *	 it with runs_free(), also after a failure.
 *
 * Works in every state: during the incremental set-up it gives the set
 * built so far; on a broken snapshot, the chunks that were readable.
 * Says why with lib_error() when it fails.
 *
 * Return: 0, or -EIO (a message failed, a reply was not understood) or
 * -ENOMEM.
 */
int cbw_map_read(const char *name, uint64_t chunks, struct chunk_runs *out);

/**
 * map_read_verb() - cbw_map_read() with another message of the same
 * replies.
 * @name: as for cbw_map_read().
 * @verb: the message (struct snapmap): "map", or "track_map" for the
 *	  changed set of a track table (track_map_read()).
 * @chunks: as for cbw_map_read().
 * @out: as for cbw_map_read().
 *
 * Return: as for cbw_map_read().
 */
int map_read_verb(const char *name, const char *verb, uint64_t chunks,
		  struct chunk_runs *out);

#endif /* CBWCTL_MAP_H */
