// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ranges.c and runs.c: the three file formats on devices of
 * 1, 8, 9 and 4096 chunks (the byte and run boundaries), merging of
 * overlapping and touching ranges, era blocks smaller, larger and not a
 * multiple of the chunk, a partial last era block, auto-detection, pipes,
 * and bad input of every kind with its exit code and message.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "chunkset_file.h"
#include "chunk_runs.h"
#include "tap.h"

/* The set as text: "0-3 7 9-10", "" when empty. */
static const char *runs_text(const struct chunk_runs *r, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < r->nr && n < len; i++) {
		if (r->run[i].first == r->run[i].last)
			n += snprintf(buf + n, len - n, "%s%" PRIu64, i ? " " : "",
				      r->run[i].first);
		else
			n += snprintf(buf + n, len - n, "%s%" PRIu64 "-%" PRIu64,
				      i ? " " : "", r->run[i].first, r->run[i].last);
	}
	return buf;
}

/* A file holding @len bytes of @data, at its start. */
static FILE *file_of(const void *data, size_t len)
{
	FILE *f = tmpfile();

	if (!f || fwrite(data, 1, len, f) != len || fseek(f, 0, SEEK_SET)) {
		perror("tmpfile");
		exit(1);
	}
	return f;
}

struct result {
	int code;
	enum cbw_format used;
	char set[4096];
	struct bitmap_error err;
};

static void parse(const void *data, size_t len, enum cbw_format format,
		  uint64_t chunks, uint64_t chunk_sectors, uint64_t era,
		  struct result *res)
{
	struct bitmap_geometry g = { chunks, chunk_sectors, era };
	struct chunk_runs runs = { 0 };
	FILE *f = file_of(data, len);

	memset(res, 0, sizeof(*res));
	res->code = bitmap_parse(f, "f", format, &g, &runs, &res->used,
				 &res->err);
	fclose(f);
	runs_text(&runs, res->set, sizeof(res->set));
	runs_free(&runs);
}

/* Parsing @text must give the set @want. */
static void good(const char *what, const char *text, enum cbw_format format,
		 uint64_t chunks, uint64_t chunk_sectors, uint64_t era,
		 const char *want)
{
	struct result res;

	parse(text, strlen(text), format, chunks, chunk_sectors, era, &res);
	tap_ok(!res.code && !strcmp(res.set, want), "%s: {%s}", what, want);
	if (res.code || strcmp(res.set, want))
		tap_diag("error %d, set {%s}, error '%s'", res.code, res.set,
			 res.code ? res.err.text : "");
}

/* Parsing @len bytes of @data must fail with @code and message @msg. */
static void bad_bytes(const char *what, const void *data, size_t len,
		      enum cbw_format format, uint64_t chunks,
		      uint64_t chunk_sectors, uint64_t era, int code,
		      const char *msg)
{
	struct result res;
	char q[400];

	parse(data, len, format, chunks, chunk_sectors, era, &res);
	tap_ok(res.code == code && !strcmp(res.err.text, msg),
	       "%s: error %d, '%s'", what, code, tap_quote(msg, q, sizeof(q)));
	if (res.code != code || strcmp(res.err.text, msg))
		tap_diag("got error %d, '%s'", res.code, res.err.text);
}

static void bad(const char *what, const char *text, enum cbw_format format,
		uint64_t chunks, uint64_t chunk_sectors, uint64_t era,
		int code, const char *msg)
{
	bad_bytes(what, text, strlen(text), format, chunks, chunk_sectors, era,
		  code, msg);
}

/* Raw bitmaps: @len bytes, parsed on a device of @chunks chunks. */
static void raw_good(const char *what, const unsigned char *data, size_t len,
		     uint64_t chunks, const char *want)
{
	struct result res;

	parse(data, len, CBW_FORMAT_RAW, chunks, 8, 0, &res);
	tap_ok(!res.code && !strcmp(res.set, want), "raw %s: {%s}", what, want);
	if (res.code || strcmp(res.set, want))
		tap_diag("error %d, set {%s}, error '%s'", res.code, res.set,
			 res.code ? res.err.text : "");
}

