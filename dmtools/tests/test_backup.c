// SPDX-License-Identifier: GPL-2.0
/*
 * test_backup - cbw_backup() with discard behind, on a fake snapshot
 * device: snapdev_*() and snapmap_*() are this file's (a regular file
 * stands for NAME-snap, its map a script of parts, by default two of
 * every chunk but the last; the status's dropped and discarded counts
 * are two variables), and so is ioctl(), which records the discards,
 * counts them as the kernel does, and can fail them.  The
 * library's other objects come from an archive, so the fakes take the
 * place of snapdev.o and map_message.o.
 *
 * The scenarios: the first batch's BLKDISCARD fails after the kernel may
 * have discarded part of the range already.  Those chunks are gone from
 * the snapshot, so the partial image must be kept, not deleted.  And a
 * backup to a stream (standard output to a file): no chunk is discarded
 * before its bytes, zeros too, are in the stream and synced (fdatasync()
 * is faked as well, to know what it synced), and the stream's trailing
 * zeros are synced at the end.  The temporary file's folder is synced
 * (fsync() faked too) before the first discard.  A chunk dropped between two parts of
 * the map is listed as failed, not a silent hole; the backup's own
 * discards are not taken for chunks that left.  With requests of a
 * quarter chunk and a failed read (pread() and pwrite() faked), each
 * discard of a file image comes after its fdatasync(), and the image's
 * bytes are the device's.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <libcbw.h>
#include "map_message.h"
#include "snapdev.h"
#include "tap.h"

#define CHUNK		(64ULL << 10)
#define DEV_BYTES	(160ULL << 20)	/* more than two discard batches */
#define MAP_BYTES	(DEV_BYTES - CHUNK)	/* the last chunk not in the map */

static char dir[] = "/tmp/test_backup.XXXXXX";
static char dev_path[PATH_MAX];
static int discards, fail_discard;
static int stream_fd = -1;		/* the stream's file, if any */
static uint64_t synced;			/* its bytes at the last sync */
static int early;			/* discards beyond @synced */
static uint64_t dropped, discarded;	/* the fake status's counts */
static int dir_syncs;			/* fsync() of a folder */
static int unnamed;			/* file discards before a folder sync */
static int fail_dir_sync;		/* fail the folder syncs from this one */
static int dev_fd = -1;			/* the fake NAME-snap, once open */
static bool dirty;			/* image written since its last sync */
static int unsynced;			/* discards while @dirty */
static int bad_discarded;		/* discards of the bad chunk */
static uint64_t bad_start, bad_end;	/* reads of these bytes fail (EIO) */
#define BAD_CHUNK	100

/* A reply of the fake map: its span, its runs, chunks dropped before it. */
struct part {
	uint64_t from, to;
	struct chunk_run runs[4];
	size_t count;
	uint64_t drop_before;
};

#define CHUNKS		(DEV_BYTES / CHUNK)
#define HALF		(CHUNKS / 2)	/* 80 MiB: a discard batch in part 1 */

/* The default map: every chunk but the last, in two parts. */
static const struct part two_parts[] = {
	{ 0, HALF, { { 0, HALF - 1 } }, 1, 0 },
	{ HALF, CHUNKS, { { HALF, CHUNKS - 2 } }, 1, 0 },
};
/* Chunk HALF + 10 dropped after the backup began, before part 2 came. */
static const struct part drop_between[] = {
	{ 0, HALF, { { 0, HALF - 1 } }, 1, 0 },
	{ HALF, CHUNKS, { { HALF, HALF + 9 }, { HALF + 11, CHUNKS - 2 } }, 2, 1 },
};
/* Chunk 10 dropped right after the lookup, before the first map reply. */
static const struct part drop_first[] = {
	{ 0, HALF, { { 0, 9 }, { 11, HALF - 1 } }, 2, 0 },
	{ HALF, CHUNKS, { { HALF, CHUNKS - 2 } }, 1, 0 },
};
static uint64_t drop_at_open;		/* dropped by snapdev_open() */
static uint64_t snap_sectors;		/* the snapshot node's length, 0: the device's */
static const struct part *script = two_parts;
static size_t script_parts = 2, script_pos;

