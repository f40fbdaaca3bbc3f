// SPDX-License-Identifier: GPL-2.0
/*
 * cbw_backup(): the pull-backup loop (cbwctl backup, a backup agent).  It
 * reads the chunks of the snapshot (the runs of the "map" message) from
 * NAME-snap with O_DIRECT and writes a sparse image as large as the
 * device, byte for byte the snapshot in its chunks and zero elsewhere.
 *
 * The loop: for each run of readable chunks, read requests of up to the
 * I/O size (cut at its multiples, see imgio.h); write the data blocks of
 * each buffer to the image, skip its zero blocks (holes).  A request that
 * fails with a media error (EIO, ENODATA) is tried again chunk by chunk;
 * the chunks that still fail are recorded, stay holes, and make the
 * backup partial (it succeeds, and lists them).  Before that, the status
 * tells whether the snapshot broke or its device went away: then the
 * backup fails.  The caller's stop flag is looked at before each request,
 * and only there (as cbwctl looked at its signals before the library): a
 * stop that comes once the last request has begun stops nothing.
 *
 * A read that succeeded is the snapshot's data only if the snapshot was
 * still intact when it ended, and a break can come after the last read
 * (or be noticed only then).  So at the end, after the image's sync and
 * before it is renamed into place (or its trailing zeros are sent) and
 * before the last discards, the status is read once more: a snapshot
 * that broke or went away then fails the backup as a break seen during
 * the reads does (no image).
 *
 * --discard-behind: the chunks read are kept in a list of byte ranges;
 * every DISCARD_BATCH bytes, and at the end, the image is synced (a
 * stream after the zeros up to the ranges' end are sent) and the ranges
 * are discarded on NAME-snap, so that they leave the snapshot,
 * their COW slots are freed, and guest writes to them copy nothing.  Only
 * whole chunks that were read go into the list.  Once anything is
 * discarded, a failed backup keeps its partial image: it holds data that
 * exists nowhere else.  "Anything" counts a discard that failed: the
 * kernel may have discarded part of its range before it failed.  A break
 * found at the end is such a failure; it comes before the last discards,
 * so a backup that discarded nothing before it discards nothing and
 * leaves no image.
 *
 * Chunks that leave the snapshot during the backup (dropped by the drop
 * error policy, or discarded by another program) must not become silent
 * holes.  One that leaves after its part of the map was fetched fails
 * its read with ENODATA.  One that leaves before is missing from its
 * part, like a chunk that was never in the snapshot: so the status's
 * dropped + discarded is read before the first "map" message and after
 * each reply, less this backup's own discards; once it rose, the holes
 * of every part fetched since (the chunks of its span outside its runs)
 * are listed as failed with ENODATA.  That is conservative: a hole that
 * was a hole from the start is listed too, but only when something left
 * during the backup.
 */

#define _GNU_SOURCE		/* O_DIRECT */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "device.h"
#include "error.h"
#include "image.h"
#include "imgio.h"
#include "map_message.h"
#include "snapdev.h"

/* Sync and discard after this many bytes read (--discard-behind). */
#define DISCARD_BATCH		(64ULL << 20)

/* Bytes [@start, @end) of the snapshot device. */
struct byte_range {
	uint64_t start;
	uint64_t end;
};

struct backup {
	const struct cbw_backup_opts *o;
	struct snapdev sd;
	struct image im;
	unsigned char *buf;
	uint64_t chunk;			/* chunk size */
	uint64_t bytes;			/* device and image size */
	char err[1024];			/* why it failed, "" if said */
	struct cbw_progress p;		/* the counts */

	struct cbw_failed_range *failed;	/* chunks that failed */
	size_t nr_failed;
	size_t failed_size;

	struct byte_range *pending;	/* read, not yet discarded */
	size_t nr_pending;
	size_t pending_size;
	uint64_t pending_bytes;
	bool discard_tried;		/* a BLKDISCARD was sent */
	uint64_t left_before;		/* dropped + discarded at the start */
};

