// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot device of a cbw device; see snapdev.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "dm.h"
#include "error.h"
#include "snapdev.h"
#include "status_line.h"

#define SECTOR_SHIFT 9

/* The snapshot must be readable: active, and its device valid. */
static int check_state(const struct snapdev *s)
{
	const struct cbw_dev *d = &s->d;
	char state[24];

	if (d->st.state == CBW_STATE_SETUP) {
		lib_error("the snapshot of %s is in incremental set-up; send 'start' first",
			  d->dev.name);
		return -EIO;
	}
	if (d->st.state == CBW_STATE_BROKEN) {
		lib_error("the snapshot of %s is broken (%s); nothing can be read from it",
			  d->dev.name, cbw_state_format(&d->st, state, sizeof(state)));
		return -EIO;
	}
	if (d->snap_st.state != CBW_ACCESS_VALID) {
		lib_error("%s is %s%s", d->snap.name,
			  cbw_access_state_name(d->snap_st.state),
			  d->snap_st.state == CBW_ACCESS_INVALID ?
			  " (the cbw table under it was replaced); remove it" : "");
		return -EIO;
	}
	return 0;
}

int snapdev_find(const char *name, bool discard, struct snapdev *s)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	r = cbw_find(name, false, &s->d);
	if (r)
		return r;
	if (!s->d.has_snap) {
		lib_error("%s has no snapshot device (%s%s)", name, name,
			  CBW_SNAP_SUFFIX);
		r = -ENOENT;
		goto bad;
	}
	r = check_state(s);
	if (r)
		goto bad;
	if (discard && s->d.snap.read_only) {
		lib_error("%s is read-only: discards need a writable snapshot device (cbwctl create makes it writable)",
			  s->d.snap.name);
		r = -ENODEV;
		goto bad;
	}
	s->bytes = s->d.snap.length << SECTOR_SHIFT;
	s->chunk_bytes = s->d.st.chunk_sectors << SECTOR_SHIFT;
	snprintf(s->path, sizeof(s->path), "%s/%s", cbwdm_dir(), s->d.snap.name);
	return 0;
bad:
	cbw_dev_release(&s->d);
	return r;
}

int snapdev_open(struct snapdev *s, int flags)
{
	dev_t want = makedev(s->d.snap.major, s->d.snap.minor);
	struct stat st;
	int fd, err;

	fd = open(s->path, flags | O_CLOEXEC);
	if (fd < 0) {
		err = errno;	/* lib_error() may change it */
		lib_error("cannot open %s: %s", s->path, strerror(err));
		return err == ENOENT ? -ENODEV : -EIO;
	}
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode) || st.st_rdev != want) {
		lib_error("%s is not the device %u:%u of %s (a stale node?)",
			  s->path, s->d.snap.major, s->d.snap.minor,
			  s->d.snap.name);
		close(fd);
		return -ENODEV;
	}
	s->fd = fd;
	return 0;
}

bool snapdev_broken(const struct snapdev *s, char *why, size_t len)
{
	uint64_t left;

	return snapdev_left(s, &left, why, len);
}

bool snapdev_left(const struct snapdev *s, uint64_t *left, char *why,
		  size_t len)
{
	struct cbw_access_status ast;
	struct cbw_status st;
	struct cbwdm_dev dev;
	char state[24];
	bool broken = true;

	if (cbwdm_status(s->d.dev.name, NULL, &dev) != CBWDM_FOUND) {
		snprintf(why, len, "%s is gone", s->d.dev.name);
		return true;
	}
	if (cbw_status_parse(dev.params, &st))
		snprintf(why, len, "%s is no longer a cbw device", dev.name);
	else if (st.state != CBW_STATE_ACTIVE)
		snprintf(why, len, "the snapshot of %s broke (%s)", dev.name,
			 cbw_state_format(&st, state, sizeof(state)));
	else
		broken = false;
	if (!broken)
		*left = st.dropped + st.discarded;
	cbwdm_dev_release(&dev);
	if (broken)
		return true;

	if (cbwdm_status(s->d.snap.name, NULL, &dev) != CBWDM_FOUND) {
		snprintf(why, len, "%s is gone", s->d.snap.name);
		return true;
	}
	if (strcmp(dev.type, "snapshot-access") ||
	    access_status_parse(dev.params, &ast))
		snprintf(why, len, "%s is no longer a snapshot-access device",
			 dev.name);
	else if (ast.state != CBW_ACCESS_VALID)
		snprintf(why, len, "%s became %s", dev.name,
			 cbw_access_state_name(ast.state));
	else
		broken = false;
	cbwdm_dev_release(&dev);
	return broken;
}

void snapdev_release(struct snapdev *s)
{
	if (s->fd >= 0)
		close(s->fd);
	cbw_dev_release(&s->d);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

int cbw_snapshot_device(const char *name, bool discard, struct cbw_info *info)
{
	struct snapdev sd;
	int r;

	lib_begin();
	if (!info)
		return lib_end(lib_einval("snapshot device of %s: no struct to fill (NULL)",
					  name ? name : "(NULL)"));
	r = snapdev_find(name, discard, &sd);
	if (r)
		return lib_end(r);
	cbw_info_fill(&sd.d, info);
	snapdev_release(&sd);
	return lib_end(0);
}
