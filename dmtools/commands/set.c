// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl set: change a cbw device's copy timeout and error policy while
 * it runs (cbw_set(): the target's "timeout" and "on_error" messages).
 */

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

enum {
	OPT_TIMEOUT = 256,
	OPT_ON_ERROR,
};

static const struct option set_options[] = {
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "on-error", required_argument, NULL, OPT_ON_ERROR },
	HELP_OPTION,
	OPTIONS_END
};

/* A decimal number of milliseconds up to the target's limit. */
static bool parse_timeout(const char *arg, uint64_t *ms)
{
	return !cbw_decimal_parse(arg, CBW_MAX_TIMEOUT_MS, ms);
}

static int set_option(const struct command *cmd, void *opts, int opt,
		      const char *arg)
{
	struct cbw_settings *s = opts;

	switch (opt) {
	case OPT_TIMEOUT:
		if (!parse_timeout(arg, &s->timeout_ms))
			return usage_error(cmd, "invalid timeout '%s': milliseconds from 0 (none) to %llu",
					   arg, CBW_MAX_TIMEOUT_MS);
		s->set_timeout = true;
		return CBW_EXIT_OK;
	case OPT_ON_ERROR:
		if (!cbw_policy_parse(arg, &s->policy))
			return usage_error(cmd, "invalid error policy '%s': fail, break or drop",
					   arg);
		s->set_policy = true;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int set_run(const struct command *cmd, void *opts, char **args,
		   int nargs)
{
	struct cbw_settings *s = opts;
	int r;

	(void)nargs;
	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	if (!s->set_timeout && !s->set_policy)
		return usage_error(cmd, "nothing to set: give --timeout and/or --on-error");

	return msg_lib_error(cbw_set(args[0], s));
}

const struct command cmd_set = {
	.name = "set",
	.args = "NAME [--timeout MS] [--on-error POLICY]",
	.help = "change the copy timeout or error policy of NAME",
	.details =
"Change the settings of the running cbw device NAME with target messages;\n"
"they apply to copies started (timeout) or failures handled (policy) from\n"
"then on.  They last until the table is reloaded: the table line keeps\n"
"the values it was created with ('dmsetup table' shows those).\n"
"\n"
"Options:\n"
"  --timeout MS         copy timeout in milliseconds, 0 for none, at most\n"
"                       86400000 (one day); a copy not done in time counts\n"
"                       as failed\n"
"  --on-error POLICY    what a failed copy does:\n"
"                         fail   fail the guest's write (EIO; ETIMEDOUT\n"
"                                after a timeout), keep the snapshot\n"
"                         break  let the write through, break the snapshot\n"
"                         drop   let the write through, drop only the\n"
"                                chunks whose copy failed from the snapshot\n"
"  -h, --help           show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = set_options,
	.opts_size = sizeof(struct cbw_settings),
	.set_option = set_option,
	.fn = set_run,
};
