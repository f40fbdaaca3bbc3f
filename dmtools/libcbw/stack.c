// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl snapshot and release: a snapshot underneath a live device-mapper
 * device; see stack.h.
 *
 * Both commands check everything they can before they change anything,
 * then make their changes one step at a time, remembering how far they
 * got; a failed step undoes the earlier ones.  The error is given only
 * at the end, after the steps and their undo (the device resumed, unless
 * the undo could not resume it), as one line that says what failed and in
 * which state the devices were left: nothing goes to the caller's log
 * function from here while the device is suspended by these steps (a log
 * on a terminal or a file could live on the device).
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/dm-ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "chunkset_load.h"
#include "device.h"
#include "dm.h"
#include "error.h"
#include "size.h"
#include "stack.h"
#include "status_line.h"
#include "sysblock.h"
#include "track.h"

#define SECTOR_SHIFT	9

#define CBW_TARGET	"cbw"
#define ACCESS_TARGET	"snapshot-access"

/*
 * The target types whose tables may be moved to the hidden layer: they
 * keep no state beyond their table line, so DMDEV's instance and -real's
 * can both exist for a moment (see stack.h).
 */
static const char *const movable_targets[] = {
	"linear", "striped", "zero", "error",
};

_Static_assert(CBW_NAME_MAX + sizeof(CBW_REAL_SUFFIX) - 1 < DM_NAME_LEN,
	       "NAME-real must fit a device-mapper name");
_Static_assert(sizeof(CBW_UUID_PREFIX) - 1 + CBW_NAME_MAX +
	       sizeof(CBW_REAL_SUFFIX) - 1 < DM_UUID_LEN,
	       "CBW-NAME-real must fit a device-mapper uuid");

/* One snapshot under DMDEV, while a command works on it. */
struct stack {
	struct cbwdm_dev dev;		/* DMDEV */
	struct cbwdm_table table;	/* DMDEV's own table, which -real has */
	uint64_t sectors;		/* its length */
	char real_name[DM_NAME_LEN];
	char real_uuid[DM_UUID_LEN];
	char snap_name[DM_NAME_LEN];
	char snap_uuid[DM_UUID_LEN];
	uint32_t cookie;		/* udev cookie of all the changes */
	sigset_t old_mask;		/* signal mask before the changes */
	bool locked;			/* lock_memory() locked it */
	bool for_track;			/* cbw_track(), not cbw_snapshot() */
	char err[1024];			/* the error line being built */
};

static void stack_release(struct stack *s)
{
	cbwdm_dev_release(&s->dev);
	cbwdm_table_release(&s->table);
}

/* Append to the error line. */
__attribute__((format(printf, 2, 0)))
static void vappend(struct stack *s, const char *fmt, va_list ap)
{
	size_t len = strlen(s->err);

	if (len < sizeof(s->err) - 1)
		vsnprintf(s->err + len, sizeof(s->err) - len, fmt, ap);
}

/* Start the error line with the failure that stops the command. */
__attribute__((format(printf, 2, 0)))
static void vfail(struct stack *s, const char *fmt, va_list ap)
{
	s->err[0] = '\0';
	vappend(s, fmt, ap);
}

__attribute__((format(printf, 2, 3)))
static void fail(struct stack *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(s, fmt, ap);
	va_end(ap);
}

/* Add "; <what>" to the error line: what undoing the changes found. */
__attribute__((format(printf, 2, 3)))
static void note(struct stack *s, const char *fmt, ...)
{
	size_t len = strlen(s->err);
	va_list ap;

	if (len + 2 < sizeof(s->err))
		memcpy(s->err + len, "; ", 3);
	va_start(ap, fmt);
	vappend(s, fmt, ap);
	va_end(ap);
}

/* The step the test hook made fail, for why(). */
static const char *hooked_step;

/*
 * The test hook, for the selftests alone (see stack.h): true if the
 * environment's CBWCTL_FAIL_AT names @step, which the caller then skips
 * and treats as failed, as if the kernel had refused it, so that each
 * undo can be tested through cbwctl.  Not an interface: a program must
 * not set CBWCTL_FAIL_AT.
 */
static bool hook(const char *step)
{
	const char *at = getenv(CBW_FAIL_AT_ENV);

	if (!at || strcmp(at, step))
		return false;
	hooked_step = step;
	return true;
}

/*
 * Why the last step failed: the test hook, or libdevmapper's error, with
 * a pointer to the kernel log if @kernel (the kernel logs why it refused a
 * table).
 */
static const char *why(bool kernel)
{
	static char buf[640];

	if (hooked_step)
		snprintf(buf, sizeof(buf),
			 "failed by the test hook " CBW_FAIL_AT_ENV "=%s",
			 hooked_step);
	else
		snprintf(buf, sizeof(buf), "%s%s", cbwdm_error(),
			 kernel ? " (see dmesg for the kernel's reason)" : "");
	hooked_step = NULL;
	return buf;
}

/*
 * Keep SIGINT and its kind away from the calling thread while devices
 * change: a program stopped between suspend and resume would leave DMDEV
 * suspended, and whatever uses it hanging.  Signals that arrive meanwhile
 * are delivered when unblock_signals() restores the mask.  The thread's
 * mask only (pthread_sigmask(), in libc since glibc 2.34): the other
 * threads of a program are its own.
 */
static void block_signals(struct stack *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTSTP);
	pthread_sigmask(SIG_BLOCK, &set, &s->old_mask);
}

static void unblock_signals(struct stack *s)
{
	pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
}

/*
 * Before the first change: one udev cookie for all of them, and the
 * signals blocked.  Return 0 or -EIO after lib_error().
 */
static int changes_begin(struct stack *s)
{
	if (!cbwdm_udev_begin(&s->cookie)) {
		lib_error("cannot start udev synchronisation: %s", cbwdm_error());
		return -EIO;
	}
	block_signals(s);
	return 0;
}

/*
 * After the last change: the signals come again, then the wait for udev
 * (only now: udev may read DMDEV, which would hang while it is
 * suspended).  If the steps succeeded (@r is 0) but the wait fails, the
 * error line says "<@done>, but waiting for udev failed".  Return false
 * then; the change stays (libcbw.h).
 */
__attribute__((format(printf, 3, 4)))
static bool changes_end(struct stack *s, int r, const char *done, ...)
{
	size_t len;
	va_list ap;

	unblock_signals(s);
	if (cbwdm_udev_wait(s->cookie) || r)
		return true;
	va_start(ap, done);
	vfail(s, done, ap);
	va_end(ap);
	len = strlen(s->err);
	snprintf(s->err + len, sizeof(s->err) - len,
		 ", but waiting for udev failed: %s", cbwdm_error());
	return false;
}

/* cbw_set_mlock(): lock memory around the suspend (the default). */
static bool mlock_on = true;

void cbw_set_mlock(bool on)
{
	mlock_on = on;
}

/*
 * While DMDEV is suspended every read from it waits for the resume.  If
 * the program or a library of its lives on DMDEV (a root volume), a page
 * fault would wait for a resume that only the program can do.  So every
 * page is locked in memory first, as lvm does around its suspends.
 * Without the privilege (CAP_IPC_LOCK) it goes on unlocked: it only
 * matters when the programs live on DMDEV.  munlockall() afterwards, only
 * if mlockall() locked, also drops the program's own locks: a program
 * that has them turns this off (cbw_set_mlock()).
 */
static void lock_memory(struct stack *s)
{
	if (mlock_on && !s->locked)
		s->locked = !mlockall(MCL_CURRENT | MCL_FUTURE);
}

static void unlock_memory(struct stack *s)
{
	if (s->locked)
		(void)munlockall();
	s->locked = false;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t len = strlen(s), n = strlen(suffix);

	return len >= n && !strcmp(s + len - n, suffix);
}

/* Is @uuid the uuid of a hidden layer of cbwctl's (CBW-...-real)? */
static bool is_real_uuid(const char *uuid)
{
	return has_prefix(uuid, CBW_UUID_PREFIX) &&
	       strlen(uuid) > strlen(CBW_UUID_PREFIX CBW_REAL_SUFFIX) &&
	       has_suffix(uuid, CBW_REAL_SUFFIX);
}

/* The same for a snapshot node (CBW-...-snap). */
static bool is_snap_uuid(const char *uuid)
{
	return has_prefix(uuid, CBW_UUID_PREFIX) &&
	       strlen(uuid) > strlen(CBW_UUID_PREFIX CBW_SNAP_SUFFIX) &&
	       has_suffix(uuid, CBW_SNAP_SUFFIX);
}

/*
 * The device-mapper device @arg names, whose status goes into @dev: a
 * device-mapper name, or a path to a device node.  Return 0 or a negative errno.
 */
