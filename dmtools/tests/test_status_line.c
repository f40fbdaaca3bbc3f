// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of status_line.c: the status lines the two targets print,
 * well-formed ones field by field, and damaged ones of every kind.
 */

#include <inttypes.h>
#include <string.h>

#include "status_line.h"
#include "tap.h"

#define MAX "18446744073709551615"

static const struct {
	const char *line;
	struct cbw_status st;
} good_cbw[] = {
	{ "128 1024 0 1024 0 0 0", { 128, 1024, 0, 1024, 0, 0, 0 } },
	{ "128 1024 1 1023 1 0 0", { 128, 1024, 1, 1023, 1, 0, 0 } },
	{ "8 1 1 0 5 2 9", { 8, 1, 1, 0, 5, 2, 9 } },
	{ "2048 64 64 0 3 0 17", { 2048, 64, 64, 0, 3, 0, 17 } },
	{ "128 0 0 0 0 0 0", { 128, 0, 0, 0, 0, 0, 0 } },
	{ "2147483648 1 0 1 0 0 0", { 2147483648ULL, 1, 0, 1, 0, 0, 0 } },
	{ "8 " MAX " 0 " MAX " " MAX " " MAX " " MAX,
	  { 8, UINT64_MAX, 0, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX } },
	{ "8 " MAX " " MAX " 0 0 0 0", { 8, UINT64_MAX, UINT64_MAX, 0, 0, 0, 0 } },
	/* Errors can outnumber the jobs read just before them. */
	{ "128 16 0 16 3 4 0", { 128, 16, 0, 16, 3, 4, 0 } },
};

static const char *const bad_cbw[] = {
	"",
	" ",
	"128",
	"128 1024 0 1024 0 0",			/* 6 fields */
	"128 1024 0 1024 0 0 0 0",		/* 8 fields */
	"128 1024 0 1024 0 0 0 ",		/* trailing space */
	" 128 1024 0 1024 0 0 0",		/* leading space */
	"128  1024 0 1024 0 0 0",		/* double space */
	"128\t1024 0 1024 0 0 0",
	"128 1024 0 1024 0 0 0\n",
	"128 1024 0 1024 0 0 x",
	"128 1024 0 1024 0 0 -1",
	"128 1024 0 1024 0 0 +1",
	"128 1024 0 1024 0 0 1x",
	"0x80 1024 0 1024 0 0 0",
	"128 1024 0 1024 0 0 18446744073709551616",	/* 2^64 */
	"128 1024 0 1024 0 0 000000000000000000000000000001",
	"128 1024 1 1024 0 0 0",		/* 1 + 1024 != 1024 */
	"128 1024 0 1023 0 0 0",
	"128 1024 1025 0 0 0 0",		/* copied > chunks */
	"128 1024 1025 " MAX " 0 0 0",		/* ... even if it wraps */
	"0 1024 0 1024 0 0 0",			/* chunk 0 */
	"4 1024 0 1024 0 0 0",			/* chunk < 8 */
	"100 1024 0 1024 0 0 0",		/* not a power of two */
	"valid 0 0 0",				/* the other target's line */
	"128 1024 0 1024 0 0 0 valid",
};

static const struct {
	const char *line;
	struct access_status st;
} good_access[] = {
	{ "valid 0 0 0", { true, 0, 0, 0 } },
	{ "invalid 5 6 7", { false, 5, 6, 7 } },
	{ "valid 12 34 56", { true, 12, 34, 56 } },
	{ "valid " MAX " " MAX " " MAX, { true, UINT64_MAX, UINT64_MAX, UINT64_MAX } },
};

static const char *const bad_access[] = {
	"",
	"valid",
	"valid ",
	"valid 0 0",
	"valid 0 0 0 0",
	"valid 0 0 0 ",
	"valid  0 0 0",
	" valid 0 0 0",
	"Valid 0 0 0",
	"VALID 0 0 0",
	"valid, 0 0 0",
	"validx 0 0 0",
	"ok 0 0 0",
	"1 0 0 0",
	"valid -1 0 0",
	"valid 0 0 x",
	"valid 0 0 18446744073709551616",
	"valid\t0 0 0",
	"128 1024 0 1024 0 0 0",
};

static bool same_cbw(const struct cbw_status *a, const struct cbw_status *b)
{
	return a->chunk_sectors == b->chunk_sectors && a->chunks == b->chunks &&
	       a->copied == b->copied && a->to_copy == b->to_copy &&
	       a->copies == b->copies && a->copy_errors == b->copy_errors &&
	       a->waited == b->waited;
}

static bool same_access(const struct access_status *a,
			const struct access_status *b)
{
	return a->valid == b->valid && a->origin_reads == b->origin_reads &&
	       a->cow_reads == b->cow_reads && a->waited == b->waited;
}

int main(void)
{
	struct access_status ast;
	struct cbw_status st;
	const char *why;
	char q[256];
	size_t i;

	for (i = 0; i < sizeof(good_cbw) / sizeof(good_cbw[0]); i++) {
		memset(&st, 0xa5, sizeof(st));
		why = cbw_status_parse(good_cbw[i].line, &st);
		tap_ok(!why && same_cbw(&st, &good_cbw[i].st),
		       "cbw status \"%s\" parses", good_cbw[i].line);
		if (why)
			tap_diag("refused: %s", why);
	}
	for (i = 0; i < sizeof(bad_cbw) / sizeof(bad_cbw[0]); i++) {
		why = cbw_status_parse(bad_cbw[i], &st);
		tap_ok(why != NULL, "cbw status \"%s\" is refused%s%s",
		       tap_quote(bad_cbw[i], q, sizeof(q)),
		       why ? ": " : "", why ? why : "");
	}

	for (i = 0; i < sizeof(good_access) / sizeof(good_access[0]); i++) {
		memset(&ast, 0xa5, sizeof(ast));
		why = access_status_parse(good_access[i].line, &ast);
		tap_ok(!why && same_access(&ast, &good_access[i].st),
		       "snapshot-access status \"%s\" parses",
		       good_access[i].line);
		if (why)
			tap_diag("refused: %s", why);
	}
	for (i = 0; i < sizeof(bad_access) / sizeof(bad_access[0]); i++) {
		why = access_status_parse(bad_access[i], &ast);
		tap_ok(why != NULL, "snapshot-access status \"%s\" is refused%s%s",
		       tap_quote(bad_access[i], q, sizeof(q)),
		       why ? ": " : "", why ? why : "");
	}

	return tap_done();
}
