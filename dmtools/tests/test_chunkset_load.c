// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of map.c and bitmap.c against a fake cbw target (the parser
 * of "map" replies is tested in test_snapmap.c): this file stands in for
 * libdevmapper's cbwdm_message() and keeps the snapshot set as a flat
 * array, answering "map", "add", "remove" and "start" the way
 * Documentation/dm-cbw.rst says the target does, with a small answer
 * buffer so that maps come in parts, and with failures on demand.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chunkset_load.h"
#include "dm.h"
#include "map_read.h"
#include "error.h"
#include "chunk_runs.h"
#include "tap.h"

#define MAX_CHUNKS	10000

static struct {
	bool set[MAX_CHUNKS];
	uint64_t chunks;
	bool setup;		/* in incremental set-up */
	int runs_per_answer;	/* how many runs fit a map answer */
	int messages;		/* messages received */
	int fail_at;		/* fail this message (1-based), 0: none */
	int fail_errno;
	const char *answer[4];	/* fixed map answers in turn, NULL: the real one */
	int answered;		/* fixed answers given */
	size_t longest;		/* the longest message */
	char verbs[256];	/* the verbs received, one letter each */
} fake;

static char last_error[512];
static int errors;

void lib_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errors++;
}

const char *cbwdm_error(void)
{
	return "fake error";
}

static void fake_reset(uint64_t chunks, bool setup)
{
	memset(&fake, 0, sizeof(fake));
	fake.chunks = chunks;
	fake.setup = setup;
	fake.runs_per_answer = 3;
	errors = 0;
	last_error[0] = '\0';
}

static void fake_set(uint64_t first, uint64_t last)
{
	while (first <= last)
		fake.set[first++] = true;
}

/* The answer to "map @from", as the target makes it. */
static char *fake_map(uint64_t from)
{
	char *buf = malloc(4096);
	size_t n = 0;
	int runs = 0;
	uint64_t s;

	if (fake.answered < 4 && fake.answer[fake.answered]) {
		strcpy(buf, fake.answer[fake.answered++]);
		return buf;
	}
	while (from < fake.chunks && runs < fake.runs_per_answer) {
		for (s = from; s < fake.chunks && !fake.set[s]; s++)
			;
		if (s >= fake.chunks) {
			from = fake.chunks;
			break;
		}
		for (from = s; from < fake.chunks && fake.set[from]; from++)
			;
		n += snprintf(buf + n, 4096 - n, "%s%" PRIu64 "-%" PRIu64,
			      n ? " " : "", s, from - 1);
		runs++;
	}
	if (from < fake.chunks)
		snprintf(buf + n, 4096 - n, "%smore %" PRIu64, n ? " " : "", from);
	else
		snprintf(buf + n, 4096 - n, "%send", n ? " " : "");
	return buf;
}

/* "add" or "remove": check every range, then apply them. */
static int fake_ranges(char *args, bool add)
{
	uint64_t a[1024], b[1024];
	int nr = 0, i;
	char *w, *save;

	if (!fake.setup)
		return EBUSY;
	for (w = strtok_r(args, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *end;

		if (nr == 1024)
			return E2BIG;
		a[nr] = strtoull(w, &end, 10);
		b[nr] = *end == '-' ? strtoull(end + 1, &end, 10) : a[nr];
		if (*end || b[nr] < a[nr] || b[nr] >= fake.chunks)
			return EINVAL;
		nr++;
	}
	if (!nr)
		return EINVAL;
	for (i = 0; i < nr; i++)
		while (a[i] <= b[i])
			fake.set[a[i]++] = add;
	return 0;
}

bool cbwdm_message(const char *name, const char *message, char **result,
		   int *err)
{
	char buf[8192];
	int r = 0;

	(void)name;
	if (result)
		*result = NULL;
	fake.messages++;
	if (strlen(message) > fake.longest)
		fake.longest = strlen(message);
	if (strlen(fake.verbs) + 1 < sizeof(fake.verbs))
		strncat(fake.verbs, message, 1);
	snprintf(buf, sizeof(buf), "%s", message);

	if (fake.messages == fake.fail_at) {
		r = fake.fail_errno;
	} else if (!strncmp(buf, "map ", 4)) {
		if (result)
			*result = fake_map(strtoull(buf + 4, NULL, 10));
	} else if (!strncmp(buf, "add ", 4)) {
		r = fake_ranges(buf + 4, true);
	} else if (!strncmp(buf, "remove ", 7)) {
		r = fake_ranges(buf + 7, false);
	} else if (!strcmp(buf, "start")) {
		if (fake.setup)
			fake.setup = false;
		else
			r = EINVAL;
	} else {
		r = EINVAL;
	}
	if (err)
		*err = r;
	return !r;
}

/* The fake's set as text, "0-3 7". */
static const char *fake_text(char *buf, size_t len)
{
	uint64_t s, e;
	size_t n = 0;

	buf[0] = '\0';
	for (s = 0; s < fake.chunks; s = e) {
		if (!fake.set[s]) {
			e = s + 1;
			continue;
		}
		for (e = s; e < fake.chunks && fake.set[e]; e++)
			;
		if (e - 1 == s)
			n += snprintf(buf + n, len - n, "%s%" PRIu64, n ? " " : "", s);
		else
			n += snprintf(buf + n, len - n, "%s%" PRIu64 "-%" PRIu64,
				      n ? " " : "", s, e - 1);
	}
	return buf;
}

static const char *runs_text(const struct chunk_runs *r, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < r->nr; i++) {
		if (r->run[i].first == r->run[i].last)
			n += snprintf(buf + n, len - n, "%s%" PRIu64, i ? " " : "",
				      r->run[i].first);
		else
			n += snprintf(buf + n, len - n, "%s%" PRIu64 "-%" PRIu64,
				      i ? " " : "", r->run[i].first, r->run[i].last);
	}
	return buf;
}

