/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading a chunk set into a cbw device in incremental set-up: reading
 * the set from a file (chunkset_file.h) with cbwctl's messages, sending
 * it as "add" messages, ending the set-up with "start".
 *
 * A set goes in as many "add" messages as needed, each at most
 * CBW_RANGES_MSG_MAX bytes with as many ranges as fit (about 200 ranges of
 * large chunk numbers; a run is one range however long).  The kernel
 * checks all the ranges of a message before it applies any; between
 * messages, the set holds part of the file.
 */
#ifndef CBWCTL_BITMAP_H
#define CBWCTL_BITMAP_H

#include "chunkset_file.h"
#include "chunk_runs.h"

/* The longest "add" or "remove" message cbwctl sends, in bytes. */
#define CBW_RANGES_MSG_MAX	4096

/**
 * bitmap_file_read() - read a chunk set file for a device.
 * @path: the file; "-" reads standard input.
 * @format: its format, or CBW_FORMAT_AUTO.
 * @g: the device.
 * @out: an empty list, filled with the set, normalized; free it with
 *	 runs_free(), also after a failure.
 *
 * Says why with lib_error() when it fails.
 *
 * Return: 0; -EINVAL when the file cannot be opened or
 * has a syntax error; -ERANGE when a chunk is outside the device;
 * -EIO when reading fails.
 */
int bitmap_file_read(const char *path, enum cbw_format format,
		     const struct bitmap_geometry *g, struct chunk_runs *out);

/**
 * cbw_ranges_send() - send @runs to the cbw device @name as "add" or
 * "remove" messages.
 * @name: a cbw device in incremental set-up.
 * @verb: "add" or "remove".
 * @runs: the chunks, each run below the device's chunk count.
 *
 * Sends nothing for an empty list.  On failure the messages sent before
 * stay applied.  Says why with lib_error() when it fails.
 *
 * Return: 0; -EBUSY if the device is not in incremental
 * set-up; -ERANGE if the device refused a range; -EIO
 * for any other error.
 */
int cbw_ranges_send(const char *name, const char *verb,
		    const struct chunk_runs *runs);

/**
 * cbw_setup_start() - end the incremental set-up of the cbw device @name
 * (the "start" message): the held writes go on.
 * @name: a cbw device in incremental set-up.
 *
 * Says why with lib_error() when it fails.
 *
 * Return: 0, or -EBUSY if the device is not in
 * incremental set-up (any more), or -EIO.
 */
int cbw_setup_start(const char *name);

/**
 * cbw_bitmap_import() - add the chunks of @runs to the set of the cbw
 * device @name, and end the set-up unless @no_start.
 * @name: a cbw device in incremental set-up.
 * @chunks: its number of chunks (struct cbw_status).
 * @runs: the chunks, normalized, each below @chunks.
 * @no_start: leave the device in set-up.
 *
 * Reads the set first (cbw_map_read()) and sends only the chunks not in it
 * yet.  If an "add" or the "start" fails, those chunks are removed again,
 * so the set is as it was (and the device still in set-up, unless the
 * failure was that it is not).  Says why with lib_error() when it fails.
 *
 * Return: 0, or an error of cbw_ranges_send() or
 * cbw_setup_start().
 */
int cbw_bitmap_import(const char *name, uint64_t chunks,
		      const struct chunk_runs *runs, bool no_start);

#endif /* CBWCTL_BITMAP_H */
