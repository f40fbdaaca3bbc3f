// SPDX-License-Identifier: GPL-2.0
/* bdev_nr_sectors(): the size of a block device in sectors (not in 5.10). */
#include <linux/blkdev.h>

sector_t probe_size(struct block_device *bdev);
sector_t probe_size(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}
