// SPDX-License-Identifier: GPL-2.0
/*
 * test_msg - cbwctl's error lines: libcbw's "libdevmapper failed without
 * a message" gets cbwctl's own advice " (try -vv)" (the library names no
 * option of the tool), printed at once or held, and nothing else changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libcbw.h>
#include "msg.h"
#include "tap.h"

static char out[4096];

/* Log @msg as a libcbw reason; what cbwctl wrote to stderr, one line. */
static const char *logged(const char *msg, bool hold)
{
	FILE *f = tmpfile();
	size_t n;
	int saved = dup(2);

	if (!f || saved < 0)
		return "(no temporary file)";
	fflush(stderr);
	dup2(fileno(f), 2);
	if (hold)
		msg_hold();
	msg_dm_log(CBW_LOG_REASON, msg, NULL);
	if (hold)
		msg_lib_error(-1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	if (n && out[n - 1] == '\n')	/* one line: compared without it */
		out[n - 1] = '\0';
	fclose(f);
	return out;
}

int main(void)
{
	tap_ok(!strcmp(logged("cannot remove x: libdevmapper failed without a message; remove it with 'cbwctl remove x'", false),
		       "cbwctl: cannot remove x: libdevmapper failed without a message (try -vv); remove it with 'cbwctl remove x'"),
	       "the hint inside a line: '%s'", out);
	tap_ok(!strcmp(logged("cannot resume d: libdevmapper failed without a message", true),
		       "cbwctl: cannot resume d: libdevmapper failed without a message (try -vv)"),
	       "the hint at the end of a held line: '%s'", out);
	tap_ok(!strcmp(logged("cannot open x: No such device", false),
		       "cbwctl: cannot open x: No such device"),
	       "other lines as they come: '%s'", out);
	tap_ok(!strcmp(msg_dm_error(),
		       "libdevmapper failed without a message (try -vv)"),
	       "msg_dm_error() without a message: '%s'", msg_dm_error());
	return tap_done();
}
