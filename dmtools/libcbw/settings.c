// SPDX-License-Identifier: GPL-2.0
/*
 * cbw_set(): change a cbw device's copy timeout and error policy while it
 * runs, with the target's "timeout" and "on_error" messages.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "dm.h"
#include "error.h"

/* Send one setting's message; return 0 or -EIO. */
static int send(const char *name, const char *message)
{
	int err;

	if (cbwdm_message(name, message, NULL, &err))
		return 0;
	lib_error("%s refused '%s': %s (see dmesg)", name, message,
		  err ? strerror(err) : cbwdm_error());
	return -EIO;
}

int cbw_set(const char *name, const struct cbw_settings *s)
{
	struct cbw_dev d;
	char message[64];
	int r;

	lib_begin();
	r = check_name_arg(name);
	if (r)
		return lib_end(r);
	if (!s)
		return lib_end(lib_einval("set %s: no settings (NULL)", name));
	if ((!s->set_timeout && !s->set_policy) ||
	    (s->set_timeout && s->timeout_ms > CBW_MAX_TIMEOUT_MS)) {
		lib_error("set %s: nothing to set, or a timeout over one day",
			  name);
		return lib_end(-EINVAL);
	}
	if (s->set_policy && !cbw_policy_name(s->policy))
		return lib_end(lib_einval("set %s: an unknown error policy",
					  name));

	r = cbw_find(name, false, &d);
	if (r)
		return lib_end(r);
	cbw_dev_release(&d);

	if (s->set_timeout) {
		snprintf(message, sizeof(message), "timeout %" PRIu64,
			 s->timeout_ms);
		r = send(name, message);
	}
	if (!r && s->set_policy) {
		snprintf(message, sizeof(message), "on_error %s",
			 cbw_policy_name(s->policy));
		r = send(name, message);
	}
	return lib_end(r);
}
