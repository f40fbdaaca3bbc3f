// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of map_message.c: the parser of "map" replies on good and
 * malformed replies (each rule of map_message.h broken once), and the
 * walk through a map of several replies, against a fake cbwdm_message()
 * that plays the kernel.  The walk says why it failed with lib_error()
 * and prints nothing.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm.h"
#include "error.h"
#include "map_message.h"
#include "tap.h"

#define MAX_RUNS 8

static const struct {
	const char *reply;
	uint64_t from;
	uint64_t chunks;
	const char *runs;	/* the runs found, as "a-b a-b" */
	uint64_t next;
} good[] = {
	{ "end", 0, 10, "", 10 },
	{ "0-9 end", 0, 10, "0-9", 10 },
	{ "0-0 end", 0, 1, "0-0", 1 },
	{ "0-1 4-9 end", 0, 10, "0-1 4-9", 10 },
	{ "0-1 4-9 11-1023 end", 0, 1024, "0-1 4-9 11-1023", 1024 },
	{ "0-1 2-3 end", 0, 10, "0-1 2-3", 10 },	/* adjacent: harmless */
	{ "5-5 end", 5, 10, "5-5", 10 },
	{ "7-8 end", 5, 10, "7-8", 10 },
	{ "end", 9, 10, "", 10 },
	{ "0-1 more 2", 0, 10, "0-1", 2 },
	{ "0-1 4-5 more 6", 0, 10, "0-1 4-5", 6 },
	{ "3-3 more 7", 2, 10, "3-3", 7 },
	{ "4-5 more 9", 4, 10, "4-5", 9 },
	{ "more 5", 0, 10, "", 5 },
	{ "more 70", 3, 100, "", 70 },
	{ "10-20 more 21", 7, 100, "10-20", 21 },
	{ "0-17179869183 end", 0, 17179869184ULL, "0-17179869183",
	  17179869184ULL },
	{ "0-18446744073709551614 end", 0, UINT64_MAX,
	  "0-18446744073709551614", UINT64_MAX },
};

static const struct {
	const char *reply;
	uint64_t from;
	uint64_t chunks;
} bad[] = {
	{ "", 0, 10 },
	{ " end", 0, 10 },
	{ "end ", 0, 10 },
	{ "end\n", 0, 10 },
	{ "END", 0, 10 },
	{ "0-1", 0, 10 },			/* no end */
	{ "0-1 ", 0, 10 },
	{ "0-1  end", 0, 10 },
	{ "0-1\tend", 0, 10 },
	{ "0-1 end x", 0, 10 },
	{ "0-1 end ", 0, 10 },
	{ "0-1 end end", 0, 10 },
	{ "1-0 end", 0, 10 },			/* backwards */
	{ "0-10 end", 0, 10 },			/* past the last chunk */
	{ "10-10 end", 0, 10 },
	{ "5-6 3-4 end", 0, 10 },		/* out of order */
	{ "0-5 5-6 end", 0, 10 },		/* overlap */
	{ "2-3 end", 3, 10 },			/* before from */
	{ "3-4 end", 5, 10 },
	{ "more 0", 0, 10 },			/* no progress */
	{ "more 3", 3, 10 },
	{ "0-1 more 1", 0, 10 },		/* points back */
	{ "0-1 more 10", 0, 10 },		/* past the last chunk */
	{ "more", 0, 10 },
	{ "more ", 0, 10 },
	{ "more x", 0, 10 },
	{ "more 5 end", 0, 10 },
	{ "more 5 ", 0, 10 },
	{ "more -5", 0, 10 },
	{ "0-1 mor 2", 0, 10 },
	{ "-1-2 end", 0, 10 },
	{ "+1-2 end", 0, 10 },
	{ "0x1-2 end", 0, 10 },
	{ "0-18446744073709551615 end", 0, UINT64_MAX },	/* past the last */
	{ "0-18446744073709551616 end", 0, UINT64_MAX },
	{ "0-1,end", 0, 10 },
	{ "0 end", 0, 10 },
	{ "0- end", 0, 10 },
	{ "-0 end", 0, 10 },
	{ "a-b end", 0, 10 },
	{ "0-1\nend", 0, 10 },
	{ "0--1 end", 0, 10 },
	{ "0-0 1-1 2-2 3-3 4-4 5-5 6-6 7-7 8-8 end", 0, 10 },	/* > MAX_RUNS */
};

/* The runs as "a-b a-b". */
static void runs_text(const struct chunk_run *runs, size_t count, char *buf,
		      size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < count && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%" PRIu64 "-%" PRIu64,
			      i ? " " : "", runs[i].first, runs[i].last);
}

static void test_parse(void)
{
	struct chunk_run runs[MAX_RUNS];
	char got[256], q[256];
	const char *why;
	uint64_t next;
	size_t i, count;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = snapmap_parse(good[i].reply, good[i].from, good[i].chunks,
				    runs, MAX_RUNS, &count, &next);
		if (!why)
			runs_text(runs, count, got, sizeof(got));
		tap_ok(!why && !strcmp(got, good[i].runs) && next == good[i].next,
		       "\"%s\" from %" PRIu64 " of %" PRIu64 ": runs '%s', next %" PRIu64,
		       tap_quote(good[i].reply, q, sizeof(q)), good[i].from,
		       good[i].chunks, good[i].runs, good[i].next);
		if (why)
			tap_diag("refused: %s", why);
		else if (strcmp(got, good[i].runs) || next != good[i].next)
			tap_diag("got runs '%s', next %" PRIu64, got, next);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = snapmap_parse(bad[i].reply, bad[i].from, bad[i].chunks,
				    runs, MAX_RUNS, &count, &next);
		tap_ok(why, "\"%s\" from %" PRIu64 " of %" PRIu64 " refused%s%s",
		       tap_quote(bad[i].reply, q, sizeof(q)), bad[i].from,
		       bad[i].chunks, why ? ": " : "", why ? why : "");
	}
}