__attribute__((format(printf, 2, 3)))
static int fatal(struct backup *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
	return -EIO;
}

/* An image error: its reason becomes the backup's. */
static int image_failed(struct backup *b, int r)
{
	snprintf(b->err, sizeof(b->err), "%s", b->im.err);
	return r;
}

/* pread() of all @len bytes at @off; 0 or an errno (ENXIO at the end). */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (!n)
			return ENXIO;	/* the device shrank */
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Errors of single chunks: the rest of the snapshot may still read. */
static bool is_chunk_error(int err)
{
	return err == EIO || err == ENODATA || err == ETIMEDOUT ||
	       err == EILSEQ;
}

/* Write the data blocks of @len bytes read at @off; skip zero blocks. */
static int store(struct backup *b, uint64_t off, size_t len)
{
	size_t pos = 0, n;
	bool zero;
	int r;

	while (pos < len) {
		n = extent_next(b->buf, len, pos, HOLE_BLOCK, &zero);
		if (zero) {
			b->p.zero += n;
		} else {
			r = image_write(&b->im, off + pos, b->buf + pos, n);
			if (r)
				return image_failed(b, r);
		}
		pos += n;
	}
	b->p.read += len;
	return 0;
}

/*
 * Chunks @first to @last could not be read (@err).  Recorded in any order
 * (holes of a map part before the failed reads of its runs):
 * fill_result() sorts them.
 */
static int record_failed(struct backup *b, uint64_t first, uint64_t last_chunk,
			 int err)
{
	struct cbw_failed_range *last = b->nr_failed ?
					&b->failed[b->nr_failed - 1] : NULL;

	b->p.failed_chunks += last_chunk - first + 1;
	if (last && last->last_chunk + 1 == first && last->err == err) {
		last->last_chunk = last_chunk;
		return 0;
	}
	if (b->nr_failed == b->failed_size) {
		size_t size = b->failed_size ? 2 * b->failed_size : 16;
		struct cbw_failed_range *f = realloc(b->failed,
						     size * sizeof(*f));

		if (!f)
			return fatal(b, "out of memory");
		b->failed = f;
		b->failed_size = size;
	}
	b->failed[b->nr_failed++] = (struct cbw_failed_range){
		.first_chunk = first, .last_chunk = last_chunk, .err = err,
	};
	return 0;
}

/*
 * Sync the image, then discard the pending ranges on NAME-snap.  A stream
 * first gets the zeros up to their end: store() only counts zero blocks,
 * which reach the stream with the next write, and a chunk must not leave
 * the snapshot before its bytes are in the synced stream.  If that sends
 * anything, the stream is synced also when @sync is false.
 */
static int flush_discards(struct backup *b, bool sync)
{
	uint64_t end;
	size_t i;
	int r;

	if (!b->nr_pending)
		return 0;
	end = b->pending[b->nr_pending - 1].end;	/* in order */
	if (b->im.stream && b->im.pos < end) {
		r = image_fill(&b->im, end);
		if (r)
			return image_failed(b, r);
		sync = true;
	}
	if (sync) {
		r = image_sync(&b->im);
		if (r)
			return image_failed(b, r);
	}
	/*
	 * Before the first discard, the temporary file's name too: after a
	 * crash it must still be there, with the chunks that left.
	 */
	if (!b->discard_tried) {
		r = image_sync_entry(&b->im);
		if (r)
			return image_failed(b, r);
	}
	for (i = 0; i < b->nr_pending; i++) {
		struct byte_range *p = &b->pending[i];
		uint64_t range[2] = { p->start, p->end - p->start };

		/*
		 * Set before the call: a BLKDISCARD that fails may have
		 * discarded part of its range already.
		 */
		b->discard_tried = true;
		if (ioctl(b->sd.fd, BLKDISCARD, range))
			return fatal(b, "cannot discard bytes %llu-%llu of %s: %s",
				     (unsigned long long)p->start,
				     (unsigned long long)p->end - 1,
				     b->sd.path, strerror(errno));
		b->p.discarded += range[1];
	}
	b->nr_pending = 0;
	b->pending_bytes = 0;
	return 0;
}

