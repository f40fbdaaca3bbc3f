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

/* A fresh snapshot of 1024 chunks of 64 KiB on a COW of 1024 slots. */
#define FRESH "128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320"

static const struct {
	const char *line;
	struct cbw_status st;
} good_cbw[] = {
	{ FRESH,
	  { 128, 1024, 1024, 0, 1024, 0, 0, 0, 1024, CBW_STATE_ACTIVE,
	    CBW_REASON_NONE, CBW_REASON_NONE, CBW_POLICY_FAIL,
	    0, 0, 0, 0, 0, 0, 320 } },
	{ "128 1024 1024 1 1023 0 0 1/1024 active - fail 0 1 0 0 1 3 400",
	  { 128, 1024, 1024, 1, 1023, 0, 0, 1, 1024, CBW_STATE_ACTIVE,
	    CBW_REASON_NONE, CBW_REASON_NONE, CBW_POLICY_FAIL,
	    0, 1, 0, 0, 1, 3, 400 } },
	/* Incremental, never resumed: 4 chunks in the set. */
	{ "128 1024 4 0 4 0 0 0/8 setup - break 5000 0 0 0 0 0 96",
	  { 128, 1024, 4, 0, 4, 0, 0, 0, 8, CBW_STATE_SETUP,
	    CBW_REASON_NONE, CBW_REASON_NONE, CBW_POLICY_BREAK,
	    5000, 0, 0, 0, 0, 0, 96 } },
	{ "8 16 0 0 0 0 0 0/1 broken:user - fail 0 0 0 0 0 0 0",
	  { 8, 16, 0, 0, 0, 0, 0, 0, 1, CBW_STATE_BROKEN,
	    CBW_REASON_USER, CBW_REASON_NONE, CBW_POLICY_FAIL,
	    0, 0, 0, 0, 0, 0, 0 } },
	{ "8 16 10 2 8 3 3 2/2 broken:cow_full cow_full drop 86400000 9 4 1 7 12345 64",
	  { 8, 16, 10, 2, 8, 3, 3, 2, 2, CBW_STATE_BROKEN,
	    CBW_REASON_COW_FULL, CBW_REASON_COW_FULL, CBW_POLICY_DROP,
	    86400000, 9, 4, 1, 7, 12345, 64 } },
	{ "2048 64 64 64 0 0 0 64/64 broken:io_error timeout fail 10 3 1 1 17 2 8",
	  { 2048, 64, 64, 64, 0, 0, 0, 64, 64, CBW_STATE_BROKEN,
	    CBW_REASON_IO_ERROR, CBW_REASON_TIMEOUT, CBW_POLICY_FAIL,
	    10, 3, 1, 1, 17, 2, 8 } },
	{ "128 4 4 0 4 0 0 0/4 broken:timeout - fail 1 0 0 0 0 0 0",
	  { 128, 4, 4, 0, 4, 0, 0, 0, 4, CBW_STATE_BROKEN,
	    CBW_REASON_TIMEOUT, CBW_REASON_NONE, CBW_POLICY_FAIL,
	    1, 0, 0, 0, 0, 0, 0 } },
	{ "128 4 4 0 4 0 0 0/4 broken:no_memory no_memory fail 0 0 0 0 0 0 0",
	  { 128, 4, 4, 0, 4, 0, 0, 0, 4, CBW_STATE_BROKEN,
	    CBW_REASON_NO_MEMORY, CBW_REASON_NO_MEMORY, CBW_POLICY_FAIL,
	    0, 0, 0, 0, 0, 0, 0 } },
	{ "128 0 0 0 0 0 0 0/0 active io_error fail 0 0 0 0 0 0 0",
	  { 128, 0, 0, 0, 0, 0, 0, 0, 0, CBW_STATE_ACTIVE,
	    CBW_REASON_NONE, CBW_REASON_IO_ERROR, CBW_POLICY_FAIL,
	    0, 0, 0, 0, 0, 0, 0 } },
	{ "2097152 1 1 0 1 0 0 0/3 active - fail 0 0 0 0 0 0 0",
	  { 2097152, 1, 1, 0, 1, 0, 0, 0, 3, CBW_STATE_ACTIVE,
	    CBW_REASON_NONE, CBW_REASON_NONE, CBW_POLICY_FAIL,
	    0, 0, 0, 0, 0, 0, 0 } },
	{ "8 " MAX " " MAX " 0 " MAX " 0 0 " MAX "/" MAX " active - fail 0 "
	  MAX " " MAX " " MAX " " MAX " " MAX " " MAX,
	  { 8, UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, 0, 0, UINT64_MAX,
	    UINT64_MAX, CBW_STATE_ACTIVE, CBW_REASON_NONE, CBW_REASON_NONE,
	    CBW_POLICY_FAIL, 0, UINT64_MAX, UINT64_MAX, UINT64_MAX,
	    UINT64_MAX, UINT64_MAX, UINT64_MAX } },
	/* Everything dropped or discarded. */
	{ "8 " MAX " 0 0 0 1 18446744073709551614 0/0 active - drop 0 0 0 0 0 0 0",
	  { 8, UINT64_MAX, 0, 0, 0, 1, UINT64_MAX - 1, 0, 0, CBW_STATE_ACTIVE,
	    CBW_REASON_NONE, CBW_REASON_NONE, CBW_POLICY_DROP,
	    0, 0, 0, 0, 0, 0, 0 } },
	/* Errors can outnumber the jobs read just before them. */
	{ "128 16 16 0 16 0 0 0/16 active - fail 0 3 4 0 0 0 0",
	  { 128, 16, 16, 0, 16, 0, 0, 0, 16, CBW_STATE_ACTIVE,
	    CBW_REASON_NONE, CBW_REASON_NONE, CBW_POLICY_FAIL,
	    0, 3, 4, 0, 0, 0, 0 } },
};

