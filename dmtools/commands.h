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
 *              read-only, uuid CBW-NAME-snap
 *
 * A cbw device "made by cbwctl" has a uuid starting with CBW- and a
 * one-target cbw table; its snapshot is found by uuid (its own uuid +
 * "-snap"), so it survives a rename.
 */
#ifndef CBWCTL_COMMANDS_H
#define CBWCTL_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#define CBW_UUID_PREFIX		"CBW-"
#define CBW_SNAP_SUFFIX		"-snap"

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
};

struct remove_opts {
	const char *name;
};

struct status_opts {
	const char *name;	/* NULL: every cbw device */
	bool noheadings;
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

/* cbwctl create: make NAME and NAME-snap, print their nodes. */
int cbw_create(const struct create_opts *o);

/* cbwctl remove: remove NAME-snap (if there) and NAME. */
int cbw_remove(const struct remove_opts *o);

/* cbwctl status: a table of one or all cbw devices. */
int cbw_status(const struct status_opts *o);

#endif /* CBWCTL_COMMANDS_H */
