// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl - set up and inspect dm-cbw copy-before-write snapshots.
 *
 * This file is the command line: global options, the command table that
 * drives dispatch and the help texts, and libdevmapper's log.  Each
 * command is a file of its own named after it (create.c, backup.c ...):
 * its options, its help text, one call of libcbw, its output.
 */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

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
	"     read (the report lists them)\n"
	"  9  track --state: tracking runs, but the state file could not\n"
	"     continue its history (a crash, other sizes): the next backup\n"
	"     must be a full one\n";

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
	const char *why = cbw_name_check(name, for_create);

	if (why)
		return usage_error(cmd, "invalid NAME '%s': %s", name, why);
	return CBW_EXIT_OK;
}

int chunk_option(const struct command *cmd, const char *arg, uint64_t *bytes)
{
	const char *why;
	uint64_t n;

	why = cbw_size_parse(arg, &n);
	if (!why)
		why = cbw_chunk_size_check(n);
	if (why)
		return usage_error(cmd, "invalid chunk size '%s': %s", arg, why);
	*bytes = n;
	return CBW_EXIT_OK;
}

static const struct command *const commands[] = {
	&cmd_create,
	&cmd_snapshot,
	&cmd_release,
	&cmd_track,
	&cmd_untrack,
	&cmd_remove,
	&cmd_status,
	&cmd_set,
	&cmd_bitmap,
	&cmd_map,
	&cmd_discard,
	&cmd_backup,
	&cmd_restore,
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
	       "image into a file, export serves it over NBD.  track marks the\n"
	       "chunks DMDEV changes, for incremental snapshots and backups (a\n"
	       "qcow2 chain), which restore writes back.\n"
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

	msg_verbose = verbose;
	cbw_set_log(msg_dm_log, NULL);
	r = run_command(cmd, argc - optind, argv + optind);
	cbw_lib_exit();
	return close_stdout(r);
}