static const char *const bad_cbw[] = {
	"",
	" ",
	"128",
	/* The format before issue 3 (7 fields). */
	"128 1024 0 1024 0 0 0",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0",	/* 17 */
	FRESH " 0",							/* 19 */
	FRESH " ",
	" " FRESH,
	FRESH "\n",
	"128  1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",
	"128\t1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 x",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 -1",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 +1",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 1x",
	"0x80 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 18446744073709551616",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 000000000000000000000000000000000000000000000000001",
	/* slots */
	"128 1024 1024 0 1024 0 0 0 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/ active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 /1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024/1 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0-1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 x/1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/18446744073709551616 active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 5/4 active - fail 0 0 0 0 0 0 320",	/* used > total */
	/* state */
	"128 1024 1024 0 1024 0 0 0/1024 Active - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 valid - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 broken - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 broken: - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 broken:- - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 broken:eio - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 broken:user: - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 setup:user - fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 - - fail 0 0 0 0 0 0 320",
	/* first error */
	"128 1024 1024 0 1024 0 0 0/1024 active none fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active -- fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active IO_ERROR fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active 0 fail 0 0 0 0 0 0 320",
	/* policy */
	"128 1024 1024 0 1024 0 0 0/1024 active - Fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active - ignore 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active - 0 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 0/1024 active - fail fail 0 0 0 0 0 320",
	/* fields swapped */
	"128 1024 1024 0 1024 0 0 0/1024 - active fail 0 0 0 0 0 0 320",
	"128 1024 1024 0 1024 0 0 active 0/1024 - fail 0 0 0 0 0 0 320",
	/* numbers that do not agree */
	"128 1024 1025 0 1025 0 0 0/1024 active - fail 0 0 0 0 0 0 320",	/* in > chunks */
	"128 1024 1024 1 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",	/* 1 + 1024 */
	"128 1024 1024 0 1023 0 0 0/1024 active - fail 0 0 0 0 0 0 320",
	"128 1024 4 5 " MAX " 0 0 0/1024 active - fail 0 0 0 0 0 0 320",	/* wraps */
	"128 1024 1024 0 1024 1 0 0/1024 active - fail 0 0 0 0 0 0 320",	/* + dropped */
	"128 1024 1024 0 1024 0 1 0/1024 active - fail 0 0 0 0 0 0 320",	/* + discarded */
	"128 1024 1000 0 1000 20 5 0/1024 active - fail 0 0 0 0 0 0 320",
	"8 " MAX " 0 0 0 1 " MAX " 0/0 active - drop 0 0 0 0 0 0 0",	/* wraps */
	"128 1024 1024 0 1024 0 0 0/1024 active - fail 86400001 0 0 0 0 0 320",
	"0 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",	/* chunk 0 */
	"4 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",	/* chunk < 8 */
	"100 1024 1024 0 1024 0 0 0/1024 active - fail 0 0 0 0 0 0 320",
	"valid 0 0 0",				/* the other target's line */
	FRESH " valid",
};

