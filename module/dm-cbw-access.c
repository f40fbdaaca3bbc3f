// SPDX-License-Identifier: GPL-2.0
/*
 * The "snapshot-access" target: the read-only frozen image of a cbw
 * device.  Chunks already copied are read from the COW device, the others
 * from the origin.
 */

#include <linux/blkdev.h>
#include <linux/kdev_t.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "compat.h"
#include "dm-cbw.h"

/**
 * struct access_c - a snapshot-access target instance.
 * @snap: the snapshot (a reference is held).
 * @pin: a shared open of the cbw device, so that it cannot be removed.
 * @origin: this target's own reference to the origin device.
 * @cow: this target's own reference to the COW device.
 * @cbw_arg: the cbw device argument as given, for the table status.
 *
 * Set by the constructor and constant afterwards.
 */
struct access_c {
	struct cbw_snap *snap;
	struct cbw_pin pin;
	struct dm_dev *origin;
	struct dm_dev *cow;
	char *cbw_arg;
};

/*
 * A device path, or major:minor in decimal digits, to a device number.  A
 * number past what a device number holds is refused, not wrapped round.
 */
static int parse_dev(const char *arg, dev_t *dev)
{
	const char *colon = strchr(arg, ':');
	unsigned int major, minor;
	char buf[16];
	size_t n;

	if (!colon || strspn(arg, "0123456789:") != strlen(arg))
		return cbw_lookup_bdev(arg, dev);
	n = colon - arg;
	if (!n || n >= sizeof(buf) || strchr(colon + 1, ':') || !colon[1])
		return -EINVAL;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	if (kstrtouint(buf, 10, &major) || kstrtouint(colon + 1, 10, &minor))
		return -EOVERFLOW;
	*dev = MKDEV(major, minor);
	if (MAJOR(*dev) != major || MINOR(*dev) != minor)
		return -EOVERFLOW;
	return 0;
}

static int get_by_devt(struct dm_target *ti, dev_t dev, struct dm_dev **result)
{
	char name[16];

	snprintf(name, sizeof(name), "%u:%u", MAJOR(dev), MINOR(dev));
	return dm_get_device(ti, name, dm_table_get_mode(ti->table), result);
}

/*
 * Construct a snapshot-access target:
 *
 *   snapshot-access <cbw dev>
 *
 * cbw dev: a live cbw device (path or major:minor), that is one whose cbw
 *	    table has been resumed.  It cannot be removed while this target
 *	    exists.  Sector N of the target is sector N of the frozen
 *	    image; the target may not be longer than the cbw device.
 */
static int access_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct access_c *ac;
	dev_t dev;
	int r;

	if (argc != 1) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	r = parse_dev(argv[0], &dev);
	if (r) {
		ti->error = "Invalid cbw device";
		return r;
	}

	ac = kzalloc(sizeof(*ac), GFP_KERNEL);
	if (!ac) {
		ti->error = "Cannot allocate snapshot-access context";
		return -ENOMEM;
	}
	ac->cbw_arg = kstrdup(argv[0], GFP_KERNEL);
	if (!ac->cbw_arg) {
		ti->error = "Cannot allocate memory";
		r = -ENOMEM;
		goto bad_arg;
	}

	/* Pin first, so that the device looked up is the one pinned. */
	r = cbw_pin_open(&ac->pin, dev);
	if (r) {
		ti->error = "Cannot open cbw device";
		goto bad_pin;
	}
	ac->snap = cbw_snap_lookup(dev, &r);
	if (!ac->snap) {
		ti->error = r == -EBUSY ? "cbw device is in incremental set-up" :
					  "Not a live cbw device";
		r = -EINVAL;
		goto bad_lookup;
	}
	if (ti->len > cbw_snap_sectors(ac->snap)) {
		ti->error = "Snapshot longer than the cbw device";
		r = -EINVAL;
		goto bad_origin;
	}

	r = get_by_devt(ti, cbw_snap_origin_dev(ac->snap), &ac->origin);
	if (r) {
		ti->error = "Error opening origin device";
		goto bad_origin;
	}
	r = get_by_devt(ti, cbw_snap_cow_dev(ac->snap), &ac->cow);
	if (r) {
		ti->error = "Error opening COW device";
		goto bad_cow;
	}

	ti->private = ac;
	ti->per_io_data_size = sizeof(struct cbw_read_io);
	ti->num_discard_bios = 1;
	ti->discards_supported = true;
	return 0;

