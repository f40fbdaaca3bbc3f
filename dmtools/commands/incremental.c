// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl backup --incremental: the chunks of a track snapshot (its map is
 * exactly the changed set) into a qcow2 image whose backing file is the
 * previous backup, so that the newest image of the chain reads as the
 * whole device at the snapshot's point in time (qemu-img convert) and
 * 'qemu-img info --backing-chain' shows the chain.  The image is made by
 * qemu-img and written through qemu-nbd and libnbd (nbdimg.h); its tag
 * (imgtag.h) says which set it holds, and the next backup checks it.
 *
 * Every chunk of the map is written whole: data as data, zero blocks as
 * NBD write-zeroes (qcow2 zero clusters, which hide the backing file's
 * data), never as holes, which would show the older data of the backing
 * file.  A chunk that cannot be read fails the backup: an incremental
 * image cannot leave one out.
 *
 * The set's commit follows --sync (QEMU's bitmap sync modes, iotest 257):
 *   on-success  commit the set after a complete backup; nothing otherwise
 *   always      the same on success; on failure or cancel, keep the
 *               partial image (tagged complete no) and commit the chunks
 *               written and flushed to it
 *   never       never commit
 * An uncommitted set merges back into the changed set at 'cbwctl release'.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libcbw.h>

#include "imgtag.h"
#include "incremental.h"
#include "msg.h"
#include "nbdimg.h"
#include "nbdlib.h"
#include "progress.h"
#include "stop_signals.h"

/* Zero detection works on blocks of this size. */
#define ZERO_BLOCK	4096

/* One incremental backup while it runs. */
struct incr {
	const char *name;
	const struct incr_opts *o;
	struct cbw_info info;
	struct cbw_track_info ti;
	struct cbw_extent *map;		/* the snapshot's extents */
	size_t nr_map;
	uint64_t map_bytes;		/* their bytes */
	bool covers_all;		/* the map is every chunk */
	char prev_format[32];
	char backing[4096];
	char *tmp;			/* the image while it is written */
	struct nbd_handle *nbd;
	int fd;				/* the snapshot node, O_DIRECT */
	void *buf;
	struct cbw_extent *written;	/* chunks written to the image */
	size_t nr_written;
	uint64_t done;			/* bytes of the map handled */
	uint64_t zero;			/* of them, written as zeroes */
	struct progress bar;
	char label[160];
};

static volatile sig_atomic_t interrupted;

const char *incr_sync_name(enum incr_sync s)
{
	switch (s) {
	case INCR_SYNC_ON_SUCCESS:
		return "on-success";
	case INCR_SYNC_ALWAYS:
		return "always";
	case INCR_SYNC_NEVER:
		return "never";
	}
	return NULL;
}

bool incr_sync_parse(const char *word, enum incr_sync *s)
{
	if (!strcmp(word, "on-success"))
		*s = INCR_SYNC_ON_SUCCESS;
	else if (!strcmp(word, "always"))
		*s = INCR_SYNC_ALWAYS;
	else if (!strcmp(word, "never"))
		*s = INCR_SYNC_NEVER;
	else
		return false;
	return true;
}