static const struct {
	const char *line;
	struct cbw_access_status st;
} good_access[] = {
	{ "valid 0 0 0", { CBW_ACCESS_VALID, 0, 0, 0 } },
	{ "invalid 5 6 7", { CBW_ACCESS_INVALID, 5, 6, 7 } },
	{ "broken 12 34 56", { CBW_ACCESS_BROKEN, 12, 34, 56 } },
	{ "valid " MAX " " MAX " " MAX,
	  { CBW_ACCESS_VALID, UINT64_MAX, UINT64_MAX, UINT64_MAX } },
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
	"broken:user 0 0 0",
	"active 0 0 0",
	"ok 0 0 0",
	"1 0 0 0",
	"valid -1 0 0",
	"valid 0 0 x",
	"valid 0 0 18446744073709551616",
	"valid\t0 0 0",
	FRESH,
};

/* Track tables (issue 24): 23 fields. */
#define UUID "5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6b"
#define TRACK_ONLY "128 1024 0 0 0 0 0 0/0 none - fail 0 0 0 0 0 0 384"

static const struct {
	const char *line;
	enum cbw_state state;
	struct cbw_track_info tr;
} good_track[] = {
	/* The spec's example: track-only, 3 changed. */
	{ TRACK_ONLY " " UUID " 1 3 - 0", CBW_STATE_NONE,
	  { .tracking = true, .uuid = UUID, .generation = 1, .changed = 3,
	    .set = CBW_TRACK_SET_NONE } },
	{ TRACK_ONLY " " UUID " 1 0 - 0", CBW_STATE_NONE,
	  { .tracking = true, .uuid = UUID, .generation = 1 } },
	{ TRACK_ONLY " " UUID " 7 1024 - 0", CBW_STATE_NONE,
	  { .tracking = true, .uuid = UUID, .generation = 7, .changed = 1024 } },
	/* A track snapshot of generation 4: 10 pending, 2 changed since. */
	{ "128 1024 10 0 10 0 0 0/256 active - fail 0 0 0 0 0 0 900 " UUID
	  " 5 2 pending:4 10", CBW_STATE_ACTIVE,
	  { .tracking = true, .uuid = UUID, .generation = 5, .changed = 2,
	    .set = CBW_TRACK_SET_PENDING, .set_generation = 4,
	    .set_chunks = 10 } },
	{ "128 1024 10 3 7 0 0 3/256 active - fail 0 1 0 0 1 2 900 " UUID
	  " 5 2 committed:4 0", CBW_STATE_ACTIVE,
	  { .tracking = true, .uuid = UUID, .generation = 5, .changed = 2,
	    .set = CBW_TRACK_SET_COMMITTED, .set_generation = 4 } },
	{ "128 1024 10 3 7 0 0 3/256 active - fail 0 1 0 0 1 2 900 " UUID
	  " 5 2 committed:4 6", CBW_STATE_ACTIVE,
	  { .tracking = true, .uuid = UUID, .generation = 5, .changed = 2,
	    .set = CBW_TRACK_SET_COMMITTED, .set_generation = 4,
	    .set_chunks = 6 } },
	/* A broken track snapshot still tracks. */
	{ "128 1024 10 0 10 0 0 0/256 broken:user - fail 0 0 0 0 0 0 900 " UUID
	  " " MAX " 0 pending:1 10", CBW_STATE_BROKEN,
	  { .tracking = true, .uuid = UUID, .generation = UINT64_MAX,
	    .set = CBW_TRACK_SET_PENDING, .set_generation = 1,
	    .set_chunks = 10 } },
};