bad_cow:
	dm_put_device(ti, ac->origin);
bad_origin:
	cbw_snap_put(ac->snap);
bad_lookup:
	cbw_pin_close(&ac->pin);
bad_pin:
	kfree(ac->cbw_arg);
bad_arg:
	kfree(ac);
	return r;
}

static void access_dtr(struct dm_target *ti)
{
	struct access_c *ac = ti->private;

	dm_put_device(ti, ac->cow);
	dm_put_device(ti, ac->origin);
	cbw_snap_put(ac->snap);
	cbw_pin_close(&ac->pin);
	kfree(ac->cbw_arg);
	kfree(ac);
}

static int access_map(struct dm_target *ti, struct bio *bio)
{
	struct access_c *ac = ti->private;
	struct cbw_read_io *io = dm_per_bio_data(bio, sizeof(*io));

	/*
	 * The image is read-only: writes, and any other operation but a
	 * read or a discard, fail.  Discards drop chunks from the snapshot.
	 * (Flushes and write-zeroes never get here: the target takes none
	 * of them.)
	 */
	if (bio_op(bio) != REQ_OP_READ && bio_op(bio) != REQ_OP_DISCARD)
		return DM_MAPIO_KILL;

	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	io->origin = ac->origin->bdev;
	io->cow = ac->cow->bdev;
	return cbw_snap_map_access(ac->snap, bio, io);
}

static int access_end_io(struct dm_target *ti, struct bio *bio,
			 blk_status_t *error)
{
	struct access_c *ac = ti->private;
	struct cbw_read_io *io = dm_per_bio_data(bio, sizeof(*io));

	cbw_snap_access_end(ac->snap, io, error);
	return DM_ENDIO_DONE;
}

/*
 * Status format:
 *
 * <state> <origin reads> <COW reads> <failed reads>
 *
 * state: "valid"; "broken" once the snapshot broke; "invalid" once the
 * cbw target is gone.  Every read fails in the last two states.
 */
static void access_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct access_c *ac = ti->private;
	struct cbw_snap_stats st;
	unsigned int sz = 0;
	const char *state;

	switch (type) {
	case STATUSTYPE_INFO:
		cbw_snap_get_stats(ac->snap, &st);
		state = st.dead ? "invalid" : st.broken ? "broken" : "valid";
		DMEMIT("%s %llu %llu %llu", state, st.origin_reads,
		       st.cow_reads, st.failed_reads);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s", ac->cbw_arg);
		break;
#ifdef HAVE_STATUSTYPE_IMA
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",cbw_name=%s;", ac->cbw_arg);
		break;
#endif
	}
}

static int access_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct access_c *ac = ti->private;
	int r;

	r = fn(ti, ac->origin, 0, ti->len, data);
	/* The COW store is packed: the COW device may be the smaller. */
	if (!r)
		r = fn(ti, ac->cow, 0,
		       min_t(sector_t, ti->len, bdev_nr_sectors(ac->cow->bdev)),
		       data);
	return r;
}

static void access_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct access_c *ac = ti->private;
	unsigned int chunk_bytes = cbw_snap_chunk_sectors(ac->snap) << SECTOR_SHIFT;

	limits->io_min = max(limits->io_min, chunk_bytes);
	limits->io_opt = chunk_bytes;
	/* Discards act on whole chunks; the origin need not take any. */
	limits->discard_granularity = chunk_bytes;
	limits->max_discard_sectors = UINT_MAX >> SECTOR_SHIFT;
	limits->max_hw_discard_sectors = UINT_MAX >> SECTOR_SHIFT;
}

static struct target_type access_target = {
	.name = "snapshot-access",
	.version = {1, 1, 0},
	.module = THIS_MODULE,
	.ctr = access_ctr,
	.dtr = access_dtr,
	.map = access_map,
	.end_io = access_end_io,
	.status = access_status,
	.iterate_devices = access_iterate_devices,
	.io_hints = access_io_hints,
};

/**
 * dm_cbw_access_init() - register the snapshot-access target.
 *
 * Context: module init.
 * Return: 0 or the error of dm_register_target().
 */
int dm_cbw_access_init(void)
{
	int r = dm_register_target(&access_target);

	if (r)
		DMERR("register of target snapshot-access failed: %d", r);
	return r;
}

/**
 * dm_cbw_access_exit() - unregister the snapshot-access target.
 *
 * Context: module exit.
 */
void dm_cbw_access_exit(void)
{
	dm_unregister_target(&access_target);
}
