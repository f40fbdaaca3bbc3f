// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libcbw through its public header alone (libcbw.h): the
 * version, the parsers and formatters it shares with cbwctl, and the
 * errors of every call whose arguments are wrong or whose devices do not
 * exist, which need no device-mapper device, no kernel module and no
 * root.  The library must say why (cbw_get_error()), give the errno of
 * the table in libcbw.h (return value and cbw_get_errno()), and print
 * nothing (stdout is TAP here: a stray line would break it).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libcbw.h>

#include "tap.h"

/* The call returned -@err, and the error says so and mentions @part. */
static void expect_error(int r, int err, const char *part, const char *what)
{
	char q[512];

	tap_ok(r == -err && cbw_get_errno() == err &&
	       strstr(cbw_get_error(), part) != NULL,
	       "%s: -%s, '%s'", what, strerror(err),
	       tap_quote(cbw_get_error(), q, sizeof(q)));
}

static void test_version(void)
{
	char want[40];

	snprintf(want, sizeof(want), "%d.%d.%d", LIBCBW_VERSION_MAJOR,
		 LIBCBW_VERSION_MINOR, LIBCBW_VERSION_PATCH);
	tap_ok(!strcmp(cbw_version(), want),
	       "cbw_version() '%s' is the header's version %s (the release's, debian/changelog)",
	       cbw_version(), want);
}

static void test_parsers(void)
{
	char buf[CBW_SIZE_BUF_LEN];
	enum cbw_policy policy;
	enum cbw_format format;
	uint64_t v = 0;

	tap_ok(!cbw_size_parse("64k", &v) && v == 65536, "size 64k");
	tap_ok(cbw_size_parse("1.5M", &v) != NULL, "size 1.5M refused");
	tap_ok(!strcmp(cbw_size_format(1536 * 1024, buf, sizeof(buf)),
		       "1536KiB"), "1536KiB formatted");
	tap_ok(!cbw_chunk_size_check(CBW_CHUNK_DEFAULT_BYTES) &&
	       cbw_chunk_size_check(3000) && cbw_chunk_size_check(2ULL << 30),
	       "chunk sizes: 64KiB taken, 3000 and 2GiB refused");
	tap_ok(!cbw_io_size_check(CBW_IO_SIZE_DEFAULT) &&
	       cbw_io_size_check(CBW_IO_SIZE_MAX * 2), "I/O sizes");
	tap_ok(!cbw_decimal_parse("500", CBW_MAX_TIMEOUT_MS, &v) && v == 500 &&
	       cbw_decimal_parse("86400001", CBW_MAX_TIMEOUT_MS, &v),
	       "timeouts up to one day");
	tap_ok(cbw_policy_parse("drop", &policy) && policy == CBW_POLICY_DROP &&
	       !strcmp(cbw_policy_name(policy), "drop") &&
	       !cbw_policy_parse("Drop", &policy), "policies");
	tap_ok(cbw_format_parse("era", &format) && format == CBW_FORMAT_ERA &&
	       !cbw_format_parse("auto", &format), "chunk set formats");
	tap_ok(!cbw_name_check("data", true) && cbw_name_check("a/b", false) &&
	       cbw_name_check("x-snap", true) && !cbw_name_check("x-snap", false),
	       "device names");
	tap_ok(!strcmp(cbw_reason_name(CBW_REASON_COW_FULL), "cow_full") &&
	       !strcmp(cbw_access_state_name(CBW_ACCESS_INVALID), "invalid"),
	       "status words");
}

static void test_state_format(void)
{
	struct cbw_status st = { .state = CBW_STATE_BROKEN,
				 .broken = CBW_REASON_TIMEOUT };
	char buf[24];

	tap_ok(!strcmp(cbw_state_format(&st, buf, sizeof(buf)),
		       "broken:timeout"), "state broken:timeout");
}