/* Whole chunks [@start, @end) were read and stored: discard them later. */
static int discard_later(struct backup *b, uint64_t start, uint64_t end)
{
	struct byte_range *last = b->nr_pending ? &b->pending[b->nr_pending - 1] :
				  NULL;

	if (!b->o->discard_behind)
		return 0;
	if (last && last->end == start) {
		last->end = end;
	} else {
		if (b->nr_pending == b->pending_size) {
			size_t size = b->pending_size ? 2 * b->pending_size : 64;
			struct byte_range *p = realloc(b->pending,
						       size * sizeof(*p));

			if (!p)
				return fatal(b, "out of memory");
			b->pending = p;
			b->pending_size = size;
		}
		b->pending[b->nr_pending++] = (struct byte_range){ start, end };
	}
	b->pending_bytes += end - start;
	if (b->pending_bytes >= DISCARD_BATCH)
		return flush_discards(b, true);
	return 0;
}

/* The end of the chunk that holds byte @pos. */
static uint64_t chunk_end(const struct backup *b, uint64_t pos)
{
	uint64_t end = (pos / b->chunk + 1) * b->chunk;

	return end < b->bytes ? end : b->bytes;
}

/* Read the chunks of [@pos, @end) one at a time, after a failed request. */
static int retry_chunks(struct backup *b, uint64_t pos, uint64_t end)
{
	uint64_t next;
	int err, r;

	for (; pos < end; pos = next) {
		next = chunk_end(b, pos);
		err = read_at(b->sd.fd, b->buf, next - pos, pos);
		if (!err) {
			r = store(b, pos, next - pos);
			if (!r)
				r = discard_later(b, pos, next);
		} else if (is_chunk_error(err)) {
			r = record_failed(b, pos / b->chunk, pos / b->chunk,
					  err);
		} else {
			r = fatal(b, "cannot read %s at byte %llu: %s",
				  b->sd.path, (unsigned long long)pos,
				  strerror(err));
		}
		if (r)
			return r;
	}
	return 0;
}

/*
 * A request smaller than a chunk failed: the whole chunk fails.  What was
 * written of it becomes a hole again; the rest of it is skipped.
 */
static int fail_part(struct backup *b, uint64_t pos, int err, uint64_t *next)
{
	uint64_t start = pos / b->chunk * b->chunk;
	int r;

	*next = chunk_end(b, pos);
	if (pos > start) {
		r = image_punch(&b->im, start, pos - start);
		if (r)
			return image_failed(b, r);
	}
	return record_failed(b, pos / b->chunk, pos / b->chunk, err);
}

/* Read the request [@pos, @pos + @len); set *next to where to go on. */
static int request(struct backup *b, uint64_t pos, uint64_t len,
		   uint64_t *next)
{
	char why[512];
	int err, r;

	*next = pos + len;
	err = read_at(b->sd.fd, b->buf, len, pos);
	if (!err) {
		r = store(b, pos, len);
		/* Whole chunks, or the last part of one chunk. */
		if (!r && (*next == chunk_end(b, *next - 1)))
			r = discard_later(b, pos - pos % b->chunk, *next);
		return r;
	}
	if (!is_chunk_error(err))
		return fatal(b, "cannot read %s at byte %llu: %s", b->sd.path,
			     (unsigned long long)pos, strerror(err));
	if (snapdev_broken(&b->sd, why, sizeof(why)))
		return fatal(b, "%s during the backup", why);
	if (b->o->io_size < b->chunk)
		return fail_part(b, pos, err, next);
	return retry_chunks(b, pos, pos + len);
}

