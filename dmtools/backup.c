// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl backup: a pull-backup agent.  It reads the chunks of the
 * snapshot (the runs of the "map" message) from NAME-snap with O_DIRECT
 * and writes a sparse image as large as the device, byte for byte the
 * snapshot in its chunks and zero elsewhere.
 *
 * The loop: for each run of readable chunks, read requests of up to the
 * I/O size (cut at its multiples, see imgio.h); write the data blocks of
 * each buffer to the image, skip its zero blocks (holes).  A request that
 * fails with a media error (EIO, ENODATA) is tried again chunk by chunk;
 * the chunks that still fail are recorded, stay holes, and make the
 * backup partial (exit 8).  Before that, the status tells whether the
 * snapshot broke or its device went away: then the backup fails (exit 1).
 *
 * A read that succeeded is the snapshot's data only if the snapshot was
 * still intact when it ended, and a break can come after the last read
 * (or be noticed only then).  So at the end, after the image's sync and
 * before it is renamed into place (or its trailing zeros are sent) and
 * before the last discards, the status is read once more: a snapshot
 * that broke or went away then fails the backup as a break seen during
 * the reads does (exit 1, no image).
 *
 * --discard-behind: the chunks read are kept in a list of byte ranges;
 * every DISCARD_BATCH bytes, and at the end, the image is synced and the
 * ranges are discarded on NAME-snap, so that they leave the snapshot,
 * their COW slots are freed, and guest writes to them copy nothing.  Only
 * whole chunks that were read go into the list.  Once anything is
 * discarded, a failed backup keeps its partial image: it holds data that
 * exists nowhere else.  A break found at the end is such a failure; it
 * comes before the last discards, so a backup that discarded nothing
 * before it discards nothing and leaves no image.
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

#include "cmd.h"
#include "image.h"
#include "imgio.h"
#include "msg.h"
#include "progress.h"
#include "size.h"
#include "snapdev.h"
#include "snapmap.h"

/* Sync and discard after this many bytes read (--discard-behind). */
#define DISCARD_BATCH		(64ULL << 20)

/* Print at most this many failed ranges; the rest as a count. */
#define MAX_FAILED_LINES	100

enum {
	OPT_TO = 256,
	OPT_FORCE,
	OPT_DISCARD_BEHIND,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_IO_SIZE,
};

enum { PROGRESS_AUTO, PROGRESS_ON, PROGRESS_OFF };

struct backup_opts {
	const char *name;	/* the cbw device */
	const char *to;		/* FILE, or "-" for standard output */
	bool force;		/* replace FILE */
	bool discard_behind;
	int progress;		/* PROGRESS_AUTO, PROGRESS_ON or PROGRESS_OFF */
	uint64_t io_size;	/* the largest read request */
};

/* Chunks @first-@last failed with @err. */
struct failed_range {
	uint64_t first;
	uint64_t last;
	int err;
};

/* Bytes [@start, @end) of the snapshot device. */
struct byte_range {
	uint64_t start;
	uint64_t end;
};

struct backup {
	const struct backup_opts *o;
	struct snapdev sd;
	struct image im;
	unsigned char *buf;
	uint64_t chunk;			/* chunk size */
	uint64_t bytes;			/* device and image size */
	char err[1024];			/* why it failed, "" if printed */
	struct progress bar;
	char label[160];		/* "backup NAME", the bar's label */

	uint64_t done;			/* bytes of readable chunks handled */
	uint64_t total;			/* bytes of readable chunks at the start */
	uint64_t read;			/* bytes read */
	uint64_t zero;			/* of them, zero blocks */

	struct failed_range *failed;
	size_t nr_failed;
	size_t failed_size;
	uint64_t failed_chunks;

	struct byte_range *pending;	/* read, not yet discarded */
	size_t nr_pending;
	size_t pending_size;
	uint64_t pending_bytes;
	uint64_t discarded;		/* bytes discarded so far */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

__attribute__((format(printf, 2, 3)))
static int fatal(struct backup *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
	return CBW_EXIT_FAILED;
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
			b->zero += n;
		} else {
			r = image_write(&b->im, off + pos, b->buf + pos, n);
			if (r)
				return image_failed(b, r);
		}
		pos += n;
	}
	b->read += len;
	return CBW_EXIT_OK;
}

