/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How block devices sit on each other, from sysfs: the devices a device is
 * built on (its "slaves": the devices of a device-mapper table, the members
 * of an md array), the disk a partition belongs to, the logical block size.
 *
 * Every function takes the sysfs mount point, "/sys" (SYSBLOCK_SYSFS), so
 * that the unit tests can pass a fake tree of the same shape:
 *
 *   <sysfs>/dev/block/<major>:<minor>   link to the device's folder, with
 *       dev                            "<major>:<minor>\n"
 *       partition                      present for a partition, whose
 *       ../dev                         disk is the folder above
 *       slaves/<name>                  links to the folders of the devices
 *                                      it is built on
 *       queue/logical_block_size       (disks; a partition has its disk's)
 */
#ifndef CBWCTL_SYSBLOCK_H
#define CBWCTL_SYSBLOCK_H

#include <stddef.h>
#include <sys/types.h>

#define SYSBLOCK_SYSFS		"/sys"

/* The most devices sysblock_below() follows; deeper trees are refused. */
#define SYSBLOCK_MAX_DEVS	256

/**
 * sysblock_below() - @top and every device it is built on, at any depth.
 * @sysfs: the sysfs mount point.
 * @top: the device.
 * @devs: set to a malloc'ed array: @top first, then the others, each once,
 *	  by increasing device number.
 * @count: set to the number of devices.
 *
 * Return: 0, or a negative errno: -ENOENT when @top is not in sysfs,
 * -E2BIG beyond SYSBLOCK_MAX_DEVS devices, -ENOMEM, or a read error.
 */
int sysblock_below(const char *sysfs, dev_t top, dev_t **devs, size_t *count);

/**
 * sysblock_disk() - the disk that holds @dev.
 * @sysfs: the sysfs mount point.
 * @dev: a block device.
 * @disk: set to the disk of a partition, or to @dev itself.
 *
 * Return: 0, or a negative errno (-ENOENT when @dev is not in sysfs).
 */
int sysblock_disk(const char *sysfs, dev_t dev, dev_t *disk);

/**
 * sysblock_overlap() - do @a and @b share sectors, as far as the device
 * numbers tell: the same device, or a partition and its disk?  (Two
 * partitions of one disk do not; neither do two device-mapper devices,
 * whatever their tables map: see sysblock_below() for those.)
 * @sysfs: the sysfs mount point.
 * @a: a block device.
 * @b: another.
 *
 * Return: 1 if they do, 0 if not, or a negative errno.
 */
int sysblock_overlap(const char *sysfs, dev_t a, dev_t b);

/**
 * sysblock_logical_block_size() - the logical block size of @dev.
 * @sysfs: the sysfs mount point.
 * @dev: a block device.
 * @bytes: set to the size in bytes.
 *
 * Return: 0, or a negative errno.
 */
int sysblock_logical_block_size(const char *sysfs, dev_t dev,
				unsigned int *bytes);

#endif /* CBWCTL_SYSBLOCK_H */
