// SPDX-License-Identifier: GPL-2.0
/*
 * The library's last error and the caller's log function; see error.h.
 */

#define _GNU_SOURCE		/* vasprintf() */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/*
 * Room for the cause and a few lines on what undoing it found; a thread's
 * calls have their own error.
 */
static _Thread_local char error_text[4096];
static _Thread_local int error_errno;

/* The log function of cbw_set_log(), for every thread. */
static cbw_log_fn user_log;
static void *user_log_data;

void lib_error_reset(void)
{
	error_text[0] = '\0';
	error_errno = 0;
}

int lib_end(int r)
{
	error_errno = r < 0 ? -r : 0;
	return r;
}

void lib_error(const char *fmt, ...)
{
	size_t len = strlen(error_text);
	char *line;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);

	if (len && len + 1 < sizeof(error_text))
		error_text[len++] = '\n';
	if (len + 1 < sizeof(error_text))
		snprintf(error_text + len, sizeof(error_text) - len, "%s",
			 line ? line : "out of memory for an error message");
	if (line)
		lib_log(CBW_LOG_REASON, line);
	free(line);
}

int lib_einval(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lib_error("%s", line);
	return -EINVAL;
}

const char *cbw_get_error(void)
{
	return error_text;
}

int cbw_get_errno(void)
{
	return error_errno;
}

void lib_log_set(cbw_log_fn fn, void *data)
{
	user_log = fn;
	user_log_data = data;
}

/* lib_log_hold(): the calling thread's lines are kept from user_log. */
static _Thread_local bool log_held;

void lib_log_hold(bool hold)
{
	log_held = hold;
}

void lib_log(int level, const char *msg)
{
	if (level == CBW_LOG_REASON && log_held)
		return;
	if (user_log)
		user_log(level, msg, user_log_data);
}

bool lib_log_wanted(void)
{
	return user_log != NULL;
}
