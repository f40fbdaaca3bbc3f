// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of imgio.c: the read requests of runs (against a model that
 * walks byte by byte), zero detection and its extents, and the discard
 * range rule, each around chunk, block and device boundaries.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imgio.h"
#include "tap.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)

static void test_io_size(void)
{
	static const struct {
		uint64_t bytes;
		bool good;
	} sizes[] = {
		{ 0, false }, { 512, false }, { 4 * KiB - 1, false },
		{ 4 * KiB, true }, { 6 * KiB, false }, { 64 * KiB, true },
		{ 4 * MiB, true }, { 64 * MiB, true }, { 128 * MiB, false },
		{ 1ULL << 63, false },
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		tap_ok(!cbw_io_size_check(sizes[i].bytes) == sizes[i].good,
		       "I/O size %" PRIu64 " %s", sizes[i].bytes,
		       sizes[i].good ? "accepted" : "refused");
}

/*
 * Cut [start, end) into requests; they must tile it, each at most
 * @io bytes, none crossing a multiple of @io, and with chunk <= io each
 * one starting on a chunk boundary.
 */
static void check_requests(uint64_t start, uint64_t end, uint64_t io,
			   uint64_t chunk)
{
	uint64_t pos = start, len, n = 0;
	bool ok = true;

	while (pos < end && ok) {
		len = io_request_len(pos, end, io);
		ok = len > 0 && len <= io && pos + len <= end &&
		     (pos / io == (pos + len - 1) / io) &&
		     (chunk > io || pos % chunk == 0) &&
		     (pos + len == end || (pos + len) % io == 0);
		pos += len;
		n++;
	}
	tap_ok(ok && pos == end,
	       "requests of [%" PRIu64 ", %" PRIu64 ") with I/O size %" PRIu64
	       ", chunk %" PRIu64 ": %" PRIu64 " requests tile it",
	       start, end, io, chunk, n);
}

static void test_requests(void)
{
	uint64_t start, end;

	check_requests(0, 64 * MiB, 4 * MiB, 64 * KiB);
	check_requests(64 * KiB, 64 * MiB, 4 * MiB, 64 * KiB);
	check_requests(4 * MiB - 64 * KiB, 4 * MiB + 64 * KiB, 4 * MiB, 64 * KiB);
	check_requests(3 * 64 * KiB, 5 * 64 * KiB, 4 * MiB, 64 * KiB);
	check_requests(0, 64 * MiB - 512, 4 * MiB, 64 * KiB);	/* partial end */
	check_requests(0, 8 * MiB, 256 * KiB, MiB);		/* io < chunk */
	check_requests(MiB, 3 * MiB - 512, 256 * KiB, MiB);
	check_requests(0, 4 * KiB, 4 * KiB, 4 * KiB);

	tap_ok(io_request_len(0, 64 * MiB, 4 * MiB) == 4 * MiB,
	       "a request from 0 is the I/O size");
	tap_ok(io_request_len(64 * KiB, 64 * MiB, 4 * MiB) == 4 * MiB - 64 * KiB,
	       "a request ends at the next multiple of the I/O size");
	tap_ok(io_request_len(64 * KiB, 128 * KiB, 4 * MiB) == 64 * KiB,
	       "a request ends at the end of its run");

	tap_ok(run_bytes(0, 0, 64 * KiB, 64 * MiB, &start, &end) &&
	       start == 0 && end == 64 * KiB, "run 0-0: bytes 0-64KiB");
	tap_ok(run_bytes(2, 5, 64 * KiB, 64 * MiB, &start, &end) &&
	       start == 128 * KiB && end == 384 * KiB, "run 2-5");
	tap_ok(run_bytes(1023, 1023, 64 * KiB, 64 * MiB, &start, &end) &&
	       start == 64 * MiB - 64 * KiB && end == 64 * MiB, "the last chunk");
	tap_ok(run_bytes(1023, 1023, 64 * KiB, 64 * MiB - 512, &start, &end) &&
	       start == 64 * MiB - 64 * KiB && end == 64 * MiB - 512,
	       "a partial last chunk ends at the device's end");
	tap_ok(run_bytes(1000, 1023, 64 * KiB, 64 * MiB - 512, &start, &end) &&
	       end == 64 * MiB - 512, "a run to a partial last chunk");
	tap_ok(!run_bytes(1024, 1030, 64 * KiB, 64 * MiB, &start, &end),
	       "a run past the end is nothing");
	tap_ok(run_bytes(1020, 2000, 64 * KiB, 64 * MiB, &start, &end) &&
	       end == 64 * MiB, "a run reaching past the end is cut");
}

/* The extents of @buf, as "z4096 d8192 ...". */
static void extents(const unsigned char *buf, size_t len, size_t block,
		    char *out, size_t olen)
{
	size_t off = 0, n, k = 0;
	bool zero;

	out[0] = '\0';
	while (off < len && k < olen) {
		n = extent_next(buf, len, off, block, &zero);
		k += snprintf(out + k, olen - k, "%s%c%zu", k ? " " : "",
			      zero ? 'z' : 'd', n);
		if (!n)
			break;
		off += n;
	}
}

static void test_zero(void)
{
	static unsigned char buf[64 * 1024];
	char got[256];
	size_t i;
	bool all = true;

	tap_ok(block_is_zero(buf, 0), "0 bytes are zero");
	tap_ok(block_is_zero(buf, 1) && block_is_zero(buf, 15) &&
	       block_is_zero(buf, 16) && block_is_zero(buf, 17) &&
	       block_is_zero(buf, sizeof(buf)), "zeros of every length are zero");
	/* A single non-zero byte anywhere, in short and long blocks. */
	for (i = 0; i < 4096; i++) {
		buf[i] = 0x80;
		if (block_is_zero(buf, 4096) ||
		    (i < 40 && block_is_zero(buf, 40)))
			all = false;
		buf[i] = 0;
	}
	tap_ok(all, "one non-zero byte at any offset of a block is seen");
	buf[4095] = 1;
	tap_ok(block_is_zero(buf, 4095) && !block_is_zero(buf, 4096),
	       "only the bytes asked for are looked at");
	buf[4095] = 0;

	extents(buf, sizeof(buf), 4096, got, sizeof(got));
	tap_ok(!strcmp(got, "z65536"), "all zero: one zero extent (%s)", got);
	buf[5000] = 7;
	extents(buf, sizeof(buf), 4096, got, sizeof(got));
	tap_ok(!strcmp(got, "z4096 d4096 z57344"), "data in block 1: %s", got);
	buf[0] = 1;
	buf[8192] = 1;
	buf[65535] = 1;
	extents(buf, sizeof(buf), 4096, got, sizeof(got));
	tap_ok(!strcmp(got, "d12288 z49152 d4096"),
	       "data in blocks 0-2 and the last: %s", got);
	extents(buf, 6000, 4096, got, sizeof(got));
	tap_ok(!strcmp(got, "d6000"), "a short last block: %s", got);
	extents(buf + 12288, 512 + 4096, 4096, got, sizeof(got));
	tap_ok(!strcmp(got, "z4608"), "a zero short last block joins: %s", got);
	memset(buf, 0, sizeof(buf));
	buf[4096 * 3] = 1;
	extents(buf, 4096 * 3 + 512, 4096, got, sizeof(got));
	tap_ok(!strcmp(got, "z12288 d512"), "a data short last block: %s", got);
}

static void test_discard_range(void)
{
	static const struct {
		uint64_t off, len;
		bool good;
		const char *what;
	} r[] = {
		{ 0, 64 * KiB, true, "chunk 0" },
		{ 64 * KiB, 128 * KiB, true, "chunks 1-2" },
		{ 0, 64 * MiB - 512, true, "the whole device" },
		{ 64 * MiB - 64 * KiB, 64 * KiB - 512, true,
		  "the partial last chunk" },
		{ 0, 0, false, "empty" },
		{ 4 * KiB, 64 * KiB, false, "unaligned offset" },
		{ 0, 32 * KiB, false, "half a chunk" },
		{ 0, 96 * KiB, false, "a chunk and a half" },
		{ 64 * MiB - 64 * KiB, 64 * KiB, false, "past the end by 512" },
		{ 64 * MiB - 512, 512, false, "unaligned at the end" },
		{ 64 * MiB, 64 * KiB, false, "at the end" },
		{ 128 * MiB, 64 * KiB, false, "past the end" },
		{ 64 * KiB, UINT64_MAX - 1024, false, "a length that overflows" },
		{ UINT64_MAX - 65535, 65536, false, "an offset near 2^64" },
	};
	size_t i;
	const char *why;

	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		why = discard_range_check(r[i].off, r[i].len, 64 * KiB,
					  64 * MiB - 512);
		tap_ok(!why == r[i].good, "discard %s: %s%s%s", r[i].what,
		       r[i].good ? "accepted" : "refused", why ? ": " : "",
		       why ? why : "");
	}
}

int main(void)
{
	test_io_size();
	test_requests();
	test_zero();
	test_discard_range();
	return tap_done();
}
