// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of track_state.c, the state file of cbwctl untrack --state /
 * track --state: round trips of clean and active files on devices of 1
 * chunk, a partial last chunk and many runs (format, parse, compare; and
 * through a real file with track_state_write() and track_state_read()),
 * then damaged files of every kind, each refused whole with its line; and
 * track_set_bytes(), the bytes of a set whose last chunk is partial.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk_runs.h"
#include "error.h"
#include "track.h"
#include "tap.h"

#define UUID	"5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6b"
#define HEAD(state, changed) \
	"cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 128\n" \
	"device-sectors 1000\nstate " state "\nchanged " changed "\n"
/* 1000 sectors in chunks of 128: 8 chunks, the last one of 104 sectors. */

static bool same_state(const struct track_state *a, const struct track_state *b)
{
	size_t i;

	if (strcmp(a->uuid, b->uuid) || a->generation != b->generation ||
	    a->chunk_sectors != b->chunk_sectors ||
	    a->device_sectors != b->device_sectors || a->clean != b->clean ||
	    a->runs.nr != b->runs.nr)
		return false;
	for (i = 0; i < a->runs.nr; i++)
		if (a->runs.run[i].first != b->runs.run[i].first ||
		    a->runs.run[i].last != b->runs.run[i].last)
			return false;
	return true;
}

/* Format @ts, parse the text back, and compare. */
static void round_trip(const struct track_state *ts, const char *what)
{
	struct track_state back;
	unsigned int line;
	const char *why;
	size_t len;
	char *text = track_state_format(ts, &len);

	why = text ? track_state_parse(text, len, &back, &line) : "no memory";
	tap_ok(!why && same_state(ts, &back) && strlen(text) == len,
	       "round trip: %s", what);
	if (why)
		tap_diag("line %u: %s", line, why);
	runs_free(&back.runs);
	free(text);
}

static void test_round_trips(void)
{
	struct track_state ts = { .uuid = UUID, .generation = 1,
				  .chunk_sectors = 8, .device_sectors = 1,
				  .clean = true };
	uint64_t i;

	round_trip(&ts, "one partial chunk, empty set");
	runs_add(&ts.runs, 0, 0);
	round_trip(&ts, "one partial chunk, in the set");
	runs_free(&ts.runs);

	ts.generation = UINT64_MAX;
	ts.chunk_sectors = 128;
	ts.device_sectors = 1000;
	runs_add(&ts.runs, 0, 2);
	runs_add(&ts.runs, 4, 4);
	runs_add(&ts.runs, 7, 7);
	round_trip(&ts, "8 chunks, the partial last one in the set");

	ts.clean = false;
	runs_free(&ts.runs);
	round_trip(&ts, "an active file");

	ts.clean = true;
	ts.chunk_sectors = 2097152;	/* 1 GiB */
	ts.device_sectors = UINT64_MAX;
	for (i = 0; i < 5000; i++)
		runs_add(&ts.runs, i * 3, i * 3 + 1);
	runs_add(&ts.runs, UINT64_MAX / 2097152 - 1, UINT64_MAX / 2097152);
	round_trip(&ts, "5001 runs, a device of 2^64 - 1 sectors");
	runs_free(&ts.runs);
}

/* An active file is written without its ranges. */
static void test_active_drops_ranges(void)
{
	struct track_state ts = { .uuid = UUID, .generation = 3,
				  .chunk_sectors = 128, .device_sectors = 1000 };
	size_t len;
	char *text;

	runs_add(&ts.runs, 1, 2);
	text = track_state_format(&ts, &len);
	tap_ok(text && strstr(text, "\nstate active\nchanged 0\nend\n"),
	       "an active file has no ranges");
	free(text);
	runs_free(&ts.runs);
}

/* Through a file: write, read, compare; the temporary file is gone. */
static void test_files(void)
{
	struct track_state ts = { .uuid = UUID, .generation = 9,
				  .chunk_sectors = 128, .device_sectors = 1000,
				  .clean = true }, back;
	char dir[] = "/tmp/test_track_state.XXXXXX", path[64], tmp[80];
	char why[256];
	struct stat st;
	int r;

	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/vol.state", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	runs_add(&ts.runs, 3, 5);
	tap_ok(!track_state_write(path, &ts) && stat(tmp, &st) && errno == ENOENT,
	       "write a state file; no .tmp is left");
	r = track_state_read(path, &back, why, sizeof(why));
	tap_ok(!r && same_state(&ts, &back), "read it back");
	runs_free(&back.runs);
	tap_ok(!stat(path, &st) && (st.st_mode & 0777) == 0600,
	       "the file is mode 0600");
	ts.clean = false;
	tap_ok(!track_state_write(path, &ts) &&
	       !track_state_read(path, &back, why, sizeof(why)) && !back.clean &&
	       !back.runs.nr, "rewritten as active, it reads active");
	runs_free(&back.runs);
	unlink(path);
	r = track_state_read(path, &back, why, sizeof(why));
	tap_ok(r == -ENOENT && strstr(why, "cannot open"),
	       "a missing file: -ENOENT (%s)", why);
	r = track_state_read(dir, &back, why, sizeof(why));
	tap_ok(r == -EINVAL || r == -EIO, "a folder is refused (%s)", why);
	lib_error_reset();
	snprintf(tmp, sizeof(tmp), "%s/no/such/folder", dir);
	tap_ok(track_state_write(tmp, &ts) == -EIO &&
	       strstr(cbw_get_error(), "cannot create"),
	       "a file in a missing folder cannot be written: %s",
	       cbw_get_error());
	lib_error_reset();
	runs_free(&ts.runs);
	rmdir(dir);
}

