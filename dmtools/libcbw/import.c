// SPDX-License-Identifier: GPL-2.0
/*
 * cbw_import() and cbw_start(): a chunk set file into a cbw device in
 * incremental set-up (chunkset_file.c reads it, chunkset_load.c sends it),
 * and the end of the set-up.
 */

#include <errno.h>

#include "chunk_runs.h"
#include "chunkset_file.h"
#include "chunkset_load.h"
#include "device.h"
#include "error.h"

/*
 * Check that the cbw device @name is in incremental set-up; its geometry
 * into @g, if not NULL.  Return 0 or a negative errno.
 */
static int check_in_setup(const char *name, struct bitmap_geometry *g)
{
	struct cbw_dev d;
	char state[32];
	int r;

	r = cbw_find(name, false, &d);
	if (r)
		return r;
	if (d.st.state != CBW_STATE_SETUP) {
		lib_error("%s is not in incremental set-up (its state is %s)",
			  name, cbw_state_format(&d.st, state, sizeof(state)));
		r = -EBUSY;
	} else if (g) {
		g->chunks = d.st.chunks;
		g->chunk_sectors = d.st.chunk_sectors;
	}
	cbw_dev_release(&d);
	return r;
}

int cbw_import(const char *name, const struct cbw_import_opts *o)
{
	struct chunk_runs runs = { 0 };
	struct bitmap_geometry g = { 0 };
	int r;

	lib_begin();
	r = check_name_arg(name);
	if (r)
		return lib_end(r);
	if (!o || !o->file || !*o->file)
		return lib_end(lib_einval("import into %s: no chunk set file",
					  name));
	if (!format_known(o->format))
		return lib_end(lib_einval("import into %s: an unknown chunk set format",
					  name));
	g.era_block_sectors = o->era_block_sectors;
	r = check_in_setup(name, &g);
	if (!r)
		r = bitmap_file_read(o->file, o->format, &g, &runs);
	if (!r)
		r = cbw_bitmap_import(name, g.chunks, &runs, o->no_start);
	runs_free(&runs);
	return lib_end(r);
}

int cbw_start(const char *name)
{
	int r;

	lib_begin();
	r = check_in_setup(name, NULL);
	if (!r)
		r = cbw_setup_start(name);
	return lib_end(r);
}
