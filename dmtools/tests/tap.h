/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough TAP (Test Anything Protocol, version 13) for cbwctl's unit
 * tests: one "ok N - what" or "not ok N - what" line per check, "# ..."
 * diagnostics, and the plan "1..N" at the end.  tap_quote() keeps test
 * inputs with newlines or '#' from breaking the lines.  tap_done() returns the
 * exit status: 0 when every check passed.
 */
#ifndef CBWCTL_TAP_H
#define CBWCTL_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3)))
static inline bool tap_ok(bool pass, const char *fmt, ...)
{
	va_list ap;

	if (!tap_count)
		printf("TAP version 13\n");
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return pass;
}

__attribute__((format(printf, 1, 2)))
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/*
 * @s made safe for a test description: control characters as \n, \t or
 * \xNN and '#' (which starts a TAP directive) as \#.  Returns @buf.
 */
static inline const char *tap_quote(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s && n + 5 < len; s++) {
		unsigned char c = *s;

		if (c == '\n')
			n += snprintf(buf + n, len - n, "\\n");
		else if (c == '\t')
			n += snprintf(buf + n, len - n, "\\t");
		else if (c == '#')
			n += snprintf(buf + n, len - n, "\\#");
		else if (c < 0x20 || c == 0x7f)
			n += snprintf(buf + n, len - n, "\\x%02x", c);
		else
			buf[n++] = c;
	}
	buf[n] = '\0';
	return buf;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		tap_diag("%d of %d checks failed", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

#endif /* CBWCTL_TAP_H */
