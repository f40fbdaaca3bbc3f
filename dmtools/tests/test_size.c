// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of size.c: parsing, the chunk size rule and formatting, with
 * the values on and around each unit and the 64-bit limit.
 */

#include <inttypes.h>
#include <string.h>

#include "size.h"
#include "tap.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

static const struct {
	const char *text;
	uint64_t bytes;
} good_sizes[] = {
	{ "0", 0 },
	{ "1", 1 },
	{ "4096", 4096 },
	{ "007k", 7 * KiB },
	{ "4k", 4 * KiB }, { "4K", 4 * KiB }, { "4KiB", 4 * KiB },
	{ "64k", 64 * KiB }, { "64K", 64 * KiB }, { "64KiB", 64 * KiB },
	{ "1m", MiB }, { "1M", MiB }, { "1MiB", MiB },
	{ "1536k", 1536 * KiB },
	{ "2g", 2 * GiB }, { "2G", 2 * GiB }, { "2GiB", 2 * GiB },
	{ "1t", TiB }, { "1T", TiB }, { "1TiB", TiB },
	{ "16777215T", 16777215 * TiB },		/* the largest in T */
	{ "18446744073709551615", UINT64_MAX },
};

static const char *const bad_sizes[] = {
	"", "k", "K", "KiB", "-4k", "+4k", " 4k", "4k ", "4 k", "4\tk",
	"4KB", "4kb", "4kib", "4KIB", "4Ki", "4kk", "4B", "4b", "4e3",
	"1.5M", "0x10", "4k\n",
	"16777216T",			/* 2^64 */
	"18014398509481984k",		/* 2^64 */
	"18446744073709551616",		/* 2^64 */
	"99999999999999999999",
	"184467440737095516150",
};

static const struct {
	uint64_t bytes;
	bool good;
} chunk_sizes[] = {
	{ 0, false },
	{ 512, false },
	{ 2 * KiB, false },
	{ 4 * KiB - 1, false },
	{ 4 * KiB, true },
	{ 4 * KiB + 1, false },
	{ 6 * KiB, false },
	{ 8 * KiB, true },
	{ 64 * KiB, true },
	{ 96 * KiB, false },
	{ MiB, true },
	{ GiB, true },
	{ 2 * GiB, false },
	{ TiB, false },
	{ UINT64_MAX, false },
	{ 1ULL << 63, false },
};

static const struct {
	uint64_t bytes;
	const char *text;
} formats[] = {
	{ 0, "0B" },
	{ 1, "1B" },
	{ 512, "512B" },
	{ 1023, "1023B" },
	{ KiB, "1KiB" },
	{ KiB + 512, "1536B" },
	{ 4 * KiB, "4KiB" },
	{ 64 * KiB, "64KiB" },
	{ 1536 * KiB, "1536KiB" },
	{ MiB, "1MiB" },
	{ 1023 * MiB, "1023MiB" },
	{ GiB, "1GiB" },
	{ TiB, "1TiB" },
	{ 1ULL << 50, "1PiB" },
	{ 1ULL << 60, "1EiB" },
	{ 1ULL << 63, "8EiB" },
	{ UINT64_MAX, "18446744073709551615B" },
};

static const struct {
	const char *text;
	uint64_t max;
	uint64_t v;
	const char *why;	/* NULL: accepted */
} decimals[] = {
	{ "0", 10, 0, NULL },
	{ "10", 10, 10, NULL },
	{ "0010", 10, 10, NULL },
	{ "11", 10, 0, "too large" },
	{ "86400000", 86400000, 86400000, NULL },
	{ "86400001", 86400000, 0, "too large" },
	{ "4294967295", UINT32_MAX, UINT32_MAX, NULL },
	{ "4294967296", UINT32_MAX, 0, "too large" },
	{ "18446744073709551615", UINT64_MAX, UINT64_MAX, NULL },
	{ "18446744073709551616", UINT64_MAX, 0, "too large" },
	{ "1", 0, 0, "too large" },
	{ "0", 0, 0, NULL },
	{ "", 10, 0, "not a number" },
	{ "-1", 10, 0, "not a number" },
	{ "+1", 10, 0, "not a number" },
	{ "1k", 10, 0, "not a number" },
	{ " 1", 10, 0, "not a number" },
	{ "1 ", 10, 0, "not a number" },
	{ "0x1", 10, 0, "not a number" },
};

/* decimal_take(): a number at the start of a longer text. */
static const struct {
	const char *text;
	uint64_t max;
	uint64_t v;
	size_t taken;		/* the characters taken */
	const char *why;	/* NULL: accepted */
} prefixes[] = {
	{ "4-9", UINT64_MAX, 4, 1, NULL },
	{ "64k", UINT64_MAX, 64, 2, NULL },
	{ "0010 end", 10, 10, 4, NULL },
	{ "7", 10, 7, 1, NULL },
	{ "18446744073709551615-", UINT64_MAX, UINT64_MAX, 20, NULL },
	{ "18446744073709551616-", UINT64_MAX, 0, 0, "too large" },
	{ "11-", 10, 0, 0, "too large" },
	{ "-1", 10, 0, 0, "not a number" },
	{ " 1", 10, 0, 0, "not a number" },
	{ "", 10, 0, 0, "not a number" },
};