static const char *const bad_track[] = {
	TRACK_ONLY,						/* none, 18 */
	TRACK_ONLY " " UUID,					/* 19 */
	TRACK_ONLY " " UUID " 1",
	TRACK_ONLY " " UUID " 1 3",
	TRACK_ONLY " " UUID " 1 3 -",				/* 22 */
	TRACK_ONLY " " UUID " 1 3 - 0 0",			/* 24 */
	TRACK_ONLY " " UUID " 1 3 - 0 ",
	TRACK_ONLY "  " UUID " 1 3 - 0",
	TRACK_ONLY " " UUID " 1 3 - 0\n",
	/* uuid */
	TRACK_ONLY " 5E0B2C1A-8F3D-4B6E-9A70-1C2D3E4F5A6B 1 3 - 0",
	TRACK_ONLY " 5e0b2c1a8f3d4b6e9a701c2d3e4f5a6b 1 3 - 0",
	TRACK_ONLY " 5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6 1 3 - 0",
	TRACK_ONLY " 5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6bb 1 3 - 0",
	TRACK_ONLY " 5e0b2c1a-8f3d-4b6e-9a70+1c2d3e4f5a6b 1 3 - 0",
	TRACK_ONLY " 5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6g 1 3 - 0",
	TRACK_ONLY " - 1 3 - 0",
	/* generation */
	TRACK_ONLY " " UUID " 0 3 - 0",
	TRACK_ONLY " " UUID " -1 3 - 0",
	TRACK_ONLY " " UUID " x 3 - 0",
	TRACK_ONLY " " UUID " 18446744073709551616 3 - 0",
	/* changed */
	TRACK_ONLY " " UUID " 1 1025 - 0",			/* > chunks */
	TRACK_ONLY " " UUID " 1 x - 0",
	/* set */
	TRACK_ONLY " " UUID " 1 3 pending 0",
	TRACK_ONLY " " UUID " 1 3 pending: 0",
	TRACK_ONLY " " UUID " 1 3 pending:0 0",
	TRACK_ONLY " " UUID " 1 3 pending:x 0",
	TRACK_ONLY " " UUID " 1 3 Pending:1 0",
	TRACK_ONLY " " UUID " 1 3 frozen:1 0",
	TRACK_ONLY " " UUID " 1 3 -- 0",
	TRACK_ONLY " " UUID " 1 3 - 1",				/* - with chunks */
	TRACK_ONLY " " UUID " 2 3 pending:1 1",			/* none with a set */
	"128 1024 10 0 10 0 0 0/256 active - fail 0 0 0 0 0 0 900 " UUID
	" 4 2 pending:4 10",					/* set not older */
	"128 1024 10 0 10 0 0 0/256 active - fail 0 0 0 0 0 0 900 " UUID
	" 4 2 pending:5 10",
	"128 1024 10 0 10 0 0 0/256 active - fail 0 0 0 0 0 0 900 " UUID
	" 5 2 pending:4 1025",					/* > chunks */
	/* none with snapshot counts */
	"128 1024 1 0 1 0 0 0/0 none - fail 0 0 0 0 0 0 384 " UUID " 1 3 - 0",
	"128 1024 0 0 0 0 0 0/8 none - fail 0 0 0 0 0 0 384 " UUID " 1 3 - 0",
	"128 1024 0 0 0 1 0 0/0 none - fail 0 0 0 0 0 0 384 " UUID " 1 3 - 0",
	"128 1024 0 0 0 0 0 0/0 none: - fail 0 0 0 0 0 0 384 " UUID " 1 3 - 0",
	"128 1024 0 0 0 0 0 0/0 broken:none - fail 0 0 0 0 0 0 384 " UUID " 1 3 - 0",
};

static bool same_track(const struct cbw_track_info *a,
		       const struct cbw_track_info *b)
{
	return a->tracking == b->tracking && !strcmp(a->uuid, b->uuid) &&
	       a->generation == b->generation && a->changed == b->changed &&
	       a->set == b->set && a->set_generation == b->set_generation &&
	       a->set_chunks == b->set_chunks && !a->snapshot &&
	       !a->chunk_bytes && !a->changed_bytes && !a->set_bytes;
}