/* fsync(), recording the syncs of a folder (the image's name). */
int fsync(int fd)
{
	struct stat st;

	if (!fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		dir_syncs++;
		if (fail_dir_sync && dir_syncs >= fail_dir_sync) {
			errno = EIO;
			return -1;
		}
	}
	return syscall(SYS_fsync, fd);
}

/* pwrite(): the image (any file but the device) is written. */
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (fd != dev_fd)
		dirty = true;
	return syscall(SYS_pwrite64, fd, buf, len, off);
}

/* pread(): the device's bytes [bad_start, bad_end) fail with EIO. */
ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	if (fd == dev_fd && (uint64_t)off < bad_end &&
	    off + len > bad_start) {
		errno = EIO;
		return -1;
	}
	return syscall(SYS_pread64, fd, buf, len, off);
}

/* fdatasync(), recording how much of the stream it made durable. */
int fdatasync(int fd)
{
	struct stat st;

	dirty = false;
	if (stream_fd >= 0 && fd == STDOUT_FILENO && !fstat(fd, &st))
		synced = st.st_size;
	return syscall(SYS_fdatasync, fd);
}

int snapdev_find(const char *name, bool discard, struct snapdev *s)
{
	(void)discard;
	memset(s, 0, sizeof(*s));
	s->d.dev.name = (char *)name;
	snprintf(s->path, sizeof(s->path), "%s", dev_path);
	s->bytes = DEV_BYTES;
	s->chunk_bytes = CHUNK;
	s->d.st.chunks = DEV_BYTES / CHUNK;
	s->d.st.in_snapshot = MAP_BYTES / CHUNK;
	s->d.st.dropped = dropped;
	s->d.st.discarded = discarded;
	s->d.dev.length = DEV_BYTES >> 9;
	s->d.snap.length = snap_sectors ? snap_sectors : DEV_BYTES >> 9;
	s->fd = -1;
	return 0;
}

int snapdev_open(struct snapdev *s, int flags)
{
	(void)flags;		/* no O_DIRECT: /tmp may be tmpfs */
	dropped += drop_at_open;
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	dev_fd = s->fd;
	return s->fd < 0 ? -EIO : 0;
}

bool snapdev_broken(const struct snapdev *s, char *why, size_t len)
{
	(void)s, (void)why, (void)len;
	return false;
}

bool snapdev_left(const struct snapdev *s, uint64_t *left, char *why,
		  size_t len)
{
	(void)s, (void)why, (void)len;
	*left = dropped + discarded;
	return false;
}

void snapdev_release(struct snapdev *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void snapmap_init(struct snapmap *m, const char *dev, uint64_t chunks)
{
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->chunks = chunks;
	script_pos = 0;
}

/* As map_message.c's: the next part of the script when one is used up. */
int snapmap_next(struct snapmap *m, struct chunk_run *run)
{
	const struct part *p;
	int r;

	while (m->pos == m->count) {
		if (m->next >= m->chunks || script_pos == script_parts)
			return 0;
		p = &script[script_pos++];
		dropped += p->drop_before;
		m->from = p->from;
		m->next = p->to;
		m->runs = (struct chunk_run *)p->runs;
		m->count = p->count;
		m->pos = 0;
		if (m->fetched) {
			r = m->fetched(m, m->data);
			if (r)
				return r;
		}
	}
	*run = m->runs[m->pos++];
	return 1;
}

void snapmap_release(struct snapmap *m)
{
	(void)m;
}

/* BLKDISCARD recorded (and failed if asked: part of it may be gone). */
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == BLKDISCARD) {
		uint64_t *range = arg;

		discards++;
		if (stream_fd >= 0 && range[0] + range[1] > synced)
			early++;
		if (stream_fd < 0 && !dir_syncs)
			unnamed++;
		if (dirty)
			unsynced++;
		if (range[0] < bad_end && range[0] + range[1] > bad_start)
			bad_discarded++;
		if (fail_discard) {
			errno = EIO;
			return -1;
		}
		discarded += (range[1] + CHUNK - 1) / CHUNK;
		return 0;
	}
	return syscall(SYS_ioctl, fd, req, arg);
}