static void test_bad_arguments(void)
{
	struct cbw_create_opts co = { .name = "t", .origin = "/nonexistent/o",
				      .cow = "/nonexistent/c" };
	struct cbw_snapshot_opts so = { .dev = "", .cow = "/dev/null" };
	struct cbw_backup_opts bo = { .to = "/tmp/x.img", .io_size = 3 };
	struct cbw_import_opts io = { .file = "-" };
	struct cbw_settings set = { 0 };
	struct cbw_backup_result res, zero = { 0 };
	struct cbw_nodes nodes;
	struct cbw_info info;
	struct cbw_map *map;

	expect_error(cbw_create(&co, &nodes), ENODEV,
		     "origin device /nonexistent/o does not exist",
		     "create on a missing origin");
	co.name = "bad/name";
	expect_error(cbw_create(&co, &nodes), EINVAL, "bad/name",
		     "create with a '/' in the name");
	co.name = "t";
	co.chunk_bytes = 1000;
	expect_error(cbw_create(&co, &nodes), EINVAL, "power of two",
		     "create with a chunk of 1000 bytes");
	expect_error(cbw_snapshot(&so, NULL, 0), EINVAL, "snapshot",
		     "snapshot of an empty device name");
	so.dev = "/nonexistent/dev";
	expect_error(cbw_snapshot(&so, NULL, 0), ENODEV,
		     "/nonexistent/dev does not exist", "snapshot of a missing path");
	expect_error(cbw_release(NULL), EINVAL, "release", "release of NULL");
	expect_error(cbw_remove("a/b"), EINVAL, "a/b", "remove 'a/b'");
	expect_error(cbw_info_get("..", &info), EINVAL, "'..'", "info of '..'");
	expect_error(cbw_snapshot_device("", false, &info), EINVAL, "empty",
		     "snapshot device of ''");
	expect_error(cbw_map_open("x/y", &map), EINVAL, "x/y", "map of 'x/y'");
	tap_ok(map == NULL, "no walk after a failed cbw_map_open()");
	expect_error(cbw_import("x/y", &io), EINVAL, "x/y", "import into 'x/y'");
	expect_error(cbw_start(""), EINVAL, "empty", "start ''");
	expect_error(cbw_set("t", &set), EINVAL, "nothing to set",
		     "set without a setting");
	expect_error(cbw_discard("a/b", 0, 4096), EINVAL, "a/b",
		     "discard on 'a/b'");
	expect_error(cbw_backup("t", &bo, &res), EINVAL, "power of two",
		     "backup with an I/O size of 3");
	tap_ok(res.nr_failed == 0 && res.failed == NULL,
	       "an empty result after a refused backup");
	cbw_backup_result_free(&res);

	/* @res is filled on failure too, NULL options the first of them. */
	memset(&res, 0x41, sizeof(res));
	expect_error(cbw_backup("t", NULL, &res), EINVAL, "no options",
		     "backup without options");
	tap_ok(!memcmp(&res, &zero, sizeof(res)),
	       "an empty result after a backup without options");
	cbw_backup_result_free(&res);	/* would free 0x4141... */
}