static void check_track(void)
{
	struct cbw_track_info tr;
	struct cbw_status st;
	char q[256], word[24];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(good_track) / sizeof(good_track[0]); i++) {
		memset(&tr, 0xa5, sizeof(tr));
		why = cbw_status_parse_track(good_track[i].line, &st, &tr);
		tap_ok(!why && st.state == good_track[i].state &&
		       same_track(&tr, &good_track[i].tr),
		       "track status \"%s\" parses", good_track[i].line);
		if (why)
			tap_diag("refused: %s", why);
		tap_ok(!cbw_status_parse(good_track[i].line, &st),
		       "and cbw_status_parse() takes it too");
	}
	tap_ok(!cbw_status_parse_track(TRACK_ONLY " " UUID " 1 3 - 0", &st, NULL) &&
	       !strcmp(cbw_state_format(&st, word, sizeof(word)), "none"),
	       "state none gives its word back");
	memset(&tr, 0xa5, sizeof(tr));
	tap_ok(!cbw_status_parse_track(FRESH, &st, &tr) && !tr.tracking &&
	       !tr.uuid[0] && !tr.generation && !tr.changed,
	       "an 18-field line does not track, its tracking fields 0");
	for (i = 0; i < sizeof(bad_track) / sizeof(bad_track[0]); i++) {
		why = cbw_status_parse_track(bad_track[i], &st, &tr);
		tap_ok(why != NULL, "track status \"%s\" is refused%s%s",
		       tap_quote(bad_track[i], q, sizeof(q)),
		       why ? ": " : "", why ? why : "");
	}
	tap_ok(track_uuid_valid(UUID) && !track_uuid_valid(NULL) &&
	       !track_uuid_valid(""), "track_uuid_valid()");
}

static bool same_cbw(const struct cbw_status *a, const struct cbw_status *b)
{
	return a->chunk_sectors == b->chunk_sectors && a->chunks == b->chunks &&
	       a->in_snapshot == b->in_snapshot && a->copied == b->copied &&
	       a->to_copy == b->to_copy && a->dropped == b->dropped &&
	       a->discarded == b->discarded && a->slots_used == b->slots_used &&
	       a->slots_total == b->slots_total && a->state == b->state &&
	       a->broken == b->broken && a->first_error == b->first_error &&
	       a->policy == b->policy && a->timeout_ms == b->timeout_ms &&
	       a->copies == b->copies && a->copy_errors == b->copy_errors &&
	       a->timeouts == b->timeouts && a->waited == b->waited &&
	       a->wait_ms == b->wait_ms && a->bytes == b->bytes;
}

static bool same_access(const struct cbw_access_status *a,
			const struct cbw_access_status *b)
{
	return a->state == b->state && a->origin_reads == b->origin_reads &&
	       a->cow_reads == b->cow_reads && a->failed_reads == b->failed_reads;
}

/* The words a parsed status gives back are the ones of the line. */
static void check_words(void)
{
	static const char *const states[] = {
		"setup", "active", "broken:io_error", "broken:timeout",
		"broken:cow_full", "broken:no_memory", "broken:user",
	};
	static const char *const errors[] = {
		"-", "io_error", "timeout", "cow_full", "no_memory", "user",
	};
	static const char *const policies[] = { "fail", "break", "drop" };
	static const char *const access[] = { "valid", "broken", "invalid" };
	struct cbw_access_status ast;
	struct cbw_status st;
	char line[160], word[24];
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		snprintf(line, sizeof(line),
			 "128 8 8 0 8 0 0 0/8 %s %s %s 0 0 0 0 0 0 0", states[i],
			 errors[i % 6], policies[i % 3]);
		tap_ok(!cbw_status_parse(line, &st) &&
		       !strcmp(cbw_state_format(&st, word, sizeof(word)), states[i]) &&
		       !strcmp(cbw_reason_name(st.first_error), errors[i % 6]) &&
		       !strcmp(cbw_policy_name(st.policy), policies[i % 3]),
		       "cbw status \"%s\" gives its words back", line);
	}
	for (i = 0; i < sizeof(access) / sizeof(access[0]); i++) {
		snprintf(line, sizeof(line), "%s 1 2 3", access[i]);
		tap_ok(!access_status_parse(line, &ast) &&
		       !strcmp(cbw_access_state_name(ast.state), access[i]),
		       "snapshot-access status \"%s\" gives its state back", line);
	}
}

int main(void)
{
	struct cbw_access_status ast;
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
	check_words();
	check_track();

	return tap_done();
}