/* Chunk @chunk could not be read (@err). */
static int record_failed(struct backup *b, uint64_t chunk, int err)
{
	struct failed_range *last = b->nr_failed ? &b->failed[b->nr_failed - 1] :
				    NULL;

	b->failed_chunks++;
	if (last && last->last + 1 == chunk && last->err == err) {
		last->last = chunk;
		return CBW_EXIT_OK;
	}
	if (b->nr_failed == b->failed_size) {
		size_t size = b->failed_size ? 2 * b->failed_size : 16;
		struct failed_range *f = realloc(b->failed, size * sizeof(*f));

		if (!f)
			return fatal(b, "out of memory");
		b->failed = f;
		b->failed_size = size;
	}
	b->failed[b->nr_failed++] = (struct failed_range){ chunk, chunk, err };
	return CBW_EXIT_OK;
}

/* Sync the image, then discard the pending ranges on NAME-snap. */
static int flush_discards(struct backup *b, bool sync)
{
	size_t i;
	int r;

	if (!b->nr_pending)
		return CBW_EXIT_OK;
	if (sync) {
		r = image_sync(&b->im);
		if (r)
			return image_failed(b, r);
	}
	for (i = 0; i < b->nr_pending; i++) {
		struct byte_range *p = &b->pending[i];
		uint64_t range[2] = { p->start, p->end - p->start };

		if (ioctl(b->sd.fd, BLKDISCARD, range))
			return fatal(b, "cannot discard bytes %llu-%llu of %s: %s",
				     (unsigned long long)p->start,
				     (unsigned long long)p->end - 1,
				     b->sd.path, strerror(errno));
		b->discarded += range[1];
	}
	b->nr_pending = 0;
	b->pending_bytes = 0;
	return CBW_EXIT_OK;
}

/* Whole chunks [@start, @end) were read and stored: discard them later. */
static int discard_later(struct backup *b, uint64_t start, uint64_t end)
{
	struct byte_range *last = b->nr_pending ? &b->pending[b->nr_pending - 1] :
				  NULL;

	if (!b->o->discard_behind)
		return CBW_EXIT_OK;
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
	return CBW_EXIT_OK;
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
			r = record_failed(b, pos / b->chunk, err);
		} else {
			r = fatal(b, "cannot read %s at byte %llu: %s",
				  b->sd.path, (unsigned long long)pos,
				  strerror(err));
		}
		if (r)
			return r;
	}
	return CBW_EXIT_OK;
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
	return record_failed(b, pos / b->chunk, err);
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

/* Back up one run of readable chunks. */
static int backup_run(struct backup *b, const struct chunk_run *run)
{
	uint64_t pos, end, next;
	int r;

	if (!run_bytes(run->first, run->last, b->chunk, b->bytes, &pos, &end))
		return CBW_EXIT_OK;
	while (pos < end) {
		if (interrupted)
			return fatal(b, "interrupted by signal %d",
				     (int)interrupted);
		r = request(b, pos, io_request_len(pos, end, b->o->io_size),
			    &next);
		if (r)
			return r;
		b->done += next - pos;
		pos = next;
		progress_update(&b->bar, b->done);
	}
	return CBW_EXIT_OK;
}

static int backup_all(struct backup *b)
{
	struct snapmap m;
	struct chunk_run run;
	int got, r = CBW_EXIT_OK;

	snapmap_init(&m, b->sd.d.dev.name, b->sd.d.st.chunks);
	while (!r && (got = snapmap_next(&m, &run)) > 0)
		r = backup_run(b, &run);
	if (!r && got < 0)
		r = CBW_EXIT_FAILED;	/* snapmap_next() said why */
	snapmap_release(&m);
	return r;
}

/* Print the failed ranges, one line each, and the partial summary. */
static void report_failed(const struct backup *b)
{
	size_t i;

	for (i = 0; i < b->nr_failed && i < MAX_FAILED_LINES; i++) {
		const struct failed_range *f = &b->failed[i];
		uint64_t end = chunk_end(b, f->last * b->chunk);

		msg_error("chunks %llu-%llu (bytes %llu-%llu) could not be read: %s%s",
			  (unsigned long long)f->first, (unsigned long long)f->last,
			  (unsigned long long)(f->first * b->chunk),
			  (unsigned long long)end - 1, strerror(f->err),
			  f->err == ENODATA ? " (they left the snapshot)" : "");
	}
	if (b->nr_failed > MAX_FAILED_LINES)
		msg_error("... and %zu more ranges of chunks that could not be read",
			  b->nr_failed - MAX_FAILED_LINES);
	msg_error("the backup of %s is partial: %llu chunks could not be read and are zero in the image",
		  b->sd.d.dev.name, (unsigned long long)b->failed_chunks);
}

