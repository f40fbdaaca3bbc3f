// SPDX-License-Identifier: GPL-2.0
/*
 * The public walk through a snapshot's map (cbw_map_open(),
 * cbw_map_next()): the runs of the "map" message walk (map_message.h),
 * those that touch merged into one extent, with their bytes.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "error.h"
#include "map_message.h"

#define SECTOR_SHIFT	9

/* The public walk: the runs of the "map" walk, those that touch merged. */
struct cbw_map {
	struct snapmap walk;
	char name[128];			/* the cbw device */
	uint64_t chunk_bytes;
	uint64_t chunks;
	uint64_t size;
	bool has_next;			/* @next holds the run after the last */
	struct chunk_run next;
};

int cbw_map_open(const char *name, struct cbw_map **map)
{
	struct cbw_dev d;
	struct cbw_map *m;
	int r;

	lib_begin();
	if (!map)
		return lib_end(lib_einval("map of %s: nowhere to put the walk (NULL)",
					  name ? name : "(NULL)"));
	*map = NULL;
	r = cbw_find(name, false, &d);
	if (r)
		return lib_end(r);
	m = calloc(1, sizeof(*m));
	if (!m) {
		cbw_dev_release(&d);
		lib_error("out of memory");
		return lib_end(-ENOMEM);
	}
	snprintf(m->name, sizeof(m->name), "%s", d.dev.name);
	m->chunk_bytes = d.st.chunk_sectors << SECTOR_SHIFT;
	m->chunks = d.st.chunks;
	m->size = d.dev.length << SECTOR_SHIFT;
	cbw_dev_release(&d);
	snapmap_init(&m->walk, m->name, m->chunks);
	*map = m;
	return lib_end(0);
}

void cbw_map_geometry(const struct cbw_map *m, uint64_t *chunk_bytes,
		      uint64_t *chunks, uint64_t *size_bytes)
{
	if (chunk_bytes)
		*chunk_bytes = m ? m->chunk_bytes : 0;
	if (chunks)
		*chunks = m ? m->chunks : 0;
	if (size_bytes)
		*size_bytes = m ? m->size : 0;
}

int cbw_map_next(struct cbw_map *m, struct cbw_extent *e)
{
	struct chunk_run run, cur;
	uint64_t end;
	int got;

	lib_begin();
	if (!m || !e)
		return lib_end(lib_einval("map: no walk or no extent (NULL)"));
	if (!m->has_next) {
		got = snapmap_next(&m->walk, &m->next);
		if (got <= 0)
			return lib_end(got);	/* 0, -EIO or -ENOMEM */
	}
	cur = m->next;
	m->has_next = false;
	while ((got = snapmap_next(&m->walk, &run)) > 0) {
		if (run.first != cur.last + 1) {
			m->next = run;
			m->has_next = true;
			break;
		}
		cur.last = run.last;
	}
	if (got < 0)
		return lib_end(got);

	end = (cur.last + 1) * m->chunk_bytes;
	e->first_chunk = cur.first;
	e->last_chunk = cur.last;
	e->offset = cur.first * m->chunk_bytes;
	e->length = (end < m->size ? end : m->size) - e->offset;
	return lib_end(1);
}

void cbw_map_close(struct cbw_map *m)
{
	if (!m)
		return;
	snapmap_release(&m->walk);
	free(m);
}
