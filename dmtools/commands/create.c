// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl create: make the cbw device NAME and its snapshot NAME-snap
 * (cbw_create()), and print their nodes.
 */

#include <stdio.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

/* Long-only options get values above any character. */
enum {
	OPT_ORIGIN = 256,
	OPT_COW,
	OPT_CHUNK,
	OPT_TIMEOUT,
	OPT_ON_ERROR,
	OPT_NO_DISCARD_PASSDOWN,
	OPT_BITMAP,
	OPT_BITMAP_FORMAT,
	OPT_ERA_BLOCK_SIZE,
};

/* What create was asked: the library's options and what it cannot tell. */
struct create_args {
	struct cbw_create_opts o;
	bool set_format_option;	/* --bitmap-format was given */
};

static const struct option create_options[] = {
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "cow", required_argument, NULL, OPT_COW },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "on-error", required_argument, NULL, OPT_ON_ERROR },
	{ "no-discard-passdown", no_argument, NULL, OPT_NO_DISCARD_PASSDOWN },
	{ "bitmap", required_argument, NULL, OPT_BITMAP },
	{ "bitmap-format", required_argument, NULL, OPT_BITMAP_FORMAT },
	{ "era-block-size", required_argument, NULL, OPT_ERA_BLOCK_SIZE },
	HELP_OPTION,
	OPTIONS_END
};