static int resolve(const char *arg, struct cbwdm_dev *dev)
{
	char path[DM_NAME_LEN + 8];
	struct stat st;
	int r;

	if (!strchr(arg, '/')) {
		r = cbwdm_status(arg, NULL, dev);
		if (r == CBWDM_FOUND)
			return 0;
		if (r == CBWDM_ERROR) {
			lib_error("cannot look up %s: %s", arg, cbwdm_error());
			return -EIO;
		}
		/* "sda" for /dev/sda deserves a better answer than "no". */
		snprintf(path, sizeof(path), "/dev/%s", arg);
		if (!stat(path, &st) && S_ISBLK(st.st_mode) &&
		    !cbwdm_is_dm_major(major(st.st_rdev))) {
			lib_error("%s is not a device-mapper device", path);
			return -ENOTBLK;
		}
		lib_error("no device-mapper device %s", arg);
		return -ENOENT;
	}

	if (stat(arg, &st)) {
		if (errno == ENOENT || errno == ENOTDIR) {
			lib_error("%s does not exist", arg);
			return -ENODEV;
		}
		lib_error("cannot check %s: %s", arg, strerror(errno));
		return -ENODEV;
	}
	if (!S_ISBLK(st.st_mode)) {
		lib_error("%s is not a device-mapper device (not a block device)",
			  arg);
		return -ENOTBLK;
	}
	if (!cbwdm_is_dm_major(major(st.st_rdev))) {
		lib_error("%s is not a device-mapper device", arg);
		return -ENOTBLK;
	}
	r = cbwdm_status_devno(major(st.st_rdev), minor(st.st_rdev), dev);
	if (r == CBWDM_FOUND)
		return 0;
	if (r == CBWDM_ERROR) {
		lib_error("cannot look up %s: %s", arg, cbwdm_error());
		return -EIO;
	}
	lib_error("no device-mapper device has the number %u:%u of %s",
		  major(st.st_rdev), minor(st.st_rdev), arg);
	return -ENOENT;
}

/* Is the device @name suspended now?  When in doubt, say yes. */
static bool is_suspended(const char *name)
{
	struct cbwdm_dev dev;
	bool suspended;

	if (cbwdm_status(name, NULL, &dev) != CBWDM_FOUND)
		return true;
	suspended = dev.suspended;
	cbwdm_dev_release(&dev);
	return suspended;
}

/*
 * Find the hidden layer under @name: its table must be one cbw target
 * whose origin (given as major:minor, as cbwctl gives it) has a uuid
 * CBW-...-real.  Return 1 with @real filled, 0 if there is none, or
 * CBWDM_ERROR (see cbwdm_error()).
 */
static int find_real(const char *name, struct cbwdm_dev *real)
{
	struct cbwdm_table t;
	unsigned int maj, min;
	int r, end = 0;

	r = cbwdm_table_get(name, &t);
	if (r != CBWDM_FOUND)
		return r == CBWDM_NOTFOUND ? 0 : CBWDM_ERROR;
	r = 0;
	if (t.count != 1 || strcmp(t.targets[0].type, CBW_TARGET) ||
	    sscanf(t.targets[0].params, "%u:%u%n", &maj, &min, &end) != 2 ||
	    t.targets[0].params[end] != ' ')
		goto out;
	r = cbwdm_status_devno(maj, min, real);
	if (r == CBWDM_ERROR)
		goto out;
	if (r == CBWDM_NOTFOUND) {
		r = 0;
		goto out;
	}
	r = is_real_uuid(real->uuid);
	if (!r)
		cbwdm_dev_release(real);
out:
	cbwdm_table_release(&t);
	return r;
}

int stack_is_snapshotted(const struct cbwdm_dev *dev)
{
	struct cbwdm_dev real;
	int r;

	if (dev->targets != 1 || strcmp(dev->type, CBW_TARGET))
		return 0;
	r = find_real(dev->name, &real);
	if (r == 1)
		cbwdm_dev_release(&real);
	return r;
}

/*
 * The COW device must not share sectors with DMDEV or with any device
 * DMDEV is built on (the copies would overwrite the data they keep), nor
 * be built on DMDEV (a copy would write to DMDEV, which would copy...).
 * Return 0 or a negative errno.
 */
static int check_cow_tree(const struct stack *s, const struct blockdev *cow)
{
	dev_t top = makedev(s->dev.major, s->dev.minor), *devs;
	size_t count, i;
	int r;

	r = sysblock_below(SYSBLOCK_SYSFS, top, &devs, &count);
	if (r) {
		lib_error("cannot find the devices under %s in sysfs: %s",
			  s->dev.name, strerror(-r));
		return -EIO;
	}
	for (i = 0; i < count; i++) {
		r = sysblock_overlap(SYSBLOCK_SYSFS, cow->rdev, devs[i]);
		if (r)
			break;
	}
	if (r > 0 && !i)
		lib_error("COW device %s is %s", cow->path, s->dev.name);
	else if (r > 0 && cow->rdev == devs[i])
		lib_error("COW device %s is under %s (%s is built on it)",
			  cow->path, s->dev.name, s->dev.name);
	else if (r > 0)
		lib_error("COW device %s overlaps %u:%u, which %s is built on",
			  cow->path, major(devs[i]), minor(devs[i]),
			  s->dev.name);
	else if (r < 0)
		lib_error("cannot compare COW device %s with the devices under %s: %s",
			  cow->path, s->dev.name, strerror(-r));
	free(devs);
	if (r)
		return r > 0 ? -ENODEV : -EIO;

	r = sysblock_below(SYSBLOCK_SYSFS, cow->rdev, &devs, &count);
	if (r) {
		lib_error("cannot find the devices under COW device %s in sysfs: %s",
			  cow->path, strerror(-r));
		return -EIO;
	}
	for (i = 1; i < count && devs[i] != top; i++)
		;
	free(devs);
	if (i < count) {
		lib_error("COW device %s is built on %s", cow->path,
			  s->dev.name);
		return -ENODEV;
	}
	return 0;
}

/*
 * The tracking of the live cbw table of @dev, from its status: @tr is
 * zeroed for another table, @tr->tracking false for a cbw table that does
 * not track.  Return 0 or -EIO after lib_error().
 */
static int live_tracking(const struct cbwdm_dev *dev, struct cbw_status *st,
			 struct cbw_track_info *tr)
{
	const char *bad;

	memset(st, 0, sizeof(*st));
	memset(tr, 0, sizeof(*tr));
	if (dev->targets != 1 || strcmp(dev->type, CBW_TARGET))
		return 0;
	bad = cbw_status_parse_track(dev->params, st, tr);
	if (bad) {
		lib_error("%s: unexpected cbw status '%s': %s", dev->name,
			  dev->params, bad);
		return -EIO;
	}
	return 0;
}

/* Why DMDEV, whose table is already cbw, cannot get another one. */
static void already_cbw(const struct stack *s)
{
	const char *name = s->dev.name;
	struct cbw_track_info tr;
	struct cbw_status st;

	if (live_tracking(&s->dev, &st, &tr) || !tr.tracking)
		lib_error("%s is already under a snapshot (its table is cbw); see 'cbwctl status %s'",
			  name, name);
	else if (st.state != CBW_STATE_NONE)
		lib_error("%s is already under a track snapshot; see 'cbwctl status --track %s'",
			  name, name);
	else if (s->for_track)
		lib_error("%s is already tracked; see 'cbwctl status --track %s'",
			  name, name);
	else
		lib_error("%s is tracked (cbwctl track): take the snapshot of its changes with 'cbwctl snapshot --incremental %s --cow COW'",
			  name, name);
}

/*
 * DMDEV must not be in the middle of a change (by another tool, or a
 * failed undo): suspended, or with a table loaded.  Return 0 or -EBUSY.
 */
static int check_not_changing(const struct cbwdm_dev *dev)
{
	if (dev->suspended) {
		lib_error("%s is suspended; resume it first", dev->name);
		return -EBUSY;
	}
	if (dev->inactive_table) {
		lib_error("%s has a table loaded in its inactive slot (is another tool changing it?); see 'dmsetup info %s'",
			  dev->name, dev->name);
		return -EBUSY;
	}
	return 0;
}