static const struct {
	const char *text;
	unsigned int line;
} bad[] = {
	{ "", 1 },
	{ "cbw-track-state 1", 1 },				/* no newline */
	{ "cbw-track-state 2\n", 1 },
	{ "cbw-track-state 1 \n", 1 },
	{ "CBW-TRACK-STATE 1\n", 1 },
	{ "# a comment\n", 1 },
	{ "cbw-track-state 1\n", 2 },
	{ "cbw-track-state 1\nuuid 5E0B2C1A-8F3D-4B6E-9A70-1C2D3E4F5A6B\n", 2 },
	{ "cbw-track-state 1\nuuid " UUID "x\n", 2 },
	{ "cbw-track-state 1\nuuid  " UUID "\n", 2 },
	{ "cbw-track-state 1\nuuid\n", 2 },
	{ "cbw-track-state 1\ngeneration 7\n", 2 },		/* out of order */
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 0\n", 3 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration -1\n", 3 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 18446744073709551616\n", 3 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7 \n", 3 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 100\n", 4 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 4\n", 4 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 0\n", 4 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 128\n"
	  "device-sectors 0\n", 5 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 128\n"
	  "device-sectors 1000\nstate dirty\n", 6 },
	{ "cbw-track-state 1\nuuid " UUID "\ngeneration 7\nchunk-sectors 128\n"
	  "device-sectors 1000\nstate Clean\n", 6 },
	{ HEAD("clean", "9"), 7 },				/* > 8 chunks */
	{ HEAD("clean", "x"), 7 },
	{ HEAD("clean", "1"), 8 },				/* truncated */
	{ HEAD("clean", "1") "0", 8 },
	{ HEAD("clean", "1") "8\nend\n", 8 },			/* past the end */
	{ HEAD("clean", "2") "0-1\n", 9 },			/* no end */
	{ HEAD("clean", "2") "1-0\nend\n", 8 },
	{ HEAD("clean", "2") "0 1\nend\n", 8 },
	{ HEAD("clean", "2") "0,1\nend\n", 8 },
	{ HEAD("clean", "2") "-1\nend\n", 8 },
	{ HEAD("clean", "2") "0-\nend\n", 8 },
	{ HEAD("clean", "2") "0--1\nend\n", 8 },
	{ HEAD("clean", "2") " 0-1\nend\n", 8 },
	{ HEAD("clean", "3") "0-1\n2\nend\n", 9 },		/* touching */
	{ HEAD("clean", "3") "3\n0-1\nend\n", 9 },		/* out of order */
	{ HEAD("clean", "3") "0-2\n1\nend\n", 9 },		/* overlapping */
	{ HEAD("clean", "3") "0-1\nend\n", 9 },			/* wrong count */
	{ HEAD("clean", "1") "0-1\nend\n", 9 },
	{ HEAD("clean", "2") "0-1\nend\nend\n", 10 },		/* after end */
	{ HEAD("clean", "2") "0-1\nend\n\n", 10 },
	{ HEAD("clean", "2") "0-1\nend", 9 },			/* no newline */
	{ HEAD("active", "1") "0\nend\n", 8 },			/* ranges */
	{ HEAD("active", "1") "end\n", 8 },
	{ HEAD("clean", "0") "end\r\n", 8 },
};

static void test_bad(void)
{
	static const char nul[] = HEAD("clean", "0") "en\0d\n";
	struct track_state ts;
	unsigned int line;
	const char *why;
	char q[600];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = track_state_parse(bad[i].text, strlen(bad[i].text), &ts,
					&line);
		tap_ok(why && line == bad[i].line,
		       "refused at line %u: \"%s\"%s%s", bad[i].line,
		       tap_quote(bad[i].text, q, sizeof(q)), why ? ": " : "",
		       why ? why : "");
		if (why && line != bad[i].line)
			tap_diag("refused at line %u instead", line);
		runs_free(&ts.runs);
	}
	why = track_state_parse(nul, sizeof(nul) - 1, &ts, &line);
	tap_ok(why && line == 8, "a NUL byte is refused%s%s", why ? ": " : "",
	       why ? why : "");
	runs_free(&ts.runs);
	why = track_state_parse(HEAD("clean", "3") "0-1\n7\nend\n",
				strlen(HEAD("clean", "3") "0-1\n7\nend\n"), &ts,
				&line);
	tap_ok(!why && ts.clean && ts.runs.nr == 2 && ts.generation == 7,
	       "the partial last chunk (7 of 8) is a chunk of the set");
	runs_free(&ts.runs);
}

static void test_bytes(void)
{
	/* 8 chunks of 64 KiB, the last one 52 KiB (104 sectors). */
	uint64_t c = 65536, size = 7 * 65536 + 104 * 512;

	tap_ok(track_set_bytes(0, false, 8, c, size) == 0, "bytes: empty set");
	tap_ok(track_set_bytes(3, false, 8, c, size) == 3 * c,
	       "bytes: 3 whole chunks");
	tap_ok(track_set_bytes(3, true, 8, c, size) == 2 * c + 104 * 512,
	       "bytes: 2 whole chunks and the partial last one");
	tap_ok(track_set_bytes(8, true, 8, c, size) == size,
	       "bytes: every chunk is the device's size");
	tap_ok(track_set_bytes(1, true, 1, c, 512) == 512,
	       "bytes: one partial chunk of 512 bytes");
	tap_ok(track_set_bytes(4, true, 4, c, 4 * c) == 4 * c,
	       "bytes: a last chunk that is whole");
}

int main(void)
{
	test_round_trips();
	test_active_drops_ranges();
	test_files();
	test_bad();
	test_bytes();
	return tap_done();
}
