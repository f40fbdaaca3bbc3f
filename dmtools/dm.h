/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin wrappers around libdevmapper for cbwctl: create, remove, status and
 * list, with udev synchronisation and libdevmapper's messages caught.
 *
 * Messages: libdevmapper's log goes through cbwctl's own log function.
 * Errors are kept (the first since the last wrapper call began) for the
 * caller's one-line message, see cbwdm_error(); nothing reaches stderr
 * unless cbwctl runs with -v.
 *
 * Device nodes: with udev running (and libdevmapper built with udev
 * support) the udev rules make /dev/mapper/NAME; otherwise, or with
 * DM_DISABLE_UDEV set, libdevmapper makes the nodes itself.  Either way
 * the nodes exist once cbwdm_udev_wait() has returned.  A command that
 * changes devices does:
 *
 *	uint32_t cookie;
 *
 *	cbwdm_udev_begin(&cookie);
 *	cbwdm_create(..., &cookie);	(and/or cbwdm_remove(..., &cookie))
 *	cbwdm_udev_wait(cookie);	(always, even after a failure)
 *
 * None of this is thread safe; cbwctl has one thread.
 */
#ifndef CBWCTL_DM_H
#define CBWCTL_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return values of cbwdm_status(). */
enum {
	CBWDM_ERROR = -1,
	CBWDM_FOUND = 0,
	CBWDM_NOTFOUND = 1,
};

/**
 * struct cbwdm_dev - one device and the first target of its live table.
 * @name: the device's name.
 * @uuid: its uuid, "" when it has none.
 * @major: device number, major.
 * @minor: device number, minor.
 * @read_only: the device is read-only.
 * @open_count: how many times the device is open (mounts, processes,
 *		devices stacked on it).
 * @targets: number of targets in the live table (0: no live table).
 * @start: first target: start sector.
 * @length: first target: length in sectors.
 * @type: first target: target type, "" without a live table.
 * @params: first target: status line, "" without a live table.
 *
 * Filled by cbwdm_status(); the strings belong to the struct and are freed
 * by cbwdm_dev_release().
 */
struct cbwdm_dev {
	char *name;
	char *uuid;
	uint32_t major;
	uint32_t minor;
	bool read_only;
	int open_count;
	unsigned int targets;
	uint64_t start;
	uint64_t length;
	char *type;
	char *params;
};

/**
 * cbwdm_init() - route libdevmapper's log through cbwctl.
 * @verbose: 0 keeps it quiet; 1 prints its errors, warnings and notices on
 *	     stderr as they happen; 2 prints everything, debug included.
 */
void cbwdm_init(int verbose);

/** cbwdm_exit() - release libdevmapper's resources (control device, ...). */
void cbwdm_exit(void);

/**
 * cbwdm_error() - the first error libdevmapper reported during the last
 * wrapper call, e.g. "device-mapper: reload ioctl on x (253:0) failed:
 * Invalid argument".
 *
 * Return: the message; a generic text if libdevmapper gave none.  Valid
 * until the next wrapper call.
 */
const char *cbwdm_error(void);

/** cbwdm_dir() - the folder of the device nodes, normally /dev/mapper. */
const char *cbwdm_dir(void);

/**
 * cbwdm_udev_begin() - start a group of device changes.
 * @cookie: set to the udev cookie to pass to the changes (0 when udev is
 *	    not in use).
 *
 * Return: true on success; on failure the error is in cbwdm_error() and
 * cbwdm_udev_wait() need not be called.
 */
bool cbwdm_udev_begin(uint32_t *cookie);

/**
 * cbwdm_udev_wait() - end a group of changes: wait for udev to process
 * them, or make and remove the nodes when udev is not in use.
 * @cookie: from cbwdm_udev_begin().
 *
 * Return: true on success; false if the udev wait failed (the changes
 * themselves were made; the error is in cbwdm_error()).
 */
bool cbwdm_udev_wait(uint32_t cookie);

/**
 * cbwdm_status() - look up a device and read the status of its live table.
 * @name: the device's name, or NULL to look up by @uuid.
 * @uuid: the device's uuid if @name is NULL.
 * @dev: filled when the device is found; release with cbwdm_dev_release().
 *
 * Return: CBWDM_FOUND, CBWDM_NOTFOUND, or CBWDM_ERROR (see cbwdm_error()).
 */
int cbwdm_status(const char *name, const char *uuid, struct cbwdm_dev *dev);

/**
 * cbwdm_open_count() - how many times a device is open now.
 * @name: the device's name.
 *
 * Return: the open count, or CBWDM_ERROR (see cbwdm_error()), also when
 * the device does not exist.
 */
int cbwdm_open_count(const char *name);

/** cbwdm_dev_release() - free what cbwdm_status() put into @dev. */
void cbwdm_dev_release(struct cbwdm_dev *dev);

/**
 * cbwdm_create() - create, load and resume a device with a one-target
 * table "0 <sectors> <type> <params>".
 * @name: the new device's name.
 * @uuid: its uuid.
 * @read_only: make it read-only.
 * @sectors: the target's length.
 * @type: the target type.
 * @params: the target's constructor arguments.
 * @low_priority: ask udev to give the device's /dev/disk/by-* links a low
 *		  priority (for a snapshot, whose filesystem ids repeat the
 *		  origin's).
 * @cookie: from cbwdm_udev_begin().
 * @major: set to the new device's major number on success.
 * @minor: set to the new device's minor number on success.
 *
 * If the table is refused, libdevmapper removes the new device again.
 *
 * Return: true on success, else false (see cbwdm_error()).
 */
bool cbwdm_create(const char *name, const char *uuid, bool read_only,
		  uint64_t sectors, const char *type, const char *params,
		  bool low_priority, uint32_t *cookie,
		  uint32_t *major, uint32_t *minor);

/**
 * cbwdm_remove() - remove a device, retrying for a few seconds while it is
 * busy (udev may be scanning it).
 * @name: the device's name.
 * @cookie: from cbwdm_udev_begin().
 * @busy: set to true when the removal failed because the device is in use.
 *
 * Return: true on success, else false (see cbwdm_error()).
 */
bool cbwdm_remove(const char *name, uint32_t *cookie, bool *busy);

/**
 * cbwdm_message() - send a target message to sector 0 of a device, like
 * 'dmsetup message NAME 0 MESSAGE'.
 * @name: the device's name.
 * @message: the message.
 * @result: if not NULL, set to the target's answer (malloc'ed, "" when it
 *	    gave none) on success, NULL on failure.
 * @err: if not NULL, set to the errno of a failed ioctl (EINVAL for a
 *	 malformed message, EBUSY, ...), 0 on success.
 *
 * Return: true on success, else false (see cbwdm_error(); the kernel logs
 * its reason).
 */
bool cbwdm_message(const char *name, const char *message, char **result,
		   int *err);

/**
 * cbwdm_list() - the names of all device-mapper devices, sorted.
 * @names: set to a malloc'ed array of malloc'ed names.
 * @count: set to the number of names.
 *
 * Return: true on success, else false (see cbwdm_error()).  Free the result
 * with cbwdm_list_free().
 */
bool cbwdm_list(char ***names, size_t *count);

/** cbwdm_list_free() - free a cbwdm_list() result. */
void cbwdm_list_free(char **names, size_t count);

#endif /* CBWCTL_DM_H */