/* The checks on DMDEV's state and table.  Return 0 or a negative errno. */
static int check_dmdev(struct stack *s)
{
	const char *name = s->dev.name, *why;
	size_t i, j;
	int r;

	if (has_prefix(s->dev.uuid, CBW_UUID_PREFIX)) {
		lib_error("%s is one of cbwctl's devices (uuid %s); it cannot go under a snapshot",
			  name, s->dev.uuid);
		return -EBUSY;
	}
	r = check_not_changing(&s->dev);
	if (r)
		return r;

	r = cbwdm_table_get(name, &s->table);
	if (r != CBWDM_FOUND) {
		lib_error("cannot read the table of %s: %s", name,
			  r == CBWDM_NOTFOUND ? "it is gone" : cbwdm_error());
		return -EIO;
	}
	if (!s->table.count) {
		lib_error("%s has no live table", name);
		return -ENODEV;
	}
	for (i = 0; i < s->table.count; i++) {
		const char *type = s->table.targets[i].type;

		if (!strcmp(type, CBW_TARGET)) {
			already_cbw(s);
			return -EBUSY;
		}
		for (j = 0; j < sizeof(movable_targets) / sizeof(*movable_targets); j++)
			if (!strcmp(type, movable_targets[j]))
				break;
		if (j == sizeof(movable_targets) / sizeof(*movable_targets)) {
			lib_error("%s has a %s target; cbwctl snapshot moves only linear, striped, zero and error tables",
				  name, type);
			return -ENODEV;
		}
	}
	s->sectors = cbwdm_table_sectors(&s->table);
	if (s->dev.read_only) {
		lib_error("%s is read-only: its data does not change, read it directly",
			  name);
		return -ENODEV;
	}

	/* Its name goes into the names and uuids of the new devices. */
	why = cbw_name_check(name, true);
	if (why) {
		lib_error("the name of %s cannot be used for its snapshot: %s",
			  name, why);
		return -EINVAL;
	}
	return 0;
}

/* Names and uuids of -real and -snap, which must be free. */
static int check_names(struct stack *s)
{
	int r;

	/* check_dmdev() made sure these fit. */
	snprintf(s->real_name, sizeof(s->real_name), "%s" CBW_REAL_SUFFIX,
		 s->dev.name);
	snprintf(s->real_uuid, sizeof(s->real_uuid),
		 CBW_UUID_PREFIX "%s" CBW_REAL_SUFFIX, s->dev.name);
	snprintf(s->snap_name, sizeof(s->snap_name), "%s" CBW_SNAP_SUFFIX,
		 s->dev.name);
	/* The uuid cbw_find() and status look for. */
	if (!cbw_snap_uuid(&s->dev, s->snap_uuid, sizeof(s->snap_uuid))) {
		lib_error("the name of %s is too long for its snapshot's uuid",
			  s->dev.name);
		return -EINVAL;
	}
	if ((r = cbw_check_free(s->real_name, NULL)) ||
	    (r = cbw_check_free(s->snap_name, NULL)) ||
	    (r = cbw_check_free(NULL, s->real_uuid)) ||
	    (r = cbw_check_free(NULL, s->snap_uuid)))
		return r;
	return 0;
}

/* DMDEV's logical block size into @lbs.  Return 0 or -EIO after lib_error(). */
static int dmdev_block_size(const struct stack *s, unsigned int *lbs)
{
	int r;

	r = sysblock_logical_block_size(SYSBLOCK_SYSFS,
					makedev(s->dev.major, s->dev.minor),
					lbs);
	if (r) {
		lib_error("cannot read the logical block size of %s: %s",
			  s->dev.name, strerror(-r));
		return -EIO;
	}
	return 0;
}

/* The checks on the COW device and the chunk size.  Return 0 or a negative errno. */
static int check_cow(struct stack *s, const struct cbw_snapshot_opts *o,
		     struct blockdev *cow)
{
	char a[CBW_SIZE_BUF_LEN], b[CBW_SIZE_BUF_LEN];
	unsigned int lbs;
	int r;

	r = blockdev_probe(cow);
	if (r)
		return r;
	r = check_cow_tree(s, cow);
	if (r)
		return r;

	r = dmdev_block_size(s, &lbs);
	if (r)
		return r;
	if (o->chunk_bytes < lbs || o->chunk_bytes < (uint64_t)cow->block_size) {
		bool dm = lbs >= (unsigned int)cow->block_size;

		lib_error("chunk size %s is smaller than the logical block size of %s (%s)",
			  cbw_size_format(o->chunk_bytes, a, sizeof(a)),
			  dm ? s->dev.name : cow->path,
			  cbw_size_format(dm ? lbs : (unsigned int)cow->block_size,
				      b, sizeof(b)));
		return -EINVAL;
	}
	return 0;
}

/*
 * How far the steps of a command got, for its undo.  Each command takes
 * the steps it needs, in this order.
 */
enum step {
	STEP_NOTHING,		/* nothing changed yet */
	STEP_REAL,		/* -real exists (snapshot, track) */
	STEP_LOADED,		/* the new table is in DMDEV's inactive slot */
	STEP_SNAP_GONE,		/* the snapshot node is removed (release) */
	STEP_SUSPENDED,		/* DMDEV may be suspended */
	STEP_RESUMED,		/* resumed or tried: the new table may be live */
};

/* The test hook's names of one command's steps (see hook()). */
struct step_hooks {
	const char *real, *load, *suspend, *resume;
};

static const struct step_hooks snapshot_hooks = {
	.real = "snapshot:real", .load = "snapshot:load",
	.suspend = "snapshot:suspend", .resume = "snapshot:resume",
};

static const struct step_hooks track_hooks = {
	.real = "track:real", .load = "track:load",
	.suspend = "track:suspend", .resume = "track:resume",
};

static const struct step_hooks release_hooks = {
	.load = "release:load",
	.suspend = "release:suspend", .resume = "release:resume",
};

static const struct step_hooks untrack_hooks = {
	.load = "untrack:load",
	.suspend = "untrack:suspend", .resume = "untrack:resume",
};

/*
 * Create -real with DMDEV's table; udev leaves it alone
 * (CBWDM_UDEV_LAYER).  Its device number goes into @real.  Return false
 * after fail().
 */
static bool real_step(struct stack *s, const struct step_hooks *h,
		      dev_t *real)
{
	uint32_t maj, min;

	if (hook(h->real) ||
	    !cbwdm_create_table(s->real_name, s->real_uuid, &s->table,
				CBWDM_UDEV_LAYER, &s->cookie, &maj, &min)) {
		fail(s, "cannot create %s: %s", s->real_name, why(true));
		return false;
	}
	*real = makedev(maj, min);
	return true;
}

/*
 * Suspend DMDEV, its memory locked first (see lock_memory()).  Return
 * false after fail().
 */
static bool suspend_step(struct stack *s, const struct step_hooks *h)
{
	lock_memory(s);
	if (hook(h->suspend) || !cbwdm_suspend(s->dev.name)) {
		fail(s, "cannot suspend %s: %s", s->dev.name, why(false));
		return false;
	}
	return true;
}

/*
 * Resume DMDEV: the table loaded into it, @table in the error line ("the
 * cbw table"), goes live; then its memory is unlocked.  Return false
 * after fail(), the memory still locked for the undo.
 */
static bool resume_step(struct stack *s, const struct step_hooks *h,
			const char *table)
{
	if (hook(h->resume) ||
	    !cbwdm_resume(s->dev.name, CBWDM_UDEV_DEFAULT, &s->cookie)) {
		fail(s, "cannot resume %s with %s: %s", s->dev.name, table,
		     why(true));
		return false;
	}
	unlock_memory(s);
	return true;
}

/*
 * Suspend and resume DMDEV: the table loaded into it goes live.  @done
 * records how far it got.  Return false after fail().
 */
static bool suspend_resume(struct stack *s, const struct step_hooks *h,
			   const char *table, enum step *done)
{
	*done = STEP_SUSPENDED;
	if (!suspend_step(s, h))
		return false;
	*done = STEP_RESUMED;
	return resume_step(s, h, table);
}

/*
 * Swap DMDEV's live table for one cbw target with @params: load it (the
 * kernel checks it while DMDEV still works), suspend DMDEV, resume it.
 * @table names the new table in the error line; @done records how far it
 * got.  Return false after fail().
 */
static bool swap_table(struct stack *s, const char *params, const char *table,
		       const struct step_hooks *h, enum step *done)
{
	struct cbwdm_target target = {
		.start = 0, .length = s->sectors,
		.type = CBW_TARGET, .params = (char *)params,
	};
	struct cbwdm_table cbw = { .targets = &target, .count = 1 };

	if (hook(h->load) || !cbwdm_load(s->dev.name, &cbw)) {
		fail(s, "cannot load %s into %s: %s", table, s->dev.name,
		     why(true));
		return false;
	}
	*done = STEP_LOADED;
	return suspend_resume(s, h, table, done);
}

/*
 * Make the snapshot-access node @node (uuid @uuid, @sectors long) on
 * DMDEV.  Return false on failure (see cbwdm_error()).
 */
static bool make_snap_node(struct stack *s, const char *node, const char *uuid,
			   uint64_t sectors)
{
	uint32_t maj, min;
	char access[32];

	snprintf(access, sizeof(access), "%u:%u", s->dev.major, s->dev.minor);
	return cbwdm_create(node, uuid, false, sectors, ACCESS_TARGET, access,
			    CBWDM_UDEV_SNAPSHOT, &s->cookie, &maj, &min);
}

