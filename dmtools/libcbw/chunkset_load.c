// SPDX-License-Identifier: GPL-2.0
/*
 * Loading a chunk set into a cbw device in incremental set-up; see
 * chunkset_load.h.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chunkset_load.h"
#include "dm.h"
#include "map_read.h"
#include "error.h"

int bitmap_file_read(const char *path, enum cbw_format format,
		     const struct bitmap_geometry *g, struct chunk_runs *out)
{
	bool in = !strcmp(path, "-");
	struct bitmap_error err;
	FILE *f;
	int r;

	f = in ? stdin : fopen(path, "rb");
	if (!f) {
		lib_error("cannot open %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	r = bitmap_parse(f, in ? "(standard input)" : path, format, g, out,
			 NULL, &err);
	if (!in)
		fclose(f);
	if (r)
		lib_error("%s", err.text);
	return r;
}

/* Send one message "VERB RANGE..."; return 0 or a negative errno. */
static int send_message(const char *name, const char *verb, const char *msg)
{
	int err;

	if (cbwdm_message(name, msg, NULL, &err))
		return 0;
	if (err == EBUSY) {
		lib_error("cannot %s chunks: %s is not in incremental set-up",
			  verb, name);
		return -EBUSY;
	}
	if (err == EINVAL) {
		lib_error("%s refused the chunk ranges of '%s': %s (see dmesg)",
			  name, verb, cbwdm_error());
		return -ERANGE;
	}
	lib_error("cannot %s chunks to %s: %s (see dmesg)", verb, name,
		  cbwdm_error());
	return -EIO;
}

int cbw_ranges_send(const char *name, const char *verb,
		    const struct chunk_runs *runs)
{
	char msg[CBW_RANGES_MSG_MAX + 1], range[48];
	size_t i, len, verb_len = strlen(verb);
	int n, r;

	len = verb_len;
	memcpy(msg, verb, len + 1);
	for (i = 0; i < runs->nr; i++) {
		const struct chunk_run *run = &runs->run[i];

		if (run->first == run->last)
			n = snprintf(range, sizeof(range), " %llu",
				     (unsigned long long)run->first);
		else
			n = snprintf(range, sizeof(range), " %llu-%llu",
				     (unsigned long long)run->first,
				     (unsigned long long)run->last);
		if (len + n > CBW_RANGES_MSG_MAX) {
			r = send_message(name, verb, msg);
			if (r)
				return r;
			len = verb_len;
		}
		memcpy(msg + len, range, n + 1);
		len += n;
	}
	return len > verb_len ? send_message(name, verb, msg) : 0;
}

int cbw_setup_start(const char *name)
{
	int err;

	if (cbwdm_message(name, "start", NULL, &err))
		return 0;
	if (err == EINVAL) {
		lib_error("cannot start %s: it is not in incremental set-up",
			  name);
		return -EBUSY;
	}
	lib_error("cannot start %s: %s (see dmesg)", name, cbwdm_error());
	return -EIO;
}

int cbw_bitmap_import(const char *name, uint64_t chunks,
		      const struct chunk_runs *runs, bool no_start)
{
	struct chunk_runs before = { 0 }, added = { 0 };
	int r;

	r = cbw_map_read(name, chunks, &before);
	if (r)
		goto out;
	if (!runs_subtract(runs, &before, &added)) {
		lib_error("out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = cbw_ranges_send(name, "add", &added);
	if (!r && !no_start)
		r = cbw_setup_start(name);
	/* Take back what was added; a device not in set-up takes nothing. */
	if (r && r != -EBUSY && cbw_ranges_send(name, "remove", &added))
		lib_error("%s keeps part of the chunks that were to be added; check with 'cbwctl map %s'",
			  name, name);
out:
	runs_free(&before);
	runs_free(&added);
	return r;
}