static void test_map_read(void)
{
	struct chunk_runs r = { 0 };
	char want[256], got[256];
	int code;

	fake_reset(100, false);
	fake_set(0, 1);
	fake_set(4, 9);
	fake_set(11, 11);
	fake_set(20, 29);
	fake_set(50, 50);
	fake_set(99, 99);
	code = cbw_map_read("x", 100, &r);
	tap_ok(!code && !strcmp(runs_text(&r, got, sizeof(got)),
				fake_text(want, sizeof(want))) &&
	       fake.messages == 2,
	       "cbw_map_read in parts of 3 runs: {%s}, 2 messages", want);
	runs_free(&r);

	fake.runs_per_answer = 1;
	fake.messages = 0;
	code = cbw_map_read("x", 100, &r);
	tap_ok(!code && !strcmp(runs_text(&r, got, sizeof(got)), want) &&
	       fake.messages == 6, "in parts of 1 run: 6 messages (got %d)",
	       fake.messages);
	runs_free(&r);

	fake_reset(100, false);
	code = cbw_map_read("x", 100, &r);
	tap_ok(!code && r.nr == 0 && fake.messages == 1, "an empty set");
	runs_free(&r);

	fake_set(0, 99);
	code = cbw_map_read("x", 100, &r);
	tap_ok(!code && r.nr == 1 && r.run[0].first == 0 && r.run[0].last == 99,
	       "a full set");
	runs_free(&r);

	fake.fail_at = fake.messages + 1;
	fake.fail_errno = ENXIO;
	code = cbw_map_read("x", 100, &r);
	tap_ok(code == -EIO && errors == 1 &&
	       !strcmp(last_error, "cannot read the map of x ('map 0'): No such device or address"),
	       "a failed message: exit 1, '%s'", last_error);
	runs_free(&r);

	fake_reset(100, false);
	fake.answer[0] = "more 0";
	code = cbw_map_read("x", 100, &r);
	tap_ok(code == -EIO && errors == 1 && fake.messages == 1 &&
	       !strcmp(last_error, "x: unexpected reply to 'map 0': 'more' points back or past the last chunk"),
	       "an answer that makes no progress: '%s'", last_error);
	runs_free(&r);

	fake_reset(100, false);
	fake.answer[0] = "90-100 end";
	code = cbw_map_read("x", 100, &r);
	tap_ok(code == -EIO && errors == 1 &&
	       !strcmp(last_error, "x: unexpected reply to 'map 0': a run goes past the last chunk"),
	       "a run past the device's chunks: '%s'", last_error);
	runs_free(&r);

	fake_reset(100, false);
	fake.answer[0] = "0-4 more 5";
	fake.answer[1] = "5-9 20-29 more 30";
	fake.answer[2] = "30-30 end";
	code = cbw_map_read("x", 100, &r);
	tap_ok(!code && !strcmp(runs_text(&r, got, sizeof(got)), "0-9 20-30") &&
	       fake.messages == 3,
	       "runs split between replies are merged: {%s}", got);
	runs_free(&r);

	fake_reset(0, false);
	code = cbw_map_read("x", 0, &r);
	tap_ok(!code && r.nr == 0 && fake.messages == 0,
	       "a device of no chunks: an empty set, nothing sent");
	runs_free(&r);
}

