// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl set: change a cbw device's copy timeout and error policy while
 * it runs, with the target's "timeout" and "on_error" messages.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "commands.h"
#include "dm.h"
#include "msg.h"
#include "size.h"
#include "status_line.h"

struct set_opts {
	const char *name;
	bool has_timeout;
	uint64_t timeout_ms;
	bool has_policy;
	enum cbw_policy policy;
};

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
	return !decimal_parse(arg, CBW_MAX_TIMEOUT_MS, ms);
}

static int set_option(const struct command *cmd, void *opts, int opt,
		      const char *arg)
{
	struct set_opts *s = opts;

	switch (opt) {
	case OPT_TIMEOUT:
		if (!parse_timeout(arg, &s->timeout_ms))
			return usage_error(cmd, "invalid timeout '%s': milliseconds from 0 (none) to %llu",
					   arg, CBW_MAX_TIMEOUT_MS);
		s->has_timeout = true;
		return CBW_EXIT_OK;
	case OPT_ON_ERROR:
		if (!cbw_policy_parse(arg, &s->policy))
			return usage_error(cmd, "invalid error policy '%s': fail, break or drop",
					   arg);
		s->has_policy = true;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

/* Send one setting's message; return an exit code. */
static int send(const char *name, const char *message)
{
	int err;

	if (cbwdm_message(name, message, NULL, &err))
		return CBW_EXIT_OK;
	msg_error("%s refused '%s': %s (see dmesg)", name, message,
		  err ? strerror(err) : cbwdm_error());
	return CBW_EXIT_FAILED;
}

static int set_run(const struct command *cmd, void *opts, char **args,
		   int nargs)
{
	struct set_opts *s = opts;
	struct cbw_dev d;
	char message[64];
	int r;

	(void)nargs;
	s->name = args[0];
	r = check_name(cmd, s->name, false);
	if (r)
		return r;
	if (!s->has_timeout && !s->has_policy)
		return usage_error(cmd, "nothing to set: give --timeout and/or --on-error");

	r = cbw_find(s->name, false, &d);
	if (r)
		return r;
	cbw_dev_release(&d);

	if (s->has_timeout) {
		snprintf(message, sizeof(message), "timeout %" PRIu64,
			 s->timeout_ms);
		r = send(s->name, message);
	}
	if (!r && s->has_policy) {
		snprintf(message, sizeof(message), "on_error %s",
			 cbw_policy_name(s->policy));
		r = send(s->name, message);
	}
	return r;
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
	.opts_size = sizeof(struct set_opts),
	.set_option = set_option,
	.fn = set_run,
};