static void test_runs(void)
{
	struct chunk_runs a = { 0 }, b = { 0 }, d = { 0 };
	char buf[256];

	runs_add(&a, 0, 3);
	runs_add(&a, 4, 4);		/* touches: merged */
	runs_add(&a, 2, 9);		/* overlaps: merged */
	runs_add(&a, 11, 12);
	tap_ok(a.nr == 2 && !strcmp(runs_text(&a, buf, sizeof(buf)), "0-9 11-12"),
	       "runs_add merges runs that come in order");
	runs_add(&a, 5, 5);		/* out of order: kept apart */
	runs_add(&a, 13, 13);
	runs_add(&a, 30, 40);
	runs_add(&a, 20, 25);
	tap_ok(a.nr == 6, "runs_add keeps runs out of order apart");
	runs_normalize(&a);
	tap_ok(!strcmp(runs_text(&a, buf, sizeof(buf)), "0-9 11-13 20-25 30-40"),
	       "runs_normalize sorts and merges: {%s}", buf);
	tap_ok(runs_chunks(&a) == 10 + 3 + 6 + 11, "runs_chunks = 30");

	runs_add(&b, 0, 0);
	runs_add(&b, 5, 7);
	runs_add(&b, 13, 22);
	runs_add(&b, 35, 100);
	tap_ok(runs_subtract(&a, &b, &d) &&
	       !strcmp(runs_text(&d, buf, sizeof(buf)), "1-4 8-9 11-12 23-25 30-34"),
	       "runs_subtract: {%s}", buf);
	runs_free(&d);
	tap_ok(runs_subtract(&b, &b, &d) && d.nr == 0, "a set minus itself is empty");
	runs_free(&d);
	runs_free(&b);
	tap_ok(runs_subtract(&a, &b, &d) &&
	       !strcmp(runs_text(&d, buf, sizeof(buf)), "0-9 11-13 20-25 30-40"),
	       "a set minus the empty set is itself");
	runs_free(&d);
	runs_add(&b, 0, UINT64_MAX);
	tap_ok(runs_subtract(&a, &b, &d) && d.nr == 0,
	       "a set minus every chunk is empty");
	tap_ok(runs_chunks(&b) == UINT64_MAX, "runs_chunks saturates");
	runs_free(&d);
	runs_free(&a);
	runs_free(&b);
	tap_ok(!a.run && !a.nr && !a.alloc, "runs_free empties the list");
}

static void test_formats(void)
{
	enum cbw_format f = CBW_FORMAT_AUTO;

	tap_ok(cbw_format_parse("ranges", &f) && f == CBW_FORMAT_RANGES,
	       "format 'ranges'");
	tap_ok(cbw_format_parse("raw", &f) && f == CBW_FORMAT_RAW,
	       "format 'raw'");
	tap_ok(cbw_format_parse("era", &f) && f == CBW_FORMAT_ERA,
	       "format 'era'");
	tap_ok(!cbw_format_parse("RAW", &f) && !cbw_format_parse("auto", &f) &&
	       !cbw_format_parse("", &f) && !cbw_format_parse("xml", &f),
	       "formats 'RAW', 'auto', '', 'xml' are refused");
	tap_ok(!strcmp(cbw_format_name(CBW_FORMAT_AUTO), "auto") &&
	       !strcmp(cbw_format_name(CBW_FORMAT_ERA), "era"),
	       "format names");
}

static void detect(const char *what, const void *head, size_t len,
		   enum cbw_format want)
{
	enum cbw_format got = bitmap_detect(head, len);

	tap_ok(got == want, "detect %s: %s", what, cbw_format_name(want));
	if (got != want)
		tap_diag("got %s", cbw_format_name(got));
}

