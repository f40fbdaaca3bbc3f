// SPDX-License-Identifier: GPL-2.0
/*
 * Messages to the user and exit codes; see msg.h.
 */

#define _GNU_SOURCE		/* strchrnul() */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libcbw.h>

#include "msg.h"

void msg_error(const char *fmt, ...)
{
	va_list ap;

	fputs("cbwctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int exit_code(int r)
{
	if (r >= 0)
		return CBW_EXIT_OK;
	switch (-r) {
	case EINVAL:
		return CBW_EXIT_USAGE;
	case ENODEV:
		return CBW_EXIT_DEVICE;
	case ENOENT:
		return CBW_EXIT_NOTFOUND;
	case ENOTBLK:
		return CBW_EXIT_NOT_DM;
	case EBUSY:
		return CBW_EXIT_BUSY;
	case ERANGE:
		return CBW_EXIT_RANGE;
	}
	return CBW_EXIT_FAILED;
}

int msg_lib_error(int r)
{
	const char *line, *end;

	if (r >= 0)
		return CBW_EXIT_OK;
	for (line = cbw_get_error(); *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		msg_error("%.*s", (int)(end - line), line);
	}
	return exit_code(r);
}

int msg_verbose;
static char dm_error[512];

void msg_dm_log(int level, const char *msg, void *data)
{
	(void)data;
	if (level == CBW_LOG_OUTPUT) {
		printf("%s\n", msg);
		return;
	}
	if (level <= CBW_LOG_ERROR && !dm_error[0])
		snprintf(dm_error, sizeof(dm_error), "%s", msg);
	if (msg_verbose >= 2 || (msg_verbose == 1 && level <= CBW_LOG_NOTICE))
		fprintf(stderr, "cbwctl: libdevmapper: %s\n", msg);
}

const char *msg_dm_error(void)
{
	return dm_error[0] ? dm_error :
		"libdevmapper failed without a message (try -vv)";
}

void msg_dm_clear(void)
{
	dm_error[0] = '\0';
}