/*
 * The fake kernel: replies[i] answers "map <from[i]>"; a NULL reply fails
 * the message with EINVAL.  Every message is logged in sent[].
 */
static const char *const *fake_from;
static const char *const *fake_replies;
static char sent[16][32];
static int nr_sent;

bool cbwdm_message(const char *name, const char *message, char **result,
		   int *err)
{
	int i;

	(void)name;
	if (nr_sent < 16)
		snprintf(sent[nr_sent++], sizeof(sent[0]), "%s", message);
	*result = NULL;
	*err = 0;
	for (i = 0; fake_from[i]; i++) {
		if (strcmp(message, fake_from[i]))
			continue;
		if (!fake_replies[i]) {
			*err = EINVAL;
			return false;
		}
		*result = strdup(fake_replies[i]);
		return *result != NULL;
	}
	*err = ENOTTY;
	return false;
}

const char *cbwdm_error(void)
{
	return "fake error";
}

/* The error the walk left (cbw_get_error()), and what it printed. */
static char errors[512];
static char printed[512];

/*
 * Walk the fake map; the runs (or "error") and the messages sent.  The
 * walk's error goes to errors[], its stderr (nothing) to printed[].
 */
static void walk(uint64_t chunks, char *runs, size_t len, char *msgs,
		 size_t mlen)
{
	struct snapmap m;
	struct chunk_run run;
	size_t n = 0, k = 0;
	FILE *err = tmpfile();
	int got, i, saved;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	if (err)
		dup2(fileno(err), STDERR_FILENO);
	nr_sent = 0;
	runs[0] = msgs[0] = '\0';
	lib_error_reset();
	snapmap_init(&m, "fake", chunks);
	while ((got = snapmap_next(&m, &run)) > 0)
		n += snprintf(runs + n, len - n, "%s%" PRIu64 "-%" PRIu64,
			      n ? " " : "", run.first, run.last);
	if (got < 0)
		snprintf(runs + n, len - n, "%serror", n ? " " : "");
	/* A walk that ended stays ended, without more messages. */
	if (got == 0 && snapmap_next(&m, &run) != 0)
		snprintf(runs + n, len - n, " not-ended");
	snapmap_release(&m);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	snprintf(errors, sizeof(errors), "%s", cbw_get_error());
	printed[0] = '\0';
	if (err) {
		rewind(err);
		printed[fread(printed, 1, sizeof(printed) - 1, err)] = '\0';
		fclose(err);
	}
	for (i = 0; i < nr_sent; i++)
		k += snprintf(msgs + k, mlen - k, "%s%s", i ? "," : "", sent[i]);
}

static void test_walk(void)
{
	static const char *const from1[] = { "map 0", "map 2", "map 6", NULL };
	static const char *const replies1[] = { "0-1 more 2", "4-5 more 6",
						"8-9 end" };
	static const char *const from2[] = { "map 0", NULL };
	static const char *const replies2[] = { "end" };
	static const char *const from3[] = { "map 0", "map 3", NULL };
	static const char *const replies3[] = { "0-2 more 3", NULL };
	static const char *const from4[] = { "map 0", "map 3", NULL };
	static const char *const replies4[] = { "0-2 more 3", "1-1 end" };
	static const char *const from5[] = { "map 0", NULL };
	static const char *const replies5[] = { "0-4095 end" };
	char runs[256], msgs[256];

	fake_from = from1;
	fake_replies = replies1;
	walk(10, runs, sizeof(runs), msgs, sizeof(msgs));
	tap_ok(!strcmp(runs, "0-1 4-5 8-9"), "walk over three replies: '%s'", runs);
	tap_ok(!strcmp(msgs, "map 0,map 2,map 6"), "messages sent: %s", msgs);

	fake_from = from2;
	fake_replies = replies2;
	walk(10, runs, sizeof(runs), msgs, sizeof(msgs));
	tap_ok(!strcmp(runs, "") && !strcmp(msgs, "map 0"),
	       "an empty map: no run, one message ('%s', %s)", runs, msgs);

	tap_ok(!errors[0], "and no message");

	fake_from = from3;
	fake_replies = replies3;
	walk(10, runs, sizeof(runs), msgs, sizeof(msgs));
	tap_ok(!strcmp(runs, "0-2 error"), "a failed message ends the walk: '%s'", runs);
	tap_ok(!strcmp(errors, "cannot read the map of fake ('map 3'): Invalid argument"),
	       "with one line: %s", errors);
	tap_ok(!printed[0], "printing nothing");

	fake_from = from4;
	fake_replies = replies4;
	walk(10, runs, sizeof(runs), msgs, sizeof(msgs));
	tap_ok(!strcmp(runs, "0-2 error"),
	       "a reply that goes back is an error: '%s'", runs);
	tap_ok(!strncmp(errors, "fake: unexpected reply to 'map 3': ", 35) &&
	       !strchr(errors, '\n'),
	       "with one line: %s", errors);
	tap_ok(!printed[0], "printing nothing");

	fake_from = from5;
	fake_replies = replies5;
	walk(4096, runs, sizeof(runs), msgs, sizeof(msgs));
	tap_ok(!strcmp(runs, "0-4095"), "one run over the whole device: '%s'", runs);
}

int main(void)
{
	test_parse();
	test_walk();
	return tap_done();
}
