// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl - set up and inspect dm-cbw copy-before-write snapshots.
 *
 * This file is the command line: global options, the command table that
 * drives dispatch and the help texts, and one small option handler per
 * command that fills the command's options struct.  The commands
 * themselves are in commands.c.
 */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "commands.h"
#include "dm.h"
#include "msg.h"
#include "size.h"

#ifndef CBWCTL_VERSION
#error "CBWCTL_VERSION is set by the Makefile"
#endif

static const char exit_status_help[] =
	"Exit status:\n"
	"  0  success\n"
	"  1  the operation failed (kernel or libdevmapper error, an image that\n"
	"     cannot be written, a snapshot that broke, qemu-nbd failed)\n"
	"  2  usage error: unknown command or option, missing or extra argument,\n"
	"     bad size or name, a FILE that cannot be opened or has a syntax\n"
	"     error\n"
	"  3  bad device: missing, not a block device, too small, read-only\n"
	"  4  NAME not found, or not a cbw device\n"
	"  5  not a device-mapper device (snapshot, release DMDEV)\n"
	"  6  busy: the device is in use, already under a snapshot, the name\n"
	"     is taken, or the image file exists; bitmap: NAME is not in\n"
	"     incremental set-up\n"
	"  7  bad range or bitmap: outside the device, or not whole chunks\n"
	"  8  partial: backup wrote the image, but some chunks could not be\n"
	"     read (the report lists them)\n";

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

int usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cbwctl: %s%s", cmd ? cmd->name : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, " (see 'cbwctl %s --help')\n", cmd->name);
	else
		fputs(" (see 'cbwctl --help')\n", stderr);
	return CBW_EXIT_USAGE;
}

int check_name(const struct command *cmd, const char *name, bool for_create)
{
	const char *why = name_check(name, for_create);

	if (why)
		return usage_error(cmd, "invalid NAME '%s': %s", name, why);
	return CBW_EXIT_OK;
}