/*
 * The last step of a snapshot: its node s->snap_name, which needs the
 * live cbw table.  Return false after fail().
 */
static bool snap_step(struct stack *s)
{
	if (hook("snapshot:snap") ||
	    !make_snap_node(s, s->snap_name, s->snap_uuid, s->sectors)) {
		fail(s, "cannot create %s: %s", s->snap_name, why(true));
		return false;
	}
	return true;
}

/*
 * After an undo step failed: resume DMDEV if it is suspended, so that it
 * is not left frozen; add a failure to the error line.
 */
static void resume_if_suspended(struct stack *s)
{
	const char *name = s->dev.name;

	if (is_suspended(name) &&
	    !cbwdm_resume(name, CBWDM_UDEV_DEFAULT, &s->cookie))
		note(s, "%s is still suspended: %s", name, cbwdm_error());
}

/*
 * Give DMDEV its old table (s->table) back after a swap_table() that got
 * as far as @done, and resume DMDEV if the swap may have left it
 * suspended.  @own: the old table is DMDEV's own and -real is left to
 * remove (snapshot, track), not the track-only table (snapshot
 * --incremental); the error line says so.  Return true if DMDEV runs its
 * old table again; else the error line says what was left.
 */
static bool undo_swap(struct stack *s, enum step done, bool own)
{
	const char *name = s->dev.name;

	if (done >= STEP_RESUMED) {
		/*
		 * The new table may be live (the resume swapped it in, then
		 * failed or the snapshot node did): the old table goes back.
		 * A resume with a loaded table suspends the device first
		 * (freezing its filesystem) if it is not.
		 */
		if (!cbwdm_load(name, &s->table)) {
			if (own)
				note(s, "undoing it failed: cannot load %s's own table back: %s; run 'cbwctl release %s'",
				     name, cbwdm_error(), name);
			else
				note(s, "undoing it failed: cannot load the track table back into %s: %s; run 'cbwctl release %s'",
				     name, cbwdm_error(), name);
			resume_if_suspended(s);
			return false;
		}
	} else if (done >= STEP_LOADED && !cbwdm_clear(name)) {
		if (own)
			note(s, "undoing it failed: cannot drop the cbw table loaded into %s: %s; drop it with 'dmsetup clear %s', then 'dmsetup remove %s'",
			     name, cbwdm_error(), name, s->real_name);
		else
			note(s, "undoing it failed: cannot drop the table loaded into %s: %s; drop it with 'dmsetup clear %s'",
			     name, cbwdm_error(), name);
		resume_if_suspended(s);
		return false;
	}
	if ((done >= STEP_RESUMED ||
	     (done >= STEP_SUSPENDED && is_suspended(name))) &&
	    !cbwdm_resume(name, CBWDM_UDEV_DEFAULT, &s->cookie)) {
		note(s, "undoing it failed: cannot resume %s: %s; see 'dmsetup info %s' and 'dmsetup table %s'",
		     name, cbwdm_error(), name, name);
		return false;
	}
	return true;
}

/*
 * Undo what cbwctl snapshot did up to @done and add the outcome to the
 * error line.  The snapshot node is the last step: if it failed,
 * libdevmapper removed it again, so it is never left to undo.
 */
static void snapshot_undo(struct stack *s, enum step done)
{
	const char *name = s->dev.name;
	bool busy;

	if (!undo_swap(s, done, true))
		return;
	if (done >= STEP_REAL && !cbwdm_remove(s->real_name, &s->cookie, &busy)) {
		note(s, "%s has its table back, but %s could not be removed: %s; remove it with 'dmsetup remove %s'",
		     name, s->real_name, busy ? "it is in use" : cbwdm_error(),
		     s->real_name);
		return;
	}
	note(s, "%s was left as it was", name);
}

/*
 * The insertion of cbwctl snapshot and track: create -real, then swap
 * DMDEV's table for @t over it (@table in the error line), then make the
 * snapshot node if @node.  Return 0 or -EIO; the error line is in s->err.
 */
static int insert_steps(struct stack *s, struct cbw_table *t,
			const char *table, const struct step_hooks *h,
			bool node)
{
	char params[CBW_TABLE_PARAMS_LEN];
	enum step done = STEP_NOTHING;

	if (!real_step(s, h, &t->origin))
		goto undo;
	done = STEP_REAL;
	cbw_table_params(t, params);
	if (!swap_table(s, params, table, h, &done) ||
	    (node && !snap_step(s)))
		goto undo;
	return 0;

undo:
	snapshot_undo(s, done);
	unlock_memory(s);
	return -EIO;
}

/*
 * The changes of cbwctl snapshot, in this order:
 *
 *   1. create -real with DMDEV's table;
 *   2. load the cbw table over -real into DMDEV's inactive slot;
 *   3. suspend DMDEV, with lockfs: the filesystem on it is frozen (its
 *      dirty data written), then the I/O in flight completes and new I/O
 *      is held;
 *   4. resume DMDEV: the cbw table replaces the old one, the snapshot is
 *      taken, then the held I/O goes on and the filesystem is thawed;
 *   5. create the snapshot node on DMDEV.
 *
 * Why no write can bypass the copy: the snapshot is the data of the
 * devices under DMDEV at the moment of step 4, which the kernel takes
 * while DMDEV is still suspended, before it lets any held I/O through.
 * Every write that completed before step 3 is in that data (the frozen
 * point); every write issued after it is held by the suspend, then goes
 * through the cbw table, which copies the old data first.  Until step 4,
 * -real exists but nothing writes to it: DMDEV's old table still maps to
 * the devices under it directly (which is why only stateless targets may
 * be moved: two instances of the table exist for a moment), and udev is
 * told to leave it alone (CBWDM_UDEV_LAYER).  After step 4 only the cbw
 * target writes to -real.  A writer that opens -real or the devices under
 * it directly bypasses the copy, as it would bypass any cbw origin.
 *
 * Why this order: step 2 before 3 lets the kernel check the cbw table (the
 * COW device, the chunk size) while DMDEV still works, and keeps the
 * frozen time to steps 3 and 4.  Step 5 comes last because
 * snapshot-access needs a live cbw table.  No udev wait happens before the
 * end: udev may have to read from DMDEV, which would hang while it is
 * suspended.
 *
 * Return 0 or a negative errno; the error line is in s->err.
 */
static int snapshot_steps(struct stack *s, const struct cbw_snapshot_opts *o,
			  const struct blockdev *cow)
{
	struct cbw_table t = {
		.cow = cow->rdev, .chunk_bytes = o->chunk_bytes,
		.timeout_ms = o->timeout_ms, .policy = o->policy,
	};

	return insert_steps(s, &t, "the cbw table", &snapshot_hooks, true);
}

/*
 * The end of snapshot and snapshot --incremental: the error line if they
 * failed (@r), else the snapshot node's path into @snap_node (@len bytes),
 * if it is not NULL.
 */
static void snapshot_done(const struct stack *s, int r, char *snap_node,
			  size_t len)
{
	if (r)
		lib_error("%s", s->err);
	else if (snap_node)
		snprintf(snap_node, len, "%s/%s", cbwdm_dir(), s->snap_name);
}

/* The arguments of cbw_snapshot() that cbwctl checks on its command line. */
static int check_snapshot_args(const struct cbw_snapshot_opts *o)
{
	const char *why = NULL;

	if (!o->dev || !*o->dev || !o->cow)
		why = "a device and a COW device are needed";
	else if (cbw_chunk_size_check(o->chunk_bytes))
		why = cbw_chunk_size_check(o->chunk_bytes);
	else if (o->timeout_ms > CBW_MAX_TIMEOUT_MS)
		why = "the timeout is longer than one day";
	else if (!cbw_policy_name(o->policy))
		why = "an unknown error policy";
	if (why) {
		lib_error("snapshot: %s", why);
		return -EINVAL;
	}
	return 0;
}

int cbw_snapshot(const struct cbw_snapshot_opts *opts, char *snap_node,
		 size_t len)
{
	struct cbw_snapshot_opts args, *o = &args;
	struct blockdev cow = { .role = "COW" };
	struct stack s;
	int r;

	lib_begin();
	if (!opts)
		return lib_end(lib_einval("snapshot: no options (NULL)"));
	if (snap_node && !len)
		return lib_end(lib_einval("snapshot: no room for the node's path"));
	args = *opts;
	cow.path = o->cow;
	memset(&s, 0, sizeof(s));
	if (!o->chunk_bytes)
		o->chunk_bytes = CBW_CHUNK_DEFAULT_BYTES;
	r = check_snapshot_args(o);
	if (!r)
		r = resolve(o->dev, &s.dev);
	if (r)
		return lib_end(r);
	if ((r = check_dmdev(&s)) || (r = check_names(&s)) ||
	    (r = check_cow(&s, o, &cow)))
		goto out;

	r = changes_begin(&s);
	if (r)
		goto out;
	r = snapshot_steps(&s, o, &cow);
	if (!changes_end(&s, r, "the snapshot of %s was made", s.dev.name))
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	snapshot_done(&s, r, snap_node, len);
out:
	stack_release(&s);
	return lib_end(r);
}

