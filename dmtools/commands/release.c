// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl release: the command line that ends a snapshot started by cbwctl
 * snapshot (cbw_release() does the work).
 */

#include <stdbool.h>
#include <string.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

struct release_cmd {
	bool commit;		/* --commit: commit the track snapshot's set */
};

enum {
	OPT_COMMIT = 256,
};

static const struct option release_options[] = {
	{ "commit", no_argument, NULL, OPT_COMMIT },
	HELP_OPTION,
	OPTIONS_END
};

static int release_option(const struct command *cmd, void *opts, int opt,
			  const char *arg)
{
	struct release_cmd *c = opts;

	(void)arg;
	if (opt == OPT_COMMIT) {
		c->commit = true;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int release_run(const struct command *cmd, void *opts, char **args,
		       int nargs)
{
	struct release_cmd *c = opts;
	const char *name = args[0];
	int r;

	(void)nargs;
	if (!*args[0])
		return usage_error(cmd, "DMDEV is empty");
	if (c->commit) {
		/* The commit message goes to the device by its name. */
		if (!strncmp(name, "/dev/mapper/", 12))
			name += 12;
		if (strchr(name, '/'))
			return usage_error(cmd, "--commit takes DMDEV as a device-mapper name or /dev/mapper/NAME");
		r = cbw_track_commit(name, NULL, 0);
		if (r < 0)
			return msg_lib_error(r);
	}
	return msg_lib_error(cbw_release(args[0]));
}

const struct command cmd_release = {
	.name = "release",
	.args = "DMDEV [--commit]",
	.help = "end the snapshot under DMDEV, give DMDEV its table back",
	.details =
"End the snapshot that 'cbwctl snapshot' started under DMDEV: remove\n"
"DMDEV-snap, give DMDEV its own table back (a suspend and a resume: a\n"
"filesystem on it is frozen for that long) and remove DMDEV-real.\n"
"Afterwards 'dmsetup table DMDEV' shows what it showed before the\n"
"snapshot.  If DMDEV-snap is in use (open or mounted), nothing is changed;\n"
"if a later step fails, DMDEV-snap is made again and the snapshot goes on.\n"
"For a cbw device made by 'cbwctl create', use 'cbwctl remove'.\n"
"\n"
"A track snapshot ('cbwctl snapshot --incremental') goes back to the\n"
"track-only table instead, and tracking goes on (DMDEV-real stays).  Its\n"
"set of changed chunks merges back into the changed set, so that the next\n"
"incremental snapshot holds them again (a failed or cancelled backup loses\n"
"nothing), unless --commit says the backup has them: then they are\n"
"forgotten.  A tracked DMDEV without a snapshot is ended with 'cbwctl\n"
"untrack'.\n"
"\n"
"Options:\n"
"  --commit       a track snapshot only: commit its set first (after a\n"
"                 complete backup); if the commit fails, nothing changes\n"
"  -h, --help     show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = release_options,
	.set_option = release_option,
	.opts_size = sizeof(struct release_cmd),
	.fn = release_run,
};