/* The line at the end, with --progress. */
static void report_summary(const struct backup *b, uint64_t ns)
{
	char read[HUMAN_BUF_LEN], zero[HUMAN_BUF_LEN], rate[HUMAN_BUF_LEN];
	char size[HUMAN_BUF_LEN], disc[HUMAN_BUF_LEN];
	double secs = ns / 1e9;

	fprintf(stderr, "%s: read %s in %.2fs (%s/s), %s of it zero; image %s",
		b->label, human_bytes(b->read, read), secs,
		human_bytes(secs > 0 ? (uint64_t)(b->read / secs) : 0, rate),
		human_bytes(b->zero, zero), human_bytes(b->bytes, size));
	if (b->o->discard_behind)
		fprintf(stderr, "; %s discarded", human_bytes(b->discarded, disc));
	fprintf(stderr, "; %llu chunks failed\n",
		(unsigned long long)b->failed_chunks);
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
	return CBW_EXIT_OK;
}

/* Check the end, commit the image, do the last discards; print a failure. */
static int finish(struct backup *b, int r)
{
	char *kept;

	if (!r)
		r = check_end(b);
	if (!r && b->o->discard_behind && b->im.stream)
		r = flush_discards(b, false);	/* check_end() synced */
	if (!r) {
		r = image_commit(&b->im);
		if (r)
			image_failed(b, r);
	}
	if (r) {
		kept = image_abort(&b->im, b->discarded > 0);
		if (kept)
			msg_error("%s%sthe partial image %s is kept: it holds chunks already discarded from the snapshot",
				  b->err, b->err[0] ? "; " : "", kept);
		else if (b->err[0])
			msg_error("%s", b->err);
		free(kept);
		return r;
	}
	if (b->o->discard_behind && !b->im.stream) {
		r = flush_discards(b, false);	/* committed: synced */
		if (r) {
			msg_error("the image %s is complete, but %s", b->o->to,
				  b->err);
			return r;
		}
	}
	if (b->failed_chunks) {
		report_failed(b);
		return CBW_EXIT_PARTIAL;
	}
	return CBW_EXIT_OK;
}

/* Catch SIGINT, SIGTERM and SIGHUP (to clean up), ignore SIGPIPE. */
static void set_signals(bool on)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sa.sa_handler = !on ? SIG_DFL :
				sigs[i] == SIGPIPE ? SIG_IGN : on_signal;
		sigaction(sigs[i], &sa, NULL);
	}
}

static int backup_image(struct backup *b)
{
	uint64_t start;
	int r;

	r = image_open(&b->im, b->o->to, b->bytes, b->o->force);
	if (r) {
		msg_error("%s", b->im.err);
		return r;
	}
	/* Requests and chunk retries are at most the I/O size. */
	if (posix_memalign((void **)&b->buf, HOLE_BLOCK, b->o->io_size)) {
		image_abort(&b->im, false);
		msg_error("out of memory for a %llu-byte buffer",
			  (unsigned long long)b->o->io_size);
		return CBW_EXIT_FAILED;
	}
	snprintf(b->label, sizeof(b->label), "backup %s", b->sd.d.dev.name);
	b->total = readable_bytes(&b->sd);
	progress_start(&b->bar, b->o->progress == PROGRESS_ON ||
		       (b->o->progress == PROGRESS_AUTO && isatty(STDERR_FILENO)),
		       b->label, b->total);
	start = now_ns();
	set_signals(true);
	r = backup_all(b);
	progress_update(&b->bar, b->total);
	progress_end(&b->bar);
	r = finish(b, r);
	set_signals(false);
	if (b->bar.on && r != CBW_EXIT_FAILED)
		report_summary(b, now_ns() - start);
	return r;
}

static int backup(const struct backup_opts *o)
{
	struct backup b = { .o = o };
	int r;

	r = snapdev_find(o->name, o->discard_behind, &b.sd);
	if (r)
		return r;
	r = snapdev_open(&b.sd, (o->discard_behind ? O_RDWR : O_RDONLY) |
			 O_DIRECT);
	if (!r) {
		b.chunk = b.sd.chunk_bytes;
		b.bytes = b.sd.bytes;
		r = backup_image(&b);
	}
	free(b.buf);
	free(b.failed);
	free(b.pending);
	snapdev_release(&b.sd);
	return r;
}