/* What cbwctl release found, besides DMDEV and its own table. */
struct release {
	struct cbwdm_dev real;		/* -real */
	bool has_snap;			/* the snapshot node exists */
	struct cbwdm_dev snap;		/* the snapshot node, if it does */
	bool track;			/* a track snapshot: s->table is the
					 * track-only table, -real stays */
};

static int still_tracked(const char *name);

/* Why @dev cannot be released: it is not under a snapshot of cbwctl's. */
static int not_snapshotted(const struct cbwdm_dev *dev)
{
	const char *name = dev->name;

	if (is_real_uuid(dev->uuid) || is_snap_uuid(dev->uuid)) {
		lib_error("%s is part of a snapshot of cbwctl's (uuid %s); release the device the snapshot is under",
			  name, dev->uuid);
		return -ENOENT;
	}
	if (dev->targets != 1 || strcmp(dev->type, CBW_TARGET)) {
		lib_error("%s is not under a snapshot (its table is not one cbw target)",
			  name);
		return -ENOENT;
	}
	if (has_prefix(dev->uuid, CBW_UUID_PREFIX)) {
		lib_error("%s was made by 'cbwctl create': use 'cbwctl remove %s'",
			  name, name);
		return -ENOENT;
	}
	lib_error("%s is a cbw device that 'cbwctl snapshot' did not set up (its origin is not a " CBW_UUID_PREFIX "..." CBW_REAL_SUFFIX " device); use dmsetup",
		  name);
	return -ENOENT;
}

/*
 * The snapshot node's uuid into s->snap_uuid, from the uuid @real_uuid of
 * -real (is_real_uuid()): CBW-X-real gives CBW-X-snap.
 */
static void snap_uuid_of(struct stack *s, const char *real_uuid)
{
	size_t len = strlen(real_uuid) - strlen(CBW_REAL_SUFFIX);

	snprintf(s->snap_uuid, sizeof(s->snap_uuid), "%.*s" CBW_SNAP_SUFFIX,
		 (int)len, real_uuid);
}

/*
 * Find the snapshot node by the uuid of -real (CBW-X-real: CBW-X-snap, X
 * being DMDEV's name when the snapshot was made).  Return 0 or a negative errno.
 */
static int find_snap_node(struct stack *s, struct release *rel)
{
	int r;

	snap_uuid_of(s, rel->real.uuid);
	r = cbwdm_status(NULL, s->snap_uuid, &rel->snap);
	if (r == CBWDM_NOTFOUND)
		return 0;	/* already gone: release the rest */
	if (r == CBWDM_ERROR) {
		lib_error("cannot look up the snapshot node of %s (uuid %s): %s",
			  s->dev.name, s->snap_uuid, cbwdm_error());
		return -EIO;
	}
	rel->has_snap = true;
	snprintf(s->snap_name, sizeof(s->snap_name), "%s", rel->snap.name);
	if (rel->snap.targets != 1 || strcmp(rel->snap.type, ACCESS_TARGET)) {
		lib_error("%s has the uuid %s but is not a snapshot-access device; nothing was changed",
			  rel->snap.name, s->snap_uuid);
		return -EIO;
	}
	if (rel->snap.open_count) {
		lib_error("%s is in use (open or mounted); nothing was changed",
			  rel->snap.name);
		return -EBUSY;
	}
	return 0;
}

/* Everything release checks before it changes anything. */
static int release_checks(struct stack *s, struct release *rel)
{
	const char *name = s->dev.name;
	int r;

	r = 0;
	if (s->dev.targets == 1 && !strcmp(s->dev.type, CBW_TARGET))
		r = find_real(name, &rel->real);
	if (r == CBWDM_ERROR) {
		lib_error("cannot read the table of %s or its origin: %s", name,
			  cbwdm_error());
		return -EIO;
	}
	if (r != 1)
		return not_snapshotted(&s->dev);
	snprintf(s->real_name, sizeof(s->real_name), "%s", rel->real.name);

	r = cbwdm_table_get(s->real_name, &s->table);
	if (r != CBWDM_FOUND || !s->table.count) {
		lib_error("cannot read the table of %s: %s", s->real_name,
			  r == CBWDM_ERROR ? cbwdm_error() : "it has none");
		return -EIO;
	}
	s->sectors = cbwdm_table_sectors(&s->table);

	r = check_not_changing(&s->dev);
	if (r)
		return r;
	return find_snap_node(s, rel);
}

/* Make the snapshot node again, as it was; add the outcome to s->err. */
static void remake_snap(struct stack *s, const struct release *rel)
{
	if (!rel->has_snap)
		return;
	if (!make_snap_node(s, rel->snap.name, rel->snap.uuid,
			    rel->snap.length))
		note(s, "cannot make %s again: %s; the snapshot is still there: run 'cbwctl release %s' again",
		     rel->snap.name, cbwdm_error(), s->dev.name);
}

/*
 * The first undo of release and untrack: drop what is left in DMDEV's
 * inactive slot (it must not go live), then resume DMDEV if it may have
 * been @suspended by the steps and is.  Return true if that worked; else
 * the error line says what was left.
 */
static bool undo_load(struct stack *s, bool suspended)
{
	const char *name = s->dev.name;

	if (!cbwdm_clear(name)) {
		note(s, "undoing it failed: cannot drop the table loaded into %s: %s; see 'dmsetup info %s'",
		     name, cbwdm_error(), name);
		return false;
	}
	if (suspended && is_suspended(name) &&
	    !cbwdm_resume(name, CBWDM_UDEV_DEFAULT, &s->cookie)) {
		note(s, "undoing it failed: cannot resume %s: %s; see 'dmsetup info %s'",
		     name, cbwdm_error(), name);
		return false;
	}
	return true;
}

/*
 * Undo what cbwctl release did up to @done: DMDEV gets the cbw table back
 * (it is still live unless the failed resume swapped the tables), and the
 * snapshot node is made again.  Add the outcome to the error line.
 */
static void release_undo(struct stack *s, const struct release *rel,
			 enum step done)
{
	const char *name = s->dev.name;
	struct cbwdm_dev now;
	int r;

	if (!undo_load(s, done >= STEP_SUSPENDED))
		return;
	if (done >= STEP_RESUMED && rel->track) {
		if (still_tracked(name) != 2) {
			note(s, "%s may be back on its track table: see 'cbwctl status --track %s'",
			     name, name);
			return;
		}
	} else if (done >= STEP_RESUMED) {
		r = cbwdm_status(name, NULL, &now);
		r = r == CBWDM_FOUND ? stack_is_snapshotted(&now) : CBWDM_ERROR;
		if (r == CBWDM_FOUND)
			cbwdm_dev_release(&now);
		if (r != 1) {
			note(s, "%s may have its own table back: see 'dmsetup table %s'; %s is left",
			     name, name, s->real_name);
			return;
		}
	}
	if (done >= STEP_SNAP_GONE)
		remake_snap(s, rel);
	note(s, "the snapshot of %s goes on", name);
}

/*
 * Load s->table, DMDEV's @kind ("own") table, back into it.  Return false
 * after fail().
 */
static bool load_back_step(struct stack *s, const struct step_hooks *h,
			   const char *kind)
{
	if (hook(h->load) || !cbwdm_load(s->dev.name, &s->table)) {
		fail(s, "cannot load %s's %s table back into it: %s",
		     s->dev.name, kind, why(true));
		return false;
	}
	return true;
}

/*
 * The last step of release and untrack: remove -real, which nothing uses
 * now.  @done says what DMDEV is ("released").  Return 0 or -EIO after
 * fail().
 */
static int remove_real_step(struct stack *s, const char *done)
{
	bool busy = false;

	if (!cbwdm_remove(s->real_name, &s->cookie, &busy)) {
		fail(s, "%s is %s, but %s could not be removed: %s; remove it with 'dmsetup remove %s'",
		     s->dev.name, done, s->real_name,
		     busy ? "it is in use" : cbwdm_error(), s->real_name);
		return -EIO;
	}
	return 0;
}

/*
 * The changes of cbwctl release: load DMDEV's own table (-real's) into its
 * inactive slot, remove the snapshot node, suspend DMDEV (freezing its
 * filesystem), resume it (its own table replaces the cbw table; the
 * snapshot ends), remove -real.  The load comes first so that a refused
 * table costs nothing; the snapshot node goes before the swap, which
 * would leave it invalid.  Return 0 or a negative errno; the error line is in
 * s->err.
 */
