// SPDX-License-Identifier: GPL-2.0
/*
 * The library's last error; see error.h.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* Room for the cause and a few lines on what undoing it found. */
static char error_text[4096];
static int error_errno;

void lib_begin(void)
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
	va_list ap;

	if (len && len + 1 < sizeof(error_text))
		error_text[len++] = '\n';
	if (len + 1 >= sizeof(error_text))
		return;
	va_start(ap, fmt);
	vsnprintf(error_text + len, sizeof(error_text) - len, fmt, ap);
	va_end(ap);
}

const char *cbw_get_error(void)
{
	return error_text;
}

int cbw_get_errno(void)
{
	return error_errno;
}