/* A pattern at the start and in the middle of every chunk; 0 or -1. */
static int fill_device(int fd)
{
	char block[4096];
	uint64_t c;
	int half;

	for (c = 0; c < CHUNKS; c++) {
		for (half = 0; half < 2; half++) {
			memset(block, 'a' + (c * 2 + half) % 26, sizeof(block));
			memcpy(block, &c, sizeof(c));
			if (pwrite(fd, block, sizeof(block),
				   c * CHUNK + half * CHUNK / 2) != sizeof(block))
				return -1;
		}
	}
	return 0;
}

/* The files in dir other than the device: the images left. */
static int images_left(void)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		     strcmp(e->d_name, "snap");
	closedir(d);
	return n;
}

/* cbw_backup() to "-", standard output redirected to a file in dir. */
static int stream_backup(struct cbw_backup_opts *bo,
			 struct cbw_backup_result *res)
{
	char path[PATH_MAX];
	int saved, r;

	snprintf(path, sizeof(path), "%s/stream", dir);
	stream_fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (stream_fd < 0 || saved < 0 || dup2(stream_fd, STDOUT_FILENO) < 0)
		return -1;
	bo->to = "-";
	r = cbw_backup("fake", bo, res);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(stream_fd);
	stream_fd = -1;
	return r;
}

/*
 * Chunk HALF + 10 is dropped after the backup began but before part 2 of
 * the map was fetched: it must be listed as failed (ENODATA), not left a
 * silent hole of a complete backup.  The last chunk, a hole of the same
 * part from the start, is listed too (conservative).  Without a drop the
 * same parts list nothing.
 */
static void test_drop_between(struct cbw_backup_opts *bo, const char *img)
{
	struct cbw_backup_result res;
	const struct cbw_failed_range *f;
	bool listed = false;
	size_t i;
	int r;

	bo->discard_behind = false;
	bo->to = img;
	unlink(img);
	script = drop_between;
	r = cbw_backup("fake", bo, &res);
	for (i = 0; i < res.nr_failed; i++) {
		f = &res.failed[i];
		listed |= f->first_chunk <= HALF + 10 &&
			  f->last_chunk >= HALF + 10 && f->err == ENODATA;
	}
	tap_ok(r == 0 && listed && res.progress.failed_chunks == 2 &&
	       res.nr_failed == 2,
	       "a chunk dropped between map parts 1 and 2 is listed as failed (r %d, %zu ranges, %llu chunks failed%s)",
	       r, res.nr_failed,
	       (unsigned long long)res.progress.failed_chunks,
	       listed ? "" : ", not chunk HALF + 10");
	tap_ok(res.nr_failed < 1 || res.failed[0].first_chunk == HALF + 10,
	       "nothing of part 1, fetched before the drop, is listed");
	cbw_backup_result_free(&res);
	unlink(img);

	script = two_parts;
	r = cbw_backup("fake", bo, &res);
	tap_ok(r == 0 && res.nr_failed == 0,
	       "the same parts without a drop: complete (r %d, %zu ranges failed)",
	       r, res.nr_failed);
	cbw_backup_result_free(&res);
	unlink(img);

	/*
	 * Chunk 10 leaves between the lookup (whose status counted the
	 * chunks in the snapshot) and the first map reply, while the image
	 * is made: listed as failed too.
	 */
	script = drop_first;
	drop_at_open = 1;
	r = cbw_backup("fake", bo, &res);
	drop_at_open = 0;
	listed = false;
	for (i = 0; i < res.nr_failed; i++) {
		f = &res.failed[i];
		listed |= f->first_chunk <= 10 && f->last_chunk >= 10 &&
			  f->err == ENODATA;
	}
	tap_ok(r == 0 && listed,
	       "a chunk dropped before the first map reply is listed as failed (r %d, %zu ranges%s)",
	       r, res.nr_failed, listed ? "" : ", not chunk 10");
	cbw_backup_result_free(&res);
	unlink(img);
	script = two_parts;

	/* A snapshot node shorter than the cbw device: refused. */
	snap_sectors = (DEV_BYTES >> 9) - 8;
	r = cbw_backup("fake", bo, &res);
	snap_sectors = 0;
	tap_ok(r == -ENODEV && strstr(cbw_get_error(), "as long as its cbw device"),
	       "a snapshot node of another length than its cbw device is refused (r %d: '%s')",
	       r, cbw_get_error());
	cbw_backup_result_free(&res);
	unlink(img);
}

