// SPDX-License-Identifier: GPL-2.0
/*
 * test_incremental - cbwctl backup --incremental (commands/incremental.c)
 * on a fake track snapshot: the library calls it makes
 * (cbw_snapshot_device(), cbw_track_info_get(), the map walk,
 * cbw_track_commit()) are this file's, a regular file stands for the
 * snapshot node, and qemu-img and qemu-nbd (qemu-utils) are real: the
 * test skips without them.
 *
 * The scenario: a device of 17 chunks of 64 KiB whose last chunk is
 * partial.  A full backup (a set of every chunk, no --prev) gives a qcow2
 * whose qemu-img convert is the device; the set is committed once.  Then
 * chunks change (data, a chunk of data turned zero, the partial last one)
 * and an incremental backup of just those chunks over the first image
 * converts to the changed device, with a chain of two.  Refused: a set
 * that is not every chunk without --prev, a --prev of another generation
 * or history, an image that exists.  A read that fails (a map extent
 * past the node's end) after good extents: with --sync on-success no
 * image and no commit; with --sync always the partial image is kept,
 * tagged complete no, and exactly the chunks written are committed;
 * --sync never commits nothing, also on success.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcbw.h>

#include "imgtag.h"
#include "incremental.h"
#include "msg.h"
#include "tap.h"

#define CHUNK		(64ULL << 10)
#define CHUNKS		17
#define DEV_BYTES	(16 * CHUNK + 36 * 1024)
#define UUID		"5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6b"

static char dir[] = "/tmp/test_incremental.XXXXXX";
static char dev_path[512];

/* The fake snapshot: its set's generation and its map. */
static uint64_t set_generation = 1;
static struct cbw_extent map[CHUNKS + 2];
static size_t nr_map, map_pos;

/* What cbw_track_commit() got: calls, and chunks of partial commits. */
static int commits, whole_commits;
static uint64_t committed_chunks;
static char last_error[1024];

/* Fakes of the library. */
int cbw_snapshot_device(const char *name, bool discard, struct cbw_info *info)
{
	(void)discard;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	info->size_bytes = DEV_BYTES;
	info->chunk_bytes = CHUNK;
	info->has_snap = true;
	snprintf(info->snap_node, sizeof(info->snap_node), "%s", dev_path);
	return 0;
}

int cbw_track_info_get(const char *name, struct cbw_track_info *ti)
{
	size_t i;

	(void)name;
	memset(ti, 0, sizeof(*ti));
	ti->tracking = ti->snapshot = true;
	memcpy(ti->uuid, UUID, sizeof(ti->uuid));
	ti->generation = set_generation + 1;
	ti->chunk_bytes = CHUNK;
	ti->chunks = CHUNKS;
	ti->size_bytes = DEV_BYTES;
	ti->set = CBW_TRACK_SET_PENDING;
	ti->set_generation = set_generation;
	for (i = 0; i < nr_map; i++)
		ti->set_chunks += map[i].last_chunk - map[i].first_chunk + 1;
	return 0;
}

int cbw_map_open(const char *name, struct cbw_map **m)
{
	(void)name;
	map_pos = 0;
	*m = (struct cbw_map *)&map_pos;
	return 0;
}

int cbw_map_next(struct cbw_map *m, struct cbw_extent *e)
{
	(void)m;
	if (map_pos == nr_map)
		return 0;
	*e = map[map_pos++];
	return 1;
}

void cbw_map_close(struct cbw_map *m)
{
	(void)m;
}

int cbw_track_commit(const char *name, const struct cbw_extent *runs,
		     size_t count)
{
	size_t i;

	(void)name;
	commits++;
	if (!count)
		whole_commits++;
	for (i = 0; i < count; i++)
		committed_chunks += runs[i].last_chunk - runs[i].first_chunk + 1;
	return 0;
}

/* Fakes of cbwctl's messages: the last one is kept. */
void msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

int msg_lib_error(int r)
{
	return r < 0 ? CBW_EXIT_FAILED : CBW_EXIT_OK;
}

