// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl track and untrack: the command lines of change tracking under a
 * live device-mapper device (cbw_track() and cbw_untrack() do the work).
 */

#include <stdio.h>
#include <string.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

struct track_cmd {
	struct cbw_track_opts o;
};

enum {
	OPT_CHUNK = 256,
	OPT_STATE,
};

static const struct option track_options[] = {
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK },
	{ "state", required_argument, NULL, OPT_STATE },
	HELP_OPTION,
	OPTIONS_END
};

static int track_option(const struct command *cmd, void *opts, int opt,
			const char *arg)
{
	struct track_cmd *t = opts;

	switch (opt) {
	case OPT_CHUNK:
		return chunk_option(cmd, arg, &t->o.chunk_bytes);
	case OPT_STATE:
		if (!*arg)
			return usage_error(cmd, "--state needs a file name");
		t->o.state_file = arg;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int track_run(const struct command *cmd, void *opts, char **args,
		     int nargs)
{
	struct track_cmd *t = opts;
	struct cbw_track_result res;
	int r;

	(void)nargs;
	t->o.dev = args[0];
	if (!*t->o.dev)
		return usage_error(cmd, "DMDEV is empty");
	r = cbw_track(&t->o, &res);
	if (r < 0)
		return msg_lib_error(r);
	switch (res.start) {
	case CBW_TRACK_CONTINUED:
		printf("%s: tracking continues history %s at generation %llu (%llu chunks changed restored)\n",
		       args[0], res.uuid, (unsigned long long)res.generation,
		       (unsigned long long)res.restored_chunks);
		return CBW_EXIT_OK;
	case CBW_TRACK_NEW_UNTRUSTED:
		fprintf(stderr,
			"cbwctl: track: warning: %s\n"
			"cbwctl: track: warning: %s starts a NEW tracking history %s: the next backup must be a FULL one (cbwctl backup --incremental without --prev)\n",
			res.why_new, args[0], res.uuid);
		printf("%s: tracking, new history %s at generation %llu\n",
		       args[0], res.uuid, (unsigned long long)res.generation);
		return CBW_EXIT_NEW_HISTORY;
	default:
		printf("%s: tracking, new history %s at generation %llu\n",
		       args[0], res.uuid, (unsigned long long)res.generation);
		return CBW_EXIT_OK;
	}
}

const struct command cmd_track = {
	.name = "track",
	.args = "DMDEV [--chunk-size SIZE] [--state FILE]",
	.help = "start change tracking under the live dm device DMDEV",
	.details =
"Start tracking the changes of DMDEV, a device-mapper device in use,\n"
"without stopping it (the insertion of 'cbwctl snapshot', without a\n"
"snapshot): its table moves to the new hidden device DMDEV-real, and DMDEV\n"
"gets the track-only table 'cbw DMDEV-real - CHUNK 1 track', which marks\n"
"every chunk a write, write-zeroes or discard changes and copies nothing.\n"
"'cbwctl snapshot --incremental DMDEV --cow DEV' then takes a snapshot of\n"
"just the changed chunks, for 'cbwctl backup --incremental'.  End tracking\n"
"with 'cbwctl untrack DMDEV'.  Prints the tracking history's uuid and\n"
"generation ('cbwctl status --track' shows them too).\n"
"\n"
"A new history starts with every chunk marked changed: its first\n"
"incremental snapshot holds the whole device, and its backup is the full\n"
"one the chain starts with.  A history continued from --state FILE holds\n"
"the chunks changed since its last committed snapshot.\n"
"\n"
"Options:\n"
"  --chunk-size SIZE  the tracking unit, a power of two from 4KiB to 1GiB;\n"
"                     every incremental snapshot and backup uses it.\n"
"                     Default: the state file's, else 64KiB.  (--chunk is\n"
"                     the same.)\n"
"  --state FILE       the state file of 'cbwctl untrack --state FILE': if it\n"
"                     is clean and of DMDEV's size and chunk size, its\n"
"                     changed set and history (uuid, generation) go on.  It\n"
"                     is made active first, so that a stop without untrack\n"
"                     (a crash) leaves it active.  An active or damaged\n"
"                     file, or one of other sizes, starts a new history:\n"
"                     a warning says so, the exit status is 9, and the\n"
"                     next backup must be a full one.  A missing FILE\n"
"                     (the first time) starts a new history quietly.\n"
"  -h, --help         show this help\n"
"\n"
"Exit status 9 (not a failure): tracking runs, with a new history.\n",
	.min_args = 1,
	.max_args = 1,
	.options = track_options,
	.set_option = track_option,
	.opts_size = sizeof(struct track_cmd),
	.fn = track_run,
};

struct untrack_cmd {
	const char *state_file;
};

static const struct option untrack_options[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	HELP_OPTION,
	OPTIONS_END
};

static int untrack_option(const struct command *cmd, void *opts, int opt,
			  const char *arg)
{
	struct untrack_cmd *u = opts;

	if (opt == OPT_STATE) {
		if (!*arg)
			return usage_error(cmd, "--state needs a file name");
		u->state_file = arg;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int untrack_run(const struct command *cmd, void *opts, char **args,
		       int nargs)
{
	struct untrack_cmd *u = opts;

	(void)nargs;
	if (!*args[0])
		return usage_error(cmd, "DMDEV is empty");
	return msg_lib_error(cbw_untrack(args[0], u->state_file));
}

const struct command cmd_untrack = {
	.name = "untrack",
	.args = "DMDEV [--state FILE]",
	.help = "end change tracking under DMDEV, give DMDEV its table back",
	.details =
"End the tracking that 'cbwctl track' started under DMDEV: give DMDEV its\n"
"own table back (a suspend and a resume) and remove DMDEV-real.  A track\n"
"snapshot must be released first ('cbwctl release DMDEV').\n"
"\n"
"With --state FILE the changed set and the history's identity are saved:\n"
"DMDEV is suspended, its changed set read while no write can reach it,\n"
"then DMDEV resumes with its own table, and FILE is written (FILE.tmp,\n"
"fsync, rename, fsync of the folder) as 'clean'.  'cbwctl track --state\n"
"FILE DMDEV' continues the history at the next activation (after a\n"
"reboot), so the next backup can still be incremental.  Nothing is\n"
"written while DMDEV is suspended, so FILE may live on DMDEV.  If FILE\n"
"cannot be written, DMDEV is untracked all the same, the command fails,\n"
"and the next 'track --state' starts a new history.\n"
"\n"
"The file (text): 'cbw-track-state 1', then uuid, generation,\n"
"chunk-sectors, device-sectors, state clean|active, changed N (chunks),\n"
"the ranges one per line (N or N-M), 'end'.  See cbwctl(8).\n"
"\n"
"Options:\n"
"  --state FILE   save the changed set and the history to FILE\n"
"  -h, --help     show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = untrack_options,
	.set_option = untrack_option,
	.opts_size = sizeof(struct untrack_cmd),
	.fn = untrack_run,
};
