// SPDX-License-Identifier: GPL-2.0
/*
 * Messages to the user; see msg.h.
 */

#include <stdarg.h>
#include <stdio.h>

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