static int release_steps(struct stack *s, const struct release *rel)
{
	const char *name = s->dev.name;
	const char *kind = rel->track ? "track" : "own";
	const char *table = rel->track ? "its track table" : "its own table";
	enum step done;
	bool busy = false;
	int r = -EIO;

	if (!load_back_step(s, &release_hooks, kind)) {
		note(s, "the snapshot of %s goes on", name);
		return -EIO;
	}
	done = STEP_LOADED;

	if (rel->has_snap &&
	    (hook("release:snap") || !cbwdm_remove(s->snap_name, &s->cookie, &busy))) {
		fail(s, "cannot remove %s: %s", s->snap_name,
		     busy ? "it is in use (open or mounted)" : why(false));
		r = busy ? -EBUSY : -EIO;
		goto undo;
	}
	done = STEP_SNAP_GONE;

	if (!suspend_resume(s, &release_hooks, table, &done))
		goto undo;
	if (rel->track)
		return 0;	/* tracking goes on over -real */
	return remove_real_step(s, "released");

undo:
	release_undo(s, rel, done);
	unlock_memory(s);
	return r;
}

/*
 * A tracked DMDEV: a track-only table is not released (cbw_untrack() ends
 * it); a track snapshot goes back to the track-only table (@rel->track,
 * with the chunk size into @chunk_sectors).  Return 0 or a negative errno.
 */
static int release_track_check(struct stack *s, struct release *rel,
			       uint64_t *chunk_sectors)
{
	struct cbw_track_info tr;
	struct cbw_status st;
	int r;

	r = live_tracking(&s->dev, &st, &tr);
	if (r || !tr.tracking)
		return r;
	if (st.state == CBW_STATE_NONE) {
		lib_error("%s is tracked, without a snapshot: 'cbwctl untrack %s' ends the tracking",
			  s->dev.name, s->dev.name);
		return -ENOENT;
	}
	rel->track = true;
	*chunk_sectors = st.chunk_sectors;
	return 0;
}

/*
 * The table a track snapshot is released to: the track-only table over
 * -real, into s->table instead of -real's own.  Return 0 or -ENOMEM.
 */
static int track_only_table(struct stack *s, const struct release *rel,
			    uint64_t chunk_sectors)
{
	char params[CBW_TABLE_PARAMS_LEN];
	struct cbwdm_target *t;

	cbw_table_params(&(struct cbw_table){
				.origin = makedev(rel->real.major, rel->real.minor),
				.no_cow = true, .track = true,
				.chunk_bytes = chunk_sectors << SECTOR_SHIFT },
			 params);
	t = calloc(1, sizeof(*t));
	if (t) {
		t->length = s->sectors;
		t->type = strdup(CBW_TARGET);
		t->params = strdup(params);
	}
	if (!t || !t->type || !t->params) {
		if (t) {
			free(t->type);
			free(t->params);
		}
		free(t);
		lib_error("out of memory");
		return -ENOMEM;
	}
	cbwdm_table_release(&s->table);
	s->table.targets = t;
	s->table.count = 1;
	return 0;
}

int cbw_release(const char *dev)
{
	struct release rel;
	struct stack s;
	uint64_t chunk_sectors = 0;
	int r;

	lib_begin();
	memset(&s, 0, sizeof(s));
	memset(&rel, 0, sizeof(rel));
	if (!dev || !*dev) {
		lib_error("release: a device is needed");
		return lib_end(-EINVAL);
	}
	r = resolve(dev, &s.dev);
	if (r)
		return lib_end(r);
	r = release_track_check(&s, &rel, &chunk_sectors);
	if (!r)
		r = release_checks(&s, &rel);
	if (!r && rel.track)
		r = track_only_table(&s, &rel, chunk_sectors);
	if (r)
		goto out;

	r = changes_begin(&s);
	if (r)
		goto out;
	r = release_steps(&s, &rel);
	if (!changes_end(&s, r, "%s was released", s.dev.name))
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	if (r)
		lib_error("%s", s.err);
out:
	cbwdm_dev_release(&rel.real);
	if (rel.has_snap)
		cbwdm_dev_release(&rel.snap);
	stack_release(&s);
	return lib_end(r);
}

/*
 * Change tracking under a live device (issue 24): cbw_track(), cbw_untrack()
 * and cbw_track_snapshot(); cbw_release() above also ends a track snapshot.
 *
 *   tracked:        DMDEV       0 <sectors> cbw <DMDEV-real> - <chunk> 1 track
 *                   DMDEV-real  <DMDEV's table>       uuid CBW-DMDEV-real
 *   track snapshot: DMDEV       0 <sectors> cbw <DMDEV-real> <cow> <chunk>
 *                               <n> [timeout T] [on_error P] track
 *                   DMDEV-real  as above
 *                   DMDEV-snap  as under cbw_snapshot()
 *
 * cbw_track() is cbw_snapshot()'s insertion (insert_steps()) with the
 * track-only table and no snapshot node; cbw_untrack() is
 * cbw_release() without the node, which can read the changed set while
 * DMDEV is suspended.  cbw_track_snapshot() and the release of a track
 * snapshot only swap DMDEV's table between the track-only table and the
 * track snapshot's: the kernel carries the tracking history across (same
 * origin, chunk size and length) and freezes or merges the set at the
 * resume.
 */

/* The chunk size of tracking against DMDEV's logical block size. */
static int check_track_chunk(struct stack *s, uint64_t chunk_bytes)
{
	char a[CBW_SIZE_BUF_LEN], b[CBW_SIZE_BUF_LEN];
	unsigned int lbs;
	int r;

	r = dmdev_block_size(s, &lbs);
	if (r)
		return r;
	if (chunk_bytes < lbs) {
		lib_error("chunk size %s is smaller than the logical block size of %s (%s)",
			  cbw_size_format(chunk_bytes, a, sizeof(a)), s->dev.name,
			  cbw_size_format(lbs, b, sizeof(b)));
		return -EINVAL;
	}
	return 0;
}

/*
 * Can the state file @ts continue the history of DMDEV, tracked with
 * @chunk_bytes?  If not, say why into @why.
 */
static bool state_usable(const struct track_state *ts, const struct stack *s,
			 uint64_t chunk_bytes, const char *path, char *why,
			 size_t len)
{
	if (!ts->clean) {
		snprintf(why, len, "%s is active: tracking stopped without 'cbwctl untrack --state' (a crash, a power loss, or a removal by other tools)",
			 path);
		return false;
	}
	if (ts->device_sectors != s->sectors) {
		snprintf(why, len, "%s is for a device of %llu sectors, %s has %llu",
			 path, (unsigned long long)ts->device_sectors,
			 s->dev.name, (unsigned long long)s->sectors);
		return false;
	}
	if (ts->chunk_sectors != chunk_bytes >> SECTOR_SHIFT) {
		snprintf(why, len, "%s has chunks of %llu sectors, tracking asks for %llu",
			 path, (unsigned long long)ts->chunk_sectors,
			 (unsigned long long)(chunk_bytes >> SECTOR_SHIFT));
		return false;
	}
	return true;
}

/*
 * The changes of cbwctl track: create -real with DMDEV's table, load the
 * track-only table over it, suspend, resume (it goes live: a new tracking
 * history), as snapshot_steps() without the snapshot node.  Return 0 or a
 * negative errno; the error line is in s->err.
 */
static int track_steps(struct stack *s, uint64_t chunk_bytes)
{
	struct cbw_table t = {
		.no_cow = true, .track = true, .chunk_bytes = chunk_bytes,
	};

	return insert_steps(s, &t, "the track table", &track_hooks, false);
}

/*
 * Give the new history of @name the saved set and identity of @ts:
 * "track_add" messages, then "track_id".  Return 0 or a negative errno
 * after lib_error().
 */
static int track_restore(const char *name, const struct track_state *ts)
{
	char msg[96];
	int r, err;

	r = cbw_ranges_send(name, "track_add", &ts->runs);
	if (r)
		return r;
	snprintf(msg, sizeof(msg), "track_id %s %llu", ts->uuid,
		 (unsigned long long)ts->generation);
	if (!cbwdm_message(name, msg, NULL, &err)) {
		lib_error("cannot give %s its saved identity ('%s'): %s (see dmesg)",
			  name, msg, err ? strerror(err) : cbwdm_error());
		return -EIO;
	}
	return 0;
}

/* Read the tracking identity of @name into @res.  0 or a negative errno. */
static int track_identity(const char *name, struct cbw_track_result *res)
{
	struct cbw_dev d;
	int r;

	r = cbw_find(name, false, &d);
	if (r)
		return r;
	if (!d.track.tracking) {
		lib_error("%s does not track after the change (its status has no tracking fields)",
			  name);
		r = -EIO;
	} else {
		memcpy(res->uuid, d.track.uuid, sizeof(res->uuid));
		res->generation = d.track.generation;
	}
	cbw_dev_release(&d);
	return r;
}