/* Tell the progress callback how far it is. */
static void report(struct backup *b, enum cbw_progress_event ev)
{
	if (b->o->progress)
		b->o->progress(ev, &b->p, b->o->progress_data);
}

/*
 * Before each read request: -ECANCELED once the caller's stop flag is
 * set (its value a signal number, or negative).
 */
static int check_stop(struct backup *b)
{
	sig_atomic_t stop = b->o->stop ? *b->o->stop : 0;

	if (!stop)
		return 0;
	if (stop > 0)
		snprintf(b->err, sizeof(b->err), "interrupted by signal %d",
			 (int)stop);
	else
		snprintf(b->err, sizeof(b->err), "stopped by the caller");
	return -ECANCELED;
}

/* Back up one run of readable chunks. */
static int backup_run(struct backup *b, const struct chunk_run *run)
{
	uint64_t pos, end, next;
	int r;

	if (!run_bytes(run->first, run->last, b->chunk, b->bytes, &pos, &end))
		return 0;
	while (pos < end) {
		r = check_stop(b);
		if (r)
			return r;
		r = request(b, pos, io_request_len(pos, end, b->o->io_size),
			    &next);
		if (r)
			return r;
		b->p.done += next - pos;
		pos = next;
		report(b, CBW_PROGRESS_READ);
	}
	return 0;
}

/*
 * Dropped + discarded of the status, less this backup's own discards, in
 * *@left; fails if the snapshot broke.  A chunk of ours that another
 * program discarded first, or that was dropped after its read, is counted
 * once by the kernel, and once in our own: that can only hide a rise of
 * as much, so the leaves of chunks not yet read always show.  Our own
 * are the chunks of p.discarded: whole chunks, and only the device's
 * last one partial, so rounding the sum up counts each once.
 */
static int left_now(struct backup *b, uint64_t *left)
{
	uint64_t own = (b->p.discarded + b->chunk - 1) / b->chunk;
	char why[512];
	uint64_t n;

	if (snapdev_left(&b->sd, &n, why, sizeof(why)))
		return fatal(b, "%s during the backup", why);
	*left = n > own ? n - own : 0;
	return 0;
}

/*
 * After each reply of the map (snapmap's fetched callback): if chunks
 * left the snapshot since the backup began, the holes of this part may be
 * some of them: list them as failed (ENODATA), never silent zeros.  The
 * status is read after the reply, so it counts every chunk that had left
 * when the reply was made (see snapdev_left()).
 */
static int part_fetched(const struct snapmap *m, void *data)
{
	struct backup *b = data;
	uint64_t left, c = m->from;
	size_t i;
	int r;

	r = left_now(b, &left);
	if (r || left <= b->left_before)
		return r;
	for (i = 0; i < m->count; c = m->runs[i++].last + 1) {
		if (m->runs[i].first > c) {
			r = record_failed(b, c, m->runs[i].first - 1, ENODATA);
			if (r)
				return r;
		}
	}
	if (c < m->next)
		return record_failed(b, c, m->next - 1, ENODATA);
	return 0;
}

static int backup_all(struct backup *b)
{
	struct snapmap m;
	struct chunk_run run;
	int got, r = 0;

	/* left_before is of the status snapdev_find() read. */
	snapmap_init(&m, b->sd.d.dev.name, b->sd.d.st.chunks);
	m.fetched = part_fetched;
	m.data = b;
	while (!r && (got = snapmap_next(&m, &run)) > 0)
		r = backup_run(b, &run);
	if (!r && got < 0)
		r = got;	/* snapmap_next() or part_fetched() said why */
	snapmap_release(&m);
	return r;
}

/* The bytes of the readable chunks, for the progress bar. */
static uint64_t readable_bytes(const struct snapdev *sd)
{
	uint64_t total = sd->d.st.in_snapshot * sd->chunk_bytes;

	return total < sd->bytes ? total : sd->bytes;
}

