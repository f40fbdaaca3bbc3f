// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl backup: the command line of libcbw's pull-backup loop
 * (cbw_backup()): its options, a progress bar on stderr, stopping on
 * SIGINT, SIGTERM and SIGHUP, and the report of a partial backup (exit 8)
 * and, with the bar, a summary.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libcbw.h>

#include "cmd.h"
#include "imgtag.h"
#include "incremental.h"
#include "msg.h"
#include "progress.h"
#include "stop_signals.h"

/* Print at most this many failed ranges; the rest as a count. */
#define MAX_FAILED_LINES	100

enum {
	OPT_TO = 256,
	OPT_FORCE,
	OPT_DISCARD_BEHIND,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_IO_SIZE,
	OPT_INCREMENTAL,
	OPT_PREV,
	OPT_SYNC,
};

enum { PROGRESS_AUTO, PROGRESS_ON, PROGRESS_OFF };

struct backup_opts {
	struct cbw_backup_opts o;	/* what the library is told */
	int progress;		/* PROGRESS_AUTO, PROGRESS_ON or PROGRESS_OFF */
	bool incremental;	/* --incremental: incremental.c */
	const char *prev;	/* --prev */
	bool sync_given;
	enum incr_sync sync;	/* --sync */
};

/* One backup: its name, bar and result. */
struct backup {
	const char *name;
	const struct backup_opts *opts;
	struct progress bar;
	char label[160];		/* "backup NAME", the bar's label */
	uint64_t start_ns;		/* when the reads began */
	bool started;
	struct cbw_backup_result res;
};

static volatile sig_atomic_t interrupted;

/* Print the failed ranges, one line each, and the partial summary. */
static void report_failed(const struct backup *b)
{
	size_t i;

	const struct cbw_backup_result *res = &b->res;

	for (i = 0; i < res->nr_failed && i < MAX_FAILED_LINES; i++) {
		const struct cbw_failed_range *f = &res->failed[i];

		msg_error("chunks %llu-%llu (bytes %llu-%llu) could not be read: %s%s",
			  (unsigned long long)f->first_chunk,
			  (unsigned long long)f->last_chunk,
			  (unsigned long long)f->offset,
			  (unsigned long long)(f->offset + f->length - 1),
			  strerror(f->err),
			  f->err == ENODATA ? " (they left the snapshot)" : "");
	}
	if (res->nr_failed > MAX_FAILED_LINES)
		msg_error("... and %zu more ranges of chunks that could not be read",
			  res->nr_failed - MAX_FAILED_LINES);
	msg_error("the backup of %s is partial: %llu chunks could not be read and are zero in the image",
		  b->name, (unsigned long long)res->progress.failed_chunks);
}

/* The line at the end, with --progress. */
static void report_summary(const struct backup *b, uint64_t ns)
{
	char read[HUMAN_BUF_LEN], zero[HUMAN_BUF_LEN], rate[HUMAN_BUF_LEN];
	char size[HUMAN_BUF_LEN], disc[HUMAN_BUF_LEN];
	const struct cbw_progress *p = &b->res.progress;
	double secs = ns / 1e9;

	fprintf(stderr, "%s: read %s in %.2fs (%s/s), %s of it zero; image %s",
		b->label, human_bytes(p->read, read), secs,
		human_bytes(secs > 0 ? (uint64_t)(p->read / secs) : 0, rate),
		human_bytes(p->zero, zero), human_bytes(b->res.bytes, size));
	if (b->opts->o.discard_behind)
		fprintf(stderr, "; %s discarded", human_bytes(p->discarded, disc));
	fprintf(stderr, "; %llu chunks failed\n",
		(unsigned long long)p->failed_chunks);
}

/*
 * The progress callback.  When the reads begin, start the bar (drawn
 * after the first read) and catch the signals, which stop the backup
 * before its next read (cbw_backup_opts.stop); redraw the bar after each
 * read; when the reads are over, draw it full and take it away, before
 * the image's sync and the messages of its end.
 */