static void test_send(void)
{
	struct chunk_runs r = { 0 }, back = { 0 };
	char want[65536], got[65536];
	uint64_t c;
	int code;

	fake_reset(MAX_CHUNKS, true);
	for (c = 1; c < MAX_CHUNKS; c += 3)
		runs_add(&r, c, c + (c % 2));
	code = cbw_ranges_send("x", "add", &r);
	tap_ok(!code && !strcmp(fake_text(got, sizeof(got)),
				runs_text(&r, want, sizeof(want))),
	       "3333 runs added: the set is theirs");
	tap_ok(fake.messages > 5 && fake.longest <= CBW_RANGES_MSG_MAX &&
	       fake.longest > CBW_RANGES_MSG_MAX - 16,
	       "in %d messages of at most %d bytes (longest %zu)", fake.messages,
	       CBW_RANGES_MSG_MAX, fake.longest);

	code = cbw_ranges_send("x", "remove", &r);
	tap_ok(!code && !fake_text(got, sizeof(got))[0], "and removed again");
	runs_free(&r);

	fake.messages = 0;
	code = cbw_ranges_send("x", "add", &r);
	tap_ok(!code && fake.messages == 0, "an empty set sends nothing");

	runs_add(&r, 5, 5);
	fake.setup = false;
	code = cbw_ranges_send("x", "add", &r);
	tap_ok(code == -EBUSY &&
	       !strcmp(last_error, "cannot add chunks: x is not in incremental set-up"),
	       "not in set-up: exit 6, '%s'", last_error);
	fake.setup = true;
	runs_add(&r, MAX_CHUNKS, MAX_CHUNKS);
	code = cbw_ranges_send("x", "add", &r);
	tap_ok(code == -ERANGE && !fake.set[5] &&
	       !strcmp(last_error, "x refused the chunk ranges of 'add': fake error (see dmesg)"),
	       "a range outside: exit 7, nothing applied, '%s'", last_error);
	fake.fail_at = fake.messages + 1;
	fake.fail_errno = ENOMEM;
	code = cbw_ranges_send("x", "add", &r);
	tap_ok(code == -EIO &&
	       !strcmp(last_error, "cannot add chunks to x: fake error (see dmesg)"),
	       "another error: exit 1, '%s'", last_error);
	runs_free(&r);

	fake_reset(MAX_CHUNKS, true);
	code = cbw_setup_start("x");
	tap_ok(!code && !fake.setup, "start ends the set-up");
	code = cbw_setup_start("x");
	tap_ok(code == -EBUSY &&
	       !strcmp(last_error, "cannot start x: it is not in incremental set-up"),
	       "start again: exit 6, '%s'", last_error);
	runs_free(&back);
}

/* Import {5-20, 30} into a set of {0-9}, the @fail_at-th message failing. */
static int import(int fail_at, int fail_errno, bool no_start)
{
	struct chunk_runs r = { 0 };
	int code;

	fake_reset(100, true);
	fake_set(0, 9);
	runs_add(&r, 5, 20);
	runs_add(&r, 30, 30);
	fake.fail_at = fail_at;
	fake.fail_errno = fail_errno;
	code = cbw_bitmap_import("x", 100, &r, no_start);
	runs_free(&r);
	return code;
}

static void test_import(void)
{
	char got[256];
	int code;

	code = import(0, 0, false);
	tap_ok(!code && !strcmp(fake_text(got, sizeof(got)), "0-20 30") &&
	       !fake.setup && !strcmp(fake.verbs, "mas"),
	       "import: map, one add, start: {%s} (%s)", got, fake.verbs);
	code = import(0, 0, true);
	tap_ok(!code && !strcmp(fake_text(got, sizeof(got)), "0-20 30") &&
	       fake.setup && !strcmp(fake.verbs, "ma"),
	       "import --no-start: still in set-up");
	code = import(2, ENOMEM, false);
	tap_ok(code == -EIO && !strcmp(fake_text(got, sizeof(got)), "0-9") &&
	       fake.setup && !strcmp(fake.verbs, "mar") && errors == 1,
	       "a failed add: the set as it was {%s}, still in set-up (%s)",
	       got, fake.verbs);
	code = import(3, ENOMEM, false);
	tap_ok(code == -EIO && !strcmp(fake_text(got, sizeof(got)), "0-9") &&
	       fake.setup && !strcmp(fake.verbs, "masr") && errors == 1,
	       "a failed start: the added chunks removed again {%s} (%s)",
	       got, fake.verbs);
	code = import(1, ENXIO, false);
	tap_ok(code == -EIO && !strcmp(fake_text(got, sizeof(got)), "0-9") &&
	       !strcmp(fake.verbs, "m"), "a failed map: nothing sent");
	code = import(4, ENOMEM, false);
	tap_ok(!code, "(the fake fails no fourth message)");

	fake_reset(100, false);
	fake_set(0, 9);
	{
		struct chunk_runs r = { 0 };

		runs_add(&r, 50, 50);
		code = cbw_bitmap_import("x", 100, &r, false);
		runs_free(&r);
	}
	tap_ok(code == -EBUSY && !strcmp(fake_text(got, sizeof(got)), "0-9") &&
	       !strcmp(fake.verbs, "ma") && errors == 1,
	       "not in set-up: exit 6, nothing changed, nothing removed (%s)",
	       fake.verbs);
}

static void test_file(void)
{
	struct bitmap_geometry g = { 100, 8, 0 };
	struct chunk_runs r = { 0 };
	int code;

	errors = 0;
	code = bitmap_file_read("/nonexistent/set", CBW_FORMAT_AUTO, &g, &r);
	tap_ok(code == -EINVAL && errors == 1 &&
	       !strcmp(last_error, "cannot open /nonexistent/set: No such file or directory"),
	       "a missing file: exit 2, '%s'", last_error);
	runs_free(&r);
}

int main(void)
{
	test_map_read();
	test_send();
	test_import();
	test_file();
	return tap_done();
}
