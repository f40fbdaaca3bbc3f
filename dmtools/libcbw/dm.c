// SPDX-License-Identifier: GPL-2.0
/*
 * libdevmapper wrappers; see dm.h.
 */

#define _GNU_SOURCE		/* vasprintf() */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdevmapper.h>

#include "dm.h"
#include "error.h"
#include "libcbw.h"

/*
 * libdevmapper's log levels; its log.h is not installed.  The level
 * argument of the log function carries flags above the low four bits.
 */
#define LIBDM_LEVEL_MASK	0x0f
#define LIBDM_LOG_ERR		3
#define LIBDM_LOG_WARN		4
#define LIBDM_LOG_NOTICE	5
#define LIBDM_LOG_STDERR	0x80	/* a warning, not output */

/* The first libdevmapper error of the thread's current wrapper call. */
static _Thread_local char first_error[512];

/*
 * Whether log_fn() is libdevmapper's log function: from the first public
 * call (or cbw_set_log()) to cbw_lib_exit().
 */
static bool log_installed;

/*
 * libdevmapper's log: the first error of each wrapper call is kept for
 * cbwdm_error(); every message, and every line libdevmapper prints
 * (log_print(): the warning level without the stderr flag, e.g. the lines
 * of a report), goes to the function of cbw_set_log(), if any.  Nothing
 * is printed.
 */
__attribute__((format(printf, 5, 6)))
static void log_fn(int level, const char *file, int line, int dm_errno_or_class,
		   const char *f, ...)
{
	char buf[sizeof(first_error)], *out;
	bool keep;
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno_or_class;

	if (level == LIBDM_LOG_WARN) {
		if (!lib_log_wanted())
			return;
		va_start(ap, f);
		if (vasprintf(&out, f, ap) >= 0) {
			lib_log(CBW_LOG_OUTPUT, out);
			free(out);
		}
		va_end(ap);
		return;
	}

	level &= LIBDM_LEVEL_MASK;
	keep = level <= LIBDM_LOG_ERR && !first_error[0];
	if (!keep && !lib_log_wanted())
		return;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);

	if (keep)
		memcpy(first_error, buf, sizeof(first_error));
	lib_log(level, buf);
}

/*
 * Make log_fn() libdevmapper's log function, before libdevmapper is used:
 * its default one prints on stderr.
 */
static void install_log(void)
{
	if (!log_installed) {
		dm_log_with_errno_init(log_fn);
		log_installed = true;
	}
}

static void clear_error(void)
{
	install_log();
	first_error[0] = '\0';
}

void lib_begin(void)
{
	install_log();
	lib_error_reset();
}

void cbw_set_log(cbw_log_fn fn, void *data)
{
	lib_log_set(fn, data);
	install_log();
}

void cbw_lib_exit(void)
{
	install_log();		/* what dm_lib_exit() says goes nowhere */
	dm_lib_release();
	dm_lib_exit();
	dm_log_with_errno_init(NULL);	/* libdevmapper's own log again */
	log_installed = false;
}

const char *cbwdm_error(void)
{
	return first_error[0] ? first_error : CBW_DM_NO_MESSAGE;
}

const char *cbwdm_dir(void)
{
	return dm_dir();
}

bool cbwdm_udev_begin(uint32_t *cookie)
{
	clear_error();
	return dm_udev_create_cookie(cookie);
}

bool cbwdm_udev_wait(uint32_t cookie)
{
	clear_error();
	return dm_udev_wait(cookie);
}

/* strdup() that logs like libdevmapper does, so cbwdm_error() has it. */
static char *copy(const char *s)
{
	char *c = strdup(s ? s : "");

	if (!c)
		log_fn(LIBDM_LOG_ERR, __FILE__, __LINE__, 0, "out of memory");
	return c;
}

void cbwdm_dev_release(struct cbwdm_dev *dev)
{
	free(dev->name);
	free(dev->uuid);
	free(dev->type);
	free(dev->params);
	memset(dev, 0, sizeof(*dev));
}

/* Fill @dev from a STATUS task that has run and found its device. */
static bool fill_dev(struct dm_task *dmt, const struct dm_info *info,
		     struct cbwdm_dev *dev)
{
	uint64_t start, length;
	char *type, *params;
	void *next = NULL;

	dev->major = info->major;
	dev->minor = info->minor;
	dev->read_only = info->read_only;
	dev->suspended = info->suspended;
	dev->inactive_table = info->inactive_table;
	dev->open_count = info->open_count;
	if (!(dev->name = copy(dm_task_get_name(dmt))) ||
	    !(dev->uuid = copy(dm_task_get_uuid(dmt))))
		return false;

