// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl snapshot: the command line of a snapshot underneath a live
 * device-mapper device (cbw_snapshot() does the work).
 */

#include <stdio.h>
#include <string.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

/* The options: those of cbw_snapshot(), and --incremental. */
struct snapshot_cmd {
	struct cbw_snapshot_opts o;
	bool incremental;	/* cbw_track_snapshot() */
	bool chunk_given;
};

enum {
	OPT_COW = 256,
	OPT_CHUNK,
	OPT_TIMEOUT,
	OPT_ON_ERROR,
	OPT_INCREMENTAL,
};

static const struct option snapshot_options[] = {
	{ "cow", required_argument, NULL, OPT_COW },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "on-error", required_argument, NULL, OPT_ON_ERROR },
	{ "incremental", no_argument, NULL, OPT_INCREMENTAL },
	HELP_OPTION,
	OPTIONS_END
};

/* A copy timeout: plain decimal milliseconds, at most one day. */
static const char *timeout_parse(const char *s, uint64_t *ms)
{
	uint64_t n = 0;

	if (!*s)
		return "it is empty";
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return "not a number of milliseconds";
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > CBW_MAX_TIMEOUT_MS)
			return "more than 86400000 (one day)";
	}
	*ms = n;
	return NULL;
}

static int snapshot_option(const struct command *cmd, void *opts, int opt,
			   const char *arg)
{
	struct snapshot_cmd *c = opts;
	struct cbw_snapshot_opts *o = &c->o;
	const char *why;
	uint64_t n;

	switch (opt) {
	case OPT_INCREMENTAL:
		c->incremental = true;
		return CBW_EXIT_OK;
	case OPT_COW:
		if (!*arg)
			return usage_error(cmd, "--cow needs a device path");
		o->cow = arg;
		return CBW_EXIT_OK;
	case OPT_CHUNK:
		if (chunk_option(cmd, arg, &o->chunk_bytes))
			return CBW_EXIT_USAGE;
		c->chunk_given = true;
		return CBW_EXIT_OK;
	case OPT_TIMEOUT:
		why = timeout_parse(arg, &n);
		if (why)
			return usage_error(cmd, "invalid timeout '%s': %s", arg,
					   why);
		o->timeout_ms = n;
		return CBW_EXIT_OK;
	case OPT_ON_ERROR:
		if (!cbw_policy_parse(arg, &o->policy))
			return usage_error(cmd, "invalid policy '%s': fail, break or drop",
					   arg);
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int snapshot_run(const struct command *cmd, void *opts, char **args,
			int nargs)
{
	struct snapshot_cmd *c = opts;
	struct cbw_snapshot_opts *o = &c->o;
	char node[CBW_PATH_MAX];
	int r;

	(void)nargs;
	o->dev = args[0];
	if (!*o->dev)
		return usage_error(cmd, "DMDEV is empty");
	if (!o->cow)
		return usage_error(cmd, "--cow DEV is required");
	if (c->incremental && c->chunk_given)
		return usage_error(cmd, "--incremental takes the tracking chunk size ('cbwctl track --chunk-size'), not --chunk");
	if (c->incremental)
		r = cbw_track_snapshot(&(struct cbw_track_snapshot_opts){
						.dev = o->dev, .cow = o->cow,
						.timeout_ms = o->timeout_ms,
						.policy = o->policy },
				       node, sizeof(node));
	else
		r = cbw_snapshot(o, node, sizeof(node));
	if (r < 0)
		return msg_lib_error(r);
	printf("%s\n", node);
	return CBW_EXIT_OK;
}

const struct command cmd_snapshot = {
	.name = "snapshot",
	.args = "DMDEV --cow DEV [--chunk SIZE] [--timeout MS] [--on-error POLICY] [--incremental]",
	.help = "start a snapshot under the live dm device DMDEV",
	.details =
"Start a snapshot underneath DMDEV, a device-mapper device in use (an LVM\n"
"logical volume, a dm-linear volume over a partition), without stopping it:\n"
"its table moves to the new hidden device DMDEV-real, and DMDEV gets a cbw\n"
"table over DMDEV-real, which copies old data to the COW device before it\n"
"is overwritten.  A filesystem on DMDEV is frozen only between the suspend\n"
"and the resume that swap the tables.  Prints the snapshot node,\n"
"/dev/mapper/DMDEV-snap: the read-only image of DMDEV at that moment.  End\n"
"the snapshot with 'cbwctl release DMDEV'.\n"
"\n"
"DMDEV is a device-mapper name, /dev/mapper/NAME or /dev/dm-N.  Its table\n"
"may have linear, striped, zero and error targets only, and its name at\n"
"most 119 characters from A-Z a-z 0-9 # + - . : = @ _.  The new devices\n"
"get the uuids CBW-NAME-real and CBW-NAME-snap; DMDEV keeps its own.  If a\n"
"step fails, the earlier ones are undone and DMDEV keeps its table.\n"
"\n"
"With --incremental, DMDEV must be tracked ('cbwctl track'): its table\n"
"becomes 'cbw DMDEV-real DEV CHUNK ... track' (the tracking chunk size),\n"
"and the snapshot holds exactly the chunks changed since the last\n"
"committed incremental snapshot (since 'cbwctl track', for the first),\n"
"for 'cbwctl backup --incremental'; tracking goes on into the next\n"
"generation.  'cbwctl release --commit DMDEV' after a good backup forgets\n"
"that set; a plain 'cbwctl release DMDEV' merges it back (nothing is\n"
"lost).  A snapshot without --incremental of a tracked DMDEV is refused.\n"
"\n"
"Options:\n"
"  --incremental      a snapshot of the changed chunks of a tracked DMDEV\n"
"  --cow DEV          the block device that receives the old data: neither\n"
"                     DMDEV nor a device under it; it may be smaller than\n"
"                     DMDEV (at least one chunk; room for the chunks written\n"
"                     while the snapshot lives); its contents are overwritten\n"
"  --chunk SIZE       the copy unit, a power of two from 4KiB to 1GiB (default\n"
"                     64KiB); bytes, or with a suffix: k K KiB, M MiB, G GiB,\n"
"                     T TiB (all binary: 64k = 64KiB = 65536)\n"
"  --timeout MS       give up a copy that takes longer than MS milliseconds\n"
"                     (at most 86400000); 0, the default, waits as long as it\n"
"                     takes\n"
"  --on-error POLICY  what a failed or timed-out copy does: fail (the default)\n"
"                     fails the write, break ends the snapshot and lets the\n"
"                     writes through, drop takes the chunks concerned out of\n"
"                     the snapshot\n"
"  -h, --help         show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = snapshot_options,
	.set_option = snapshot_option,
	.opts_size = sizeof(struct snapshot_cmd),
	.fn = snapshot_run,
};
