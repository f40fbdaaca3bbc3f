// SPDX-License-Identifier: GPL-2.0
/*
 * The "cbw" target: stacks on the origin; before a write, write-zeroes or
 * discard changes a chunk that is still part of the snapshot, the chunk's
 * old data is copied to the COW device.
 */

#include <linux/blkdev.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "dm-cbw.h"

/* Chunks up to 1 GiB: the io hints of snapshot-access are 32-bit bytes. */
#define MAX_CHUNK_SECTORS	(1U << (30 - SECTOR_SHIFT))

/**
 * struct cbw_c - a cbw target instance.
 * @ti: the target.
 * @origin: the origin device.
 * @cow: the COW device.
 * @snap: the snapshot state.
 * @chunk_sectors: chunk size in sectors.
 * @origin_arg: the origin argument as given, for the table status.
 * @cow_arg: the COW argument as given, for the table status.
 *
 * Set by the constructor and constant afterwards.
 */
struct cbw_c {
	struct dm_target *ti;
	struct dm_dev *origin;
	struct dm_dev *cow;
	struct cbw_snap *snap;
	sector_t chunk_sectors;
	char *origin_arg;
	char *cow_arg;
};

static int parse_chunk_size(struct cbw_c *cc, const char *arg)
{
	unsigned int lbs = max(bdev_logical_block_size(cc->origin->bdev),
			       bdev_logical_block_size(cc->cow->bdev));
	unsigned long long sectors;

	if (kstrtoull(arg, 10, &sectors) || !sectors ||
	    !is_power_of_2(sectors) || sectors < 8 ||
	    sectors < (lbs >> SECTOR_SHIFT) || sectors > MAX_CHUNK_SECTORS) {
		cc->ti->error = "Invalid chunk size";
		return -EINVAL;
	}
	cc->chunk_sectors = sectors;
	return 0;
}

static int get_dev(struct dm_target *ti, const char *arg, struct dm_dev **dev,
		   char **saved, char *error)
{
	int r;

	r = dm_get_device(ti, arg, dm_table_get_mode(ti->table), dev);
	if (r) {
		ti->error = error;
		return r;
	}
	*saved = kstrdup(arg, GFP_KERNEL);
	if (!*saved) {
		dm_put_device(ti, *dev);
		ti->error = "Cannot allocate memory";
		return -ENOMEM;
	}
	return 0;
}

static void put_dev(struct dm_target *ti, struct dm_dev *dev, char *saved)
{
	kfree(saved);
	dm_put_device(ti, dev);
}

/*
 * Construct a cbw target:
 *
 *   cbw <origin dev> <COW dev> <chunk sectors>
 *
 * origin dev: the device whose point-in-time image is kept.
 * COW dev: where the old data of changed chunks goes; at least as large as
 *	    the target.
 * chunk sectors: the copy unit in 512-byte sectors: a power of two, at
 *	    least 8 and at least both devices' logical block size, at most
 *	    2097152 (1 GiB).
 *
 * The target must start at sector 0 of its device, be no longer than the
 * origin, and its length be a multiple of both devices' logical block
 * size.  (A COW device that shares sectors with the origin, a partition
 * and its disk, is refused when it is opened: both are claimed
 * exclusively.)
 */