/*
 * After the last read: sync the image (a file; a stream that is discarded
 * behind), then fail if the snapshot broke or its devices went away, so
 * that the image is not taken for the snapshot's.  The sync comes first
 * to look as late as possible, when nothing but the rename is left.
 *
 * Chunks that left after the last "map" reply need no look here: a chunk
 * leaves once and never comes back.  One listed in a part was either read
 * before it left (its data is in the image) or its read came later and
 * failed with ENODATA (listed); one not listed had left before the reply
 * (or was never in the snapshot), which part_fetched() saw.
 */
static int check_end(struct backup *b)
{
	char why[512];
	int r;

	if (!b->im.stream || b->o->discard_behind) {
		r = image_sync(&b->im);
		if (r)
			return image_failed(b, r);
	}
	if (snapdev_broken(&b->sd, why, sizeof(why)))
		return fatal(b, "%s during the backup", why);
	return 0;
}

/* Check the end, commit the image, do the last discards; print a failure. */
static int finish(struct backup *b, int r)
{
	bool renamed;
	char *kept;

	if (!r)
		r = check_end(b);
	if (!r && b->o->discard_behind && b->im.stream)
		r = flush_discards(b, false);	/* check_end() synced */
	if (!r) {
		r = image_commit(&b->im);
		/* A stream discarded behind: its trailing zeros durable too. */
		if (!r && b->o->discard_behind && b->im.stream)
			r = image_sync(&b->im);
		if (r)
			image_failed(b, r);
	}
	if (r) {
		/* Only the folder's sync after the rename failed: FILE stays. */
		renamed = !b->im.stream && !b->im.tmp;
		kept = image_abort(&b->im, b->discard_tried);
		if (renamed && b->discard_tried)
			lib_error("%s; the image %s is kept: it holds chunks already discarded from the snapshot",
				  b->err, b->o->to);
		else if (kept)
			lib_error("%s%sthe partial image %s is kept: it holds chunks already discarded from the snapshot",
				  b->err, b->err[0] ? "; " : "", kept);
		else if (b->err[0])
			lib_error("%s", b->err);
		free(kept);
		return r;
	}
	if (b->o->discard_behind && !b->im.stream) {
		r = flush_discards(b, false);	/* committed: synced */
		if (r) {
			lib_error("the image %s is complete, but %s", b->o->to,
				  b->err);
			return r;
		}
	}
	return 0;
}

static int backup_image(struct backup *b)
{
	int r;

	r = image_open(&b->im, b->o->to, b->bytes, b->o->force);
	if (r) {
		lib_error("%s", b->im.err);
		return r;
	}
	if (b->o->discard_behind && b->im.stream && !b->im.syncable) {
		image_abort(&b->im, false);
		lib_error("discard behind needs an image that can be synced (standard output is a pipe?)");
		return -EINVAL;
	}
	/* Requests and chunk retries are at most the I/O size. */
	if (posix_memalign((void **)&b->buf, HOLE_BLOCK, b->o->io_size)) {
		image_abort(&b->im, false);
		lib_error("out of memory for a %llu-byte buffer",
			  (unsigned long long)b->o->io_size);
		return -ENOMEM;
	}
	b->p.total = readable_bytes(&b->sd);
	report(b, CBW_PROGRESS_START);
	r = backup_all(b);
	/* Every readable chunk handled: read, failed, or left since. */
	if (!r)
		b->p.done = b->p.total;
	report(b, CBW_PROGRESS_END);
	return finish(b, r);
}

/* The result of @b for the caller. */
static int cmp_failed(const void *x, const void *y)
{
	const struct cbw_failed_range *a = x, *c = y;

	return a->first_chunk < c->first_chunk ? -1 :
	       a->first_chunk > c->first_chunk;
}