	do {
		next = dm_get_next_target(dmt, next, &start, &length, &type,
					  &params);
		if (!type)
			break;		/* no live table */
		if (!dev->targets++) {
			dev->start = start;
			dev->length = length;
			if (!(dev->type = copy(type)) ||
			    !(dev->params = copy(params)))
				return false;
		}
	} while (next);

	if (!dev->targets)
		return (dev->type = copy("")) && (dev->params = copy(""));
	return true;
}

/*
 * Run a STATUS task for the device named @name, or with the uuid @uuid, or
 * with the device number @major:@minor, and fill @dev.
 */
static int status_task(const char *name, const char *uuid, uint32_t major,
		       uint32_t minor, struct cbwdm_dev *dev)
{
	struct dm_task *dmt;
	struct dm_info info;
	int r = CBWDM_ERROR;

	clear_error();
	memset(dev, 0, sizeof(*dev));
	if (!(dmt = dm_task_create(DM_DEVICE_STATUS)))
		return CBWDM_ERROR;
	if (name ? !dm_task_set_name(dmt, name) :
	    uuid ? !dm_task_set_uuid(dmt, uuid) :
	    !dm_task_set_major_minor(dmt, major, minor, 0))
		goto out;
	if (!dm_task_run(dmt)) {
		/* Older libdevmapper fails here for a missing device. */
		if (dm_task_get_errno(dmt) == ENXIO)
			r = CBWDM_NOTFOUND;
		goto out;
	}
	if (!dm_task_get_info(dmt, &info))
		goto out;
	if (!info.exists) {
		r = CBWDM_NOTFOUND;
		goto out;
	}
	if (fill_dev(dmt, &info, dev))
		r = CBWDM_FOUND;
	else
		cbwdm_dev_release(dev);
out:
	dm_task_destroy(dmt);
	return r;
}

int cbwdm_status(const char *name, const char *uuid, struct cbwdm_dev *dev)
{
	return status_task(name, name ? NULL : uuid, 0, 0, dev);
}

int cbwdm_status_devno(uint32_t major, uint32_t minor, struct cbwdm_dev *dev)
{
	return status_task(NULL, NULL, major, minor, dev);
}

bool cbwdm_is_dm_major(uint32_t major)
{
	return dm_is_dm_major(major);
}

int cbwdm_open_count(const char *name)
{
	struct dm_task *dmt;
	struct dm_info info;
	int r = CBWDM_ERROR;

	clear_error();
	if (!(dmt = dm_task_create(DM_DEVICE_INFO)))
		return CBWDM_ERROR;
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt) ||
	    !dm_task_get_info(dmt, &info))
		goto out;
	if (info.exists)
		r = info.open_count;
	else
		log_fn(LIBDM_LOG_ERR, __FILE__, __LINE__, 0,
		       "%s no longer exists", name);
out:
	dm_task_destroy(dmt);
	return r;
}

/* The DM_UDEV_* flags for @udev. */
static uint16_t udev_flags(enum cbwdm_udev udev)
{
	switch (udev) {
	case CBWDM_UDEV_SNAPSHOT:
		return DM_UDEV_DISABLE_DISK_RULES_FLAG |
		       DM_UDEV_DISABLE_OTHER_RULES_FLAG |
		       DM_UDEV_LOW_PRIORITY_FLAG;
	case CBWDM_UDEV_LAYER:
		return DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG |
		       DM_UDEV_DISABLE_DISK_RULES_FLAG |
		       DM_UDEV_DISABLE_OTHER_RULES_FLAG;
	case CBWDM_UDEV_DEFAULT:
		break;
	}
	return 0;
}

/* Add the targets of @t to @dmt. */
static bool add_targets(struct dm_task *dmt, const struct cbwdm_table *t)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (!dm_task_add_target(dmt, t->targets[i].start,
					t->targets[i].length,
					t->targets[i].type,
					t->targets[i].params))
			return false;
	return true;
}