int cbw_track(const struct cbw_track_opts *opts, struct cbw_track_result *res)
{
	struct cbw_track_result local, *rs = res ? res : &local;
	struct track_state saved = { 0 }, mark;
	struct cbw_track_opts o;
	bool have_file = false, cont = false, missing = false, timed_out = false;
	struct stack s;
	int r;

	lib_begin();
	memset(rs, 0, sizeof(*rs));
	memset(&s, 0, sizeof(s));
	if (!opts)
		return lib_end(lib_einval("track: no options (NULL)"));
	o = *opts;
	if (!o.dev || !*o.dev)
		return lib_end(lib_einval("track: a device is needed"));
	if (o.state_file && !*o.state_file)
		return lib_end(lib_einval("track: an empty state file name"));
	if (o.chunk_bytes && cbw_chunk_size_check(o.chunk_bytes))
		return lib_end(lib_einval("track: %s",
					  cbw_chunk_size_check(o.chunk_bytes)));
	s.for_track = true;
	r = resolve(o.dev, &s.dev);
	if (r)
		return lib_end(r);
	if ((r = check_dmdev(&s)) || (r = check_names(&s)))
		goto out;

	/* The state file is read and judged before anything changes. */
	if (o.state_file) {
		r = track_state_read(o.state_file, &saved, rs->why_new,
				     sizeof(rs->why_new));
		if (r == -ENOMEM) {
			lib_error("%s", rs->why_new);
			goto out;
		}
		have_file = !r;
		/* No file yet (the first track): a new history, no warning. */
		missing = r == -ENOENT;
		r = 0;
		/*
		 * Without --chunk-size, the saved history's chunk size, if it
		 * is one (else the file does not match the default's).
		 */
		if (!o.chunk_bytes && have_file &&
		    saved.chunk_sectors <= CBW_CHUNK_MAX_BYTES >> SECTOR_SHIFT &&
		    !cbw_chunk_size_check(saved.chunk_sectors << SECTOR_SHIFT))
			o.chunk_bytes = saved.chunk_sectors << SECTOR_SHIFT;
	}
	if (!o.chunk_bytes)
		o.chunk_bytes = CBW_CHUNK_DEFAULT_BYTES;
	r = check_track_chunk(&s, o.chunk_bytes);
	if (r)
		goto out;
	if (have_file)
		cont = state_usable(&saved, &s, o.chunk_bytes, o.state_file,
				    rs->why_new, sizeof(rs->why_new));
	/*
	 * A clean file is made active before the history goes on: a stop
	 * without untrack from here on must never find it clean.
	 */
	if (cont) {
		mark = saved;
		mark.clean = false;
		r = track_state_write(o.state_file, &mark);
		if (r) {
			lib_error("nothing was changed: %s is not tracked", s.dev.name);
			goto out;
		}
	}

	r = changes_begin(&s);
	if (r)
		goto out;
	r = track_steps(&s, o.chunk_bytes);
	/* Tracking runs: its set is made whole all the same. */
	if (!changes_end(&s, r, "%s is tracked", s.dev.name))
		timed_out = true;
	if (r) {
		lib_error("%s", s.err);
		goto out;
	}

	if (cont && track_restore(s.dev.name, &saved)) {
		/* The history the kernel began is new: the set is not whole. */
		snprintf(rs->why_new, sizeof(rs->why_new),
			 "the saved set could not be restored: %s",
			 cbw_get_error());
		lib_error_reset();
		cont = false;
	}
	r = track_identity(s.dev.name, rs);
	if (r) {
		lib_error("%s is tracked all the same; 'cbwctl untrack %s' ends it",
			  s.dev.name, s.dev.name);
		goto out;
	}
	if (cont) {
		rs->start = CBW_TRACK_CONTINUED;
		rs->restored_chunks = runs_chunks(&saved.runs);
	} else {
		rs->start = o.state_file && !missing ? CBW_TRACK_NEW_UNTRUSTED :
						       CBW_TRACK_NEW;
		if (rs->start == CBW_TRACK_NEW)
			rs->why_new[0] = '\0';
	}
	if (o.state_file && !cont) {
		/* The new history's identity, active. */
		memset(&mark, 0, sizeof(mark));
		memcpy(mark.uuid, rs->uuid, sizeof(mark.uuid));
		mark.generation = rs->generation;
		mark.chunk_sectors = o.chunk_bytes >> SECTOR_SHIFT;
		mark.device_sectors = s.sectors;
		r = track_state_write(o.state_file, &mark);
		if (r)
			lib_error("%s is tracked (a new history), but the state file could not be written; 'cbwctl untrack --state %s %s' writes it",
				  s.dev.name, o.state_file, s.dev.name);
	}
	if (!r && timed_out) {
		lib_error("%s", s.err);
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	}
out:
	runs_free(&saved.runs);
	stack_release(&s);
	return lib_end(r);
}

/*
 * Read the changed set and identity of the suspended @name into @ts (the
 * device's length @sectors).  Nothing is written anywhere: the caller
 * writes the file once DMDEV runs again.  Return 0 or a negative errno
 * after lib_error() (the caller puts it into the error line).
 */
static int untrack_read(const char *name, uint64_t sectors,
			struct track_state *ts)
{
	struct cbw_track_info tr;
	struct cbw_status st;
	struct cbwdm_dev dev;
	int r;

	r = cbwdm_status(name, NULL, &dev);
	if (r != CBWDM_FOUND) {
		lib_error("cannot read the status of %s: %s", name,
			  r == CBWDM_NOTFOUND ? "it is gone" : cbwdm_error());
		return -EIO;
	}
	r = live_tracking(&dev, &st, &tr);
	cbwdm_dev_release(&dev);
	if (r)
		return r;
	if (!tr.tracking || st.state != CBW_STATE_NONE) {
		lib_error("%s changed: it is no longer tracked without a snapshot",
			  name);
		return -EIO;
	}
	memcpy(ts->uuid, tr.uuid, sizeof(ts->uuid));
	ts->generation = tr.generation;
	ts->chunk_sectors = st.chunk_sectors;
	ts->device_sectors = sectors;
	ts->clean = true;
	r = track_map_read(name, st.chunks, &ts->runs);
	if (r)
		return r;
	/* DMDEV is suspended: no write can have changed the set meanwhile. */
	if (runs_chunks(&ts->runs) != tr.changed) {
		lib_error("the changed set of %s has %llu chunks, its status says %llu",
			  name, (unsigned long long)runs_chunks(&ts->runs),
			  (unsigned long long)tr.changed);
		return -EIO;
	}
	return 0;
}

/*
 * Does @name's live table track now: 1 with a track-only table, 2 with a
 * track snapshot's, 0 with another, CBWDM_ERROR when that cannot be told.
 * For the undo steps: leaves no error behind.
 */
static int still_tracked(const char *name)
{
	struct cbw_track_info tr;
	struct cbw_status st;
	struct cbwdm_dev now;
	int r;

	if (cbwdm_status(name, NULL, &now) != CBWDM_FOUND)
		return CBWDM_ERROR;
	lib_log_hold(true);
	r = live_tracking(&now, &st, &tr);
	lib_log_hold(false);
	cbwdm_dev_release(&now);
	lib_error_reset();
	if (r)
		return CBWDM_ERROR;
	if (!tr.tracking)
		return 0;
	return st.state == CBW_STATE_NONE ? 1 : 2;
}

/*
 * The changes of cbwctl untrack: load DMDEV's own table (-real's),
 * suspend DMDEV, read the changed set if @ts (while no write can reach
 * it), resume (the own table goes live, tracking ends), remove -real.
 * Return 0 or a negative errno; the error line is in s->err.
 */
static int untrack_steps(struct stack *s, struct track_state *ts)
{
	const char *name = s->dev.name;
	bool swapped = false;

	if (!load_back_step(s, &untrack_hooks, "own")) {
		note(s, "the tracking of %s goes on", name);
		return -EIO;
	}
	if (!suspend_step(s, &untrack_hooks))
		goto undo;
	/* Its errors go into the error line only: DMDEV is suspended. */
	lib_log_hold(true);
	if (ts && untrack_read(name, s->sectors, ts)) {
		lib_log_hold(false);
		fail(s, "cannot read the changed set of %s: %s", name,
		     cbw_get_error());
		lib_error_reset();
		goto undo;
	}
	lib_log_hold(false);
	if (!resume_step(s, &untrack_hooks, "its own table")) {
		swapped = true;
		goto undo;
	}
	return remove_real_step(s, "untracked");

undo:
	if (undo_load(s, true)) {
		if (swapped && still_tracked(name) != 1)
			note(s, "%s may have its own table back: see 'dmsetup table %s'; %s is left",
			     name, name, s->real_name);
		else
			note(s, "the tracking of %s goes on", name);
	}
	unlock_memory(s);
	return -EIO;
}