/*
 * Each chunk of the image as on the device, except @zero1 and @zero2,
 * which must be zero; -1 if so, else the first chunk that differs.
 */
static long long image_differs(const char *img, uint64_t zero1,
			       uint64_t zero2)
{
	static char a[CHUNK], d[CHUNK], zeros[CHUNK];
	int fi = open(img, O_RDONLY), fd = open(dev_path, O_RDONLY);
	long long bad = -1;
	uint64_t c;

	for (c = 0; c < CHUNKS && fi >= 0 && fd >= 0; c++) {
		if (syscall(SYS_pread64, fi, a, CHUNK, c * CHUNK) != CHUNK ||
		    syscall(SYS_pread64, fd, d, CHUNK, c * CHUNK) != CHUNK ||
		    memcmp(a, c == zero1 || c == zero2 ? zeros : d, CHUNK)) {
			bad = c;
			break;
		}
	}
	if (fi < 0 || fd < 0)
		bad = CHUNKS;
	if (fi >= 0)
		close(fi);
	if (fd >= 0)
		close(fd);
	return bad;
}

/*
 * A file image discarded behind, read in requests of a quarter chunk,
 * the second quarter of chunk BAD_CHUNK failing: each discard comes after
 * an fdatasync() of the image, the bad chunk is not discarded, and at the
 * end the image is the device byte for byte, but the bad chunk (its
 * first quarter written, then punched) and the last chunk (not in the
 * map) are zero.
 */
static void test_image_bytes(struct cbw_backup_opts *bo, const char *img)
{
	struct cbw_backup_result res;
	long long differs;
	int r;

	bo->discard_behind = true;
	bo->to = img;
	bo->io_size = CHUNK / 4;
	unlink(img);
	discards = unsynced = bad_discarded = 0;
	dirty = false;
	bad_start = BAD_CHUNK * CHUNK + CHUNK / 4;
	bad_end = bad_start + CHUNK / 4;
	r = cbw_backup("fake", bo, &res);
	tap_ok(r == 0 && res.nr_failed == 1 &&
	       res.failed[0].first_chunk == BAD_CHUNK &&
	       res.failed[0].last_chunk == BAD_CHUNK &&
	       res.failed[0].err == EIO && discards >= 2,
	       "io size below the chunk, a failed read: chunk %d failed alone (r %d, %zu ranges, %d discards)",
	       BAD_CHUNK, r, res.nr_failed, discards);
	tap_ok(!unsynced && !bad_discarded,
	       "each discard after the image's fdatasync, the failed chunk not discarded (%d unsynced, %d of it)",
	       unsynced, bad_discarded);
	differs = image_differs(img, BAD_CHUNK, CHUNKS - 1);
	tap_ok(differs < 0,
	       "the image is the device, the failed and the unmapped chunk zero (chunk %lld differs)",
	       differs);
	cbw_backup_result_free(&res);
	unlink(img);
	bad_start = bad_end = 0;
	bo->io_size = 0;
}

