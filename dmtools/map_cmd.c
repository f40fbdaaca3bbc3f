// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl map NAME: the readable extents of NAME's snapshot, read with
 * cbw_map_read() (map.c).
 */

#include <stdio.h>

#include "cmd.h"
#include "commands.h"
#include "map.h"
#include "msg.h"

#define SECTOR_SHIFT	9

enum {
	OPT_CHUNKS = 256,
	OPT_JSON,
};

struct map_opts {
	bool chunks;
	bool json;
};

static const struct option map_options[] = {
	{ "chunks", no_argument, NULL, OPT_CHUNKS },
	{ "json", no_argument, NULL, OPT_JSON },
	HELP_OPTION,
	OPTIONS_END
};

static int map_option(const struct command *cmd, void *opts, int opt,
		      const char *arg)
{
	struct map_opts *m = opts;

	(void)arg;
	switch (opt) {
	case OPT_CHUNKS:
		m->chunks = true;
		break;
	case OPT_JSON:
		m->json = true;
		break;
	default:
		return usage_error(cmd, "unhandled option %d", opt);
	}
	if (m->chunks && m->json)
		return usage_error(cmd, "--chunks and --json do not go together");
	return CBW_EXIT_OK;
}

/* The bytes of @run on a device of @size bytes: [*start, *start + *len). */
static void run_bytes(const struct chunk_run *run, uint64_t chunk_bytes,
		      uint64_t size, uint64_t *start, uint64_t *len)
{
	uint64_t end = (run->last + 1) * chunk_bytes;

	*start = run->first * chunk_bytes;
	if (end > size)
		end = size;		/* a partial last chunk */
	*len = end - *start;
}

static void print_json(const struct chunk_runs *runs, uint64_t chunk_bytes,
		       uint64_t chunks, uint64_t size)
{
	uint64_t start, len;
	size_t i;

	printf("{\"chunk_size\": %llu, \"chunks\": %llu, \"size\": %llu, "
	       "\"readable_chunks\": %llu, \"runs\": [",
	       (unsigned long long)chunk_bytes, (unsigned long long)chunks,
	       (unsigned long long)size,
	       (unsigned long long)runs_chunks(runs));
	for (i = 0; i < runs->nr; i++) {
		run_bytes(&runs->run[i], chunk_bytes, size, &start, &len);
		printf("%s\n  {\"start\": %llu, \"length\": %llu, "
		       "\"first_chunk\": %llu, \"last_chunk\": %llu}",
		       i ? "," : "", (unsigned long long)start,
		       (unsigned long long)len,
		       (unsigned long long)runs->run[i].first,
		       (unsigned long long)runs->run[i].last);
	}
	printf("%s]}\n", runs->nr ? "\n" : "");
}

static void print_runs(const struct map_opts *m, const struct chunk_runs *runs,
		       uint64_t chunk_bytes, uint64_t size)
{
	uint64_t start, len;
	size_t i;

	for (i = 0; i < runs->nr; i++) {
		if (m->chunks) {
			printf("%llu-%llu\n",
			       (unsigned long long)runs->run[i].first,
			       (unsigned long long)runs->run[i].last);
			continue;
		}
		run_bytes(&runs->run[i], chunk_bytes, size, &start, &len);
		printf("%llu %llu\n", (unsigned long long)start,
		       (unsigned long long)len);
	}
}

static int map_run(const struct command *cmd, void *opts, char **args,
		   int nargs)
{
	struct map_opts *m = opts;
	struct chunk_runs runs = { 0 };
	uint64_t chunk_bytes, chunks, size;
	struct cbw_dev d;
	int r;

	(void)nargs;
	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	r = cbw_find(args[0], false, &d);
	if (r)
		return r;
	chunk_bytes = d.st.chunk_sectors << SECTOR_SHIFT;
	chunks = d.st.chunks;
	size = d.dev.length << SECTOR_SHIFT;
	cbw_dev_release(&d);

	r = cbw_map_read(args[0], chunks, &runs);
	if (!r && m->json)
		print_json(&runs, chunk_bytes, chunks, size);
	else if (!r)
		print_runs(m, &runs, chunk_bytes, size);
	runs_free(&runs);
	return r;
}

const struct command cmd_map = {
	.name = "map",
	.args = "[--chunks | --json] NAME",
	.help = "list the readable extents of NAME's snapshot",
	.details =
"List the parts of the snapshot of the cbw device NAME that can be read:\n"
"the chunks in the snapshot set, as runs of adjacent chunks in increasing\n"
"order.  Reading NAME-snap anywhere else fails (ENODATA with O_DIRECT):\n"
"with the incremental feature only the chunks added are in the set, and\n"
"chunks leave it when they are dropped (the drop error policy) or\n"
"discarded through the snapshot.  A broken snapshot lists the chunks that\n"
"were readable, but no read succeeds (see 'cbwctl status').  During the\n"
"incremental set-up, the set built so far is listed.  NAME may be any cbw\n"
"device, made by cbwctl or not.\n"
"\n"
"Output, one line per run:\n"
"  START LENGTH    in bytes, the offset and length of the run on NAME-snap\n"
"                  (the last run ends at the end of the device, even if\n"
"                  the last chunk is partial)\n"
"  FIRST-LAST      with --chunks: the chunk numbers, both included (the\n"
"                  ranges format of 'cbwctl bitmap import')\n"
"Nothing is printed for an empty set.  With --json, one object:\n"
"  {\"chunk_size\": BYTES, \"chunks\": N, \"size\": BYTES,\n"
"   \"readable_chunks\": N, \"runs\": [{\"start\": BYTES, \"length\": BYTES,\n"
"   \"first_chunk\": N, \"last_chunk\": N}, ...]}\n"
"\n"
"The map is read from the kernel in parts (the 'map' message); while\n"
"chunks are dropped or discarded, it is not a picture of one moment.\n"
"\n"
"Options:\n"
"  --chunks       print chunk numbers instead of bytes\n"
"  --json         print JSON\n"
"  -h, --help     show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = map_options,
	.opts_size = sizeof(struct map_opts),
	.set_option = map_option,
	.fn = map_run,
};