static int cbw_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	unsigned int lbs;
	struct cbw_c *cc;
	int r;

	if (argc != 3) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	if (ti->begin) {
		ti->error = "cbw target must start at sector 0";
		return -EINVAL;
	}

	cc = kzalloc(sizeof(*cc), GFP_KERNEL);
	if (!cc) {
		ti->error = "Cannot allocate cbw context";
		return -ENOMEM;
	}
	cc->ti = ti;

	r = get_dev(ti, argv[0], &cc->origin, &cc->origin_arg,
		    "Error opening origin device");
	if (r)
		goto bad_origin;
	r = get_dev(ti, argv[1], &cc->cow, &cc->cow_arg,
		    "Error opening COW device");
	if (r)
		goto bad_cow;

	r = -EINVAL;
	if (cc->cow->bdev->bd_dev == cc->origin->bdev->bd_dev) {
		ti->error = "COW device is the origin";
		goto bad_args;
	}
	lbs = max(bdev_logical_block_size(cc->origin->bdev),
		  bdev_logical_block_size(cc->cow->bdev));
	if (ti->len & ((lbs >> SECTOR_SHIFT) - 1)) {
		ti->error = "Length not a multiple of the logical block size";
		goto bad_args;
	}
	if (ti->len > bdev_nr_sectors(cc->origin->bdev)) {
		ti->error = "Origin device too small";
		goto bad_args;
	}
	if (ti->len > bdev_nr_sectors(cc->cow->bdev)) {
		ti->error = "COW device smaller than the target";
		goto bad_args;
	}
	r = parse_chunk_size(cc, argv[2]);
	if (r)
		goto bad_args;

	r = cbw_snap_create(ti, cc->origin, cc->cow, cc->chunk_sectors,
			    &cc->snap);
	if (r)
		goto bad_args;

	ti->private = cc;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	return 0;

bad_args:
	put_dev(ti, cc->cow, cc->cow_arg);
bad_cow:
	put_dev(ti, cc->origin, cc->origin_arg);
bad_origin:
	kfree(cc);
	return r;
}

static void cbw_dtr(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	cbw_snap_destroy(cc->snap);
	put_dev(ti, cc->cow, cc->cow_arg);
	put_dev(ti, cc->origin, cc->origin_arg);
	kfree(cc);
}

static int cbw_map(struct dm_target *ti, struct bio *bio)
{
	struct cbw_c *cc = ti->private;

	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	/* Reads and empty flushes change nothing. */
	if (!op_is_write(bio_op(bio)) || !bio_sectors(bio)) {
		bio_set_dev(bio, cc->origin->bdev);
		return DM_MAPIO_REMAPPED;
	}
	return cbw_snap_map_write(cc->snap, bio);
}

/*
 * Status format:
 *
 * <chunk sectors> <chunks> <copied> <to copy> <copy jobs> <copy errors>
 * <waited bios>
 */
static void cbw_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct cbw_c *cc = ti->private;
	struct cbw_snap_stats st;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		cbw_snap_get_stats(cc->snap, &st);
		DMEMIT("%llu %lu %lu %lu %llu %llu %llu",
		       (unsigned long long)cc->chunk_sectors, st.chunks,
		       st.copied, st.to_copy, st.copies, st.copy_errors,
		       st.waited);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %llu", cc->origin_arg, cc->cow_arg,
		       (unsigned long long)cc->chunk_sectors);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",origin_name=%s,cow_name=%s,chunk_sectors=%llu;",
		       cc->origin->name, cc->cow->name,
		       (unsigned long long)cc->chunk_sectors);
		break;
	}
}

static void cbw_postsuspend(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	cbw_snap_postsuspend(cc->snap);
}

static void cbw_resume(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	cbw_snap_resume(cc->snap);
}

static int cbw_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct cbw_c *cc = ti->private;

	return fn(ti, cc->origin, 0, ti->len, data);
}

static struct target_type cbw_target = {
	.name = "cbw",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = cbw_ctr,
	.dtr = cbw_dtr,
	.map = cbw_map,
	.status = cbw_status,
	.postsuspend = cbw_postsuspend,
	.resume = cbw_resume,
	.iterate_devices = cbw_iterate_devices,
};

/**
 * dm_cbw_target_init() - register the cbw target.
 *
 * Context: module init.
 * Return: 0 or the error of dm_register_target().
 */
int dm_cbw_target_init(void)
{
	int r = dm_register_target(&cbw_target);

	if (r)
		DMERR("register of target cbw failed: %d", r);
	return r;
}

/**
 * dm_cbw_target_exit() - unregister the cbw target.
 *
 * Context: module exit.
 */
void dm_cbw_target_exit(void)
{
	dm_unregister_target(&cbw_target);
}