/* The device, its track snapshot and its map.  Return an exit code. */
static int load_snapshot(struct incr *b)
{
	struct cbw_map *m;
	struct cbw_extent e, *n;
	uint64_t chunks = 0;
	int r;

	r = cbw_snapshot_device(b->name, false, &b->info);
	if (!r)
		r = cbw_track_info_get(b->name, &b->ti);
	if (r < 0)
		return msg_lib_error(r);
	if (!b->ti.tracking || !b->ti.snapshot ||
	    b->ti.set == CBW_TRACK_SET_NONE) {
		msg_error("%s is not under a track snapshot: take one with 'cbwctl snapshot --incremental %s --cow DEV'",
			  b->name, b->name);
		return CBW_EXIT_NOTFOUND;
	}
	r = cbw_map_open(b->name, &m);
	if (r < 0)
		return msg_lib_error(r);
	while ((r = cbw_map_next(m, &e)) > 0) {
		n = realloc(b->map, (b->nr_map + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		b->map = n;
		b->map[b->nr_map++] = e;
		b->map_bytes += e.length;
		chunks += e.last_chunk - e.first_chunk + 1;
	}
	cbw_map_close(m);
	if (r < 0)
		return msg_lib_error(r);
	b->covers_all = chunks == b->ti.chunks;
	return CBW_EXIT_OK;
}

/* The previous image: its format, size and tag.  Return an exit code. */
static int check_prev(struct incr *b)
{
	const struct incr_opts *o = b->o;
	struct imgtag tag;
	char err[512];
	uint64_t size;
	const char *why;
	int r;

	if (!o->prev) {
		if (b->covers_all)
			return CBW_EXIT_OK;
		msg_error("the track snapshot of %s holds only the chunks changed since the last committed backup (generation %llu): give that backup with --prev IMAGE",
			  b->name,
			  (unsigned long long)(b->ti.set_generation - 1));
		return CBW_EXIT_USAGE;
	}
	if (img_info(o->prev, b->prev_format, sizeof(b->prev_format), &size,
		     err, sizeof(err))) {
		msg_error("cannot read the previous image %s: %s", o->prev, err);
		return CBW_EXIT_USAGE;
	}
	if (size != b->info.size_bytes) {
		msg_error("the previous image %s has %llu bytes, %s %llu",
			  o->prev, (unsigned long long)size, b->name,
			  (unsigned long long)b->info.size_bytes);
		return CBW_EXIT_USAGE;
	}
	r = imgtag_read(o->prev, &tag, err, sizeof(err));
	if (b->covers_all)
		return CBW_EXIT_OK;	/* the new image hides all of it */
	if (r) {
		msg_error("%s: cannot tell that %s is the backup this snapshot continues (%s)",
			  b->name, o->prev, err);
		return CBW_EXIT_USAGE;
	}
	why = imgtag_continues(&tag, b->ti.uuid, b->ti.set_generation);
	if (!why && tag.chunk_sectors << 9 != b->ti.chunk_bytes)
		why = "it has another chunk size";
	if (why) {
		msg_error("%s (history %s, generation %llu) cannot rest on %s (history %s, generation %llu): %s",
			  b->name, b->ti.uuid,
			  (unsigned long long)b->ti.set_generation, o->prev,
			  tag.uuid, (unsigned long long)tag.generation, why);
		return CBW_EXIT_USAGE;
	}
	return CBW_EXIT_OK;
}

/* Make the temporary image and serve it.  Return an exit code. */
static int make_image(struct incr *b)
{
	const struct incr_opts *o = b->o;
	char *copy, err[1024];
	int fd;

	copy = strdup(o->to);
	if (!copy || asprintf(&b->tmp, "%s/.%s.XXXXXX", dirname(copy),
			      basename((char *)o->to)) < 0) {
		free(copy);
		b->tmp = NULL;
		msg_error("out of memory");
		return CBW_EXIT_FAILED;
	}
	free(copy);
	fd = mkstemp(b->tmp);
	if (fd < 0) {
		msg_error("cannot make a temporary file next to %s: %s", o->to,
			  strerror(errno));
		free(b->tmp);
		b->tmp = NULL;
		return CBW_EXIT_FAILED;
	}
	close(fd);
	if (o->prev && img_backing_name(o->prev, o->to, b->backing,
					sizeof(b->backing))) {
		msg_error("cannot find the path of %s: %s", o->prev,
			  strerror(errno));
		return CBW_EXIT_FAILED;
	}
	if (img_create_qcow2(b->tmp, b->info.size_bytes,
			     o->prev ? b->backing : NULL, b->prev_format, err,
			     sizeof(err))) {
		msg_error("cannot create the image %s: %s", b->tmp, err);
		return CBW_EXIT_FAILED;
	}
	b->nbd = img_nbd_open(b->tmp, "qcow2", false, err, sizeof(err));
	if (!b->nbd) {
		msg_error("%s", err);
		return CBW_EXIT_FAILED;
	}
	return CBW_EXIT_OK;
}

/* Note chunks [first, last] as written (runs in order, merged). */
static bool note_written(struct incr *b, uint64_t first, uint64_t last)
{
	struct cbw_extent *n, *t;

	if (b->nr_written) {
		t = &b->written[b->nr_written - 1];
		if (first <= t->last_chunk + 1) {
			if (last > t->last_chunk)
				t->last_chunk = last;
			return true;
		}
	}
	n = realloc(b->written, (b->nr_written + 1) * sizeof(*n));
	if (!n)
		return false;
	b->written = n;
	b->written[b->nr_written++] = (struct cbw_extent){
		.first_chunk = first, .last_chunk = last };
	return true;
}

static bool is_zero(const unsigned char *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/* Write @len bytes of b->buf at @off: data as data, zero blocks as zeroes. */
static int put(struct incr *b, uint64_t off, size_t len)
{
	const unsigned char *p = b->buf;
	size_t pos = 0, end;
	bool zero;
	int r;

	while (pos < len) {
		end = pos;
		zero = is_zero(p + pos, len - pos < ZERO_BLOCK ? len - pos : ZERO_BLOCK);
		while (end < len) {
			size_t n = len - end < ZERO_BLOCK ? len - end : ZERO_BLOCK;

			if (is_zero(p + end, n) != zero)
				break;
			end += n;
		}
		if (zero) {
			r = nbdlib.zero(b->nbd, end - pos, off + pos, 0);
			b->zero += end - pos;
		} else {
			r = nbdlib.pwrite(b->nbd, p + pos, end - pos, off + pos, 0);
		}
		if (r == -1) {
			msg_error("cannot write to the image at byte %llu: %s",
				  (unsigned long long)(off + pos),
				  nbdlib.get_error());
			return -1;
		}
		pos = end;
	}
	return 0;
}

/* Read one extent from the node and write it.  Return 0, or -1 after saying why. */
static int copy_extent(struct incr *b, const struct cbw_extent *e)
{
	uint64_t chunk = b->ti.chunk_bytes, pos = e->offset;
	uint64_t end = e->offset + e->length, first_left = e->first_chunk;
	ssize_t n;
	size_t len;

	while (pos < end) {
		if (interrupted) {
			msg_error("interrupted by signal %d", (int)interrupted);
			return -1;
		}
		len = end - pos < b->o->io_size ? end - pos : b->o->io_size;
		n = pread(b->fd, b->buf, len, pos);
		if (n != (ssize_t)len) {
			msg_error("cannot read %s at byte %llu: %s",
				  b->info.snap_node, (unsigned long long)pos,
				  n < 0 ? strerror(errno) : "short read");
			return -1;
		}
		if (put(b, pos, len))
			return -1;
		pos += len;
		b->done += len;
		progress_update(&b->bar, b->done);
		/* The chunks now wholly written (the last may be partial). */
		if (pos == end || (pos / chunk) > first_left) {
			uint64_t last = pos == end ? e->last_chunk :
					pos / chunk - 1;

			if (last >= first_left) {
				if (!note_written(b, first_left, last)) {
					msg_error("out of memory");
					return -1;
				}
				first_left = last + 1;
			}
		}
	}
	return 0;
}

/* All extents.  Return 0, or -1 after saying why. */
static int copy_all(struct incr *b)
{
	size_t i;

	b->buf = NULL;
	if (posix_memalign(&b->buf, 4096, b->o->io_size)) {
		msg_error("out of memory");
		return -1;
	}
	b->fd = open(b->info.snap_node, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (b->fd < 0) {
		msg_error("cannot open %s: %s", b->info.snap_node,
			  strerror(errno));
		return -1;
	}
	for (i = 0; i < b->nr_map; i++)
		if (copy_extent(b, &b->map[i]))
			return -1;
	return 0;
}

/* Flush the image and end qemu-nbd.  Return 0, or -1 after saying why. */
static int close_image(struct incr *b, bool flush)
{
	int r = 0;

	if (!b->nbd)
		return 0;
	if (flush && nbdlib.flush(b->nbd, 0) == -1) {
		msg_error("cannot flush the image: %s", nbdlib.get_error());
		r = -1;
	}
	nbdlib.shutdown(b->nbd, 0);
	nbdlib.close(b->nbd);
	b->nbd = NULL;
	return r;
}

/* fsync @path's data. */
static int sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Rename the image into place and write its tag.  Return 0 or -1. */
static int keep_image(struct incr *b, bool complete)
{
	struct imgtag tag = {
		.generation = b->ti.set_generation,
		.chunk_sectors = b->ti.chunk_bytes >> 9,
		.device_sectors = (b->info.size_bytes + 511) >> 9,
		.complete = complete,
	};
	char err[512];

	memcpy(tag.uuid, b->ti.uuid, sizeof(tag.uuid));
	if (sync_file(b->tmp) || rename(b->tmp, b->o->to)) {
		msg_error("cannot put the image at %s: %s", b->o->to,
			  strerror(errno));
		return -1;
	}
	free(b->tmp);
	b->tmp = NULL;
	if (imgtag_write(b->o->to, &tag, err, sizeof(err))) {
		msg_error("%s", err);
		return -1;
	}
	return 0;
}

/* The end of a failed or cancelled backup: --sync always keeps what it wrote. */
static int failed(struct incr *b)
{
	int r;

	if (b->o->sync != INCR_SYNC_ALWAYS || !b->nr_written || !b->nbd) {
		close_image(b, false);
		msg_error("nothing of %s is committed: its set goes back into the changed set at 'cbwctl release %s'",
			  b->name, b->name);
		return CBW_EXIT_FAILED;
	}
	if (close_image(b, true) || keep_image(b, false)) {
		msg_error("nothing of %s is committed", b->name);
		return CBW_EXIT_FAILED;
	}
	r = cbw_track_commit(b->name, b->written, b->nr_written);
	if (r < 0) {
		msg_lib_error(r);
		msg_error("the partial image %s is kept, but nothing of %s is committed",
			  b->o->to, b->name);
		return CBW_EXIT_FAILED;
	}
	msg_error("--sync always: the partial image %s is kept (its tag says complete no) and its %zu ranges of chunks are committed; the rest goes back into the changed set at 'cbwctl release %s'",
		  b->o->to, b->nr_written, b->name);
	return CBW_EXIT_FAILED;
}

static void incr_free(struct incr *b)
{
	if (b->nbd)
		nbdlib.close(b->nbd);
	if (b->fd >= 0)
		close(b->fd);
	if (b->tmp) {
		unlink(b->tmp);
		free(b->tmp);
	}
	free(b->buf);
	free(b->map);
	free(b->written);
}

int incr_backup(const char *name, const struct incr_opts *o)
{
	struct incr b = { .name = name, .o = o, .fd = -1 };
	struct cbw_info after;
	struct stat st;
	bool on;
	int r;

	if (!o->force && !lstat(o->to, &st)) {
		msg_error("%s exists (--force replaces it)", o->to);
		return CBW_EXIT_BUSY;
	}
	r = load_snapshot(&b);
	if (!r)
		r = check_prev(&b);
	if (!r)
		r = make_image(&b);
	if (r)
		goto out;

	snprintf(b.label, sizeof(b.label), "backup %s", name);
	on = o->progress == INCR_PROGRESS_ON ||
	     (o->progress == INCR_PROGRESS_AUTO && isatty(STDERR_FILENO));
	interrupted = 0;
	stop_signals(&interrupted);
	progress_start(&b.bar, on, b.label, b.map_bytes);
	r = copy_all(&b);
	progress_update(&b.bar, b.done);
	progress_end(&b.bar);
	stop_signals(NULL);
	if (!r && close_image(&b, true))
		r = -1;
	/* A snapshot that broke during the reads may have given old data. */
	if (!r) {
		r = cbw_snapshot_device(name, false, &after);
		if (r < 0) {
			msg_lib_error(r);
			r = -1;
		}
	}
	if (r) {
		r = failed(&b);
		goto out;
	}
	if (keep_image(&b, true)) {
		r = CBW_EXIT_FAILED;
		goto out;
	}
	if (o->sync != INCR_SYNC_NEVER) {
		r = cbw_track_commit(name, NULL, 0);
		if (r < 0) {
			msg_lib_error(r);
			msg_error("the image %s is complete, but the set of %s is not committed: its chunks go into the next backup again",
				  o->to, name);
			r = CBW_EXIT_FAILED;
			goto out;
		}
	}
	if (on)
		fprintf(stderr, "%s: %llu chunks, %llu bytes (%llu of them zero) into %s%s%s; %s\n",
			b.label,
			(unsigned long long)b.ti.set_chunks,
			(unsigned long long)b.map_bytes,
			(unsigned long long)b.zero, o->to,
			o->prev ? " over " : "", o->prev ? o->prev : "",
			o->sync == INCR_SYNC_NEVER ? "not committed (--sync never)" :
						     "committed");
	r = CBW_EXIT_OK;
out:
	incr_free(&b);
	return r;
}