/* Create @name with the table @t, read-only if @read_only. */
static bool create_task(const char *name, const char *uuid, bool read_only,
			const struct cbwdm_table *t, enum cbwdm_udev udev,
			uint32_t *cookie, uint32_t *major, uint32_t *minor)
{
	struct dm_task *dmt;
	struct dm_info info;
	bool ok = false;

	clear_error();
	if (!(dmt = dm_task_create(DM_DEVICE_CREATE)))
		return false;
	if (!dm_task_set_name(dmt, name) || !dm_task_set_uuid(dmt, uuid) ||
	    (read_only && !dm_task_set_ro(dmt)) || !add_targets(dmt, t) ||
	    !dm_task_secure_data(dmt) ||
	    !dm_task_set_cookie(dmt, cookie, udev_flags(udev)))
		goto out;
	if (!dm_task_run(dmt))
		goto out;
	if (!dm_task_get_info(dmt, &info) || !info.exists) {
		log_fn(LIBDM_LOG_ERR, __FILE__, __LINE__, 0,
		       "%s vanished right after it was created", name);
		goto out;
	}
	*major = info.major;
	*minor = info.minor;
	ok = true;
out:
	dm_task_destroy(dmt);
	return ok;
}

bool cbwdm_create(const char *name, const char *uuid, bool read_only,
		  uint64_t sectors, const char *type, const char *params,
		  enum cbwdm_udev udev, uint32_t *cookie,
		  uint32_t *major, uint32_t *minor)
{
	struct cbwdm_target target = {
		.start = 0,
		.length = sectors,
		.type = (char *)type,
		.params = (char *)params,
	};
	struct cbwdm_table t = { .targets = &target, .count = 1 };

	return create_task(name, uuid, read_only, &t, udev, cookie, major,
			   minor);
}

bool cbwdm_create_table(const char *name, const char *uuid,
			const struct cbwdm_table *t, enum cbwdm_udev udev,
			uint32_t *cookie, uint32_t *major, uint32_t *minor)
{
	return create_task(name, uuid, false, t, udev, cookie, major, minor);
}

void cbwdm_table_release(struct cbwdm_table *t)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		free(t->targets[i].type);
		if (t->targets[i].params) {
			explicit_bzero(t->targets[i].params,
				       strlen(t->targets[i].params));
			free(t->targets[i].params);
		}
	}
	free(t->targets);
	memset(t, 0, sizeof(*t));
}

/* Copy the targets of a TABLE task that has run into @t. */
static bool copy_targets(struct dm_task *dmt, struct cbwdm_table *t)
{
	struct cbwdm_target *bigger;
	uint64_t start, length;
	char *type, *params;
	size_t size = 0;
	void *next = NULL;

	do {
		next = dm_get_next_target(dmt, next, &start, &length, &type,
					  &params);
		if (!type)
			break;		/* no live table */
		if (t->count == size) {
			size = size ? 2 * size : 4;
			bigger = realloc(t->targets, size * sizeof(*bigger));
			if (!bigger) {
				log_fn(LIBDM_LOG_ERR, __FILE__, __LINE__, 0,
				       "out of memory");
				return false;
			}
			t->targets = bigger;
		}
		t->targets[t->count] = (struct cbwdm_target){
			.start = start, .length = length,
		};
		t->count++;
		if (!(t->targets[t->count - 1].type = copy(type)) ||
		    !(t->targets[t->count - 1].params = copy(params)))
			return false;
	} while (next);
	return true;
}

int cbwdm_table_get(const char *name, struct cbwdm_table *t)
{
	struct dm_task *dmt;
	struct dm_info info;
	int r = CBWDM_ERROR;

	clear_error();
	memset(t, 0, sizeof(*t));
	if (!(dmt = dm_task_create(DM_DEVICE_TABLE)))
		return CBWDM_ERROR;
	if (!dm_task_set_name(dmt, name) || !dm_task_secure_data(dmt))
		goto out;
	if (!dm_task_run(dmt)) {
		if (dm_task_get_errno(dmt) == ENXIO)
			r = CBWDM_NOTFOUND;
		goto out;
	}
	if (!dm_task_get_info(dmt, &info))
		goto out;
	if (!info.exists) {
		r = CBWDM_NOTFOUND;
		goto out;
	}
	if (copy_targets(dmt, t))
		r = CBWDM_FOUND;
	else
		cbwdm_table_release(t);
out:
	dm_task_destroy(dmt);
	return r;
}

uint64_t cbwdm_table_sectors(const struct cbwdm_table *t)
{
	const struct cbwdm_target *last;

	if (!t->count)
		return 0;
	last = &t->targets[t->count - 1];
	return last->start + last->length;
}

