/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Change tracking inside libcbw: the public calls' helpers (track.c) and
 * the state file of cbwctl untrack --state / track --state
 * (track_state.c).
 *
 * The state file, text, one item per line, each line ending with '\n':
 *
 *	cbw-track-state 1
 *	uuid 5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6b
 *	generation 7
 *	chunk-sectors 128
 *	device-sectors 2097152
 *	state clean
 *	changed 42
 *	0-9
 *	17
 *	100-130
 *	end
 *
 * "cbw-track-state 1" is the magic and the format's version; the others
 * come in this order, each once.  uuid and generation are the history's
 * identity (status fields 19 and 20), chunk-sectors and device-sectors
 * the chunk size and the device's size in 512-byte sectors that the set
 * belongs to.  state is "clean" (written by untrack from a suspended
 * device: the ranges are the whole changed set) or "active" (written by
 * track when tracking began: the device is tracked now, or was when it
 * stopped without untrack; its ranges, none, mean nothing).  changed is
 * the number of chunks in the ranges that follow: one per line, "N" or
 * "N-M" (both included), in increasing order, neither overlapping nor
 * touching, below the device's chunks.  "end" closes the file; nothing
 * follows it.  A file that breaks any of this is refused whole.
 */
#ifndef LIBCBW_TRACK_H
#define LIBCBW_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk_runs.h"
#include "device.h"
#include "libcbw.h"

/* The first line of a state file: the magic and the version. */
#define TRACK_STATE_MAGIC	"cbw-track-state 1"

/* The largest state file read, in bytes (a set of 2^24 runs). */
#define TRACK_STATE_MAX		(256ULL << 20)

/**
 * struct track_state - what a state file holds.
 * @uuid: the history's uuid.
 * @generation: its generation, at least 1.
 * @chunk_sectors: the chunk size in sectors (a power of two, >= 8).
 * @device_sectors: the device's size in sectors, at least 1.
 * @clean: state clean (true) or active.
 * @runs: the changed chunks, normalized; empty for an active file.
 */
struct track_state {
	char uuid[CBW_TRACK_UUID_LEN + 1];
	uint64_t generation;
	uint64_t chunk_sectors;
	uint64_t device_sectors;
	bool clean;
	struct chunk_runs runs;
};

/**
 * track_state_parse() - parse the text of a state file.
 * @text: the text, @len bytes (need not end with '\0'; a '\0' in it is
 *	  refused).
 * @len: its length.
 * @ts: filled on success; release @ts->runs with runs_free() (also after
 *	a failure).
 * @line: set to the number of the line that is wrong (1 for the first),
 *	  0 on success.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *track_state_parse(const char *text, size_t len,
			      struct track_state *ts, unsigned int *line);

/**
 * track_state_format() - the text of a state file.
 * @ts: the state (@ts->runs normalized; written only when @ts->clean).
 * @len: set to the text's length.
 *
 * Return: the text, malloc'ed; NULL when out of memory.
 */
char *track_state_format(const struct track_state *ts, size_t *len);

/**
 * track_state_read() - read and parse a state file.
 * @path: the file.
 * @ts: filled on success; release @ts->runs with runs_free() (also after
 *	a failure).
 * @why: set to why it cannot be used, on failure.
 * @why_len: the size of @why.
 *
 * Return: 0, -ENOENT (no such file), -EINVAL (damaged, too large), -EIO
 * (it cannot be read).
 */
int track_state_read(const char *path, struct track_state *ts, char *why,
		     size_t why_len);

/**
 * track_state_write() - write a state file safely: @path.tmp, written and
 * fsync'ed, renamed to @path, then the folder fsync'ed.
 * @path: the file.
 * @ts: the state.
 *
 * Says why with lib_error() when it fails (and removes @path.tmp).
 *
 * Return: 0, -ENOMEM or -EIO.
 */
int track_state_write(const char *path, const struct track_state *ts);

/**
 * track_set_bytes() - the bytes of @count chunks of a set.
 * @count: chunks in the set.
 * @has_last: the device's last chunk is one of them.
 * @chunks: the device's chunks.
 * @chunk_bytes: the chunk size.
 * @size_bytes: the device's size (its last chunk may be partial).
 *
 * Return: the bytes.
 */
uint64_t track_set_bytes(uint64_t count, bool has_last, uint64_t chunks,
			 uint64_t chunk_bytes, uint64_t size_bytes);

/**
 * track_info_fill() - the public struct cbw_track_info of @d; the bytes of
 * a changed set of a device whose last chunk is partial need one
 * "track_map" message.
 * @d: from cbw_find().
 * @ti: filled.
 *
 * Return: 0, or a negative errno after lib_error().
 */
int track_info_fill(const struct cbw_dev *d, struct cbw_track_info *ti);

/**
 * track_map_read() - the changed set of the track table of @name
 * ("track_map" messages, the replies of "map").
 * @name: a device whose table is one cbw target that tracks.
 * @chunks: its number of chunks.
 * @out: an empty list; filled, normalized.  Free it with runs_free(),
 *	 also after a failure.
 *
 * Return: 0, or -EIO or -ENOMEM after lib_error().
 */
int track_map_read(const char *name, uint64_t chunks, struct chunk_runs *out);

#endif /* LIBCBW_TRACK_H */