static const struct option backup_options[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "discard-behind", no_argument, NULL, OPT_DISCARD_BEHIND },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "io-size", required_argument, NULL, OPT_IO_SIZE },
	HELP_OPTION,
	OPTIONS_END
};

static int backup_option(const struct command *cmd, void *opts, int opt,
			 const char *arg)
{
	struct backup_opts *o = opts;
	const char *why;
	uint64_t bytes;

	switch (opt) {
	case OPT_TO:
		if (!*arg)
			return usage_error(cmd, "--to needs a FILE, or - for standard output");
		o->to = arg;
		return CBW_EXIT_OK;
	case OPT_FORCE:
		o->force = true;
		return CBW_EXIT_OK;
	case OPT_DISCARD_BEHIND:
		o->discard_behind = true;
		return CBW_EXIT_OK;
	case OPT_PROGRESS:
	case OPT_NO_PROGRESS:
		/* The last one counts. */
		o->progress = opt == OPT_PROGRESS ? PROGRESS_ON : PROGRESS_OFF;
		return CBW_EXIT_OK;
	case OPT_IO_SIZE:
		why = size_parse(arg, &bytes);
		if (!why)
			why = io_size_check(bytes);
		if (why)
			return usage_error(cmd, "invalid I/O size '%s': %s", arg,
					   why);
		o->io_size = bytes;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

/* --discard-behind on standard output: only if it can be synced. */
static bool stdout_syncable(void)
{
	struct stat st;

	return !fstat(STDOUT_FILENO, &st) &&
	       (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static int backup_cmd(const struct command *cmd, void *opts, char **args,
		      int nargs)
{
	struct backup_opts *o = opts;
	int r;

	(void)nargs;
	o->name = args[0];
	r = check_name(cmd, o->name, false);
	if (r)
		return r;
	if (!o->to)
		return usage_error(cmd, "--to FILE (or --to - for standard output) is required");
	if (o->discard_behind && !strcmp(o->to, "-") && !stdout_syncable())
		return usage_error(cmd, "--discard-behind with --to - needs standard output redirected to a file or a block device (a pipe cannot be synced)");
	if (!o->io_size)
		o->io_size = IO_SIZE_DEFAULT;
	return backup(o);
}

const struct command cmd_backup = {
	.name = "backup",
	.args = "NAME --to FILE|- [--force] [--discard-behind] [--progress|--no-progress] [--io-size SIZE]",
	.help = "copy the snapshot of NAME into a sparse image file",
	.details =
"Read the chunks in the snapshot of the cbw device NAME (its 'map') from\n"
"NAME-snap, with direct I/O, and write an image as large as the device:\n"
"byte for byte the snapshot in its chunks, zero elsewhere.  Chunks outside\n"
"the snapshot and zero blocks are holes in the image (a sparse file).  The\n"
"image is written to a temporary file next to FILE (.FILE.XXXXXX, mode\n"
"0600) and renamed to FILE when it is complete or partial; on failure it\n"
"is removed.\n"
"\n"
"A read that fails with a media error is tried again chunk by chunk; the\n"
"chunks that still fail are zero in the image, listed on stderr one range\n"
"per line, and the exit status is 8 (partial).  If the snapshot breaks or\n"
"its device goes away during the backup, it fails (exit 1); the state is\n"
"checked again after the last read (and the image's sync), so a break that\n"
"no read met fails it too.\n"
"\n"
"Options:\n"
"  --to FILE        the image; - writes every byte (zeros too) to standard\n"
"                   output, which must not be a terminal\n"
"  --force          replace FILE if it exists (else exit 6)\n"
"  --discard-behind discard the chunks on NAME-snap once they are safely in\n"
"                   the image (synced, every 64MiB and at the end): they\n"
"                   leave the snapshot, their COW space is freed, and later\n"
"                   writes to them copy nothing.  With --to -, standard\n"
"                   output must be a file or a block device.  If the backup\n"
"                   fails after a discard, the partial image is kept\n"
"  --progress       show a progress bar on stderr, and a summary at the end\n"
"                   (default when stderr is a terminal)\n"
"  --no-progress    no progress bar\n"
"  --io-size SIZE   the largest read request, a power of two from 4KiB to\n"
"                   64MiB (default 4MiB)\n"
"  -h, --help       show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = backup_options,
	.opts_size = sizeof(struct backup_opts),
	.set_option = backup_option,
	.fn = backup_cmd,
};
