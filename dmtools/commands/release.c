// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl release: the command line that ends a snapshot started by cbwctl
 * snapshot (cbw_release() does the work).
 */

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

static const struct option release_options[] = {
	HELP_OPTION,
	OPTIONS_END
};

static int release_run(const struct command *cmd, void *opts, char **args,
		       int nargs)
{
	(void)opts;
	(void)nargs;
	if (!*args[0])
		return usage_error(cmd, "DMDEV is empty");
	return msg_lib_error(cbw_release(args[0]));
}

const struct command cmd_release = {
	.name = "release",
	.args = "DMDEV",
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
"Options:\n"
"  -h, --help     show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = release_options,
	.fn = release_run,
};