static void test_detect(void)
{
	static char big[BITMAP_DETECT_BYTES + 16];
	struct result res;

	detect("XML", "<blocks>\n</blocks>\n", 19, CBW_FORMAT_ERA);
	detect("XML after blanks", " \n\t<?xml version=\"1.0\"?>", 24,
	       CBW_FORMAT_ERA);
	detect("a range", "1-2\n", 4, CBW_FORMAT_RANGES);
	detect("a comment", "# changed\n7\n", 12, CBW_FORMAT_RANGES);
	detect("CRLF ranges", "\r\n 3\r\n", 6, CBW_FORMAT_RANGES);
	detect("an empty file", "", 0, CBW_FORMAT_RANGES);
	detect("blanks only", " \n\n", 3, CBW_FORMAT_RANGES);
	detect("a typo stays ranges", "1-2\n3x\n", 7, CBW_FORMAT_RANGES);
	detect("a zero byte", "\0", 1, CBW_FORMAT_RAW);
	detect("0xff", "\xff", 1, CBW_FORMAT_RAW);
	detect("digits then a control byte", "12\x01", 3, CBW_FORMAT_RAW);
	detect("text not starting with a digit", "abc\n", 4, CBW_FORMAT_RAW);
	detect("a dash first", "-1\n", 3, CBW_FORMAT_RAW);

	/* Only the first 4 KiB count. */
	memset(big, '\n', sizeof(big));
	big[0] = '1';
	big[BITMAP_DETECT_BYTES + 1] = '\0';
	detect("a NUL byte after 4KiB", big, sizeof(big), CBW_FORMAT_RANGES);
	big[BITMAP_DETECT_BYTES - 1] = '\0';
	detect("a NUL byte in the first 4KiB", big, sizeof(big), CBW_FORMAT_RAW);

	parse("3-4\n", 4, CBW_FORMAT_AUTO, 8, 8, 0, &res);
	tap_ok(!res.code && res.used == CBW_FORMAT_RANGES && !strcmp(res.set, "3-4"),
	       "auto: ranges read as ranges");
	parse("\x05", 1, CBW_FORMAT_AUTO, 8, 8, 0, &res);
	tap_ok(!res.code && res.used == CBW_FORMAT_RAW && !strcmp(res.set, "0 2"),
	       "auto: raw read as raw");
	parse("<blocks><block block=\"1\"/></blocks>", 35, CBW_FORMAT_AUTO,
	      8, 8, 8, &res);
	tap_ok(!res.code && res.used == CBW_FORMAT_ERA && !strcmp(res.set, "1"),
	       "auto: era read as era");
	parse("3\n", 2, CBW_FORMAT_RAW, 64, 8, 0, &res);
	tap_ok(!res.code && res.used == CBW_FORMAT_RAW && !strcmp(res.set, "0-1 4-5 9 11"),
	       "a given format wins over detection ('3\\n' as raw)");
}

