/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin wrappers around libdevmapper for libcbw: create, remove, status,
 * list, table read and load, suspend and resume, with udev synchronisation
 * and libdevmapper's messages caught.
 *
 * Messages: libdevmapper's log goes through the library's log function,
 * installed by lib_begin() at the start of every public call (before any
 * libdevmapper call) and by cbw_set_log(), and taken away again by
 * cbw_lib_exit().  Errors are kept
 * (the first since the last wrapper call began) for the caller's one-line
 * message, see cbwdm_error(); the rest goes to the log function of
 * cbw_set_log(), if any: the library prints nothing.
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
 * cbwdm_resume(), which swaps in a loaded table, takes the cookie too.
 * Never wait while a device is suspended: udev may need to read from it
 * (its rules run programs from the root filesystem).
 *
 * None of this is thread safe (libdevmapper's log is process-wide).
 */
#ifndef LIBCBW_DM_H
#define LIBCBW_DM_H

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
 * enum cbwdm_udev - what udev should do with a device that cbwctl makes or
 * resumes: the DM_UDEV_* flags of the event (see libdevmapper.h), which the
 * dm udev rules (10-dm.rules, Debian: 55-dm.rules) pass on to the others.
 * @CBWDM_UDEV_DEFAULT: all rules: a device in normal use.
 * @CBWDM_UDEV_SNAPSHOT: a snapshot node: no disk rules (no blkid, no
 *			 /dev/disk/by-* links: its filesystem ids repeat the
 *			 origin's) and no other rules (systemd, udisks, lvm
 *			 scanning), links of low priority.
 * @CBWDM_UDEV_LAYER: a hidden layer, like lvm's -real devices: no
 *		      subsystem, disk or other rules; only /dev/mapper/NAME.
 *
 * cbwctl's rules file (udev/12-dm-cbw.rules) sets the same by uuid, so
 * that events without these flags (udevadm trigger) are treated alike.
 */
enum cbwdm_udev {
	CBWDM_UDEV_DEFAULT = 0,
	CBWDM_UDEV_SNAPSHOT = 1,
	CBWDM_UDEV_LAYER = 2,
};

/**
 * struct cbwdm_dev - one device and the first target of its live table.
 * @name: the device's name.
 * @uuid: its uuid, "" when it has none.
 * @major: device number, major.
 * @minor: device number, minor.
 * @read_only: the device is read-only.
 * @suspended: the device is suspended.
 * @inactive_table: a table is loaded into the device's inactive slot.
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
	bool suspended;
	bool inactive_table;
	int open_count;
	unsigned int targets;
	uint64_t start;
	uint64_t length;
	char *type;
	char *params;
};

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
 * cbwdm_status_devno() - cbwdm_status() for the device with a device
 * number.
 * @major: its major number.
 * @minor: its minor number.
 * @dev: filled when the device is found; release with cbwdm_dev_release().
 *
 * Return: CBWDM_FOUND, CBWDM_NOTFOUND, or CBWDM_ERROR (see cbwdm_error()).
 */
int cbwdm_status_devno(uint32_t major, uint32_t minor, struct cbwdm_dev *dev);

/**
 * cbwdm_is_dm_major() - is @major the major number of device-mapper
 * devices?
 * @major: a major number.
 *
 * Return: true if it is.
 */
bool cbwdm_is_dm_major(uint32_t major);

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
 * @udev: what udev should do with it; CBWDM_UDEV_SNAPSHOT for a snapshot
 *	  node (false and true, as in older callers, mean
 *	  CBWDM_UDEV_DEFAULT and CBWDM_UDEV_SNAPSHOT).
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
		  enum cbwdm_udev udev, uint32_t *cookie,
		  uint32_t *major, uint32_t *minor);

/**
 * struct cbwdm_target - one target of a table.
 * @start: its first sector.
 * @length: its length in sectors.
 * @type: the target type.
 * @params: its table parameters, as the kernel shows them.
 */
