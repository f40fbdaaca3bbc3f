/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbwctl backup --incremental: a track snapshot's chunks into a qcow2
 * image whose backing file is the previous backup; see incremental.c.
 */
#ifndef CBWCTL_INCREMENTAL_H
#define CBWCTL_INCREMENTAL_H

#include <stdbool.h>
#include <stdint.h>

/* When the track snapshot's set is committed (QEMU's bitmap sync modes). */
enum incr_sync {
	INCR_SYNC_ON_SUCCESS,	/* after a complete backup (the default) */
	INCR_SYNC_ALWAYS,	/* also the chunks written by a failed one */
	INCR_SYNC_NEVER,	/* never */
};

enum { INCR_PROGRESS_AUTO, INCR_PROGRESS_ON, INCR_PROGRESS_OFF };

/**
 * struct incr_opts - the options of cbwctl backup --incremental.
 * @to: the new image (qcow2).
 * @prev: the previous image of the chain (any format qemu-img reads), or
 *	  NULL when the snapshot holds every chunk (the first backup).
 * @sync: when to commit.
 * @force: replace @to if it exists.
 * @progress: INCR_PROGRESS_*.
 * @io_size: the read request size.
 */
struct incr_opts {
	const char *to;
	const char *prev;
	enum incr_sync sync;
	bool force;
	int progress;
	uint64_t io_size;
};

/** incr_sync_parse() - "on-success", "always" or "never"; false for others. */
bool incr_sync_parse(const char *word, enum incr_sync *s);

/** incr_sync_name() - the word of @s; NULL for a value out of the enum. */
const char *incr_sync_name(enum incr_sync s);

/**
 * incr_backup() - back up the track snapshot of the cbw device @name.
 * @name: the tracked device (DMDEV).
 * @o: the options.
 *
 * Return: an exit code (msg.h); messages are printed.
 */
int incr_backup(const char *name, const struct incr_opts *o);

#endif /* CBWCTL_INCREMENTAL_H */
