// SPDX-License-Identifier: GPL-2.0
/*
 * The commands behind cbwctl create, remove and status; see device.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "chunkset_load.h"
#include "device.h"
#include "dm.h"
#include "error.h"
#include "size.h"
#include "stack.h"
#include "status_line.h"

#define SECTOR_SHIFT 9

/* Like libdevmapper's retries of a busy remove: 25 times 0.2 seconds. */
#define BUSY_RETRIES		25
#define BUSY_RETRY_DELAY_US	200000

#define CBW_TARGET	"cbw"
#define ACCESS_TARGET	"snapshot-access"

_Static_assert(sizeof(CBW_UUID_PREFIX) - 1 + CBW_NAME_MAX +
	       sizeof(CBW_SNAP_SUFFIX) - 1 < DM_UUID_LEN,
	       "CBW-NAME-snap must fit a device-mapper uuid");
_Static_assert(CBW_NAME_MAX + sizeof(CBW_SNAP_SUFFIX) - 1 < DM_NAME_LEN,
	       "NAME-snap must fit a device-mapper name");

const char *cbw_name_check(const char *name, bool for_create)
{
	static const char *const layer_suffix[] = { CBW_SNAP_SUFFIX, CBW_REAL_SUFFIX };
	size_t len, i;
	const char *p;

	if (!name)
		return "there is none (NULL)";
	if (!*name)
		return "it is empty";
	if (strchr(name, '/'))
		return "a device name has no '/'";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "'.' and '..' are not device names";
	if (strlen(name) >= DM_NAME_LEN)
		return "longer than 127 characters";
	if (!for_create)
		return NULL;
	if (strlen(name) > CBW_NAME_MAX)
		return "longer than 119 characters";
	for (p = name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("#+-.:=@_", *p))
			continue;
		return "only A-Z a-z 0-9 # + - . : = @ _ are allowed";
	}
	/* The udev rules tell the layers by these uuid endings. */
	len = strlen(name);
	for (i = 0; i < 2; i++)
		if (len >= strlen(layer_suffix[i]) &&
		    !strcmp(name + len - strlen(layer_suffix[i]), layer_suffix[i]))
			return "a NAME ending in -snap or -real looks like one of cbwctl's layers";
	return NULL;
}

