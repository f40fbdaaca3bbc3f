// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl map NAME: the readable extents of NAME's snapshot, read with
 * libcbw's walk (cbw_map_open()).
 */

#include <stdio.h>
#include <stdlib.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"

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

/* The extents of a map, all read before anything is printed. */
struct extents {
	struct cbw_extent *e;
	size_t nr;
	size_t size;
	uint64_t chunks;	/* readable chunks */
};

/* Read the whole map of @name into @x; return an exit code. */
static int read_map(const char *name, struct extents *x, uint64_t *chunk_bytes,
		    uint64_t *chunks, uint64_t *size)
{
	struct cbw_map *m;
	struct cbw_extent e;
	int r;

	r = cbw_map_open(name, &m);
	if (r < 0)
		return msg_lib_error(r);
	cbw_map_geometry(m, chunk_bytes, chunks, size);
	while ((r = cbw_map_next(m, &e)) > 0) {
		if (x->nr == x->size) {
			size_t room = x->size ? 2 * x->size : 64;
			struct cbw_extent *bigger = realloc(x->e, room * sizeof(*bigger));

			if (!bigger) {
				cbw_map_close(m);
				msg_error("out of memory");
				return CBW_EXIT_FAILED;
			}
			x->e = bigger;
			x->size = room;
		}
		x->e[x->nr++] = e;
		x->chunks += e.last_chunk - e.first_chunk + 1;
	}
	cbw_map_close(m);
	return msg_lib_error(r);
}

static void print_json(const struct extents *x, uint64_t chunk_bytes,
		       uint64_t chunks, uint64_t size)
{
	size_t i;

	printf("{\"chunk_size\": %llu, \"chunks\": %llu, \"size\": %llu, "
	       "\"readable_chunks\": %llu, \"runs\": [",
	       (unsigned long long)chunk_bytes, (unsigned long long)chunks,
	       (unsigned long long)size, (unsigned long long)x->chunks);
	for (i = 0; i < x->nr; i++)
		printf("%s\n  {\"start\": %llu, \"length\": %llu, "
		       "\"first_chunk\": %llu, \"last_chunk\": %llu}",
		       i ? "," : "", (unsigned long long)x->e[i].offset,
		       (unsigned long long)x->e[i].length,
		       (unsigned long long)x->e[i].first_chunk,
		       (unsigned long long)x->e[i].last_chunk);
	printf("%s]}\n", x->nr ? "\n" : "");
}

static void print_runs(const struct map_opts *m, const struct extents *x)
{
	size_t i;

	for (i = 0; i < x->nr; i++) {
		if (m->chunks)
			printf("%llu-%llu\n",
			       (unsigned long long)x->e[i].first_chunk,
			       (unsigned long long)x->e[i].last_chunk);
		else
			printf("%llu %llu\n", (unsigned long long)x->e[i].offset,
			       (unsigned long long)x->e[i].length);
	}
}

static int map_run(const struct command *cmd, void *opts, char **args,
		   int nargs)
{
	struct map_opts *m = opts;
	struct extents x = { 0 };
	uint64_t chunk_bytes, chunks, size;
	int r;

	(void)nargs;
	r = check_name(cmd, args[0], false);
	if (r)
		return r;
	r = read_map(args[0], &x, &chunk_bytes, &chunks, &size);
	if (!r && m->json)
		print_json(&x, chunk_bytes, chunks, size);
	else if (!r)
		print_runs(m, &x);
	free(x.e);
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
