/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences, decided by compile-time probes
 * (scripts/compat-probe writes compat-gen.h), never by version numbers.
 */
#ifndef DM_CBW_COMPAT_H
#define DM_CBW_COMPAT_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/file.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/sched/isolation.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#include "compat-gen.h"

/*
 * struct cbw_pin - a shared (non-exclusive) read open of a block device.
 *
 * snapshot-access pins the cbw device this way: the device-mapper core
 * refuses to remove a device that is open, and a shared open works while
 * a filesystem holds the device exclusively.
 */
struct cbw_pin {
#if defined(HAVE_BDEV_FILE_OPEN_BY_DEV)
	struct file *file;
#elif defined(HAVE_BLKDEV_GET_BY_DEV_FMODE)
	struct block_device *bdev;
#else
#error "no known way to open a block device on this kernel"
#endif
};

static inline int cbw_pin_open(struct cbw_pin *pin, dev_t dev)
{
#if defined(HAVE_BDEV_FILE_OPEN_BY_DEV)
	pin->file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	return PTR_ERR_OR_ZERO(pin->file);
#else
	pin->bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);
	return PTR_ERR_OR_ZERO(pin->bdev);
#endif
}

static inline void cbw_pin_close(struct cbw_pin *pin)
{
#if defined(HAVE_BDEV_FILE_OPEN_BY_DEV)
	fput(pin->file);
#else
	blkdev_put(pin->bdev, FMODE_READ);
#endif
}

/*
 * The size of a block device in 512-byte sectors.  Without the helper, the
 * size is that of the device's inode in the block device filesystem.
 */
#ifndef HAVE_BDEV_NR_SECTORS
static inline sector_t bdev_nr_sectors(struct block_device *bdev)
{
	return i_size_read(bdev->bd_inode) >> SECTOR_SHIFT;
}
#endif

#ifndef HAVE_PAGE_SECTORS_SHIFT
#define PAGE_SECTORS_SHIFT	(PAGE_SHIFT - SECTOR_SHIFT)
#endif

/*
 * cbw_bio_alloc(bdev, nr_vecs, opf, gfp, bs) - a bio from @bs with room for
 * @nr_vecs pages, aimed at @bdev for the operation and flags @opf.
 * Return: the bio; NULL only if @gfp does not wait.  That is the kernel's
 * bio_alloc_bioset() where it takes these arguments; older kernels take
 * only gfp, the size and the set, and the device and the operation are
 * set on the new bio.
 */
#ifdef HAVE_BIO_ALLOC_BIOSET_BDEV
#define cbw_bio_alloc	bio_alloc_bioset
#else
static inline struct bio *cbw_bio_alloc(struct block_device *bdev,
					unsigned short nr_vecs,
					unsigned int opf, gfp_t gfp,
					struct bio_set *bs)
{
	struct bio *bio = bio_alloc_bioset(gfp, nr_vecs, bs);

	if (bio) {
		bio_set_dev(bio, bdev);
		bio->bi_opf = opf;
	}
	return bio;
}
#endif

/*
 * The device number of the block device at @path.  Return: 0, or a
 * negative error code.  Older kernels return a referenced block_device,
 * which is put back once its number is read.
 */
static inline int cbw_lookup_bdev(const char *path, dev_t *dev)
{
#ifdef HAVE_LOOKUP_BDEV_DEV_T
	return lookup_bdev(path, dev);
#else
	struct block_device *bdev = lookup_bdev(path);

	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	*dev = bdev->bd_dev;
	bdput(bdev);
	return 0;
#endif
}

/*
 * Submit a bio that a target remapped outside its map function.  Where the
 * device-mapper core has no helper for that (it then neither accounts nor
 * traces such bios), the bio goes to its new device's queue directly.
 */
static inline void cbw_submit_remapped(struct bio *bio)
{
#ifdef HAVE_DM_SUBMIT_BIO_REMAP
	dm_submit_bio_remap(bio, NULL);
#else
	submit_bio_noacct(bio);
#endif
}

/*
 * The IMA status (STATUSTYPE_IMA) of a target starts with its name and
 * version; kernels that ask for an IMA status but lack the helper get the
 * same words from ours.
 */
#if defined(HAVE_STATUSTYPE_IMA) && !defined(HAVE_DMEMIT_TARGET_NAME_VERSION)
#define DMEMIT_TARGET_NAME_VERSION(type)				\
	DMEMIT("target_name=%s,target_version=%u.%u.%u", (type)->name,	\
	       (type)->version[0], (type)->version[1], (type)->version[2])
#endif

/*
 * The structure a timer callback's timer is embedded in, and stopping a
 * timer while waiting for its callback to finish: older kernels name
 * these from_timer() and del_timer_sync().
 */
#ifndef HAVE_TIMER_CONTAINER_OF
#define timer_container_of(var, timer, field) \
	container_of(timer, typeof(*(var)), field)
#endif

#ifndef HAVE_TIMER_DELETE_SYNC
#define timer_delete_sync(timer)	del_timer_sync(timer)
#endif

/*
 * A workqueue bound to CPUs says so where the kernel wants it said (it
 * warns otherwise); before that flag, bound was what no flag meant.
 */
#ifndef HAVE_WQ_PERCPU
#define WQ_PERCPU	0
#endif

/*
 * The CPUs that may run work items (not isolated): HK_FLAG_WQ before
 * HK_TYPE_WQ, HK_TYPE_DOMAIN on a kernel with neither.
 */
static inline const struct cpumask *cbw_wq_cpus(void)
{
#if defined(HAVE_HK_TYPE_WQ)
	return housekeeping_cpumask(HK_TYPE_WQ);
#elif defined(HAVE_HK_FLAG_WQ)
	return housekeeping_cpumask(HK_FLAG_WQ);
#else
	return housekeeping_cpumask(HK_TYPE_DOMAIN);
#endif
}

#endif /* DM_CBW_COMPAT_H */
