// SPDX-License-Identifier: GPL-2.0
/*
 * Block device relations from sysfs; see sysblock.h.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sysblock.h"

/* Read the first line of the file @path into @buf (newline removed). */
static int read_line(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Parse "<major>:<minor>" (the whole of @s). */
static int parse_devno(const char *s, dev_t *dev)
{
	unsigned int maj, min;
	int end = 0;

	if (sscanf(s, "%u:%u%n", &maj, &min, &end) != 2 || s[end])
		return -EINVAL;
	*dev = makedev(maj, min);
	return 0;
}

/* Read a "dev" file: <path>/dev. */
static int read_devno(const char *dir, dev_t *dev)
{
	char path[PATH_MAX], buf[32];
	int r;

	if (snprintf(path, sizeof(path), "%s/dev", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = read_line(path, buf, sizeof(buf));
	return r ? r : parse_devno(buf, dev);
}

/* <sysfs>/dev/block/<major>:<minor>[/<sub>] into @path. */
static int dev_path(char *path, size_t len, const char *sysfs, dev_t dev,
		    const char *sub)
{
	int n = snprintf(path, len, "%s/dev/block/%u:%u%s%s", sysfs,
			 major(dev), minor(dev), sub ? "/" : "", sub ? sub : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sysblock_disk(const char *sysfs, dev_t dev, dev_t *disk)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	r = dev_path(path, sizeof(path), sysfs, dev, NULL);
	if (r)
		return r;
	if (stat(path, &st))
		return -errno;
	r = dev_path(path, sizeof(path), sysfs, dev, "partition");
	if (r)
		return r;
	if (access(path, F_OK)) {
		if (errno != ENOENT)
			return -errno;
		*disk = dev;
		return 0;
	}
	/* The disk's folder holds the partition's folder. */
	r = dev_path(path, sizeof(path), sysfs, dev, "..");
	return r ? r : read_devno(path, disk);
}

int sysblock_overlap(const char *sysfs, dev_t a, dev_t b)
{
	dev_t disk_a, disk_b;
	int r;

	if (a == b)
		return 1;
	r = sysblock_disk(sysfs, a, &disk_a);
	if (!r)
		r = sysblock_disk(sysfs, b, &disk_b);
	if (r)
		return r;
	return disk_a == b || disk_b == a;
}

/* Add @dev to @devs unless it is there; return 1 if added. */
static int add_dev(dev_t **devs, size_t *count, dev_t dev)
{
	dev_t *bigger;
	size_t i;

	for (i = 0; i < *count; i++)
		if ((*devs)[i] == dev)
			return 0;
	if (*count == SYSBLOCK_MAX_DEVS)
		return -E2BIG;
	bigger = realloc(*devs, (*count + 1) * sizeof(**devs));
	if (!bigger)
		return -ENOMEM;
	*devs = bigger;
	(*devs)[(*count)++] = dev;
	return 1;
}

/* Add the devices listed in the slaves folder of @dev. */
static int add_slaves(const char *sysfs, dev_t dev, dev_t **devs,
		      size_t *count)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	struct dirent *e;
	dev_t slave;
	DIR *d;
	int r = 0;

	r = dev_path(dir, sizeof(dir), sysfs, dev, "slaves");
	if (r)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;	/* no slaves folder */
	while (!r && (errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		r = read_devno(path, &slave);
		if (!r)
			r = add_dev(devs, count, slave);
		if (r > 0)
			r = 0;
	}
	if (!r && errno)
		r = -errno;
	closedir(d);
	return r;
}

static int compare_devs(const void *a, const void *b)
{
	dev_t x = *(const dev_t *)a, y = *(const dev_t *)b;

	return x < y ? -1 : x > y;
}

int sysblock_below(const char *sysfs, dev_t top, dev_t **devs, size_t *count)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int r;

	*devs = NULL;
	*count = 0;
	r = dev_path(path, sizeof(path), sysfs, top, NULL);
	if (r)
		return r;
	if (stat(path, &st))
		return -errno;
	r = add_dev(devs, count, top);
	/* Breadth first: the array grows while it is walked. */
	for (i = 0; r >= 0 && i < *count; i++)
		r = add_slaves(sysfs, (*devs)[i], devs, count);
	if (r < 0) {
		free(*devs);
		*devs = NULL;
		*count = 0;
		return r;
	}
	qsort(*devs + 1, *count - 1, sizeof(**devs), compare_devs);
	return 0;
}

int sysblock_logical_block_size(const char *sysfs, dev_t dev,
				unsigned int *bytes)
{
	char path[PATH_MAX], buf[32];
	unsigned int n;
	dev_t disk;
	int r, end = 0;

	/* A partition has no queue folder of its own. */
	r = sysblock_disk(sysfs, dev, &disk);
	if (!r)
		r = dev_path(path, sizeof(path), sysfs, disk,
			     "queue/logical_block_size");
	if (!r)
		r = read_line(path, buf, sizeof(buf));
	if (r)
		return r;
	if (sscanf(buf, "%u%n", &n, &end) != 1 || buf[end] || !n)
		return -EINVAL;
	*bytes = n;
	return 0;
}
