// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl discard: take a range of whole chunks out of the snapshot of
 * NAME (a discard on NAME-snap): reads of them fail from then on, their
 * COW slots are freed, and guest writes to them copy nothing.  For a
 * backup agent that has read them some other way (cbw_discard()).
 */

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

struct discard_opts {
	uint64_t offset;	/* bytes */
	uint64_t length;	/* bytes */
};

static const struct option discard_options[] = {
	HELP_OPTION,
	OPTIONS_END
};

static int discard_cmd(const struct command *cmd, void *opts, char **args,
		       int nargs)
{
	struct discard_opts *o = opts;
	const char *why;
	int r;

	(void)nargs;
	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	why = cbw_size_parse(args[1], &o->offset);
	if (why)
		return usage_error(cmd, "invalid OFFSET '%s': %s", args[1], why);
	why = cbw_size_parse(args[2], &o->length);
	if (why)
		return usage_error(cmd, "invalid LENGTH '%s': %s", args[2], why);
	return msg_lib_error(cbw_discard(args[0], o->offset, o->length));
}

const struct command cmd_discard = {
	.name = "discard",
	.args = "NAME OFFSET LENGTH",
	.help = "take whole chunks out of the snapshot of NAME",
	.details =
"Discard LENGTH bytes from OFFSET on NAME-snap: the chunks there leave the\n"
"snapshot of the cbw device NAME.  Reads of them fail from then on, their\n"
"space on the COW device is freed, and later writes to them through NAME\n"
"copy nothing.  Chunks already outside the snapshot stay outside.  This\n"
"is what backup --discard-behind does as it goes, for a backup that reads\n"
"the snapshot some other way.\n"
"\n"
"OFFSET and LENGTH are bytes, or with a suffix: k K KiB, M MiB, G GiB,\n"
"T TiB.  The range must be whole chunks: OFFSET a multiple of the chunk\n"
"size, LENGTH too unless the range ends at the end of the device; not\n"
"empty, and not past the end.  Any other range is refused (exit 7), since\n"
"the kernel would silently discard only the whole chunks inside it.\n"
"\n"
"Options:\n"
"  -h, --help     show this help\n",
	.min_args = 3,
	.max_args = 3,
	.options = discard_options,
	.opts_size = sizeof(struct discard_opts),
	.fn = discard_cmd,
};
