/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbwctl's commands.  The command line (cbwctl.c) fills one options struct
 * and calls one function; the function checks what it is given, does the
 * work, prints any error itself (one line, msg_error()) and returns the
 * exit code (enum cbw_exit).
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
#ifndef CBWCTL_COMMANDS_H
#define CBWCTL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dm.h"
#include "ranges.h"
#include "status_line.h"

#define CBW_UUID_PREFIX		"CBW-"
#define CBW_SNAP_SUFFIX		"-snap"
#define CBW_REAL_SUFFIX		"-real"	/* snapshot's hidden layer */

/*
 * The longest NAME create accepts: NAME-snap must fit a device-mapper name
 * (127 characters) and CBW-NAME-snap a uuid (128).
 */
#define CBW_NAME_MAX		119

struct create_opts {
	const char *name;	/* the cbw device to make */
	const char *origin;	/* origin block device (path) */
	const char *cow;	/* COW block device (path) */
	uint64_t chunk_bytes;	/* chunk size, already checked */
	uint64_t timeout_ms;	/* copy timeout, 0 for none */
	enum cbw_policy policy;	/* error policy */
	bool no_discard_passdown;
	const char *bitmap;	/* the snapshot set's file; NULL: every chunk */
	enum bitmap_format bitmap_format;
	bool bitmap_format_option;	/* --bitmap-format was given */
	uint64_t era_block_sectors;	/* for an era bitmap; 0: not given */
};

struct remove_opts {
	const char *name;
};

struct status_opts {
	const char *name;	/* NULL: every cbw device */
	const char *fields;	/* -o: NULL for the default fields */
	const char *sort;	/* -O: sort keys, NULL for none */
	const char *separator;	/* --separator: NULL for aligned columns */
	bool noheadings;
	bool json;
};

/**
 * name_check() - is @name usable as a device name?
 * @name: the name.
 * @for_create: also require what create needs: at most CBW_NAME_MAX
 *		characters from A-Z a-z 0-9 # + - . : = @ _ (the characters
 *		udev keeps as they are).
 *
 * Return: NULL if it is, else a short static text saying why not.
 */
const char *name_check(const char *name, bool for_create);

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
 * Prints the reason when it fails.
 *
 * Return: CBW_EXIT_OK, or CBW_EXIT_DEVICE (missing, not a block device,
 * cannot be opened or measured).
 */
int blockdev_probe(struct blockdev *bd);

/**
 * cbw_check_free() - fail unless no device has @name, or no device has
 * @uuid.
 * @name: a device name, or NULL to check @uuid.
 * @uuid: a uuid, used when @name is NULL.
 *
 * Prints the reason when it fails.
 *
 * Return: CBW_EXIT_OK, CBW_EXIT_BUSY (taken) or CBW_EXIT_FAILED.
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
 */
struct cbw_dev {
	struct cbwdm_dev dev;
	struct cbw_status st;
	bool has_snap;
	struct cbwdm_dev snap;
	struct access_status snap_st;
};

/**
 * cbw_find() - look up the cbw device @name and its snapshot device.
 * @name: a device name.
 * @ours: also require that cbwctl made it (uuid CBW-..., or a snapshot
 *	  device of cbwctl's).
 * @d: filled on success; release with cbw_dev_release().
 *
 * Prints the reason when it fails.
 *
 * Return: CBW_EXIT_OK, CBW_EXIT_NOTFOUND (no such device, not a one-target
 * cbw table, not cbwctl's) or CBW_EXIT_FAILED.
 */
int cbw_find(const char *name, bool ours, struct cbw_dev *d);

/**
 * cbw_find_any() - cbw_find() without @ours, and without a message when
 * @name does not exist or is not a cbw device (for going through a list).
 * @name: a device name.
 * @d: filled on success; release with cbw_dev_release().
 *
 * Return: as cbw_find().
 */
int cbw_find_any(const char *name, struct cbw_dev *d);

/** cbw_dev_release() - free what cbw_find() put into @d. */
void cbw_dev_release(struct cbw_dev *d);

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
 * @chunk_bytes: the chunk size in bytes, checked by chunk_size_check().
 * @timeout_ms: the copy timeout, 0 for none (the default).
 * @policy: the error policy; CBW_POLICY_FAIL is the default.
 * @incremental: start with an empty snapshot set (the incremental
 *		 feature).
 * @no_discard_passdown: do not discard freed COW slots.
 */
struct cbw_table {
	dev_t origin;
	dev_t cow;
	uint64_t chunk_bytes;
	uint64_t timeout_ms;
	enum cbw_policy policy;
	bool incremental;
	bool no_discard_passdown;
};

/* Long enough for any cbw_table_params() result. */
#define CBW_TABLE_PARAMS_LEN	192

/**
 * cbw_table_params() - the cbw constructor arguments for @t, devices as
 * major:minor, the features only those that differ from the defaults,
 * e.g. "253:0 253:1 128 4 timeout 500 on_error break".
 * @t: the table.
 * @buf: at least CBW_TABLE_PARAMS_LEN bytes.
 */
void cbw_table_params(const struct cbw_table *t, char *buf);

/*
 * cbwctl create: make NAME and NAME-snap, print their nodes.  With
 * @o->bitmap, NAME gets the incremental feature and the file's chunks
 * (bitmap.h) before NAME-snap is made; any failure removes what was made.
 */
int cbw_create(const struct create_opts *o);

/* cbwctl remove: remove NAME-snap (if there) and NAME. */
int cbw_remove(const struct remove_opts *o);

/* cbwctl status: a table of one or all cbw devices. */
int cbw_status(const struct status_opts *o);

#endif /* CBWCTL_COMMANDS_H */