/* A map of chunk runs given as pairs, ended by -1. */
static void set_map(const int *pairs)
{
	nr_map = 0;
	for (; pairs[0] >= 0; pairs += 2) {
		struct cbw_extent *e = &map[nr_map++];

		e->first_chunk = pairs[0];
		e->last_chunk = pairs[1];
		e->offset = e->first_chunk * CHUNK;
		e->length = (e->last_chunk + 1) * CHUNK - e->offset;
		if (e->offset + e->length > DEV_BYTES &&
		    e->last_chunk == CHUNKS - 1)
			e->length = DEV_BYTES - e->offset;
	}
}

static void write_dev(uint64_t off, int byte, uint64_t len)
{
	FILE *f = fopen(dev_path, "r+");
	uint64_t i;

	fseek(f, off, SEEK_SET);
	for (i = 0; i < len; i++)
		fputc(byte < 0 ? rand() & 0xff : byte, f);
	fclose(f);
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Does the image convert to the device, byte for byte? */
static bool same_as_dev(const char *image)
{
	return !sh("qemu-img convert -O raw %s/%s %s/check.raw && cmp -s %s/check.raw %s",
		   dir, image, dir, dir, dev_path);
}

static int backup(const char *to, const char *prev, enum incr_sync sync)
{
	char to_path[600], prev_path[600];
	struct incr_opts o = { .to = to_path, .prev = prev ? prev_path : NULL,
			       .sync = sync, .progress = INCR_PROGRESS_OFF,
			       .io_size = 16 << 10 };

	snprintf(to_path, sizeof(to_path), "%s/%s", dir, to);
	snprintf(prev_path, sizeof(prev_path), "%s/%s", dir, prev ? prev : "");
	last_error[0] = '\0';
	return incr_backup("vol", &o);
}

static bool tag_is(const char *image, uint64_t gen, bool complete)
{
	char path[600], err[256];
	struct imgtag t;

	snprintf(path, sizeof(path), "%s/%s", dir, image);
	return !imgtag_read(path, &t, err, sizeof(err)) && t.generation == gen &&
	       t.complete == complete && !strcmp(t.uuid, UUID) &&
	       t.chunk_sectors == CHUNK >> 9;
}

static bool exists(const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !stat(path, &st);
}

int main(void)
{
	static const int all[] = { 0, CHUNKS - 1, -1 };
	static const int changed[] = { 2, 3, 5, 5, 16, 16, -1 };
	static const int bad[] = { 0, 1, 4, 4, 20, 20, -1 };	/* 20: past the end */
	int r;

	if (sh("command -v qemu-img >/dev/null && command -v qemu-nbd >/dev/null")) {
		printf("1..0 # SKIP qemu-img or qemu-nbd not found (qemu-utils)\n");
		return 0;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(dev_path, sizeof(dev_path), "%s/dev", dir);
	srand(24);
	sh("truncate -s %llu %s", DEV_BYTES, dev_path);
	write_dev(0, -1, 5 * CHUNK);			/* data, then zeros */
	write_dev(8 * CHUNK + 100, -1, 3000);
	write_dev(DEV_BYTES - 5000, -1, 5000);

	/* The first backup: every chunk, no --prev. */
	set_map(all);
	r = backup("full.qcow2", NULL, INCR_SYNC_ON_SUCCESS);
	tap_ok(!r && same_as_dev("full.qcow2") && commits == 1 &&
	       whole_commits == 1 && tag_is("full.qcow2", 1, true),
	       "full backup: converts to the device, committed once, tagged 1 (%d %s)",
	       r, last_error);

	/* Chunks change: data, data turned zero, the partial last chunk. */
	write_dev(2 * CHUNK + 7, -1, CHUNK + 5);
	write_dev(5 * CHUNK, 0, CHUNK);
	write_dev(DEV_BYTES - 100, 0xab, 100);
	set_generation = 2;
	set_map(changed);
	r = backup("inc1.qcow2", NULL, INCR_SYNC_ON_SUCCESS);
	tap_ok(r == CBW_EXIT_USAGE && strstr(last_error, "--prev"),
	       "a set of some chunks without --prev is refused: %s", last_error);
	r = backup("inc1.qcow2", "full.qcow2", INCR_SYNC_ON_SUCCESS);
	tap_ok(!r && same_as_dev("inc1.qcow2") && commits == 2 &&
	       tag_is("inc1.qcow2", 2, true),
	       "incremental over the full one converts to the changed device (%d %s)",
	       r, last_error);
	tap_ok(!sh("test \"$(qemu-img info --backing-chain %s/inc1.qcow2 | grep -c '^image:')\" = 2",
		   dir), "qemu-img info --backing-chain shows 2 images");
	tap_ok(!sh("qemu-img info %s/inc1.qcow2 | grep -q '^backing file: full.qcow2 '",
		   dir), "the backing file is stored by its name (same folder)");
	r = backup("inc1.qcow2", "full.qcow2", INCR_SYNC_ON_SUCCESS);
	tap_ok(r == CBW_EXIT_BUSY && commits == 2, "an existing image: exit 6");

	set_generation = 4;
	r = backup("inc2.qcow2", "inc1.qcow2", INCR_SYNC_ON_SUCCESS);
	tap_ok(r == CBW_EXIT_USAGE && strstr(last_error, "missing from the chain") &&
	       !exists("inc2.qcow2"),
	       "a --prev two generations back is refused: %s", last_error);
	set_generation = 2;
	r = backup("inc2.qcow2", "inc1.qcow2", INCR_SYNC_NEVER);
	tap_ok(!r && commits == 2 && same_as_dev("inc2.qcow2") &&
	       tag_is("inc2.qcow2", 2, true),
	       "--sync never: a good image of the same generation, nothing committed (%d %s)",
	       r, last_error);
	set_generation = 1;
	r = backup("inc3.qcow2", "inc1.qcow2", INCR_SYNC_NEVER);
	tap_ok(r == CBW_EXIT_USAGE && strstr(last_error, "later generation"),
	       "a --prev of a later generation is refused: %s", last_error);

	/* A raw full image with its tag (a plain backup) as the first --prev. */
	{
		struct imgtag tag = { .uuid = UUID, .generation = 1,
				      .chunk_sectors = CHUNK >> 9,
				      .device_sectors = (DEV_BYTES + 511) >> 9,
				      .complete = true };
		char raw[600], err[256];

		snprintf(raw, sizeof(raw), "%s/full.img", dir);
		sh("cp %s %s", dev_path, raw);
		tap_ok(!imgtag_write(raw, &tag, err, sizeof(err)), "tag a raw image");
		write_dev(9 * CHUNK, -1, 1000);
		set_generation = 2;
		set_map((const int[]){ 9, 9, -1 });
		r = backup("over-raw.qcow2", "full.img", INCR_SYNC_NEVER);
		tap_ok(!r && same_as_dev("over-raw.qcow2") &&
		       !sh("qemu-img info %s/over-raw.qcow2 | grep -q '^backing file format: raw$'",
			   dir),
		       "an incremental over a raw image converts to the device (%d %s)",
		       r, last_error);
	}

	/* A read fails after two good extents. */
	set_generation = 3;
	set_map(bad);
	r = backup("fail1.qcow2", "inc1.qcow2", INCR_SYNC_ON_SUCCESS);
	tap_ok(r == CBW_EXIT_FAILED && commits == 2 && !exists("fail1.qcow2") &&
	       !exists("fail1.qcow2.cbw"),
	       "--sync on-success, failed: no image, nothing committed (%s)",
	       last_error);
	r = backup("fail2.qcow2", "inc1.qcow2", INCR_SYNC_ALWAYS);
	tap_ok(r == CBW_EXIT_FAILED && commits == 3 && whole_commits == 2 &&
	       committed_chunks == 3 && tag_is("fail2.qcow2", 3, false),
	       "--sync always, failed: the partial image kept, its 3 chunks committed (%s)",
	       last_error);
	tap_ok(sh("ls -a %s | grep -q '^\\.[a-z]'", dir) != 0,
	       "no temporary image is left");

	sh("rm -rf %s", dir);
	return tap_done();
}