/* NULL pointers and values outside their enum: errors, never a crash. */
static void test_null_and_range(void)
{
	struct cbw_create_opts co = { .name = "t", .origin = "/nonexistent/o",
				      .cow = "/nonexistent/c" };
	struct cbw_snapshot_opts so = { .dev = "vg-x", .cow = "/dev/null" };
	struct cbw_settings set = { .set_policy = true };
	struct cbw_import_opts io = { .file = NULL };
	struct cbw_backup_opts bo = { .to = "/tmp/x.img" };
	struct cbw_status st = { .state = CBW_STATE_BROKEN };
	struct cbw_backup_result res;
	uint64_t v = 1, chunk = 1, chunks = 1, size = 1;
	enum cbw_policy policy;
	enum cbw_format format;
	char buf[24] = "unwritten";
	struct cbw_extent e;
	size_t count;
	char **names;

	expect_error(cbw_create(NULL, NULL), EINVAL, "NULL", "create(NULL)");
	co.policy = (enum cbw_policy)7;
	expect_error(cbw_create(&co, NULL), EINVAL, "policy",
		     "create with policy 7");
	co.policy = CBW_POLICY_FAIL;
	co.set_file = "-";
	co.set_format = (enum cbw_format)9;
	expect_error(cbw_create(&co, NULL), EINVAL, "format",
		     "create with format 9");
	co.name = NULL;
	expect_error(cbw_create(&co, NULL), EINVAL, "name",
		     "create without a name");
	expect_error(cbw_snapshot(NULL, NULL, 0), EINVAL, "NULL",
		     "snapshot(NULL)");
	so.policy = (enum cbw_policy)-1;
	expect_error(cbw_snapshot(&so, NULL, 0), EINVAL, "policy",
		     "snapshot with policy -1");
	so.policy = CBW_POLICY_FAIL;
	expect_error(cbw_snapshot(&so, buf, 0), EINVAL, "room",
		     "snapshot with a node buffer of 0 bytes");
	expect_error(cbw_remove(NULL), EINVAL, "NULL", "remove(NULL)");
	expect_error(cbw_info_get("t", NULL), EINVAL, "NULL",
		     "info into NULL");
	expect_error(cbw_info_get(NULL, NULL), EINVAL, "NULL",
		     "info of NULL into NULL");
	expect_error(cbw_snapshot_device("t", false, NULL), EINVAL, "NULL",
		     "snapshot device into NULL");
	expect_error(cbw_list(NULL, &count), EINVAL, "NULL", "list into NULL");
	expect_error(cbw_list(&names, NULL), EINVAL, "NULL",
		     "list without a count");
	cbw_list_free(NULL, 3);
	expect_error(cbw_set("t", NULL), EINVAL, "NULL", "set(NULL)");
	set.policy = (enum cbw_policy)3;
	expect_error(cbw_set("t", &set), EINVAL, "policy", "set policy 3");
	expect_error(cbw_map_open("t", NULL), EINVAL, "NULL",
		     "map walk into NULL");
	expect_error(cbw_map_next(NULL, &e), EINVAL, "NULL", "next of NULL");
	cbw_map_geometry(NULL, &chunk, &chunks, &size);
	tap_ok(!chunk && !chunks && !size, "geometry of no walk: zeros");
	expect_error(cbw_import("t", NULL), EINVAL, "no chunk set file",
		     "import(NULL)");
	expect_error(cbw_import("t", &io), EINVAL, "no chunk set file",
		     "import of no file");
	io.file = "-";
	io.format = (enum cbw_format)4;
	expect_error(cbw_import("t", &io), EINVAL, "format",
		     "import with format 4");
	expect_error(cbw_start(NULL), EINVAL, "NULL", "start(NULL)");
	expect_error(cbw_discard(NULL, 0, 4096), EINVAL, "NULL",
		     "discard on NULL");
	expect_error(cbw_backup("t", NULL, &res), EINVAL, "NULL",
		     "backup without options");
	expect_error(cbw_backup("t", &bo, NULL), EINVAL, "NULL",
		     "backup without a result");
	expect_error(cbw_backup(NULL, &bo, &res), EINVAL, "NULL",
		     "backup of NULL");
	cbw_backup_result_free(&res);
	cbw_backup_result_free(NULL);
	cbw_map_close(NULL);

	tap_ok(cbw_name_check(NULL, false) != NULL, "no name is no name");
	tap_ok(cbw_size_parse(NULL, &v) && cbw_size_parse("1", NULL) &&
	       cbw_decimal_parse(NULL, 10, &v) &&
	       cbw_decimal_parse("1", 10, NULL) && v == 1,
	       "parsers refuse NULL");
	tap_ok(!cbw_size_format(1, NULL, 8) && !cbw_size_format(1, buf, 0),
	       "no buffer, no size text");
	tap_ok(!cbw_policy_parse(NULL, &policy) &&
	       !cbw_policy_parse("drop", NULL) &&
	       !cbw_format_parse(NULL, &format) &&
	       !cbw_format_parse("raw", NULL), "word parsers refuse NULL");
	tap_ok(!cbw_policy_name((enum cbw_policy)3) &&
	       !cbw_policy_name((enum cbw_policy)-1) &&
	       !cbw_reason_name((enum cbw_reason)6) &&
	       !cbw_access_state_name((enum cbw_access_state)3),
	       "names of values outside their enum are NULL");
	st.broken = (enum cbw_reason)40;
	tap_ok(!cbw_state_format(&st, buf, sizeof(buf)) && !buf[0],
	       "a broken state with an unknown reason: NULL and \"\"");
	st.state = (enum cbw_state)5;
	strcpy(buf, "unwritten");
	tap_ok(!cbw_state_format(&st, buf, sizeof(buf)) && !buf[0],
	       "an unknown state: NULL and \"\"");
	tap_ok(!cbw_state_format(NULL, buf, sizeof(buf)) &&
	       !cbw_state_format(&st, NULL, 8), "state of NULL, into NULL");
}

static void test_error_cleared(void)
{
	struct cbw_info info;

	cbw_info_get("a/b", &info);
	tap_ok(cbw_get_errno() == EINVAL, "an error is kept");
	cbw_map_close(NULL);
	tap_ok(cbw_get_errno() == EINVAL, "cbw_map_close(NULL) keeps it");
	expect_error(cbw_remove(".."), EINVAL, "..",
		     "the next failed call has its own error");
	tap_ok(!strchr(cbw_get_error(), '\n'), "one line: '%s'",
	       cbw_get_error());
}

/* The log function: keeps the CBW_LOG_REASON lines, '\n' between them. */
static char reasons[1024];

static void keep_reasons(int level, const char *msg, void *data)
{
	size_t len = strlen(reasons);

	(void)data;
	if (level == CBW_LOG_REASON)
		snprintf(reasons + len, sizeof(reasons) - len, "%s%s",
			 len ? "\n" : "", msg);
}