/* The options of create that set a cbw feature or the snapshot set. */
static int create_feature_option(const struct command *cmd,
				 struct create_args *c, int opt,
				 const char *arg)
{
	const char *why;

	switch (opt) {
	case OPT_TIMEOUT:
		why = cbw_decimal_parse(arg, CBW_MAX_TIMEOUT_MS, &c->o.timeout_ms);
		if (why)
			return usage_error(cmd, "invalid --timeout '%s': %s (want milliseconds, 0 to %llu)",
					   arg, why, CBW_MAX_TIMEOUT_MS);
		return CBW_EXIT_OK;
	case OPT_ON_ERROR:
		if (!cbw_policy_parse(arg, &c->o.policy))
			return usage_error(cmd, "invalid --on-error '%s': want fail, break or drop",
					   arg);
		return CBW_EXIT_OK;
	case OPT_NO_DISCARD_PASSDOWN:
		c->o.no_discard_passdown = true;
		return CBW_EXIT_OK;
	case OPT_BITMAP:
		if (!*arg)
			return usage_error(cmd, "--bitmap needs a file name");
		c->o.set_file = arg;
		return CBW_EXIT_OK;
	case OPT_BITMAP_FORMAT:
		c->set_format_option = true;
		return format_option(cmd, "--bitmap-format", arg,
				     &c->o.set_format);
	case OPT_ERA_BLOCK_SIZE:
		return era_block_option(cmd, arg, &c->o.era_block_sectors);
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int create_option(const struct command *cmd, void *opts,
			 int opt, const char *arg)
{
	struct create_args *c = opts;

	switch (opt) {
	case OPT_ORIGIN:
	case OPT_COW:
		if (!*arg)
			return usage_error(cmd, "--%s needs a device path",
					   opt == OPT_ORIGIN ? "origin" : "cow");
		*(opt == OPT_ORIGIN ? &c->o.origin : &c->o.cow) = arg;
		return CBW_EXIT_OK;
	case OPT_CHUNK:
		return chunk_option(cmd, arg, &c->o.chunk_bytes);
	}
	return create_feature_option(cmd, c, opt, arg);
}

static int create_run(const struct command *cmd, void *opts,
		      char **args, int nargs)
{
	struct create_args *c = opts;
	struct cbw_nodes nodes;
	int r;

	(void)nargs;
	c->o.name = args[0];
	r = check_name(cmd, c->o.name, true);
	if (r)
		return r;
	if (!c->o.origin)
		return usage_error(cmd, "--origin DEV is required");
	if (!c->o.cow)
		return usage_error(cmd, "--cow DEV is required");
	if (!c->o.set_file && (c->set_format_option || c->o.era_block_sectors))
		return usage_error(cmd, "%s needs --bitmap FILE",
				   c->o.era_block_sectors ? "--era-block-size" :
				   "--bitmap-format");
	r = cbw_create(&c->o, &nodes);
	if (r < 0)
		return msg_lib_error(r);
	printf("%s\n%s\n", nodes.dev, nodes.snap);
	return CBW_EXIT_OK;
}

const struct command cmd_create = {
	.name = "create",
	.args = "NAME --origin DEV --cow DEV [--chunk SIZE] [OPTION...]",
	.help = "make the cbw device NAME and its snapshot NAME-snap",
	.details =
"Stack the cbw device NAME on the origin DEV, keeping the old data of each\n"
"chunk on the COW device before its first write, and make NAME-snap, the\n"
"image of the origin as it is now.  Both cover the whole origin.  Prints\n"
"the two device nodes, one per line.  If anything fails, nothing that was\n"
"made stays.\n"
"\n"
"NAME-snap is writable, so that it takes discards (backup\n"
"--discard-behind, discard, export), but every write to it fails with\n"
"EIO: mount a file system on it read-only (ext4: -o ro,noload).\n"
"\n"
"NAME is at most 119 characters from A-Z a-z 0-9 # + - . : = @ _.  The\n"
"devices get the uuids CBW-NAME and CBW-NAME-snap.\n"
"\n"
"With --bitmap, only the chunks listed in FILE are in the snapshot (an\n"
"incremental backup): NAME gets the incremental feature, the chunks are\n"
"added to its set, the set-up is ended, then NAME-snap is made; reading\n"
"NAME-snap outside those chunks fails.  FILE is read and checked before\n"
"any device is made; '-' is standard input.  Its formats, and how the\n"
"format is detected, are those of 'cbwctl bitmap' (see 'cbwctl bitmap\n"
"--help'): ranges (text, chunk numbers N or N-M per line), raw (a bitmap,\n"
"bit N = chunk N) or era (era_invalidate output).\n"
"\n"
"Options:\n"
"  --origin DEV      the block device to snapshot\n"
"  --cow DEV         the block device that receives the old data; its\n"
"                    contents are overwritten.  It may be smaller than the\n"
"                    origin (slots are taken in order, one chunk each) but\n"
"                    not smaller than one chunk; when it is full, copies\n"
"                    fail with the reason cow_full\n"
"  --chunk SIZE      the copy unit, a power of two from 4KiB to 1GiB\n"
"                    (default 64KiB); bytes, or with a suffix: k K KiB,\n"
"                    M MiB, G GiB, T TiB (all binary: 64k = 64KiB = 65536)\n"
"  --timeout MS      the copy timeout in milliseconds, 0 to 86400000\n"
"                    (default 0: none)\n"
"  --on-error POLICY what a failed or timed-out copy does: fail (the\n"
"                    default: the write fails, the snapshot stays whole),\n"
"                    break (the snapshot is given up, writes go on) or drop\n"
"                    (only the chunks concerned leave the snapshot)\n"
"  --no-discard-passdown\n"
"                    do not discard the COW slots that snapshot discards\n"
"                    free\n"
"  --bitmap FILE     the chunks of the snapshot (see above)\n"
"  --bitmap-format FORMAT\n"
"                    ranges, raw or era (default: detect)\n"
"  --era-block-size SECTORS\n"
"                    for an era FILE: the dm-era block size in 512-byte\n"
"                    sectors\n"
"  -h, --help        show this help\n"
"\n"
"A syntax error in FILE exits 2 with FILE:LINE in the message; a chunk\n"
"outside the origin exits 7.\n",
	.min_args = 1,
	.max_args = 1,
	.options = create_options,
	.set_option = create_option,
	.opts_size = sizeof(struct create_args),
	.fn = create_run,
};