int cbw_untrack(const char *dev, const char *state_file)
{
	struct track_state ts = { 0 };
	struct cbw_track_info tr;
	struct cbw_status st;
	struct release rel;
	struct stack s;
	int r;

	lib_begin();
	memset(&s, 0, sizeof(s));
	memset(&rel, 0, sizeof(rel));
	if (!dev || !*dev)
		return lib_end(lib_einval("untrack: a device is needed"));
	if (state_file && !*state_file)
		return lib_end(lib_einval("untrack: an empty state file name"));
	r = resolve(dev, &s.dev);
	if (r)
		return lib_end(r);
	r = live_tracking(&s.dev, &st, &tr);
	if (r)
		goto out;
	if (tr.tracking && st.state != CBW_STATE_NONE) {
		lib_error("%s is under a track snapshot: 'cbwctl release %s' first",
			  s.dev.name, s.dev.name);
		r = -EBUSY;
		goto out;
	}
	if (!tr.tracking && s.dev.targets == 1 &&
	    !strcmp(s.dev.type, CBW_TARGET)) {
		lib_error("%s is not tracked: its cbw table has no track feature (a snapshot: 'cbwctl release %s')",
			  s.dev.name, s.dev.name);
		r = -ENOENT;
		goto out;
	}
	if (!tr.tracking) {
		lib_error("%s is not tracked (its table is not one cbw target)",
			  s.dev.name);
		r = -ENOENT;
		goto out;
	}
	r = release_checks(&s, &rel);
	if (r)
		goto out;
	if (rel.has_snap) {
		lib_error("%s is tracked, but the snapshot node %s exists; remove it first",
			  s.dev.name, rel.snap.name);
		r = -EBUSY;
		goto out;
	}

	r = changes_begin(&s);
	if (r)
		goto out;
	r = untrack_steps(&s, state_file ? &ts : NULL);
	if (!changes_end(&s, r, "%s was untracked", s.dev.name))
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	if (r && r != -ETIMEDOUT) {
		lib_error("%s", s.err);
		goto out;
	}
	/* DMDEV runs again: the file may live on it. */
	if (state_file && ts.clean && track_state_write(state_file, &ts)) {
		/* An older clean file must not stand for this history. */
		if (unlink(state_file) && errno != ENOENT)
			lib_error("%s could not be removed either: %s; remove it before the next 'cbwctl track --state'",
				  state_file, strerror(errno));
		lib_error("%s is untracked, but its changed set could not be saved: the next 'cbwctl track --state %s' starts a new history (the next backup must be full)",
			  s.dev.name, state_file);
		r = -EIO;
	} else if (r) {
		lib_error("%s", s.err);
	}
out:
	runs_free(&ts.runs);
	cbwdm_dev_release(&rel.real);
	if (rel.has_snap)
		cbwdm_dev_release(&rel.snap);
	stack_release(&s);
	return lib_end(r);
}

/*
 * Undo what cbwctl snapshot --incremental did up to @done: DMDEV gets its
 * track-only table back (s->table, as it was): if the track snapshot's
 * table went live, its set merges back into the changed set (it was never
 * committed).  Add the outcome to the error line.
 */
static void track_snapshot_undo(struct stack *s, enum step done)
{
	if (undo_swap(s, done, false))
		note(s, "%s is tracked as before (no change is lost)",
		     s->dev.name);
}

/*
 * The changes of cbwctl snapshot --incremental: load the track snapshot's
 * table (over the same -real, with the tracking chunk size) into DMDEV,
 * suspend, resume (the changed set becomes the snapshot's set at the
 * point in time, as in snapshot_steps()), make the snapshot node.
 * Return 0 or a negative errno; the error line is in s->err.
 */
static int track_snapshot_steps(struct stack *s, const char *params)
{
	enum step done = STEP_NOTHING;

	if (swap_table(s, params, "the track snapshot's table",
		       &snapshot_hooks, &done) && snap_step(s))
		return 0;
	track_snapshot_undo(s, done);
	unlock_memory(s);
	return -EIO;
}

/*
 * Everything cbwctl snapshot --incremental checks before it changes
 * anything: DMDEV tracked by cbwctl track (a track-only table over a
 * CBW-...-real), the snapshot node's name and uuid free, the COW device.
 * The track-only table goes into s->table; the new table's parameters
 * into @params.  Return 0 or a negative errno.
 */
static int track_snapshot_checks(struct stack *s,
				 const struct cbw_track_snapshot_opts *o,
				 struct blockdev *cow, char *params)
{
	struct cbw_snapshot_opts so = { 0 };
	const char *name = s->dev.name;
	struct cbw_track_info tr;
	struct cbwdm_dev real;
	struct cbw_status st;
	dev_t real_dev;
	int r;

	r = live_tracking(&s->dev, &st, &tr);
	if (r)
		return r;
	if (!tr.tracking) {
		lib_error("%s is not tracked: start with 'cbwctl track %s'",
			  name, name);
		return -ENOENT;
	}
	if (st.state != CBW_STATE_NONE) {
		lib_error("%s is already under a track snapshot; see 'cbwctl status --track %s'",
			  name, name);
		return -EBUSY;
	}
	r = check_not_changing(&s->dev);
	if (r)
		return r;
	r = find_real(name, &real);
	if (r == CBWDM_ERROR) {
		lib_error("cannot read the table of %s or its origin: %s", name,
			  cbwdm_error());
		return -EIO;
	}
	if (r != 1) {
		lib_error("%s tracks, but not under 'cbwctl track' (its origin is not a " CBW_UUID_PREFIX "..." CBW_REAL_SUFFIX " device); use dmsetup",
			  name);
		return -ENOENT;
	}
	/* The snapshot node's uuid follows -real's, as release finds it. */
	snap_uuid_of(s, real.uuid);
	snprintf(s->real_name, sizeof(s->real_name), "%s", real.name);
	snprintf(s->snap_name, sizeof(s->snap_name), "%s" CBW_SNAP_SUFFIX,
		 name);
	real_dev = makedev(real.major, real.minor);
	cbwdm_dev_release(&real);
	if ((r = cbw_check_free(s->snap_name, NULL)) ||
	    (r = cbw_check_free(NULL, s->snap_uuid)))
		return r;

	r = cbwdm_table_get(name, &s->table);
	if (r != CBWDM_FOUND || s->table.count != 1) {
		lib_error("cannot read the table of %s: %s", name,
			  r == CBWDM_ERROR ? cbwdm_error() : "it changed");
		return -EIO;
	}
	s->sectors = cbwdm_table_sectors(&s->table);

	so.chunk_bytes = st.chunk_sectors << SECTOR_SHIFT;
	r = check_cow(s, &so, cow);
	if (r)
		return r;
	cbw_table_params(&(struct cbw_table){
				.origin = real_dev,
				.cow = cow->rdev, .chunk_bytes = so.chunk_bytes,
				.timeout_ms = o->timeout_ms,
				.policy = o->policy, .track = true }, params);
	return 0;
}

/* The arguments of cbw_track_snapshot() that cbwctl checks too. */
static int check_track_snapshot_args(const struct cbw_track_snapshot_opts *o)
{
	const char *bad = NULL;

	if (!o->dev || !*o->dev || !o->cow || !*o->cow)
		bad = "a device and a COW device are needed";
	else if (o->timeout_ms > CBW_MAX_TIMEOUT_MS)
		bad = "the timeout is longer than one day";
	else if (!cbw_policy_name(o->policy))
		bad = "an unknown error policy";
	if (bad)
		return lib_einval("snapshot --incremental: %s", bad);
	return 0;
}

int cbw_track_snapshot(const struct cbw_track_snapshot_opts *o,
		       char *snap_node, size_t len)
{
	struct blockdev cow = { .role = "COW" };
	char params[CBW_TABLE_PARAMS_LEN];
	struct stack s;
	int r;

	lib_begin();
	memset(&s, 0, sizeof(s));
	if (!o)
		return lib_end(lib_einval("snapshot --incremental: no options (NULL)"));
	if (snap_node && !len)
		return lib_end(lib_einval("snapshot --incremental: no room for the node's path"));
	r = check_track_snapshot_args(o);
	if (r)
		return lib_end(r);
	cow.path = o->cow;
	r = resolve(o->dev, &s.dev);
	if (r)
		return lib_end(r);
	r = track_snapshot_checks(&s, o, &cow, params);
	if (r)
		goto out;

	r = changes_begin(&s);
	if (r)
		goto out;
	r = track_snapshot_steps(&s, params);
	if (!changes_end(&s, r, "the track snapshot of %s was made", s.dev.name))
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	snapshot_done(&s, r, snap_node, len);
out:
	stack_release(&s);
	return lib_end(r);
}