bool cbwdm_load(const char *name, const struct cbwdm_table *t)
{
	struct dm_task *dmt;
	bool ok;

	clear_error();
	if (!(dmt = dm_task_create(DM_DEVICE_RELOAD)))
		return false;
	ok = dm_task_set_name(dmt, name) && add_targets(dmt, t) &&
	     dm_task_secure_data(dmt) && dm_task_run(dmt);
	dm_task_destroy(dmt);
	return ok;
}

/* Run a task of @type that takes only the device's name. */
static bool simple_task(int type, const char *name)
{
	struct dm_task *dmt;
	bool ok;

	clear_error();
	if (!(dmt = dm_task_create(type)))
		return false;
	ok = dm_task_set_name(dmt, name) && dm_task_run(dmt);
	dm_task_destroy(dmt);
	return ok;
}

bool cbwdm_clear(const char *name)
{
	return simple_task(DM_DEVICE_CLEAR, name);
}

/*
 * libdevmapper's suspend freezes the filesystem (lockfs) and flushes the
 * I/O in flight unless told otherwise (dm_task_skip_lockfs(),
 * dm_task_no_flush()); neither is called here.
 */
bool cbwdm_suspend(const char *name)
{
	return simple_task(DM_DEVICE_SUSPEND, name);
}

bool cbwdm_resume(const char *name, enum cbwdm_udev udev, uint32_t *cookie)
{
	struct dm_task *dmt;
	bool ok;

	clear_error();
	if (!(dmt = dm_task_create(DM_DEVICE_RESUME)))
		return false;
	ok = dm_task_set_name(dmt, name) &&
	     dm_task_set_cookie(dmt, cookie, udev_flags(udev)) &&
	     dm_task_run(dmt);
	dm_task_destroy(dmt);
	return ok;
}

bool cbwdm_remove(const char *name, uint32_t *cookie, bool *busy)
{
	struct dm_task *dmt;
	bool ok = false;

	clear_error();
	*busy = false;
	if (!(dmt = dm_task_create(DM_DEVICE_REMOVE)))
		return false;
	if (!dm_task_set_name(dmt, name) || !dm_task_retry_remove(dmt) ||
	    !dm_task_set_cookie(dmt, cookie, 0))
		goto out;
	if (dm_task_run(dmt))
		ok = true;
	else
		*busy = dm_task_get_errno(dmt) == EBUSY;
out:
	dm_task_destroy(dmt);
	return ok;
}

bool cbwdm_message(const char *name, const char *message, char **result,
		   int *err)
{
	struct dm_task *dmt;
	const char *answer;
	bool ok = false;

	clear_error();
	if (result)
		*result = NULL;
	if (err)
		*err = 0;
	if (!(dmt = dm_task_create(DM_DEVICE_TARGET_MSG)))
		return false;
	if (!dm_task_set_name(dmt, name) || !dm_task_set_sector(dmt, 0) ||
	    !dm_task_set_message(dmt, message))
		goto out;
	if (!dm_task_run(dmt)) {
		if (err)
			*err = dm_task_get_errno(dmt);
		goto out;
	}
	if (result) {
		answer = dm_task_get_message_response(dmt);
		if (!(*result = copy(answer ? answer : "")))
			goto out;
	}
	ok = true;
out:
	dm_task_destroy(dmt);
	return ok;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cbwdm_list_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

bool cbwdm_list(char ***names, size_t *count)
{
	struct dm_names *n;
	struct dm_task *dmt;
	char **list = NULL, **bigger;
	size_t nr = 0, size = 0;
	unsigned int next = 0;
	bool ok = false;

	clear_error();
	if (!(dmt = dm_task_create(DM_DEVICE_LIST)))
		return false;
	if (!dm_task_run(dmt) || !(n = dm_task_get_names(dmt)))
		goto out;

	if (n->dev) {
		do {
			n = (struct dm_names *)((char *)n + next);
			if (nr == size) {
				size = size ? 2 * size : 16;
				bigger = realloc(list, size * sizeof(*list));
				if (!bigger) {
					log_fn(LIBDM_LOG_ERR, __FILE__, __LINE__,
					       0, "out of memory");
					goto out;
				}
				list = bigger;
			}
			if (!(list[nr] = copy(n->name)))
				goto out;
			nr++;
			next = n->next;
		} while (next);
	}

	if (nr)
		qsort(list, nr, sizeof(*list), compare_names);
	*names = list;
	*count = nr;
	list = NULL;
	nr = 0;
	ok = true;
out:
	cbwdm_list_free(list, nr);
	dm_task_destroy(dmt);
	return ok;
}
