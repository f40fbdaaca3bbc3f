// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl bitmap NAME import FILE | NAME start: build the snapshot set of a
 * cbw device in incremental set-up (cbw_import(), cbw_start()).
 */

#include <string.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

/* dm-era keeps its block size in 32 bits. */
#define ERA_BLOCK_MAX	UINT32_MAX

enum {
	OPT_FORMAT = 256,
	OPT_ERA_BLOCK_SIZE,
	OPT_NO_START,
};

struct bitmap_opts {
	struct cbw_import_opts o;	/* FILE comes last */
	const char *import_option;	/* an import option given, or NULL */
};

int format_option(const struct command *cmd, const char *option,
		  const char *arg, enum cbw_format *format)
{
	if (cbw_format_parse(arg, format))
		return CBW_EXIT_OK;
	return usage_error(cmd, "invalid %s '%s': want ranges, raw or era",
			   option, arg);
}

int era_block_option(const struct command *cmd, const char *arg,
		     uint64_t *sectors)
{
	const char *why = cbw_decimal_parse(arg, ERA_BLOCK_MAX, sectors);

	if (!why && !*sectors)
		why = "it is 0";
	if (why)
		return usage_error(cmd, "invalid --era-block-size '%s': %s (want sectors, 1 to %u)",
				   arg, why, ERA_BLOCK_MAX);
	return CBW_EXIT_OK;
}

static const struct option bitmap_options[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "era-block-size", required_argument, NULL, OPT_ERA_BLOCK_SIZE },
	{ "no-start", no_argument, NULL, OPT_NO_START },
	HELP_OPTION,
	OPTIONS_END
};

static int bitmap_option(const struct command *cmd, void *opts, int opt,
			 const char *arg)
{
	struct bitmap_opts *b = opts;

	switch (opt) {
	case OPT_FORMAT:
		b->import_option = "--format";
		return format_option(cmd, "--format", arg, &b->o.format);
	case OPT_ERA_BLOCK_SIZE:
		b->import_option = "--era-block-size";
		return era_block_option(cmd, arg, &b->o.era_block_sectors);
	case OPT_NO_START:
		b->import_option = "--no-start";
		b->o.no_start = true;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int bitmap_run(const struct command *cmd, void *opts, char **args,
		      int nargs)
{
	struct bitmap_opts *b = opts;
	int r;

	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	if (!strcmp(args[1], "import")) {
		if (nargs < 3)
			return usage_error(cmd, "import needs a FILE");
		if (!*args[2])
			return usage_error(cmd, "the FILE name is empty");
		b->o.file = args[2];
		return msg_lib_error(cbw_import(args[0], &b->o));
	}
	if (!strcmp(args[1], "start")) {
		if (nargs > 2)
			return usage_error(cmd, "unexpected argument '%s'",
					   args[2]);
		if (b->import_option)
			return usage_error(cmd, "%s is an option of import, not start",
					   b->import_option);
		return msg_lib_error(cbw_start(args[0]));
	}
	return usage_error(cmd, "unknown action '%s': want import or start",
			   args[1]);
}

const struct command cmd_bitmap = {
	.name = "bitmap",
	.args = "NAME import FILE [OPTION...] | NAME start",
	.help = "add chunks to the snapshot set of NAME in incremental set-up",
	.details =
"Build the snapshot set of NAME, a cbw device in incremental set-up: a cbw\n"
"table with the incremental feature, resumed but not yet started (made by\n"
"dmsetup, by 'cbwctl create --bitmap', or by another tool).  Until the\n"
"set-up ends, the set is empty and writes to NAME wait.\n"
"\n"
"  import FILE  Add the chunks listed in FILE to the set (those already in\n"
"               it stay), then end the set-up ('start') unless --no-start\n"
"               is given.  FILE is read and checked whole before anything\n"
"               is sent; '-' is standard input.  If the device refuses a\n"
"               message, the chunks that were added are removed again.\n"
"  start        End the set-up: NAME's held writes go on, and NAME-snap\n"
"               (a snapshot-access device) can be made.\n"
"\n"
"File formats (--format, else detected from the first 4KiB of FILE):\n"
"  ranges  Text, one range of chunk numbers per line: N, or N-M (both\n"
"          included).  '#' starts a comment; blank lines are allowed;\n"
"          ranges may overlap and come in any order.  'cbwctl map --chunks'\n"
"          prints this format.  Detected when the start of FILE is\n"
"          printable text whose first word begins with a digit or '#'.\n"
"  raw     A bitmap: bit N of FILE, least significant bit first in each\n"
"          byte, is chunk N.  FILE may be shorter than the device.  Detected\n"
"          when FILE is neither of the others.\n"
"  era     The XML that era_invalidate prints (dm-era's blocks written\n"
"          since an era): <range begin= end=> (end excluded) and <block\n"
"          block=>.  Needs --era-block-size.  A chunk is in the set when it\n"
"          overlaps any era block listed.  Detected when FILE starts with\n"
"          '<'.\n"
"\n"
"Options:\n"
"  --format FORMAT           ranges, raw or era (default: detect)\n"
"  --era-block-size SECTORS  the block size of the dm-era device, in\n"
"                            512-byte sectors (the last argument of its\n"
"                            table)\n"
"  --no-start                leave NAME in set-up after the import\n"
"  -h, --help                show this help\n"
"\n"
"A syntax error in FILE exits 2 with FILE:LINE in the message; a chunk\n"
"outside NAME exits 7; NAME not in incremental set-up exits 6.\n",
	.min_args = 2,
	.max_args = 3,
	.options = bitmap_options,
	.opts_size = sizeof(struct bitmap_opts),
	.set_option = bitmap_option,
	.fn = bitmap_run,
};
