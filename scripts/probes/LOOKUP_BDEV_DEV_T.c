// SPDX-License-Identifier: GPL-2.0
/* int lookup_bdev(path, dev_t *) (5.10 returns a block_device). */
#include <linux/blkdev.h>

int probe_lookup(const char *path, dev_t *dev);
int probe_lookup(const char *path, dev_t *dev)
{
	return lookup_bdev(path, dev);
}
