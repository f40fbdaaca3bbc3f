// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of sysblock.c on a fake sysfs tree of the same shape as the
 * kernel's (folders per device, "dev" files, dev/block/M:m links, slaves
 * links, partitions inside their disk's folder):
 *
 *   sdb 8:16 (512-byte blocks)  with partitions sdb1 8:17 and sdb2 8:18
 *   sdc 8:32 (4 KiB blocks)
 *   dm-0 253:0 on sdb1 and sdc      dm-1 253:1 on dm-0
 *   dm-2 253:2 on sdb2              dm-3 253:3 and dm-4 253:4 on each other
 *   dm-5 253:5 with a damaged dev file under it (dm-6)
 *   dm-100 ... dm-399: a chain longer than SYSBLOCK_MAX_DEVS
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sysblock.h"
#include "tap.h"

static char root[PATH_MAX];

/* @path = root/@rel; a path too long for PATH_MAX stops the test. */
static void at_root(char path[PATH_MAX], const char *rel)
{
	if (snprintf(path, PATH_MAX, "%s/%s", root, rel) >= PATH_MAX) {
		fprintf(stderr, "path too long: %s/%s\n", root, rel);
		exit(1);
	}
}

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	at_root(path, rel);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void dir(const char *rel)
{
	char path[PATH_MAX];

	at_root(path, rel);
	if (mkdir(path, 0755)) {
		perror(path);
		exit(1);
	}
}

static void link_to(const char *target, const char *rel)
{
	char path[PATH_MAX];

	at_root(path, rel);
	if (symlink(target, path)) {
		perror(path);
		exit(1);
	}
}

/* A device folder devices/@path with dev file and dev/block link. */
static void device(const char *path, unsigned int maj, unsigned int min)
{
	char rel[PATH_MAX], text[32], target[PATH_MAX];

	dir(path);
	snprintf(rel, sizeof(rel), "%s/dev", path);
	snprintf(text, sizeof(text), "%u:%u\n", maj, min);
	put(rel, text);
	snprintf(rel, sizeof(rel), "dev/block/%u:%u", maj, min);
	snprintf(target, sizeof(target), "../../%s", path);
	link_to(target, rel);
}

/* devices/@holder/slaves/@name -> devices/@slave */
static void slave(const char *holder, const char *name, const char *slave_path)
{
	char rel[PATH_MAX], target[PATH_MAX];

	const char *p;
	size_t n = 0;

	/* Up from <holder>/slaves to the root of the tree. */
	target[0] = '\0';
	for (p = holder; p; p = strchr(p + 1, '/'))
		n += snprintf(target + n, sizeof(target) - n, "../");
	snprintf(target + n, sizeof(target) - n, "../%s", slave_path);
	snprintf(rel, sizeof(rel), "%s/slaves/%s", holder, name);
	link_to(target, rel);
}

static void build_tree(void)
{
	char a[64], b[64];
	int i;

	dir("dev");
	dir("dev/block");
	dir("devices");
	device("devices/sdb", 8, 16);
	dir("devices/sdb/queue");
	put("devices/sdb/queue/logical_block_size", "512\n");
	device("devices/sdb/sdb1", 8, 17);
	put("devices/sdb/sdb1/partition", "1\n");
	device("devices/sdb/sdb2", 8, 18);
	put("devices/sdb/sdb2/partition", "2\n");
	device("devices/sdc", 8, 32);
	dir("devices/sdc/queue");
	put("devices/sdc/queue/logical_block_size", "4096\n");

	device("devices/dm-0", 253, 0);
	dir("devices/dm-0/slaves");
	slave("devices/dm-0", "sdb1", "devices/sdb/sdb1");
	slave("devices/dm-0", "sdc", "devices/sdc");
	dir("devices/dm-0/queue");
	put("devices/dm-0/queue/logical_block_size", "4096\n");
	device("devices/dm-1", 253, 1);
	dir("devices/dm-1/slaves");
	slave("devices/dm-1", "dm-0", "devices/dm-0");
	device("devices/dm-2", 253, 2);
	dir("devices/dm-2/slaves");
	slave("devices/dm-2", "sdb2", "devices/sdb/sdb2");
	device("devices/dm-3", 253, 3);
	device("devices/dm-4", 253, 4);
	dir("devices/dm-3/slaves");
	dir("devices/dm-4/slaves");
	slave("devices/dm-3", "dm-4", "devices/dm-4");
	slave("devices/dm-4", "dm-3", "devices/dm-3");
	device("devices/dm-5", 253, 5);
	dir("devices/dm-5/slaves");
	dir("devices/dm-6");
	put("devices/dm-6/dev", "garbage\n");
	slave("devices/dm-5", "dm-6", "devices/dm-6");

	for (i = 100; i < 400; i++) {
		snprintf(a, sizeof(a), "devices/dm-%d", i);
		device(a, 253, i);
	}
	for (i = 100; i < 399; i++) {
		char target[64];

		snprintf(a, sizeof(a), "devices/dm-%d/slaves", i);
		dir(a);
		snprintf(a, sizeof(a), "devices/dm-%d", i);
		snprintf(b, sizeof(b), "dm-%d", i + 1);
		snprintf(target, sizeof(target), "devices/dm-%d", i + 1);
		slave(a, b, target);
	}
}

