// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of progress.c: sizes and durations for people, and the text
 * of the bar at the start, half-way, at the end and past it.
 */

#include <inttypes.h>
#include <string.h>

#include "progress.h"
#include "tap.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define SEC 1000000000ULL

int main(void)
{
	static const struct {
		uint64_t bytes;
		const char *text;
	} sizes[] = {
		{ 0, "0B" }, { 1023, "1023B" }, { KiB, "1.0KiB" },
		{ 1536, "1.5KiB" }, { 64 * KiB, "64.0KiB" },
		{ 120 * MiB + MiB / 2, "120.5MiB" }, { GiB - 1, "1024.0MiB" },
		{ 2 * GiB, "2.0GiB" }, { 1ULL << 40, "1.0TiB" },
		{ UINT64_MAX, "16.0EiB" },
	};
	static const struct {
		uint64_t secs;
		const char *text;
	} times[] = {
		{ 0, "0:00" }, { 5, "0:05" }, { 65, "1:05" }, { 3599, "59:59" },
		{ 3600, "1:00:00" }, { 3723, "1:02:03" }, { 360000, "100:00:00" },
	};
	char buf[HUMAN_BUF_LEN], line[256];
	size_t i;
	int n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		human_bytes(sizes[i].bytes, buf);
		tap_ok(!strcmp(buf, sizes[i].text), "human_bytes(%" PRIu64 ") = %s",
		       sizes[i].bytes, sizes[i].text);
		if (strcmp(buf, sizes[i].text))
			tap_diag("got %s", buf);
	}
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		human_duration(times[i].secs, buf);
		tap_ok(!strcmp(buf, times[i].text), "human_duration(%" PRIu64 ") = %s",
		       times[i].secs, times[i].text);
		if (strcmp(buf, times[i].text))
			tap_diag("got %s", buf);
	}

	n = progress_format(line, sizeof(line), "backup data", 0, 256 * MiB, 0);
	tap_ok(!strcmp(line, "backup data:   0% 0B/256.0MiB  0B/s") &&
	       n == (int)strlen(line), "at the start: '%s'", line);
	progress_format(line, sizeof(line), "backup data", 128 * MiB, 256 * MiB,
			2 * SEC);
	tap_ok(!strcmp(line, "backup data:  50% 128.0MiB/256.0MiB  64.0MiB/s  ETA 0:02"),
	       "half-way: '%s'", line);
	progress_format(line, sizeof(line), "backup data", 256 * MiB, 256 * MiB,
			4 * SEC);
	tap_ok(!strcmp(line, "backup data: 100% 256.0MiB/256.0MiB  64.0MiB/s"),
	       "at the end, no ETA: '%s'", line);
	progress_format(line, sizeof(line), "b", 300 * MiB, 256 * MiB, SEC);
	tap_ok(!strncmp(line, "b: 100% ", 8), "past the total: '%s'", line);
	progress_format(line, sizeof(line), "b", 0, 0, SEC);
	tap_ok(!strncmp(line, "b: 100% 0B/0B", 13), "nothing to do: '%s'", line);
	progress_format(line, sizeof(line), "b", MiB, 3600 * MiB, SEC);
	tap_ok(strstr(line, "ETA 59:59") != NULL, "a long ETA: '%s'", line);
	n = progress_format(line, 10, "backup data", MiB, GiB, SEC);
	tap_ok(n == 9 && strlen(line) == 9, "a short buffer is cut: '%s'", line);
	return tap_done();
}