static void test_decimal_take(void)
{
	const char *why, *p;
	uint64_t v;
	char q[128];
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		p = prefixes[i].text;
		v = 12345;
		why = decimal_take(&p, prefixes[i].max, &v);
		if (prefixes[i].why)
			tap_ok(why && !strcmp(why, prefixes[i].why) && v == 12345 &&
			       p == prefixes[i].text,
			       "decimal_take(\"%s\", %" PRIu64 ") fails: %s, nothing taken",
			       tap_quote(prefixes[i].text, q, sizeof(q)),
			       prefixes[i].max, prefixes[i].why);
		else
			tap_ok(!why && v == prefixes[i].v &&
			       p == prefixes[i].text + prefixes[i].taken,
			       "decimal_take(\"%s\", %" PRIu64 ") = %" PRIu64 ", %zu taken",
			       tap_quote(prefixes[i].text, q, sizeof(q)),
			       prefixes[i].max, prefixes[i].v, prefixes[i].taken);
	}
}

int main(void)
{
	char buf[CBW_SIZE_BUF_LEN], q[128];
	const char *why;
	uint64_t bytes;
	size_t i;

	for (i = 0; i < sizeof(good_sizes) / sizeof(good_sizes[0]); i++) {
		bytes = 12345;
		why = cbw_size_parse(good_sizes[i].text, &bytes);
		tap_ok(!why && bytes == good_sizes[i].bytes,
		       "cbw_size_parse(\"%s\") = %" PRIu64,
		       tap_quote(good_sizes[i].text, q, sizeof(q)),
		       good_sizes[i].bytes);
		if (why || bytes != good_sizes[i].bytes)
			tap_diag("got %s, %" PRIu64, why ? why : "no error", bytes);
	}

	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		bytes = 12345;
		why = cbw_size_parse(bad_sizes[i], &bytes);
		tap_ok(why && bytes == 12345, "cbw_size_parse(\"%s\") fails%s%s",
		       tap_quote(bad_sizes[i], q, sizeof(q)),
		       why ? ": " : "", why ? why : "");
	}

	for (i = 0; i < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); i++) {
		why = cbw_chunk_size_check(chunk_sizes[i].bytes);
		tap_ok(!why == chunk_sizes[i].good, "chunk size %" PRIu64 " %s%s%s",
		       chunk_sizes[i].bytes,
		       chunk_sizes[i].good ? "accepted" : "refused",
		       why ? ": " : "", why ? why : "");
	}

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		cbw_size_format(formats[i].bytes, buf, sizeof(buf));
		tap_ok(!strcmp(buf, formats[i].text), "cbw_size_format(%" PRIu64 ") = %s",
		       formats[i].bytes, formats[i].text);
		if (strcmp(buf, formats[i].text))
			tap_diag("got %s", buf);
	}

	/* Whatever cbw_size_format() prints in a unit, cbw_size_parse() reads back. */
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].bytes % KiB || !formats[i].bytes)
			continue;
		cbw_size_format(formats[i].bytes, buf, sizeof(buf));
		if (!strcmp(buf + strlen(buf) - 3, "PiB") ||
		    !strcmp(buf + strlen(buf) - 3, "EiB"))
			continue;	/* units beyond what sizes take */
		why = cbw_size_parse(buf, &bytes);
		tap_ok(!why && bytes == formats[i].bytes, "\"%s\" reads back", buf);
	}

	for (i = 0; i < sizeof(decimals) / sizeof(decimals[0]); i++) {
		bytes = 12345;
		why = cbw_decimal_parse(decimals[i].text, decimals[i].max, &bytes);
		if (decimals[i].why)
			tap_ok(why && !strcmp(why, decimals[i].why) && bytes == 12345,
			       "cbw_decimal_parse(\"%s\", %" PRIu64 ") fails: %s",
			       tap_quote(decimals[i].text, q, sizeof(q)),
			       decimals[i].max, decimals[i].why);
		else
			tap_ok(!why && bytes == decimals[i].v,
			       "cbw_decimal_parse(\"%s\", %" PRIu64 ") = %" PRIu64,
			       tap_quote(decimals[i].text, q, sizeof(q)),
			       decimals[i].max, decimals[i].v);
	}

	test_decimal_take();

	/* A short buffer gets a terminated, cut text. */
	cbw_size_format(64 * KiB, buf, 3);
	tap_ok(!strcmp(buf, "64"), "cbw_size_format() into 3 bytes gives \"64\"");

	return tap_done();
}
