// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl remove: remove NAME-snap and NAME (cbw_remove()).
 */

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

static const struct option remove_options[] = {
	HELP_OPTION,
	OPTIONS_END
};

static int remove_run(const struct command *cmd, void *opts,
		      char **args, int nargs)
{
	int r;

	(void)opts;
	(void)nargs;
	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	return msg_lib_error(cbw_remove(args[0]));
}

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
	.fn = remove_run,
};
