/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The snapshot device NAME-snap of a cbw device NAME, for the commands
 * that read it or discard from it (backup, discard, export): finding it,
 * checking that its snapshot can be read, opening its node, and telling
 * whether the snapshot broke meanwhile.
 */
#ifndef CBWCTL_SNAPDEV_H
#define CBWCTL_SNAPDEV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

/**
 * struct snapdev - a snapshot device found by snapdev_find().
 * @d: the cbw device and its snapshot device, with their status.
 * @path: the snapshot device's node, /dev/mapper/NAME-snap.
 * @bytes: the snapshot device's size.
 * @chunk_bytes: the chunk size.
 * @fd: the node, once snapdev_open() opened it; else -1.
 */
struct snapdev {
	struct cbw_dev d;
	char path[PATH_MAX];
	uint64_t bytes;
	uint64_t chunk_bytes;
	int fd;
};

/**
 * snapdev_find() - find the cbw device @name and its snapshot device, and
 * check that the snapshot can be read.
 * @name: the cbw device's name.
 * @discard: the command discards chunks: the snapshot device must be
 *	     writable (discards need a device open for writing).
 * @s: filled on success; release with snapdev_release().
 *
 * Says why with lib_error() when it fails.
 *
 * Return: 0; -ENOENT (no such cbw device, or it has
 * no snapshot device); -ENODEV (@discard and the snapshot device
 * is read-only); -EIO (the snapshot is broken, in incremental
 * set-up or invalid, libdevmapper failed).
 */
int snapdev_find(const char *name, bool discard, struct snapdev *s);

/**
 * snapdev_open() - open the snapshot device's node.
 * @s: from snapdev_find().
 * @flags: open() flags (O_CLOEXEC is added).
 *
 * Checks that the node is the device snapdev_find() found (not a stale
 * node).  Says why with lib_error() when it fails.
 *
 * Return: 0 (@s->fd is set), -ENODEV (no such node, or
 * another device) or -EIO.
 */
int snapdev_open(struct snapdev *s, int flags);

/**
 * snapdev_broken() - has the snapshot broken, or its device become
 * invalid or vanished, since snapdev_find()?
 * @s: from snapdev_find().
 * @why: set to the reason when it has ("the snapshot of data broke
 *	 (broken:io_error)").
 * @len: the size of @why.
 *
 * Return: false if the snapshot is still readable (as far as the status
 * tells), true otherwise, also when the status cannot be read.
 */
bool snapdev_broken(const struct snapdev *s, char *why, size_t len);

/**
 * snapdev_left() - snapdev_broken(), and the chunks that left the
 * snapshot so far.
 * @s: from snapdev_find().
 * @left: set to the status's dropped + discarded counts when the snapshot
 *	  is still readable (they only grow).
 * @why: as for snapdev_broken().
 * @len: the size of @why.
 *
 * A status read after a "map" message sees every chunk that had left
 * before the message's reply: the cbw target counts a chunk in dropped
 * or discarded in the same step, under the snapshot's lock, as it takes
 * it out of the readable set that the map lists.
 *
 * Return: as snapdev_broken().
 */
bool snapdev_left(const struct snapdev *s, uint64_t *left, char *why,
		  size_t len);

/** snapdev_release() - close the node and free what @s holds. */
void snapdev_release(struct snapdev *s);

#endif /* CBWCTL_SNAPDEV_H */