/* Sort the failed ranges (disjoint) and merge neighbours of one errno. */
static void sort_failed(struct backup *b)
{
	size_t i, n = 0;

	qsort(b->failed, b->nr_failed, sizeof(*b->failed), cmp_failed);
	for (i = 0; i < b->nr_failed; i++) {
		struct cbw_failed_range *f = &b->failed[i];

		if (n && b->failed[n - 1].last_chunk + 1 == f->first_chunk &&
		    b->failed[n - 1].err == f->err)
			b->failed[n - 1].last_chunk = f->last_chunk;
		else
			b->failed[n++] = *f;
	}
	b->nr_failed = n;
}

static void fill_result(struct backup *b, struct cbw_backup_result *res)
{
	size_t i;

	if (b->nr_failed)
		sort_failed(b);

	res->bytes = b->bytes;
	res->chunk_bytes = b->chunk;
	res->progress = b->p;
	for (i = 0; i < b->nr_failed; i++) {
		struct cbw_failed_range *f = &b->failed[i];

		f->offset = f->first_chunk * b->chunk;
		f->length = chunk_end(b, f->last_chunk * b->chunk) - f->offset;
	}
	res->failed = b->failed;
	res->nr_failed = b->nr_failed;
	b->failed = NULL;
}

/* The arguments of cbw_backup() that cbwctl checks on its command line. */
static int check_backup_args(const char *name, struct cbw_backup_opts *o)
{
	const char *why = NULL;
	int r;

	r = check_name_arg(name);
	if (r)
		return r;
	if (!o->io_size)
		o->io_size = CBW_IO_SIZE_DEFAULT;
	if (!o->to || !*o->to)
		why = "no image file";
	else
		why = cbw_io_size_check(o->io_size);
	if (why) {
		lib_error("backup of %s: %s", name, why);
		return -EINVAL;
	}
	return 0;
}

int cbw_backup(const char *name, const struct cbw_backup_opts *opts,
	       struct cbw_backup_result *res)
{
	struct cbw_backup_opts args;
	struct backup b = { .o = &args };
	int r;

	lib_begin();
	if (res)	/* filled on every failure too, the early ones first */
		memset(res, 0, sizeof(*res));
	if (!opts || !res)
		return lib_end(lib_einval("backup of %s: no options or no result (NULL)",
					  name ? name : "(NULL)"));
	args = *opts;
	r = check_backup_args(name, &args);
	if (r)
		return lib_end(r);
	r = snapdev_find(name, args.discard_behind, &b.sd);
	if (r)
		return lib_end(r);
	/*
	 * The map and the status count the cbw device's chunks: a snapshot
	 * node of another length (made by hand) would not match them.
	 */
	if (b.sd.d.snap.length != b.sd.d.dev.length) {
		lib_error("%s is %llu sectors long, %s %llu: a backup reads a snapshot device as long as its cbw device",
			  b.sd.d.snap.name,
			  (unsigned long long)b.sd.d.snap.length,
			  b.sd.d.dev.name,
			  (unsigned long long)b.sd.d.dev.length);
		snapdev_release(&b.sd);
		return lib_end(-ENODEV);
	}
	/*
	 * Chunks that leave from now on are looked for (part_fetched()):
	 * the counters of the status that found the device, read before
	 * anything else can take time.
	 */
	b.left_before = b.sd.d.st.dropped + b.sd.d.st.discarded;
	r = snapdev_open(&b.sd, (args.discard_behind ? O_RDWR : O_RDONLY) |
			 O_DIRECT);
	if (!r) {
		b.chunk = b.sd.chunk_bytes;
		b.bytes = b.sd.bytes;
		r = backup_image(&b);
	}
	fill_result(&b, res);
	free(b.buf);
	free(b.pending);
	snapdev_release(&b.sd);
	return lib_end(r);
}

void cbw_backup_result_free(struct cbw_backup_result *res)
{
	if (!res)
		return;
	free(res->failed);
	memset(res, 0, sizeof(*res));
}
