/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences, decided by compile-time probes
 * (scripts/compat-probe writes compat-gen.h), never by version numbers.
 */
#ifndef DM_CBW_COMPAT_H
#define DM_CBW_COMPAT_H

#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/err.h>

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

#endif /* DM_CBW_COMPAT_H */