static void progress(enum cbw_progress_event ev, const struct cbw_progress *p,
		     void *data)
{
	struct backup *b = data;
	bool on;

	switch (ev) {
	case CBW_PROGRESS_START:
		on = b->opts->progress == PROGRESS_ON ||
		     (b->opts->progress == PROGRESS_AUTO &&
		      isatty(STDERR_FILENO));
		progress_start(&b->bar, on, b->label, p->total);
		b->start_ns = now_ns();
		b->started = true;
		stop_signals(&interrupted);
		break;
	case CBW_PROGRESS_READ:
		progress_update(&b->bar, p->done);
		break;
	case CBW_PROGRESS_END:
		progress_update(&b->bar, p->total);
		progress_end(&b->bar);
		break;
	}
}

static int backup(const char *name, struct backup_opts *o)
{
	struct backup b = { .name = name, .opts = o };
	int r;

	snprintf(b.label, sizeof(b.label), "backup %s", name);
	o->o.progress = progress;
	o->o.progress_data = &b;
	o->o.stop = &interrupted;
	r = cbw_backup(name, &o->o, &b.res);
	if (b.started)
		stop_signals(NULL);
	r = msg_lib_error(r);
	if (!r && b.res.nr_failed) {
		report_failed(&b);
		r = CBW_EXIT_PARTIAL;
	}
	if (b.bar.on && r != CBW_EXIT_FAILED)
		report_summary(&b, now_ns() - b.start_ns);
	cbw_backup_result_free(&b.res);
	return r;
}

static const struct option backup_options[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "discard-behind", no_argument, NULL, OPT_DISCARD_BEHIND },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "io-size", required_argument, NULL, OPT_IO_SIZE },
	{ "incremental", no_argument, NULL, OPT_INCREMENTAL },
	{ "prev", required_argument, NULL, OPT_PREV },
	{ "sync", required_argument, NULL, OPT_SYNC },
	HELP_OPTION,
	OPTIONS_END
};