struct cbwdm_target {
	uint64_t start;
	uint64_t length;
	char *type;
	char *params;
};

/**
 * struct cbwdm_table - a whole table, as 'dmsetup table' shows it.
 * @targets: the targets, in order.
 * @count: how many.
 *
 * Filled by cbwdm_table_get() (or by the caller, with strings it owns, for
 * a table only passed to cbwdm_create_table() or cbwdm_load()).
 */
struct cbwdm_table {
	struct cbwdm_target *targets;
	size_t count;
};

/**
 * cbwdm_table_get() - read the live table of a device.
 * @name: the device's name.
 * @t: filled when the device is found (no targets if it has no live
 *     table); release with cbwdm_table_release().
 *
 * The parameters are read with libdevmapper's secure_data (its buffers
 * are wiped), and cbwdm_table_release() wipes them too: a table may hold a
 * key.
 *
 * Return: CBWDM_FOUND, CBWDM_NOTFOUND, or CBWDM_ERROR (see cbwdm_error()).
 */
int cbwdm_table_get(const char *name, struct cbwdm_table *t);

/** cbwdm_table_release() - wipe and free what cbwdm_table_get() filled. */
void cbwdm_table_release(struct cbwdm_table *t);

/**
 * cbwdm_table_sectors() - the length of a table: the end of its last
 * target.
 * @t: the table.
 *
 * Return: the length in sectors, 0 for a table without targets.
 */
uint64_t cbwdm_table_sectors(const struct cbwdm_table *t);

/**
 * cbwdm_create_table() - cbwdm_create() with a table of any number of
 * targets.
 * @name: the new device's name.
 * @uuid: its uuid.
 * @t: the table; at least one target.
 * @udev: what udev should do with it.
 * @cookie: from cbwdm_udev_begin().
 * @major: set to the new device's major number on success.
 * @minor: set to the new device's minor number on success.
 *
 * Return: true on success, else false (see cbwdm_error()); a device whose
 * table is refused is removed again.
 */
bool cbwdm_create_table(const char *name, const char *uuid,
			const struct cbwdm_table *t, enum cbwdm_udev udev,
			uint32_t *cookie, uint32_t *major, uint32_t *minor);

/**
 * cbwdm_load() - load a table into the inactive slot of a device, like
 * 'dmsetup load'; it goes live at the next cbwdm_resume().
 * @name: the device's name.
 * @t: the table; at least one target.
 *
 * Return: true on success, else false (see cbwdm_error(); the kernel logs
 * why it refused a table).
 */
bool cbwdm_load(const char *name, const struct cbwdm_table *t);

/**
 * cbwdm_clear() - drop the table in the inactive slot of a device, like
 * 'dmsetup clear'.
 * @name: the device's name.
 *
 * Return: true on success, else false (see cbwdm_error()).
 */
bool cbwdm_clear(const char *name);

/**
 * cbwdm_suspend() - suspend a device, like 'dmsetup suspend': a filesystem
 * on it is frozen (its dirty data written first), the I/O in flight
 * completes and new I/O is held until the resume.
 * @name: the device's name.
 *
 * Return: true on success, else false (see cbwdm_error()).
 */
bool cbwdm_suspend(const char *name);

/**
 * cbwdm_resume() - resume a device, like 'dmsetup resume': a table loaded
 * into the inactive slot replaces the live one, then the held I/O goes on
 * and a frozen filesystem is thawed.
 * @name: the device's name.
 * @udev: what udev should do with the device (its "change" event).
 * @cookie: from cbwdm_udev_begin().
 *
 * On failure the device may still be suspended (see cbwdm_status()); if
 * the new table was swapped in but a target refused to resume, it is the
 * live table.
 *
 * Return: true on success, else false (see cbwdm_error()).
 */
bool cbwdm_resume(const char *name, enum cbwdm_udev udev, uint32_t *cookie);

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

#endif /* LIBCBW_DM_H */