static void test_log_reasons(void)
{
	struct cbw_create_opts co = { .name = "t", .origin = "/nonexistent/o",
				      .cow = "/nonexistent/c" };
	char q[512];

	cbw_set_log(keep_reasons, NULL);
	reasons[0] = '\0';
	cbw_create(&co, NULL);
	tap_ok(reasons[0] && !strcmp(reasons, cbw_get_error()),
	       "the error's lines came to the log function as well: '%s'",
	       tap_quote(reasons, q, sizeof(q)));
	reasons[0] = '\0';
	cbw_remove("a\nb/c");
	tap_ok(!strcmp(reasons, cbw_get_error()) && strchr(reasons, '\n'),
	       "a line with a name with a line break comes whole: '%s'",
	       tap_quote(reasons, q, sizeof(q)));
	cbw_set_log(NULL, NULL);
}

/* A call that fails in another thread. */
static void *fail_in_thread(void *arg)
{
	int *err = arg;

	cbw_start("x/y");
	*err = cbw_get_errno();
	return NULL;
}

static void test_error_per_thread(void)
{
	pthread_t t;
	int err = 0;

	expect_error(cbw_remove(".."), EINVAL, "..", "an error in this thread");
	if (pthread_create(&t, NULL, fail_in_thread, &err)) {
		tap_ok(false, "cannot start a thread");
		return;
	}
	pthread_join(t, NULL);
	tap_ok(err == EINVAL, "the other thread saw its own error");
	tap_ok(cbw_get_errno() == EINVAL && strstr(cbw_get_error(), "'..'") &&
	       !strstr(cbw_get_error(), "x/y"),
	       "this thread still has its own: '%s'", cbw_get_error());
}

/* The calls of change tracking (issue 24): bad arguments, no device needed. */
static void test_track_arguments(void)
{
	struct cbw_track_opts to = { .dev = "vg-x" };
	struct cbw_track_snapshot_opts tso = { .dev = "vg-x", .cow = "/dev/null" };
	struct cbw_track_info ti;
	char buf[8];

	expect_error(cbw_track(NULL, NULL), EINVAL, "NULL", "track(NULL)");
	to.dev = "";
	expect_error(cbw_track(&to, NULL), EINVAL, "device", "track of \"\"");
	to.dev = "vg-x";
	to.chunk_bytes = 3000;
	expect_error(cbw_track(&to, NULL), EINVAL, "power of two",
		     "track with chunks of 3000 bytes");
	to.chunk_bytes = 0;
	to.state_file = "";
	expect_error(cbw_track(&to, NULL), EINVAL, "state file",
		     "track with an empty state file name");
	expect_error(cbw_untrack(NULL, NULL), EINVAL, "device",
		     "untrack(NULL)");
	expect_error(cbw_untrack("vg-x", ""), EINVAL, "state file",
		     "untrack with an empty state file name");
	expect_error(cbw_track_snapshot(NULL, NULL, 0), EINVAL, "NULL",
		     "track snapshot(NULL)");
	expect_error(cbw_track_snapshot(&tso, buf, 0), EINVAL, "room",
		     "track snapshot with a node buffer of 0 bytes");
	tso.policy = (enum cbw_policy)5;
	expect_error(cbw_track_snapshot(&tso, NULL, 0), EINVAL, "policy",
		     "track snapshot with policy 5");
	tso.policy = CBW_POLICY_FAIL;
	tso.timeout_ms = CBW_MAX_TIMEOUT_MS + 1;
	expect_error(cbw_track_snapshot(&tso, NULL, 0), EINVAL, "one day",
		     "track snapshot with a timeout of a day and 1 ms");
	tso.timeout_ms = 0;
	tso.cow = NULL;
	expect_error(cbw_track_snapshot(&tso, NULL, 0), EINVAL, "COW",
		     "track snapshot without a COW device");
	expect_error(cbw_track_info_get("t", NULL), EINVAL, "NULL",
		     "tracking into NULL");
	expect_error(cbw_track_info_get(NULL, &ti), EINVAL, "",
		     "tracking of NULL");
	expect_error(cbw_track_commit("t", NULL, 3), EINVAL, "NULL",
		     "commit of 3 ranges in NULL");
	expect_error(cbw_track_commit("..", NULL, 0), EINVAL, "..",
		     "commit of '..'");
	tap_ok(!strcmp(cbw_track_set_name(CBW_TRACK_SET_NONE), "-") &&
	       !strcmp(cbw_track_set_name(CBW_TRACK_SET_PENDING), "pending") &&
	       !strcmp(cbw_track_set_name(CBW_TRACK_SET_COMMITTED), "committed") &&
	       !cbw_track_set_name((enum cbw_track_set)3) &&
	       !cbw_track_set_name((enum cbw_track_set)-1),
	       "cbw_track_set_name()");
}

int main(void)
{
	test_version();
	test_track_arguments();
	test_parsers();
	test_state_format();
	test_bad_arguments();
	test_null_and_range();
	test_error_cleared();
	test_error_per_thread();
	test_log_reasons();
	cbw_lib_exit();
	return tap_done();
}