/* create */

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
				 struct create_opts *c, int opt,
				 const char *arg)
{
	const char *why;

	switch (opt) {
	case OPT_TIMEOUT:
		why = decimal_parse(arg, CBW_MAX_TIMEOUT_MS, &c->timeout_ms);
		if (why)
			return usage_error(cmd, "invalid --timeout '%s': %s (want milliseconds, 0 to %llu)",
					   arg, why, CBW_MAX_TIMEOUT_MS);
		return CBW_EXIT_OK;
	case OPT_ON_ERROR:
		if (!cbw_policy_parse(arg, &c->policy))
			return usage_error(cmd, "invalid --on-error '%s': want fail, break or drop",
					   arg);
		return CBW_EXIT_OK;
	case OPT_NO_DISCARD_PASSDOWN:
		c->no_discard_passdown = true;
		return CBW_EXIT_OK;
	case OPT_BITMAP:
		if (!*arg)
			return usage_error(cmd, "--bitmap needs a file name");
		c->bitmap = arg;
		return CBW_EXIT_OK;
	case OPT_BITMAP_FORMAT:
		c->bitmap_format_option = true;
		return format_option(cmd, "--bitmap-format", arg,
				     &c->bitmap_format);
	case OPT_ERA_BLOCK_SIZE:
		return era_block_option(cmd, arg, &c->era_block_sectors);
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int create_option(const struct command *cmd, void *opts,
			 int opt, const char *arg)
{
	struct create_opts *c = opts;
	const char *why;
	uint64_t bytes;

	switch (opt) {
	case OPT_ORIGIN:
	case OPT_COW:
		if (!*arg)
			return usage_error(cmd, "--%s needs a device path",
					   opt == OPT_ORIGIN ? "origin" : "cow");
		*(opt == OPT_ORIGIN ? &c->origin : &c->cow) = arg;
		return CBW_EXIT_OK;
	case OPT_CHUNK:
		why = size_parse(arg, &bytes);
		if (!why)
			why = chunk_size_check(bytes);
		if (why)
			return usage_error(cmd, "invalid chunk size '%s': %s",
					   arg, why);
		c->chunk_bytes = bytes;
		return CBW_EXIT_OK;
	}
	return create_feature_option(cmd, c, opt, arg);
}

static int create_run(const struct command *cmd, void *opts,
		      char **args, int nargs)
{
	struct create_opts *c = opts;
	int r;

	(void)nargs;
	c->name = args[0];
	r = check_name(cmd, c->name, true);
	if (r)
		return r;
	if (!c->origin)
		return usage_error(cmd, "--origin DEV is required");
	if (!c->cow)
		return usage_error(cmd, "--cow DEV is required");
	if (!c->bitmap && (c->bitmap_format_option || c->era_block_sectors))
		return usage_error(cmd, "%s needs --bitmap FILE",
				   c->era_block_sectors ? "--era-block-size" :
				   "--bitmap-format");
	if (!c->chunk_bytes)
		c->chunk_bytes = CHUNK_DEFAULT_BYTES;
	return cbw_create(c);
}

/* remove */

static const struct option remove_options[] = {
	HELP_OPTION,
	OPTIONS_END
};

static int remove_run(const struct command *cmd, void *opts,
		      char **args, int nargs)
{
	struct remove_opts *rm = opts;
	int r;

	(void)nargs;
	rm->name = args[0];
	r = check_name(cmd, rm->name, false);
	if (r)
		return r;
	return cbw_remove(rm);
}

/* status */

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
	.opts_size = sizeof(struct create_opts),
	.fn = create_run,
};

const struct command cmd_remove = {
	.name = "remove",
	.args = "NAME",
	.help = "remove NAME-snap and NAME",
	.details =
"Remove the snapshot NAME-snap, if it exists, then the cbw device NAME.\n"
"NAME must be a cbw device made by cbwctl (uuid CBW-...); others are\n"
"refused.  If either device is in use (open or mounted), nothing is\n"
"removed.  The origin keeps its current data; the COW device's contents\n"
"are no longer needed.\n"
"\n"
"Options:\n"
"  -h, --help     show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = remove_options,
	.opts_size = sizeof(struct remove_opts),
	.fn = remove_run,
};


static const struct command *const commands[] = {
	&cmd_create,
	&cmd_snapshot,
	&cmd_release,
	&cmd_remove,
	&cmd_status,
	&cmd_set,
	&cmd_bitmap,
	&cmd_map,
	&cmd_discard,
	&cmd_backup,
	&cmd_export,
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void main_help(void)
{
	size_t i;

	printf("Usage: cbwctl [-v] COMMAND [ARGUMENT...]\n"
	       "       cbwctl COMMAND --help\n"
	       "       cbwctl --help | --version\n"
	       "\n"
	       "Copy-before-write snapshots with dm-cbw: the cbw device NAME,\n"
	       "stacked on an origin device, copies old data to a COW device\n"
	       "before it is overwritten, so that the device NAME-snap shows the\n"
	       "origin as it was when NAME was made.  snapshot puts a cbw table\n"
	       "underneath a device-mapper device in use, DMDEV, whose image is\n"
	       "then DMDEV-snap; release takes it away again.  backup copies the\n"
	       "image into a file, export serves it over NBD.\n"
	       "\n"
	       "Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++) {
		int len = printf("  %s %s", commands[i]->name, commands[i]->args);

		if (len > 22)
			printf("\n%24s", "");
		else
			printf("%*s", 24 - len, "");
		printf("%s\n", commands[i]->help);
	}
	printf("\n"
	       "Options:\n"
	       "  -h, --help     show this help\n"
	       "  -V, --version  show the version\n"
	       "  -v, --verbose  show libdevmapper's messages (-vv: debug messages too)\n"
	       "\n%s", exit_status_help);
}

static void command_help(const struct command *cmd)
{
	printf("Usage: cbwctl %s %s\n\n%s\n%s", cmd->name, cmd->args,
	       cmd->details, exit_status_help);
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

/*
 * Report what getopt_long() found wrong (@opt is '?' or ':').  For long
 * options glibc sets optopt to the option's value and moves optind past
 * the option; for an unknown long option optopt is 0; for an unknown short
 * one optopt is the character.  @known_short: our short options.
 */
static int option_error(const struct command *cmd, char **argv, int opt,
			const char *known_short)
{
	const char buf[3] = { '-', (char)optopt, '\0' };

	if (opt == ':')
		return usage_error(cmd, "option '%s' needs a value",
				   argv[optind - 1]);
	if (optopt >= 256 || (optopt && strchr(known_short, optopt)))
		return usage_error(cmd, "option '%s' takes no value",
				   argv[optind - 1]);
	if (optopt)
		return usage_error(cmd, "unknown option '%s'", buf);
	return usage_error(cmd, "unknown or ambiguous option '%s'",
			   argv[optind - 1]);
}

/*
 * The getopt string of @cmd: ':' (report a missing value as ':'), then
 * each option whose value is a character, with ':' if it takes a value.
 */
static void short_options(const struct command *cmd, char *buf, size_t len)
{
	const struct option *o;
	size_t n = 0;

	buf[n++] = ':';
	for (o = cmd->options; o->name && n + 3 < len; o++) {
		if (o->val <= 0 || o->val >= 256 || o->flag)
			continue;
		buf[n++] = (char)o->val;
		if (o->has_arg == required_argument)
			buf[n++] = ':';
	}
	buf[n] = '\0';
}

static int parse_and_run(const struct command *cmd, void *o, int argc,
			 char **argv)
{
	int opt, nargs, r;

	char shorts[64];

	short_options(cmd, shorts, sizeof(shorts));
	optind = 0;		/* start over: this is a new argument vector */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, cmd->options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			command_help(cmd);
			return CBW_EXIT_OK;
		case ':':
		case '?':
			return option_error(cmd, argv, opt, shorts);
		default:
			if (!cmd->set_option)
				return usage_error(cmd, "unhandled option %d", opt);
			r = cmd->set_option(cmd, o, opt, optarg);
			if (r)
				return r;
		}
	}

	nargs = argc - optind;
	if (nargs < cmd->min_args)
		return usage_error(cmd, "missing argument, usage: cbwctl %s %s",
				   cmd->name, cmd->args);
	if (nargs > cmd->max_args)
		return usage_error(cmd, "unexpected argument '%s'",
				   argv[optind + cmd->max_args]);
	return cmd->fn(cmd, o, argv + optind, nargs);
}

static int run_command(const struct command *cmd, int argc, char **argv)
{
	void *o;
	int r;

	o = calloc(1, cmd->opts_size ? cmd->opts_size : 1);
	if (!o) {
		msg_error("out of memory");
		return CBW_EXIT_FAILED;
	}
	r = parse_and_run(cmd, o, argc, argv);
	free(o);
	return r;
}

static const struct option main_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Report a failed write of the output (a full disk, a closed pipe...). */
static int close_stdout(int r)
{
	if (fflush(stdout) || ferror(stdout)) {
		msg_error("cannot write the output: %s", strerror(errno));
		return r ? r : CBW_EXIT_FAILED;
	}
	return r;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	int opt, r, verbose = 0;

	opterr = 0;
	/* '+': stop at the command; what follows is the command's. */
	while ((opt = getopt_long(argc, argv, "+:hvV", main_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			main_help();
			return close_stdout(CBW_EXIT_OK);
		case 'V':
			printf("cbwctl %s\n", CBWCTL_VERSION);
			return close_stdout(CBW_EXIT_OK);
		case 'v':
			verbose++;
			break;
		case ':':
		case '?':
			return option_error(NULL, argv, opt, "hvV");
		default:
			return usage_error(NULL, "unhandled option %d", opt);
		}
	}
	if (optind == argc)
		return usage_error(NULL, "missing command");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);

	cbwdm_init(verbose);
	r = run_command(cmd, argc - optind, argv + optind);
	cbwdm_exit();
	return close_stdout(r);
}
