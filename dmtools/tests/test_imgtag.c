// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of commands/imgtag.c (the tag of an incremental image: round
 * trip, damaged tags, which --prev an image may rest on) and of
 * img_info_parse() (the format and size in qemu-img info's JSON).
 */

#include <stdio.h>
#include <string.h>

#include "imgtag.h"
#include "nbdimg.h"
#include "tap.h"

#define UUID	"5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6b"
#define GOOD	"cbw-track-image 1\nuuid " UUID "\ngeneration 4\n" \
		"chunk-sectors 128\ndevice-sectors 2097152\ncomplete yes\n"

static const char *const bad[] = {
	"",
	"cbw-track-image 2\n",
	"cbw-track-image 1\nuuid " UUID "\n",
	"cbw-track-image 1\nuuid X" UUID "\ngeneration 4\nchunk-sectors 128\ndevice-sectors 2097152\ncomplete yes\n",
	"cbw-track-image 1\nuuid " UUID "\ngeneration 0\nchunk-sectors 128\ndevice-sectors 2097152\ncomplete yes\n",
	"cbw-track-image 1\nuuid " UUID "\ngeneration 4\nchunk-sectors 100\ndevice-sectors 2097152\ncomplete yes\n",
	"cbw-track-image 1\nuuid " UUID "\ngeneration 4\nchunk-sectors 128\ndevice-sectors 0\ncomplete yes\n",
	"cbw-track-image 1\nuuid " UUID "\ngeneration 4\nchunk-sectors 128\ndevice-sectors 2097152\ncomplete maybe\n",
	"cbw-track-image 1\nuuid " UUID "\ngeneration 4\nchunk-sectors 128\ndevice-sectors 2097152\ncomplete yes",
	GOOD "x\n",
	"cbw-track-image 1\ngeneration 4\nuuid " UUID "\nchunk-sectors 128\ndevice-sectors 2097152\ncomplete yes\n",
};

static void test_tags(void)
{
	struct imgtag t, back;
	char buf[256], q[400];
	size_t i;

	tap_ok(!imgtag_parse(GOOD, &t) && t.generation == 4 && t.complete &&
	       t.chunk_sectors == 128 && t.device_sectors == 2097152 &&
	       !strcmp(t.uuid, UUID), "a good tag parses");
	t.complete = false;
	t.generation = UINT64_MAX;
	imgtag_format(&t, buf, sizeof(buf));
	tap_ok(!imgtag_parse(buf, &back) && !back.complete &&
	       back.generation == UINT64_MAX, "round trip of a partial tag");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_ok(imgtag_parse(bad[i], &t) != NULL, "refused: \"%s\"",
		       tap_quote(bad[i], q, sizeof(q)));

	imgtag_parse(GOOD, &t);
	tap_ok(!imgtag_continues(&t, UUID, 5), "generation 4 continues into 5");
	tap_ok(!imgtag_continues(&t, UUID, 4),
	       "generation 4 never committed: a new set 4 rests on it");
	tap_ok(imgtag_continues(&t, UUID, 6) != NULL, "not into 6 (one missing)");
	tap_ok(imgtag_continues(&t, UUID, 3) != NULL, "not into 3 (later)");
	tap_ok(imgtag_continues(&t, "00000000-0000-0000-0000-000000000000", 5) != NULL,
	       "not into another history");
}

static void test_info(void)
{
	char fmt[32];
	uint64_t size;

	tap_ok(!img_info_parse("{\n    \"backing-filename-format\": \"raw\",\n"
			       "    \"virtual-size\": 1048576,\n"
			       "    \"filename\": \"a.qcow2\",\n"
			       "    \"format\": \"qcow2\",\n"
			       "    \"format-specific\": {\n        \"type\": \"qcow2\"\n    }\n}\n",
			       fmt, sizeof(fmt), &size) &&
	       !strcmp(fmt, "qcow2") && size == 1048576,
	       "qemu-img info: format qcow2 (not the backing file's), 1048576 bytes");
	tap_ok(img_info_parse("{\n    \"virtual-size\": 5\n}\n", fmt, sizeof(fmt),
			      &size) != NULL, "no format: refused");
	tap_ok(img_info_parse("{\n    \"format\": \"raw\"\n}\n", fmt, sizeof(fmt),
			      &size) != NULL, "no size: refused");
	tap_ok(img_info_parse("{\n    \"format\": \"raw\",\n    \"virtual-size\": 5x,\n}\n",
			      fmt, sizeof(fmt), &size) != NULL,
	       "a size that is not a number: refused");
	tap_ok(img_info_parse("{\n        \"format\": \"raw\",\n    \"virtual-size\": 5\n}\n",
			      fmt, sizeof(fmt), &size) != NULL,
	       "a nested format is not the image's");
}

int main(void)
{
	test_tags();
	test_info();
	return tap_done();
}