static void test_ranges(void)
{
	const enum cbw_format R = CBW_FORMAT_RANGES;
	char line[RANGES_LINE_MAX + 8];

	/* Boundaries: 1, 8, 9 and 4096 chunks. */
	good("1 chunk: 0", "0\n", R, 1, 8, 0, "0");
	good("1 chunk: 0-0 without a newline", "0-0", R, 1, 8, 0, "0");
	bad("1 chunk: 1", "1\n", R, 1, 8, 0, -ERANGE,
	    "f:1: range '1' is outside the device: its last chunk is 0");
	bad("1 chunk: 0-1", "0\n0-1\n", R, 1, 8, 0, -ERANGE,
	    "f:2: range '0-1' is outside the device: its last chunk is 0");
	good("8 chunks: 0-7", "0-7\n", R, 8, 8, 0, "0-7");
	good("8 chunks: 7", "7\n", R, 8, 8, 0, "7");
	bad("8 chunks: 8", "8\n", R, 8, 8, 0, -ERANGE,
	    "f:1: range '8' is outside the device: its last chunk is 7");
	good("9 chunks: 8", "8\n", R, 9, 8, 0, "8");
	good("9 chunks: 0-8", "0-8\n", R, 9, 8, 0, "0-8");
	bad("9 chunks: 7-9", "7-9\n", R, 9, 8, 0, -ERANGE,
	    "f:1: range '7-9' is outside the device: its last chunk is 8");
	good("4096 chunks: 0-4095", "0-4095\n", R, 4096, 8, 0, "0-4095");
	good("4096 chunks: 4095", "4095\n", R, 4096, 8, 0, "4095");
	bad("4096 chunks: 4096", "4096\n", R, 4096, 8, 0, -ERANGE,
	    "f:1: range '4096' is outside the device: its last chunk is 4095");
	bad("4096 chunks: 18446744073709551615", "18446744073709551615\n", R,
	    4096, 8, 0, -ERANGE,
	    "f:1: range '18446744073709551615' is outside the device: its last chunk is 4095");

	/* Merging and overlap. */
	good("merged", "5-9\n0-2\n3-4\n20\n8-12\n21-21\n", R, 4096, 8, 0,
	     "0-12 20-21");
	good("duplicates", "1-5\n1-5\n2-3\n5\n", R, 4096, 8, 0, "1-5");
	good("apart", "10\n8\n6\n", R, 4096, 8, 0, "6 8 10");
	good("everything twice", "0-4095\n0-4095\n100\n", R, 4096, 8, 0, "0-4095");
	good("leading zeros", "007-010\n", R, 4096, 8, 0, "7-10");

	/* Comments, blanks, line ends. */
	good("comments and blank lines",
	     "# changed chunks\n\n  3-4  # two\n\t7\r\n#\n   \n9 #\n", R, 4096, 8, 0,
	     "3-4 7 9");
	good("an empty file", "", R, 4096, 8, 0, "");
	good("comments only", "# nothing\n", R, 4096, 8, 0, "");
	good("no newline at the end", "1\n2", R, 4096, 8, 0, "1-2");

	/* Syntax errors: exit 2, the line named. */
	bad("a word", "1\n2\nabc\n", R, 4096, 8, 0, -EINVAL,
	    "f:3: invalid range 'abc': not a number (want N or N-M, chunk numbers)");
	bad("reversed", "5-3\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '5-3': it ends before it starts (want N or N-M, chunk numbers)");
	bad("no end", "\n1-\n", R, 4096, 8, 0, -EINVAL,
	    "f:2: invalid range '1-': not a number (want N or N-M, chunk numbers)");
	bad("no start", "-1\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '-1': not a number (want N or N-M, chunk numbers)");
	bad("two ranges on a line", "1 2\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '1 2': not a number (want N or N-M, chunk numbers)");
	bad("blanks around the dash", "1 - 2\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '1 - 2': not a number (want N or N-M, chunk numbers)");
	bad("two dashes", "1--2\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '1--2': not a number (want N or N-M, chunk numbers)");
	bad("three numbers", "1-2-3\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '1-2-3': not a number (want N or N-M, chunk numbers)");
	bad("a sign", "+1\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '+1': not a number (want N or N-M, chunk numbers)");
	bad("hex", "0x10\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '0x10': not a number (want N or N-M, chunk numbers)");
	bad("a suffix", "4k\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '4k': not a number (want N or N-M, chunk numbers)");
	bad("2^64", "18446744073709551616\n", R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '18446744073709551616': too large (want N or N-M, chunk numbers)");
	bad("long and unprintable", "1-\x01xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	    R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '1-?xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': not a number (want N or N-M, chunk numbers)");
	bad_bytes("a NUL byte", "1\n2\0\n", 5, R, 4096, 8, 0, -EINVAL,
		  "f:2: a NUL byte in a text file (a raw bitmap? use the raw format)");
	/* A syntax error after a range outside: the first error counts. */
	bad("the first error counts", "9999\nabc\n", R, 4096, 8, 0, -ERANGE,
	    "f:1: range '9999' is outside the device: its last chunk is 4095");

	memset(line, '1', RANGES_LINE_MAX);
	line[RANGES_LINE_MAX] = '\0';
	bad("a line of 1024 characters", line, R, 4096, 8, 0, -EINVAL,
	    "f:1: invalid range '1111111111111111111111111111111111111111...': too large (want N or N-M, chunk numbers)");
	memset(line, ' ', RANGES_LINE_MAX);
	strcpy(line + RANGES_LINE_MAX - 2, "42");
	good("a line of 1024 characters, blanks first", line, R, 4096, 8, 0, "42");
	strcpy(line + RANGES_LINE_MAX - 2, "421\n");
	bad("a line of 1025 characters", line, R, 4096, 8, 0, -EINVAL,
	    "f:1: line longer than 1024 characters");
}

static void test_raw(void)
{
	static unsigned char map[600];

	map[0] = 0x01;
	raw_good("1 chunk: bit 0", map, 1, 1, "0");
	map[0] = 0x00;
	raw_good("1 chunk: all clear", map, 1, 1, "");
	raw_good("1 chunk: an empty file", map, 0, 1, "");
	map[0] = 0x02;
	bad_bytes("raw 1 chunk: bit 1", map, 1, CBW_FORMAT_RAW, 1, 8, 0,
		  -ERANGE,
		  "f: bit 1 of byte 0 is set: chunk 1 is outside the device, which has 1 chunks");
	map[0] = 0xff;
	raw_good("8 chunks: 0xff", map, 1, 8, "0-7");
	raw_good("8 chunks: 0xff and clear bytes after it", map, 3, 8, "0-7");
	map[1] = 0x01;
	bad_bytes("raw 8 chunks: bit 8", map, 2, CBW_FORMAT_RAW, 8, 8, 0,
		  -ERANGE,
		  "f: bit 0 of byte 1 is set: chunk 8 is outside the device, which has 8 chunks");
	raw_good("9 chunks: 0xff 0x01", map, 2, 9, "0-8");
	map[1] = 0x02;
	bad_bytes("raw 9 chunks: bit 9", map, 2, CBW_FORMAT_RAW, 9, 8, 0,
		  -ERANGE,
		  "f: bit 1 of byte 1 is set: chunk 9 is outside the device, which has 9 chunks");

	memset(map, 0xff, 512);
	memset(map + 512, 0, sizeof(map) - 512);
	raw_good("4096 chunks: 512 bytes 0xff", map, 512, 4096, "0-4095");
	raw_good("4096 chunks: clear bytes after 4096 bits", map, sizeof(map),
		 4096, "0-4095");
	map[512] = 0x80;
	bad_bytes("raw 4096 chunks: bit 4103", map, 513, CBW_FORMAT_RAW,
		  4096, 8, 0, -ERANGE,
		  "f: bit 7 of byte 512 is set: chunk 4103 is outside the device, which has 4096 chunks");

	memset(map, 0, sizeof(map));
	map[0] = 0x05;		/* chunks 0 and 2: least significant bit first */
	map[1] = 0x80;		/* chunk 15 */
	map[2] = 0x01;		/* chunk 16, touching 15 */
	map[511] = 0x80;	/* chunk 4095 */
	raw_good("bit order and runs across bytes", map, 512, 4096,
		 "0 2 15-16 4095");
	map[511] = 0;
	map[100] = 0xf0;
	map[101] = 0x0f;
	raw_good("a run across a byte boundary", map, 102, 4096,
		 "0 2 15-16 804-811");
}

static const char era_xml[] =
	"<blocks>\n"
	"  <range begin=\"0\" end = \"3\"/>\n"
	"  <block block=\"7\"/>\n"
	"  <range begin=\"16\" end=\"18\"/>\n"
	"</blocks>\n";

static void test_era(void)
{
	const enum cbw_format E = CBW_FORMAT_ERA;

	/* Era blocks of 64 KiB, chunks of 4 KiB: 16 chunks per block. */
	good("era larger than the chunk", era_xml, E, 4096, 8, 128,
	     "0-47 112-127 256-287");
	/* Era blocks of 4 KiB, chunks of 64 KiB: 16 blocks per chunk. */
	good("era smaller than the chunk", era_xml, E, 4096, 128, 8, "0-1");
	good("era equal to the chunk", era_xml, E, 4096, 8, 8, "0-2 7 16-17");
	/* 12 KiB era blocks, 8 KiB chunks: block 1 is sectors 24-47. */
	good("era not a multiple of the chunk",
	     "<blocks><block block=\"1\"/></blocks>", E, 4096, 16, 24, "1-2");
	good("era not a multiple, two blocks",
	     "<blocks><range begin=\"1\" end=\"3\"/></blocks>", E, 4096, 16, 24,
	     "1-4");
	good("no blocks", "<blocks>\n</blocks>\n", E, 4096, 8, 8, "");
	good("an empty <blocks/>", "<blocks/>", E, 4096, 8, 8, "");
	good("an XML declaration and comments",
	     "<?xml version=\"1.0\"?>\n<!-- era 5 -->\n<blocks><block block=\"3\"/></blocks>",
	     E, 8, 8, 8, "3");
	good("single quotes", "<blocks><range begin='2' end='4'/></blocks>", E,
	     8, 8, 8, "2-3");
	good("out of order, overlapping",
	     "<blocks><block block=\"7\"/><range begin=\"0\" end=\"5\"/><range begin=\"3\" end=\"6\"/></blocks>",
	     E, 8, 8, 8, "0-5 7");

	/* Boundaries. */
	good("1 chunk", "<blocks><block block=\"0\"/></blocks>", E, 1, 8, 8, "0");
	bad("1 chunk: block 1", "<blocks>\n<block block=\"1\"/>\n</blocks>", E,
	    1, 8, 8, -ERANGE,
	    "f:2: era block 1 is outside the device (1 chunks of 8 sectors, era blocks of 8 sectors)");
	good("9 chunks: the last", "<blocks><range begin=\"0\" end=\"9\"/></blocks>",
	     E, 9, 8, 8, "0-8");
	bad("9 chunks: one too many", "<blocks><range begin=\"0\" end=\"10\"/></blocks>",
	    E, 9, 8, 8, -ERANGE,
	    "f:1: era block 9 is outside the device (9 chunks of 8 sectors, era blocks of 8 sectors)");
	good("4096 chunks: the last era block",
	     "<blocks><block block=\"255\"/></blocks>", E, 4096, 8, 128, "4080-4095");
	bad("4096 chunks: one era block too many",
	    "<blocks><block block=\"256\"/></blocks>", E, 4096, 8, 128,
	    -ERANGE,
	    "f:1: era block 256 is outside the device (4096 chunks of 8 sectors, era blocks of 128 sectors)");
	/*
	 * A device of 100 sectors: 13 chunks of 8 sectors (the last one
	 * partial), 2 era blocks of 64 (the last one reaching past the end).
	 */
	good("a partial last era block",
	     "<blocks><block block=\"1\"/></blocks>", E, 13, 8, 64, "8-12");
	bad("past the partial last era block",
	    "<blocks><block block=\"2\"/></blocks>", E, 13, 8, 64, -ERANGE,
	    "f:1: era block 2 is outside the device (13 chunks of 8 sectors, era blocks of 64 sectors)");
	bad("an era block number that overflows",
	    "<blocks><block block=\"18446744073709551615\"/></blocks>", E, 13, 8, 64,
	    -ERANGE,
	    "f:1: era block 18446744073709551615 is outside the device (13 chunks of 8 sectors, era blocks of 64 sectors)");

	/* Bad input. */
	bad("no era block size", era_xml, E, 4096, 8, 0, -EINVAL,
	    "f is era_invalidate output: the era block size is needed (--era-block-size SECTORS)");
	bad("no end", "<blocks>\n\n<range begin=\"1\"/>\n</blocks>\n", E, 4096, 8, 8,
	    -EINVAL, "f:3: <range> without the attribute 'end'");
	bad("no begin", "<blocks><range end=\"1\"/></blocks>", E, 4096, 8, 8,
	    -EINVAL, "f:1: <range> without the attribute 'begin'");
	bad("no block", "<blocks><block/></blocks>", E, 4096, 8, 8,
	    -EINVAL, "f:1: <block> without the attribute 'block'");
	bad("another attribute", "<blocks><block block=\"1\" era=\"3\"/></blocks>",
	    E, 4096, 8, 8, -EINVAL,
	    "f:1: unexpected attribute 'era' in <block>");
	bad("an attribute of <blocks>", "<blocks count=\"1\"></blocks>",
	    E, 4096, 8, 8, -EINVAL,
	    "f:1: unexpected attribute 'count' in <blocks>");
	bad("not a number", "<blocks><block block=\"0x1\"/></blocks>", E, 4096,
	    8, 8, -EINVAL, "f:1: <block block=\"0x1\">: not a number");
	bad("a negative number", "<blocks><range begin=\"-1\" end=\"2\"/></blocks>",
	    E, 4096, 8, 8, -EINVAL,
	    "f:1: <range begin=\"-1\">: not a number");
	bad("an empty range", "<blocks><range begin=\"2\" end=\"2\"/></blocks>",
	    E, 4096, 8, 8, -EINVAL,
	    "f:1: <range begin=\"2\" end=\"2\">: empty range (end is exclusive)");
	bad("another document", "<superblock uuid=\"\">\n</superblock>\n", E,
	    4096, 8, 8, -EINVAL,
	    "f:1: the document is <superblock>, not <blocks> (want the output of era_invalidate)");
	bad("another element", "<blocks>\n<writeset era=\"1\"/>\n</blocks>\n", E,
	    4096, 8, 8, -EINVAL,
	    "f:2: unexpected element <writeset> in <blocks>");
	bad("a nested element", "<blocks><range begin=\"1\" end=\"2\"><block block=\"1\"/></range></blocks>",
	    E, 4096, 8, 8, -EINVAL,
	    "f:1: unexpected element <block> in <range> or <block>");
	bad("text", "<blocks>\n1-2\n</blocks>\n", E, 4096, 8, 8, -EINVAL,
	    "f:2: unexpected text in <blocks>");
	bad("a DOCTYPE", "<!DOCTYPE blocks [<!ENTITY a \"1\">]>\n<blocks/>", E,
	    4096, 8, 8, -EINVAL,
	    "f:1: a document type declaration is not allowed");
	bad("not closed", "<blocks>\n<block block=\"1\"/>\n", E, 4096, 8, 8,
	    -EINVAL, "f:3: no element found");
	bad("not well-formed", "<blocks>\n<block block=\"1\">\n</blocks>\n", E,
	    4096, 8, 8, -EINVAL, "f:3: mismatched tag");
	bad("an empty file", "", E, 4096, 8, 8, -EINVAL,
	    "f:1: no element found");
	bad("two documents", "<blocks/>\n<blocks/>\n", E, 4096, 8, 8,
	    -EINVAL, "f:2: junk after document element");
}

/* A non-seekable file: the read-ahead for detection must be replayed. */
static void test_pipe(void)
{
	static char text[20000];
	struct bitmap_geometry g = { 100000, 8, 8 };
	struct chunk_runs runs = { 0 };
	struct bitmap_error err;
	enum cbw_format used;
	size_t n = 0;
	int fd[2], i, r;
	FILE *f;

	for (i = 0; n < sizeof(text) - 16; i += 2)
		n += snprintf(text + n, sizeof(text) - n, "%d\n", i);
	if (pipe(fd) || write(fd[1], text, n) != (ssize_t)n) {
		perror("pipe");
		exit(1);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	r = bitmap_parse(f, "pipe", CBW_FORMAT_AUTO, &g, &runs, &used, &err);
	fclose(f);
	tap_ok(!r && used == CBW_FORMAT_RANGES && runs.nr == (size_t)i / 2 &&
	       runs.run[0].first == 0 && runs.run[runs.nr - 1].first == (uint64_t)i - 2,
	       "ranges from a pipe, %zu bytes: %d chunks", n, i / 2);
	if (r)
		tap_diag("%s", err.text);
	runs_free(&runs);
}

int main(void)
{
	test_runs();
	test_formats();
	test_detect();
	test_ranges();
	test_raw();
	test_era();
	test_pipe();
	return tap_done();
}
