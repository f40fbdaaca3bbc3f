/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cbw devices of cbwctl and libcbw: making and removing them (the
 * public cbw_create() and cbw_remove()), and finding them again.
 *
 * What cbwctl makes for NAME:
 *
 *   NAME       0 <origin sectors> cbw <origin maj:min> <cow maj:min> <chunk>
 *              uuid CBW-NAME
 *   NAME-snap  0 <origin sectors> snapshot-access <NAME's maj:min>
 *              uuid CBW-NAME-snap; writable, so that it takes discards
 *              (the target fails writes with EIO)
 *
 * A cbw device "made by cbwctl" has a uuid starting with CBW- and a
 * one-target cbw table; its snapshot is found by uuid (its own uuid +
 * "-snap"), so it survives a rename.
 */
#ifndef LIBCBW_DEVICE_H
#define LIBCBW_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dm.h"
#include "libcbw.h"
#include "status_line.h"

#define CBW_UUID_PREFIX		"CBW-"
#define CBW_SNAP_SUFFIX		"-snap"
#define CBW_REAL_SUFFIX		"-real"	/* snapshot's hidden layer */

/**
 * struct blockdev - a block device given on the command line, and what
 * blockdev_probe() learnt of it.
 * @role: what it is for, in messages: "origin", "COW".
 * @path: the path given.
 * @rdev: its device number.
 * @bytes: its size.
 * @block_size: its logical block size.
 */
struct blockdev {
	const char *role;
	const char *path;
	dev_t rdev;
	uint64_t bytes;
	int block_size;
};

/**
 * blockdev_probe() - check that @bd->path is a block device and read its
 * number and sizes.
 * @bd: @role and @path set; the rest is filled on success.
 *
 * Says why with lib_error() when it fails.
 *
 * Return: 0, or -ENODEV (missing, not a block device,
 * cannot be opened or measured).
 */
int blockdev_probe(struct blockdev *bd);

/**
 * cbw_check_free() - fail unless no device has @name, or no device has
 * @uuid.
 * @name: a device name, or NULL to check @uuid.
 * @uuid: a uuid, used when @name is NULL.
 *
 * Says why with lib_error() when it fails.
 *
 * Return: 0, -EBUSY (taken) or -EIO.
 */
int cbw_check_free(const char *name, const char *uuid);

/**
 * struct cbw_dev - a cbw device and its snapshot, as cbw_find() found them.
 * @dev: the cbw device (name, uuid, numbers, open count, first target).
 * @st: its status, parsed.
 * @has_snap: its snapshot device exists (found by uuid, see
 *	      cbw_snap_uuid()).
 * @snap: the snapshot device, if @has_snap.
 * @snap_st: the snapshot's status, parsed, if @has_snap.
 * @track: its tracking fields (status fields 19-23), @track.tracking false
 *	   for a table that does not track; sizes and bytes not filled.
 */
struct cbw_dev {
	struct cbwdm_dev dev;
	struct cbw_status st;
	struct cbw_track_info track;
	bool has_snap;
	struct cbwdm_dev snap;
	struct cbw_access_status snap_st;
};

/**
 * cbw_find() - look up the cbw device @name and its snapshot device.
 * @name: a device name.
 * @ours: also require that cbwctl made it (uuid CBW-..., or a snapshot
 *	  device of cbwctl's).
 * @d: filled on success; release with cbw_dev_release().
 *
 * Says why with lib_error() when it fails.
 *
 * Return: 0, -EINVAL (@name cannot be a device's), -ENOENT (no such
 * device, not a one-target cbw table, not cbwctl's) or -EIO.
 */
int cbw_find(const char *name, bool ours, struct cbw_dev *d);

/** cbw_dev_release() - free what cbw_find() put into @d. */
void cbw_dev_release(struct cbw_dev *d);

/**
 * cbw_info_fill() - the public struct cbw_info of @d.
 * @d: from cbw_find().
 * @info: filled.
 */
void cbw_info_fill(const struct cbw_dev *d, struct cbw_info *info);

/**
 * check_name_arg() - the check of a device name passed to a public
 * function: not NULL, and cbw_name_check() accepts it.
 * @name: the name.
 *
 * Return: 0, or -EINVAL after lib_error().
 */
int check_name_arg(const char *name);

/**
 * cbw_snap_uuid() - the uuid of the snapshot device of the cbw device @dev.
 * @dev: a cbw device.
 * @buf: where to write the uuid.
 * @len: the size of @buf.
 *
 * A cbw device made by create has the uuid CBW-NAME, and its snapshot
 * CBW-NAME-snap.  A cbw device put under a live device by the snapshot
 * command keeps that device's uuid; its snapshot has CBW-NAME-snap for the
 * name NAME the device had then.
 *
 * Return: false if the uuid does not fit @buf.
 */
bool cbw_snap_uuid(const struct cbwdm_dev *dev, char *buf, size_t len);

/**
 * struct cbw_table - what goes into a cbw table line.
 * @origin: the origin's device number.
 * @cow: the COW device's device number.
 * @chunk_bytes: the chunk size in bytes, checked by cbw_chunk_size_check().
 * @timeout_ms: the copy timeout, 0 for none (the default).
 * @policy: the error policy; CBW_POLICY_FAIL is the default.
 * @incremental: start with an empty snapshot set (the incremental
 *		 feature).
 * @no_discard_passdown: do not discard freed COW slots.
 * @track: track changes (the track feature).
 * @no_cow: no COW device ("-", a track-only table; needs @track).
 */
struct cbw_table {
	dev_t origin;
	dev_t cow;
	uint64_t chunk_bytes;
	uint64_t timeout_ms;
	enum cbw_policy policy;
	bool incremental;
	bool no_discard_passdown;
	bool track;
	bool no_cow;
};

/* Long enough for any cbw_table_params() result. */
#define CBW_TABLE_PARAMS_LEN	200

/**
 * cbw_table_params() - the cbw constructor arguments for @t, devices as
 * major:minor, the features only those that differ from the defaults,
 * e.g. "253:0 253:1 128 4 timeout 500 on_error break".
 * @t: the table.
 * @buf: at least CBW_TABLE_PARAMS_LEN bytes.
 */
void cbw_table_params(const struct cbw_table *t, char *buf);

#endif /* LIBCBW_DEVICE_H */
