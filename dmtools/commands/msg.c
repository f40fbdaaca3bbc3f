// SPDX-License-Identifier: GPL-2.0
/*
 * Messages to the user and exit codes; see msg.h.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * The lines of libcbw's errors (CBW_LOG_REASON) are printed as they come,
 * as cbwctl printed its errors before the library; between msg_hold() and
 * the next msg_lib_error() or msg_lib_drop() they are kept here instead.
 */
static bool holding;
static char **held;
static size_t nr_held, held_size;

void msg_hold(void)
{
	holding = true;
}

/* Keep @line; print it if there is no memory to keep it. */
static void hold_line(const char *line)
{
	char **bigger, *copy;
	size_t size;

	if (nr_held == held_size) {
		size = held_size ? 2 * held_size : 4;
		bigger = realloc(held, size * sizeof(*held));
		if (!bigger) {
			msg_error("%s", line);
			return;
		}
		held = bigger;
		held_size = size;
	}
	copy = strdup(line);
	if (!copy) {
		msg_error("%s", line);
		return;
	}
	held[nr_held++] = copy;
}

/* Print the held lines if @print, forget them, stop holding. */
static void release_held(bool print)
{
	size_t i;

	for (i = 0; i < nr_held; i++) {
		if (print)
			msg_error("%s", held[i]);
		free(held[i]);
	}
	free(held);
	held = NULL;
	nr_held = held_size = 0;
	holding = false;
}

int msg_lib_error(int r)
{
	release_held(true);
	return exit_code(r);
}

int msg_lib_drop(int r)
{
	release_held(false);
	return exit_code(r);
}

int msg_verbose;
static char dm_error[512];

/*
 * libcbw says CBW_DM_NO_MESSAGE when libdevmapper gave no message;
 * cbwctl adds its own advice, " (try -vv)", after it, as it always did.
 * Returns @msg itself when there is nothing to add (or no memory to add
 * it), else a copy to free().
 */
#define DM_NO_MESSAGE CBW_DM_NO_MESSAGE
#define DM_NO_MESSAGE_HINT " (try -vv)"

static char *add_hint(const char *msg)
{
	const char *at = strstr(msg, DM_NO_MESSAGE);
	size_t head, len;
	char *line;

	if (!at)
		return (char *)msg;
	head = at - msg + strlen(DM_NO_MESSAGE);
	len = strlen(msg) + strlen(DM_NO_MESSAGE_HINT);
	line = malloc(len + 1);
	if (!line)
		return (char *)msg;
	memcpy(line, msg, head);
	strcpy(line + head, DM_NO_MESSAGE_HINT);
	strcat(line, msg + head);
	return line;
}

void msg_dm_log(int level, const char *msg, void *data)
{
	char *line;

	(void)data;
	if (level == CBW_LOG_OUTPUT) {
		printf("%s\n", msg);
		return;
	}
	if (level == CBW_LOG_REASON) {
		line = add_hint(msg);
		if (holding)
			hold_line(line);
		else
			msg_error("%s", line);
		if (line != msg)
			free(line);
		return;
	}
	if (level <= CBW_LOG_ERROR && !dm_error[0])
		snprintf(dm_error, sizeof(dm_error), "%s", msg);
	if (msg_verbose >= 2 || (msg_verbose == 1 && level <= CBW_LOG_NOTICE))
		fprintf(stderr, "cbwctl: libdevmapper: %s\n", msg);
}

const char *msg_dm_error(void)
{
	return dm_error[0] ? dm_error : DM_NO_MESSAGE DM_NO_MESSAGE_HINT;
}

void msg_dm_clear(void)
{
	dm_error[0] = '\0';
}