static void clean(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		tap_diag("cannot remove %s", dir);
}

int main(void)
{
	struct cbw_backup_opts bo = { 0 };
	struct cbw_backup_result res;
	char img[PATH_MAX];
	int fd, r;

	if (!mkdtemp(dir)) {
		tap_ok(false, "cannot make a temporary folder");
		return tap_done();
	}
	snprintf(dev_path, sizeof(dev_path), "%s/snap", dir);
	snprintf(img, sizeof(img), "%s/x.img", dir);
	fd = open(dev_path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || ftruncate(fd, DEV_BYTES) || fill_device(fd)) {
		tap_ok(false, "cannot make the fake device %s", dev_path);
		clean();
		return tap_done();
	}
	close(fd);
	bo.to = img;
	bo.discard_behind = true;

	/* Discards that work: the image is complete, every chunk discarded. */
	r = cbw_backup("fake", &bo, &res);
	tap_ok(r == 0 && discards >= 2 && res.progress.discarded == MAP_BYTES &&
	       access(img, F_OK) == 0 && images_left() == 1,
	       "discard behind: image complete, %d discards of %llu bytes (r %d: %s)",
	       discards, (unsigned long long)res.progress.discarded, r,
	       r ? cbw_get_error() : "");
	tap_ok(res.nr_failed == 0 && res.progress.failed_chunks == 0,
	       "the backup's own discards are not chunks that left (%zu ranges failed)",
	       res.nr_failed);
	tap_ok(!unnamed, "the image's folder synced before the first discard (%d discards before)",
	       unnamed);
	cbw_backup_result_free(&res);
	unlink(img);

	/*
	 * The folder's sync after the rename fails (not the one before the
	 * first discard): the image is FILE, and holds discarded chunks.
	 */
	discards = 0;
	dir_syncs = 0;
	fail_dir_sync = 2;
	r = cbw_backup("fake", &bo, &res);
	tap_ok(r == -EIO && access(img, F_OK) == 0 && discards >= 1 &&
	       strstr(cbw_get_error(), "syncing its folder failed") &&
	       strstr(cbw_get_error(), "is kept: it holds chunks already discarded from the snapshot"),
	       "a failed folder sync after the rename says the image holds discarded chunks (r %d: '%s')",
	       r, cbw_get_error());
	fail_dir_sync = 0;
	cbw_backup_result_free(&res);
	unlink(img);

	/* The first batch's discard fails: the partial image stays. */
	discards = 0;
	fail_discard = 1;
	r = cbw_backup("fake", &bo, &res);
	tap_ok(r == -EIO && discards == 1 && res.progress.discarded == 0,
	       "a failed first discard fails the backup (r %d, %d discards)",
	       r, discards);
	tap_ok(images_left() == 1 && strstr(cbw_get_error(), "is kept"),
	       "the partial image is kept after a failed discard: %d left, '%s'",
	       images_left(), cbw_get_error());
	cbw_backup_result_free(&res);

	/* To a stream: a chunk leaves the snapshot only once synced in it. */
	discards = 0;
	fail_discard = 0;
	r = stream_backup(&bo, &res);
	tap_ok(r == 0 && discards >= 2 && res.progress.discarded == MAP_BYTES &&
	       res.nr_failed == 0,
	       "discard behind to a stream: %d discards of %llu bytes, %zu ranges failed (r %d: %s)",
	       discards, (unsigned long long)res.progress.discarded,
	       res.nr_failed, r, r ? cbw_get_error() : "");
	tap_ok(!early, "no discard beyond the synced stream (%d early)", early);
	tap_ok(synced == DEV_BYTES,
	       "the whole stream synced, trailing zeros too (%llu of %llu)",
	       (unsigned long long)synced, (unsigned long long)DEV_BYTES);
	cbw_backup_result_free(&res);

	test_drop_between(&bo, img);
	test_image_bytes(&bo, img);
	clean();
	return tap_done();
}