static int backup_option(const struct command *cmd, void *opts, int opt,
			 const char *arg)
{
	struct backup_opts *b = opts;
	struct cbw_backup_opts *o = &b->o;
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
		b->progress = opt == OPT_PROGRESS ? PROGRESS_ON : PROGRESS_OFF;
		return CBW_EXIT_OK;
	case OPT_IO_SIZE:
		why = cbw_size_parse(arg, &bytes);
		if (!why)
			why = cbw_io_size_check(bytes);
		if (why)
			return usage_error(cmd, "invalid I/O size '%s': %s", arg,
					   why);
		o->io_size = bytes;
		return CBW_EXIT_OK;
	case OPT_INCREMENTAL:
		b->incremental = true;
		return CBW_EXIT_OK;
	case OPT_PREV:
		if (!*arg)
			return usage_error(cmd, "--prev needs an image file");
		b->prev = arg;
		return CBW_EXIT_OK;
	case OPT_SYNC:
		if (!incr_sync_parse(arg, &b->sync))
			return usage_error(cmd, "invalid --sync '%s': on-success, always or never",
					   arg);
		b->sync_given = true;
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

/*
 * A track snapshot holds the changed chunks alone: a plain image of it
 * would be zero where the device did not change.  Unless it holds every
 * chunk (the first of a history), it is backed up with --incremental.
 * Return an exit code.
 */
static int check_not_track_snapshot(const struct command *cmd,
				    const char *name, struct cbw_track_info *ti)
{
	int r;

	msg_hold();
	r = cbw_track_info_get(name, ti);
	msg_lib_drop(r);
	if (r < 0) {
		ti->tracking = false;
		return CBW_EXIT_OK;	/* backup says what is wrong */
	}
	if (ti->tracking && ti->snapshot && ti->set != CBW_TRACK_SET_NONE &&
	    ti->set_chunks < ti->chunks)
		return usage_error(cmd, "%s is under a track snapshot of its changed chunks alone: back it up with --incremental",
				   name);
	return CBW_EXIT_OK;
}

/*
 * A complete raw image of a track snapshot that holds every chunk (the
 * first of a history) gets the tag of an incremental image, so that the
 * next 'backup --incremental --prev' can rest on it.  Return an exit code.
 */
static int tag_raw_image(const char *to, const struct cbw_track_info *ti)
{
	struct imgtag tag = {
		.generation = ti->set_generation,
		.chunk_sectors = ti->chunk_bytes >> 9,
		.device_sectors = (ti->size_bytes + 511) >> 9,
		.complete = true,
	};
	char err[512];

	memcpy(tag.uuid, ti->uuid, sizeof(tag.uuid));
	if (imgtag_write(to, &tag, err, sizeof(err))) {
		msg_error("the image %s is written, but not its tag: %s", to,
			  err);
		return CBW_EXIT_FAILED;
	}
	return CBW_EXIT_OK;
}

static int backup_cmd(const struct command *cmd, void *opts, char **args,
		      int nargs)
{
	struct backup_opts *b = opts;
	struct cbw_backup_opts *o = &b->o;
	struct cbw_track_info ti;
	int r;

	(void)nargs;
	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	if (!o->to)
		return usage_error(cmd, "--to FILE (or --to - for standard output) is required");
	if (!b->incremental && (b->prev || b->sync_given))
		return usage_error(cmd, "--prev and --sync go with --incremental");
	if (b->incremental) {
		if (!strcmp(o->to, "-"))
			return usage_error(cmd, "--incremental writes a qcow2 image file, not standard output");
		if (o->discard_behind)
			return usage_error(cmd, "--incremental does not discard behind");
		return incr_backup(args[0], &(struct incr_opts){
			.to = o->to, .prev = b->prev, .sync = b->sync,
			.force = o->force,
			.progress = b->progress == PROGRESS_ON ? INCR_PROGRESS_ON :
				    b->progress == PROGRESS_OFF ? INCR_PROGRESS_OFF :
				    INCR_PROGRESS_AUTO,
			.io_size = o->io_size ? o->io_size : CBW_IO_SIZE_DEFAULT });
	}
	if (o->discard_behind && !strcmp(o->to, "-") && !stdout_syncable())
		return usage_error(cmd, "--discard-behind with --to - needs standard output redirected to a file or a block device (a pipe cannot be synced)");
	r = check_not_track_snapshot(cmd, args[0], &ti);
	if (r)
		return r;
	r = backup(args[0], b);
	if (!r && ti.tracking && ti.snapshot && strcmp(o->to, "-"))
		r = tag_raw_image(o->to, &ti);
	return r;
}

const struct command cmd_backup = {
	.name = "backup",
	.args = "NAME --to FILE|- [--force] [--discard-behind] [--progress|--no-progress] [--io-size SIZE] [--incremental [--prev IMAGE] [--sync MODE]]",
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
"  --incremental    NAME is under a track snapshot ('cbwctl snapshot\n"
"                   --incremental'): write its chunks (exactly those changed\n"
"                   since the last committed backup) as a qcow2 image FILE\n"
"                   whose backing file is --prev IMAGE, through qemu-img and\n"
"                   qemu-nbd (qemu-utils).  'qemu-img convert' of the newest\n"
"                   image gives the whole device at the snapshot's point in\n"
"                   time; 'cbwctl restore' writes it back.  Zero blocks are\n"
"                   written as zeroes (they hide the older data), and a chunk\n"
"                   that cannot be read fails the backup.  FILE.cbw, the\n"
"                   image's tag, names its history and generation; the next\n"
"                   backup checks its --prev by it.  Without --prev the\n"
"                   snapshot must hold every chunk (the first backup of a\n"
"                   history, whose set 'cbwctl track' fills): a full qcow2.\n"
"                   (A plain backup of such a first track snapshot is a\n"
"                   raw image with a tag too; commit it with 'cbwctl\n"
"                   release --commit'.)\n"
"  --prev IMAGE     the previous backup of the chain (its format is asked\n"
"                   of qemu-img: qcow2 or raw)\n"
"  --sync MODE      when the snapshot's set is committed (forgotten): on-\n"
"                   success (the default) after a complete backup; always:\n"
"                   also after a failure or an interrupt, the chunks written\n"
"                   so far, and the partial image is kept (FILE.cbw says\n"
"                   complete no; it can be the next --prev); never: never.\n"
"                   What is not committed goes back into the changed set at\n"
"                   'cbwctl release NAME' and into the next backup\n"
"  -h, --help       show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = backup_options,
	.opts_size = sizeof(struct backup_opts),
	.set_option = backup_option,
	.fn = backup_cmd,
};