int blockdev_probe(struct blockdev *bd)
{
	struct stat st;
	int fd, r = -ENODEV;

	if (stat(bd->path, &st)) {
		if (errno == ENOENT || errno == ENOTDIR)
			lib_error("%s device %s does not exist", bd->role,
				  bd->path);
		else
			lib_error("cannot check %s device %s: %s", bd->role,
				  bd->path, strerror(errno));
		return -ENODEV;
	}
	if (!S_ISBLK(st.st_mode)) {
		lib_error("%s device %s is not a block device", bd->role,
			  bd->path);
		return -ENODEV;
	}

	fd = open(bd->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		lib_error("cannot open %s device %s: %s", bd->role, bd->path,
			  strerror(errno));
		return -ENODEV;
	}
	/* Still the device stat() saw? */
	bd->rdev = st.st_rdev;
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode) || st.st_rdev != bd->rdev) {
		lib_error("%s device %s changed while it was checked", bd->role,
			  bd->path);
		goto out;
	}
	if (ioctl(fd, BLKGETSIZE64, &bd->bytes) ||
	    ioctl(fd, BLKSSZGET, &bd->block_size)) {
		lib_error("cannot read the size of %s device %s: %s", bd->role,
			  bd->path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

int check_name_arg(const char *name)
{
	const char *why = name ? cbw_name_check(name, false) : "it is NULL";

	if (why) {
		lib_error("invalid device name '%s': %s", name ? name : "", why);
		return -EINVAL;
	}
	return 0;
}

/* The checks create makes on its two devices before touching dm. */
static int check_devices(const struct cbw_create_opts *o, struct blockdev *origin,
			 struct blockdev *cow)
{
	char a[CBW_SIZE_BUF_LEN], b[CBW_SIZE_BUF_LEN];
	const struct blockdev *bd;
	int r;

	r = blockdev_probe(origin);
	if (r)
		return r;
	r = blockdev_probe(cow);
	if (r)
		return r;

	if (origin->rdev == cow->rdev) {
		lib_error("COW device %s is the origin %s", cow->path,
			  origin->path);
		return -ENODEV;
	}
	if (origin->bytes >> SECTOR_SHIFT == 0) {
		lib_error("origin device %s is empty", origin->path);
		return -ENODEV;
	}
	/* The COW store is packed: one chunk-sized slot is the least it takes. */
	if (cow->bytes < o->chunk_bytes) {
		lib_error("COW device %s (%s) is smaller than one chunk (%s)",
			  cow->path, cbw_size_format(cow->bytes, a, sizeof(a)),
			  cbw_size_format(o->chunk_bytes, b, sizeof(b)));
		return -ENODEV;
	}
	bd = origin->block_size > cow->block_size ? origin : cow;
	if (bd->block_size > 0 && o->chunk_bytes < (uint64_t)bd->block_size) {
		lib_error("chunk size %s is smaller than the logical block size of %s (%s)",
			  cbw_size_format(o->chunk_bytes, a, sizeof(a)), bd->path,
			  cbw_size_format(bd->block_size, b, sizeof(b)));
		return -EINVAL;
	}
	return 0;
}

int cbw_check_free(const char *name, const char *uuid)
{
	struct cbwdm_dev dev;
	int r;

	r = cbwdm_status(name, name ? NULL : uuid, &dev);
	if (r == CBWDM_NOTFOUND)
		return 0;
	if (r == CBWDM_ERROR) {
		lib_error("cannot look up %s %s: %s", name ? "device" : "uuid",
			  name ? name : uuid, cbwdm_error());
		return -EIO;
	}
	if (name)
		lib_error("device %s already exists", name);
	else
		lib_error("device %s already has the uuid %s", dev.name, uuid);
	cbwdm_dev_release(&dev);
	return -EBUSY;
}

void cbw_table_params(const struct cbw_table *t, char *buf)
{
	const char *words[9];
	char timeout[24], cow[24];
	int n = 0, i, len;

	if (t->timeout_ms) {
		snprintf(timeout, sizeof(timeout), "%llu",
			 (unsigned long long)t->timeout_ms);
		words[n++] = "timeout";
		words[n++] = timeout;
	}
	if (t->policy != CBW_POLICY_FAIL) {
		words[n++] = "on_error";
		words[n++] = cbw_policy_name(t->policy);
	}
	if (t->incremental)
		words[n++] = "incremental";
	if (t->no_discard_passdown)
		words[n++] = "no_discard_passdown";
	if (t->track)
		words[n++] = "track";

	if (t->no_cow)
		snprintf(cow, sizeof(cow), "-");
	else
		snprintf(cow, sizeof(cow), "%u:%u", major(t->cow), minor(t->cow));
	len = snprintf(buf, CBW_TABLE_PARAMS_LEN, "%u:%u %s %llu",
		       major(t->origin), minor(t->origin), cow,
		       (unsigned long long)(t->chunk_bytes >> SECTOR_SHIFT));
	if (n)
		len += snprintf(buf + len, CBW_TABLE_PARAMS_LEN - len, " %d", n);
	for (i = 0; i < n; i++)
		len += snprintf(buf + len, CBW_TABLE_PARAMS_LEN - len, " %s",
				words[i]);
}

/*
 * Read the snapshot set of create --bitmap for an origin of @sectors into
 * @runs.  Return 0 or a negative errno.
 */
static int create_read_set(const struct cbw_create_opts *o, uint64_t sectors,
			   struct chunk_runs *runs)
{
	uint64_t chunk_sectors = o->chunk_bytes >> SECTOR_SHIFT;
	struct bitmap_geometry g = {
		.chunks = (sectors + chunk_sectors - 1) / chunk_sectors,
		.chunk_sectors = chunk_sectors,
		.era_block_sectors = o->era_block_sectors,
	};

	return bitmap_file_read(o->set_file, o->set_format, &g, runs);
}

/* With --bitmap: load @runs into the new cbw device and start it. */
static int create_load_set(const struct cbw_create_opts *o,
			   const struct chunk_runs *runs)
{
	int r;

	if (!o->set_file)
		return 0;
	r = cbw_ranges_send(o->name, "add", runs);
	if (!r)
		r = cbw_setup_start(o->name);
	return r;
}

/*
 * Make the snapshot device @snap_name with @snap_uuid on the cbw device
 * @major:@minor; return 0 or a negative errno.
 */
static int create_snap(const char *snap_name, const char *snap_uuid,
		       uint64_t sectors, uint32_t major, uint32_t minor,
		       uint32_t *cookie)
{
	char snap_table[32];
	uint32_t snap_major, snap_minor;

	snprintf(snap_table, sizeof(snap_table), "%u:%u", major, minor);
	/*
	 * NAME-snap is writable so that it takes discards (backup
	 * --discard-behind, discard, export); the target fails every write
	 * with EIO, so the image cannot change.
	 */
	if (!cbwdm_create(snap_name, snap_uuid, false, sectors, ACCESS_TARGET,
			  snap_table, CBWDM_UDEV_SNAPSHOT, cookie, &snap_major, &snap_minor)) {
		lib_error("cannot create %s: %s (see dmesg for the kernel's reason)",
			  snap_name, cbwdm_error());
		return -EIO;
	}
	return 0;
}

/*
 * The arguments of cbw_create() that cbwctl checks on its command line;
 * an agent may pass anything.  Return 0 or -EINVAL.
 */
static int check_create_args(const struct cbw_create_opts *o)
{
	const char *why;

	if (!o->name || !o->origin || !o->cow) {
		lib_error("create: a name, an origin and a COW device are needed");
		return -EINVAL;
	}
	why = cbw_name_check(o->name, true);
	if (!why)
		why = cbw_chunk_size_check(o->chunk_bytes);
	if (!why && o->timeout_ms > CBW_MAX_TIMEOUT_MS)
		why = "the timeout is longer than one day";
	if (!why && !cbw_policy_name(o->policy))
		why = "an unknown error policy";
	if (!why && o->set_file && !format_known(o->set_format))
		why = "an unknown chunk set format";
	if (why) {
		lib_error("cannot create %s: %s", o->name, why);
		return -EINVAL;
	}
	return 0;
}

int cbw_create(const struct cbw_create_opts *opts, struct cbw_nodes *nodes)
{
	struct cbw_create_opts args, *o = &args;
	struct blockdev origin = { .role = "origin" };
	struct blockdev cow = { .role = "COW" };
	char snap_name[DM_NAME_LEN], uuid[DM_UUID_LEN], snap_uuid[DM_UUID_LEN];
	char table[CBW_TABLE_PARAMS_LEN];
	struct chunk_runs runs = { 0 };
	uint32_t cookie, major, minor;
	uint64_t sectors;
	bool busy;
	int r;

	lib_begin();
	if (!opts)
		return lib_end(lib_einval("create: no options (NULL)"));
	args = *opts;
	origin.path = o->origin;
	cow.path = o->cow;
	if (!o->chunk_bytes)
		o->chunk_bytes = CBW_CHUNK_DEFAULT_BYTES;
	r = check_create_args(o);
	if (!r)
		r = check_devices(o, &origin, &cow);
	if (r)
		return lib_end(r);
	sectors = origin.bytes >> SECTOR_SHIFT;

	/* cbw_name_check() made sure these fit. */
	snprintf(snap_name, sizeof(snap_name), "%s" CBW_SNAP_SUFFIX, o->name);
	snprintf(uuid, sizeof(uuid), CBW_UUID_PREFIX "%s", o->name);
	snprintf(snap_uuid, sizeof(snap_uuid),
		 CBW_UUID_PREFIX "%s" CBW_SNAP_SUFFIX, o->name);
	if ((r = cbw_check_free(o->name, NULL)) ||
	    (r = cbw_check_free(snap_name, NULL)) ||
	    (r = cbw_check_free(NULL, uuid)) ||
	    (r = cbw_check_free(NULL, snap_uuid)))
		return lib_end(r);

	/* The whole file is checked before any device is made. */
	if (o->set_file && (r = create_read_set(o, sectors, &runs)))
		goto out;

	/*
	 * The devices go into the table as major:minor, the ones checked
	 * above, so the kernel cannot resolve a path to something else.
	 */
	cbw_table_params(&(struct cbw_table){
				.origin = origin.rdev,
				.cow = cow.rdev,
				.chunk_bytes = o->chunk_bytes,
				.timeout_ms = o->timeout_ms,
				.policy = o->policy,
				.incremental = o->set_file != NULL,
				.no_discard_passdown = o->no_discard_passdown,
			 }, table);

	if (!cbwdm_udev_begin(&cookie)) {
		lib_error("cannot start udev synchronisation: %s", cbwdm_error());
		r = -EIO;
		goto out;
	}
	if (!cbwdm_create(o->name, uuid, false, sectors, CBW_TARGET, table,
			  CBWDM_UDEV_DEFAULT, &cookie, &major, &minor)) {
		lib_error("cannot create %s: %s (see dmesg for the kernel's reason)",
			  o->name, cbwdm_error());
		r = -EIO;
		goto wait;
	}

	r = create_load_set(o, &runs);
	if (!r)
		r = create_snap(snap_name, snap_uuid, sectors, major, minor,
				&cookie);
	/* Nothing half-built stays behind. */
	if (r && !cbwdm_remove(o->name, &cookie, &busy))
		lib_error("cannot remove %s again: %s; remove it with 'cbwctl remove %s'",
			  o->name, cbwdm_error(), o->name);

wait:
	if (!cbwdm_udev_wait(cookie) && !r) {
		lib_error("%s and %s were created, but waiting for udev failed: %s",
			  o->name, snap_name, cbwdm_error());
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	}
	if (!r && nodes) {
		snprintf(nodes->dev, sizeof(nodes->dev), "%s/%s", cbwdm_dir(),
			 o->name);
		snprintf(nodes->snap, sizeof(nodes->snap), "%s/%s",
			 cbwdm_dir(), snap_name);
	}
out:
	runs_free(&runs);
	return lib_end(r);
}

static bool is_cbw(const struct cbwdm_dev *dev)
{
	return dev->targets == 1 && dev->start == 0 &&
	       !strcmp(dev->type, CBW_TARGET);
}

static bool made_by_cbwctl(const struct cbwdm_dev *dev)
{
	return !strncmp(dev->uuid, CBW_UUID_PREFIX, strlen(CBW_UUID_PREFIX));
}

/*
 * Look up the cbw device @name (a name a caller passed: checked); with
 * @ours, it must be one made by cbwctl.  Return 0 or a negative errno; on success release @dev with
 * cbwdm_dev_release().
 */
static int find_cbw(const char *name, bool ours, struct cbwdm_dev *dev)
{
	int r = check_name_arg(name);

	if (r)
		return r;
	r = cbwdm_status(name, NULL, dev);

	if (r == CBWDM_NOTFOUND) {
		lib_error("no device %s", name);
		return -ENOENT;
	}
	if (r == CBWDM_ERROR) {
		lib_error("cannot read the status of %s: %s", name,
			  cbwdm_error());
		return -EIO;
	}
	if (!is_cbw(dev)) {
		lib_error("%s is not a cbw device (its table is not one cbw target)",
			  name);
		cbwdm_dev_release(dev);
		return -ENOENT;
	}
	if (ours && !made_by_cbwctl(dev)) {
		if (stack_is_snapshotted(dev) == 1)
			lib_error("%s is a live device under a snapshot of 'cbwctl snapshot': use 'cbwctl release %s'",
				  name, name);
		else
			lib_error("%s is a cbw device not made by cbwctl (its uuid does not start with " CBW_UUID_PREFIX "); use dmsetup",
				  name);
		cbwdm_dev_release(dev);
		return -ENOENT;
	}
	return 0;
}

/*
 * Find the snapshot device of the cbw device @dev, made by cbwctl, by its
 * uuid.  Return CBWDM_FOUND (@snap filled and, unless @st is NULL, its
 * status parsed into @st), CBWDM_NOTFOUND, or CBWDM_ERROR after printing
 * why.
 */
static int find_snap(const struct cbwdm_dev *dev, struct cbwdm_dev *snap,
		     struct cbw_access_status *st)
{
	char uuid[DM_UUID_LEN];
	const char *why;
	int r;

	if (!cbw_snap_uuid(dev, uuid, sizeof(uuid)))
		return CBWDM_NOTFOUND;	/* no uuid that long can exist */

	r = cbwdm_status(NULL, uuid, snap);
	if (r == CBWDM_NOTFOUND)
		return r;
	if (r == CBWDM_ERROR) {
		lib_error("cannot look up the snapshot of %s (uuid %s): %s",
			  dev->name, uuid, cbwdm_error());
		return r;
	}
	if (snap->targets != 1 || strcmp(snap->type, ACCESS_TARGET)) {
		lib_error("%s has the uuid %s but is not a snapshot-access device",
			  snap->name, uuid);
		goto bad;
	}
	why = st ? access_status_parse(snap->params, st) : NULL;
	if (why) {
		lib_error("%s: unexpected snapshot-access status '%s': %s",
			  snap->name, snap->params, why);
		goto bad;
	}
	return CBWDM_FOUND;
bad:
	cbwdm_dev_release(snap);
	return CBWDM_ERROR;
}

/*
 * Before NAME-snap goes, make sure NAME can go too: removing the snapshot
 * and then failing on NAME would lose the image for nothing.  The snapshot
 * (@has_snap) holds NAME open once; any other opener makes NAME busy.  A
 * short-lived opener, like udev scanning the device after a write, gets
 * the same grace libdevmapper gives a busy remove.  Return 0 or a negative errno.
 */
static int check_unused(const struct cbwdm_dev *dev, bool has_snap)
{
	int allowed = has_snap ? 1 : 0, count = dev->open_count, tries;

	for (tries = 0; count > allowed && tries < BUSY_RETRIES; tries++) {
		usleep(BUSY_RETRY_DELAY_US);
		count = cbwdm_open_count(dev->name);
		if (count == CBWDM_ERROR) {
			lib_error("cannot read the open count of %s: %s",
				  dev->name, cbwdm_error());
			return -EIO;
		}
	}
	if (count > allowed) {
		lib_error("%s is in use (open or mounted); nothing was removed",
			  dev->name);
		return -EBUSY;
	}
	return 0;
}

int cbw_remove(const char *name)
{
	struct cbwdm_dev dev, snap;
	uint32_t cookie;
	bool busy;
	int r, found;

	lib_begin();
	r = find_cbw(name, true, &dev);
	if (r)
		return lib_end(r);
	found = find_snap(&dev, &snap, NULL);
	if (found == CBWDM_ERROR) {
		r = -EIO;
		goto out;
	}

	r = check_unused(&dev, found == CBWDM_FOUND);
	if (r)
		goto out_snap;

	if (!cbwdm_udev_begin(&cookie)) {
		lib_error("cannot start udev synchronisation: %s", cbwdm_error());
		r = -EIO;
		goto out_snap;
	}
	if (found == CBWDM_FOUND && !cbwdm_remove(snap.name, &cookie, &busy)) {
		lib_error("cannot remove %s: %s; nothing was removed", snap.name,
			  busy ? "it is in use (open or mounted)" : cbwdm_error());
		r = busy ? -EBUSY : -EIO;
		goto wait;
	}
	if (!cbwdm_remove(dev.name, &cookie, &busy)) {
		lib_error("cannot remove %s: %s%s%s", dev.name,
			  busy ? "it is in use (open or mounted)" : cbwdm_error(),
			  found == CBWDM_FOUND ? "; removed " : "",
			  found == CBWDM_FOUND ? snap.name : "");
		r = busy ? -EBUSY : -EIO;
	}
wait:
	if (!cbwdm_udev_wait(cookie) && !r) {
		lib_error("%s was removed, but waiting for udev failed: %s",
			  dev.name, cbwdm_error());
		r = -ETIMEDOUT;	/* the change stays (libcbw.h) */
	}
out_snap:
	if (found == CBWDM_FOUND)
		cbwdm_dev_release(&snap);
out:
	cbwdm_dev_release(&dev);
	return lib_end(r);
}

bool cbw_snap_uuid(const struct cbwdm_dev *dev, char *buf, size_t len)
{
	int n;

	if (made_by_cbwctl(dev))
		n = snprintf(buf, len, "%s" CBW_SNAP_SUFFIX, dev->uuid);
	else
		n = snprintf(buf, len, CBW_UUID_PREFIX "%s" CBW_SNAP_SUFFIX,
			     dev->name);
	return n >= 0 && (size_t)n < len;
}

int cbw_find(const char *name, bool ours, struct cbw_dev *d)
{
	const char *why;
	int r, found;

	memset(d, 0, sizeof(*d));
	r = find_cbw(name, false, &d->dev);
	if (r)
		return r;
	why = cbw_status_parse_track(d->dev.params, &d->st, &d->track);
	if (why) {
		lib_error("%s: unexpected cbw status '%s': %s", name,
			  d->dev.params, why);
		r = -EIO;
		goto bad;
	}
	found = find_snap(&d->dev, &d->snap, &d->snap_st);
	if (found == CBWDM_ERROR) {
		r = -EIO;
		goto bad;
	}
	d->has_snap = found == CBWDM_FOUND;
	if (ours && !made_by_cbwctl(&d->dev) && !d->has_snap) {
		lib_error("%s is a cbw device not made by cbwctl (no uuid " CBW_UUID_PREFIX "..., no snapshot of cbwctl's); use dmsetup",
			  name);
		r = -ENOENT;
		goto bad;
	}
	return 0;
bad:
	cbw_dev_release(d);
	return r;
}



void cbw_dev_release(struct cbw_dev *d)
{
	cbwdm_dev_release(&d->dev);
	if (d->has_snap)
		cbwdm_dev_release(&d->snap);
	memset(d, 0, sizeof(*d));
}

void cbw_info_fill(const struct cbw_dev *d, struct cbw_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", d->dev.name);
	snprintf(info->uuid, sizeof(info->uuid), "%s", d->dev.uuid);
	info->major = d->dev.major;
	info->minor = d->dev.minor;
	info->size_bytes = d->dev.length << SECTOR_SHIFT;
	info->chunk_bytes = d->st.chunk_sectors << SECTOR_SHIFT;
	info->status = d->st;
	info->has_snap = d->has_snap;
	if (!d->has_snap)
		return;
	snprintf(info->snap_name, sizeof(info->snap_name), "%s", d->snap.name);
	snprintf(info->snap_node, sizeof(info->snap_node), "%s/%s", cbwdm_dir(),
		 d->snap.name);
	info->snap_major = d->snap.major;
	info->snap_minor = d->snap.minor;
	info->snap_read_only = d->snap.read_only;
	info->snap_size_bytes = d->snap.length << SECTOR_SHIFT;
	info->snap_status = d->snap_st;
}

int cbw_info_get(const char *name, struct cbw_info *info)
{
	struct cbw_dev d;
	int r;

	lib_begin();
	if (!info)
		return lib_end(lib_einval("info of %s: no struct to fill (NULL)",
					  name ? name : "(NULL)"));
	r = cbw_find(name, false, &d);
	if (r)
		return lib_end(r);
	cbw_info_fill(&d, info);
	cbw_dev_release(&d);
	return lib_end(0);
}

int cbw_list(char ***names, size_t *count)
{
	lib_begin();
	if (!names || !count)
		return lib_end(lib_einval("list: nowhere to put the names (NULL)"));
	if (!cbwdm_list(names, count)) {
		lib_error("cannot list the device-mapper devices: %s",
			  cbwdm_error());
		return lib_end(-EIO);
	}
	return lib_end(0);
}

void cbw_list_free(char **names, size_t count)
{
	if (names)
		cbwdm_list_free(names, count);
}