static void remove_tree(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		tap_diag("could not remove %s", root);
}

static const char *devs_text(const dev_t *devs, size_t count, char *buf,
			     size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < count && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%u:%u", i ? " " : "",
			      major(devs[i]), minor(devs[i]));
	return buf;
}

static void check_below(dev_t top, int want_r, const char *want)
{
	char got[4096];
	size_t count;
	dev_t *devs;
	int r;

	r = sysblock_below(root, top, &devs, &count);
	if (!tap_ok(r == want_r, "below %u:%u returns %d (got %d)", major(top),
		    minor(top), want_r, r) || r) {
		if (!r)
			free(devs);
		return;
	}
	devs_text(devs, count, got, sizeof(got));
	tap_ok(!strcmp(got, want), "below %u:%u is '%s' (got '%s')",
	       major(top), minor(top), want, got);
	free(devs);
}

static void check_overlap(dev_t a, dev_t b, int want)
{
	int r = sysblock_overlap(root, a, b);

	tap_ok(r == want, "overlap %u:%u %u:%u is %d (got %d)", major(a),
	       minor(a), major(b), minor(b), want, r);
}

static void check_lbs(dev_t dev, int want_r, unsigned int want)
{
	unsigned int bytes = 0;
	int r = sysblock_logical_block_size(root, dev, &bytes);

	tap_ok(r == want_r && (r || bytes == want),
	       "logical block size of %u:%u is %u, returns %d (got %u, %d)",
	       major(dev), minor(dev), want, want_r, bytes, r);
}

static void check_disk(dev_t dev, int want_r, dev_t want)
{
	dev_t disk = 0;
	int r = sysblock_disk(root, dev, &disk);

	tap_ok(r == want_r && (r || disk == want),
	       "disk of %u:%u is %u:%u, returns %d (got %u:%u, %d)",
	       major(dev), minor(dev), major(want), minor(want), want_r,
	       major(disk), minor(disk), r);
}

int main(void)
{
	const dev_t sdb = makedev(8, 16), sdb1 = makedev(8, 17),
		    sdb2 = makedev(8, 18), sdc = makedev(8, 32),
		    none = makedev(9, 9);
	char chain[4096];
	size_t n;
	int i;

	snprintf(root, sizeof(root), "%s/test_sysblock.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	build_tree();

	check_below(makedev(253, 1), 0, "253:1 8:17 8:32 253:0");
	check_below(makedev(253, 0), 0, "253:0 8:17 8:32");
	check_below(sdb1, 0, "8:17");
	check_below(sdb, 0, "8:16");
	check_below(makedev(253, 3), 0, "253:3 253:4");
	check_below(none, -ENOENT, "");
	check_below(makedev(253, 5), -EINVAL, "");
	check_below(makedev(253, 100), -E2BIG, "");
	/* 200 devices in a chain: the whole chain, in order. */
	for (i = 200, n = 0; i < 400; i++)
		n += snprintf(chain + n, sizeof(chain) - n, "%s253:%d",
			      i > 200 ? " " : "", i);
	check_below(makedev(253, 200), 0, chain);

	check_disk(sdb1, 0, sdb);
	check_disk(sdb2, 0, sdb);
	check_disk(sdb, 0, sdb);
	check_disk(makedev(253, 0), 0, makedev(253, 0));
	check_disk(none, -ENOENT, 0);

	check_overlap(sdb1, sdb1, 1);
	check_overlap(sdb, sdb1, 1);
	check_overlap(sdb1, sdb, 1);
	check_overlap(sdb1, sdb2, 0);
	check_overlap(sdb, sdc, 0);
	check_overlap(makedev(253, 0), sdb1, 0);
	check_overlap(none, none, 1);		/* the same number */
	check_overlap(none, sdb, -ENOENT);

	check_lbs(sdb, 0, 512);
	check_lbs(sdb2, 0, 512);
	check_lbs(sdc, 0, 4096);
	check_lbs(makedev(253, 0), 0, 4096);
	check_lbs(makedev(253, 1), -ENOENT, 0);

	remove_tree();
	return tap_done();
}
