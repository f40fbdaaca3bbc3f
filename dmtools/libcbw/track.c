// SPDX-License-Identifier: GPL-2.0
/*
 * Change tracking, the calls that read and commit: cbw_track_info_get(),
 * cbw_track_set_name() and cbw_track_commit().  The calls that change the
 * device stack (cbw_track(), cbw_untrack(), cbw_track_snapshot()) are in
 * stack.c, the state file of cbw_untrack() in track_state.c.
 *
 * The kernel interface (Documentation/dm-cbw.rst): a track table's status
 * has 23 fields, the last five <uuid> <generation> <changed chunks> <set>
 * <set chunks>; "track_map <chunk>" gives the changed set's runs as "map"
 * gives the snapshot's; "commit [<range>...]" commits a track snapshot's
 * set, whole or in part.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chunk_runs.h"
#include "chunkset_load.h"
#include "device.h"
#include "dm.h"
#include "error.h"
#include "map_message.h"
#include "map_read.h"
#include "track.h"

#define SECTOR_SHIFT	9

static const char *const set_names[] = {
	[CBW_TRACK_SET_NONE] = "-",
	[CBW_TRACK_SET_PENDING] = "pending",
	[CBW_TRACK_SET_COMMITTED] = "committed",
};

const char *cbw_track_set_name(enum cbw_track_set set)
{
	return (unsigned int)set < sizeof(set_names) / sizeof(set_names[0]) ?
	       set_names[set] : NULL;
}

/*
 * Is the device's last chunk in the set that @verb ("track_map") lists?
 * One message from that chunk on.  Return 1, 0 or a negative errno.
 */
static int last_chunk_in(const char *name, const char *verb, uint64_t chunks)
{
	struct snapmap m;
	struct chunk_run run;
	int r;

	snapmap_init(&m, name, chunks);
	m.verb = verb;
	m.next = chunks - 1;
	r = snapmap_next(&m, &run);
	snapmap_release(&m);
	return r;
}

int track_info_fill(const struct cbw_dev *d, struct cbw_track_info *ti)
{
	uint64_t chunk_bytes = d->st.chunk_sectors << SECTOR_SHIFT;
	uint64_t size = d->dev.length << SECTOR_SHIFT;
	int last = 0;

	*ti = d->track;
	if (!ti->tracking)
		return 0;
	ti->snapshot = d->st.state != CBW_STATE_NONE;
	ti->chunk_bytes = chunk_bytes;
	ti->chunks = d->st.chunks;
	ti->size_bytes = size;
	/* A partial last chunk counts its own bytes, if it is in the set. */
	if (ti->changed && ti->chunks && size % chunk_bytes) {
		last = last_chunk_in(d->dev.name, "track_map", ti->chunks);
		if (last < 0)
			return last;
	}
	ti->changed_bytes = track_set_bytes(ti->changed, last, ti->chunks,
					    chunk_bytes, size);
	/*
	 * The pending set has no message of its own: its bytes are whole
	 * chunks, at most the device's size.
	 */
	ti->set_bytes = ti->set_chunks * chunk_bytes;
	if (ti->set_bytes > size)
		ti->set_bytes = size;
	return 0;
}

int cbw_track_info_get(const char *name, struct cbw_track_info *ti)
{
	struct cbw_dev d;
	int r;

	lib_begin();
	if (!ti)
		return lib_end(lib_einval("tracking of %s: no struct to fill (NULL)",
					  name ? name : "(NULL)"));
	r = cbw_find(name, false, &d);
	if (r)
		return lib_end(r);
	r = track_info_fill(&d, ti);
	cbw_dev_release(&d);
	return lib_end(r);
}

int cbw_track_commit(const char *name, const struct cbw_extent *runs,
		     size_t count)
{
	struct chunk_runs set = { 0 };
	struct cbw_dev d;
	size_t i;
	int r, err;

	lib_begin();
	if (!runs && count)
		return lib_end(lib_einval("commit of %s: %zu ranges, but no array (NULL)",
					  name ? name : "(NULL)", count));
	r = cbw_find(name, false, &d);
	if (r)
		return lib_end(r);
	if (!d.track.tracking || d.track.set == CBW_TRACK_SET_NONE) {
		lib_error("%s has no tracking set to commit (not a track snapshot)",
			  name);
		r = -EBUSY;
		goto out;
	}
	if (!count) {
		if (!cbwdm_message(name, "commit", NULL, &err)) {
			lib_error("cannot commit the tracking set of %s: %s (see dmesg)",
				  name, err ? strerror(err) : cbwdm_error());
			r = err == EINVAL ? -EBUSY : -EIO;
		}
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (runs[i].first_chunk > runs[i].last_chunk ||
		    runs[i].last_chunk >= d.st.chunks) {
			lib_error("commit of %s: chunks %llu-%llu are not a range of its %llu chunks",
				  name, (unsigned long long)runs[i].first_chunk,
				  (unsigned long long)runs[i].last_chunk,
				  (unsigned long long)d.st.chunks);
			r = -ERANGE;
			goto out;
		}
		if (!runs_add(&set, runs[i].first_chunk, runs[i].last_chunk)) {
			lib_error("out of memory");
			r = -ENOMEM;
			goto out;
		}
	}
	runs_normalize(&set);
	r = cbw_ranges_send(name, "commit", &set);
out:
	runs_free(&set);
	cbw_dev_release(&d);
	return lib_end(r);
}

int track_map_read(const char *name, uint64_t chunks, struct chunk_runs *out)
{
	return map_read_verb(name, "track_map", chunks, out);
}
