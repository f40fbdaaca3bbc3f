// SPDX-License-Identifier: GPL-2.0
/* blkdev_get_by_dev(dev, fmode_t, holder) and blkdev_put(bdev, fmode_t). */
#include <linux/blkdev.h>

void probe_open(dev_t dev);
void probe_open(dev_t dev)
{
	struct block_device *bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);

	if (!IS_ERR(bdev))
		blkdev_put(bdev, FMODE_READ);
}
