// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a cbw snapshot's map; see map_message.h.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm.h"
#include "error.h"
#include "size.h"
#include "map_message.h"

/* The decimal number at *pos (size.h), *pos moved past it. */
static bool take_u64(const char **pos, uint64_t *val)
{
	return !decimal_take(pos, UINT64_MAX, val);
}

/* "more <chunk>" at @p, the whole rest of the reply. */
static const char *parse_more(const char *p, uint64_t lowest, uint64_t chunks,
			      uint64_t *next)
{
	p += strlen("more ");
	if (!take_u64(&p, next) || *p)
		return "expected a chunk number after 'more' and nothing else";
	if (*next < lowest || *next >= chunks)
		return "'more' points back or past the last chunk";
	return NULL;
}

const char *snapmap_parse(const char *reply, uint64_t from, uint64_t chunks,
			  struct chunk_run *runs, size_t max_runs,
			  size_t *count, uint64_t *next)
{
	const char *p = reply;
	uint64_t lowest = from;	/* the next run starts here or later */
	struct chunk_run run;

	*count = 0;
	for (;;) {
		if (!strcmp(p, "end")) {
			*next = chunks;
			return NULL;
		}
		if (!strncmp(p, "more ", 5))
			return parse_more(p, *count ? lowest : from + 1, chunks,
					  next);
		if (!take_u64(&p, &run.first) || *p++ != '-' ||
		    !take_u64(&p, &run.last))
			return "expected <first>-<last>, 'end' or 'more <chunk>'";
		if (run.first > run.last)
			return "a run ends before it starts";
		if (run.first < lowest)
			return "runs overlap, are out of order, or start before the chunk asked for";
		if (run.last >= chunks)
			return "a run goes past the last chunk";
		if (*count == max_runs)
			return "more runs than expected";
		runs[(*count)++] = run;
		lowest = run.last + 1;
		if (*p++ != ' ')
			return "the reply does not end with 'end' or 'more <chunk>'";
	}
}

void snapmap_init(struct snapmap *m, const char *dev, uint64_t chunks)
{
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->verb = "map";
	m->chunks = chunks;
}

/* Make room for one run per word of @reply; false when out of memory. */
static bool make_room(struct snapmap *m, const char *reply)
{
	size_t words = 1;
	struct chunk_run *runs;
	const char *p;

	for (p = reply; *p; p++)
		words += *p == ' ';
	if (words <= m->size)
		return true;
	runs = realloc(m->runs, words * sizeof(*runs));
	if (!runs)
		return false;
	m->runs = runs;
	m->size = words;
	return true;
}

/* Send "map <next>" and keep the runs of the reply; 0, -EIO or -ENOMEM. */
static int fetch(struct snapmap *m)
{
	char message[32], *reply;
	const char *why;
	int err, r = -EIO;

	snprintf(message, sizeof(message), "%s %llu", m->verb,
		 (unsigned long long)m->next);
	if (!cbwdm_message(m->dev, message, &reply, &err)) {
		lib_error("cannot read the %s of %s ('%s'): %s",
			  strcmp(m->verb, "map") ? "changed set" : "map", m->dev,
			  message, err ? strerror(err) : cbwdm_error());
		return -EIO;
	}
	if (!make_room(m, reply)) {
		lib_error("out of memory");
		r = -ENOMEM;
		goto out;
	}
	m->from = m->next;
	why = snapmap_parse(reply, m->next, m->chunks, m->runs, m->size,
			    &m->count, &m->next);
	if (why) {
		lib_error("%s: unexpected reply to '%s': %s", m->dev, message,
			  why);
		goto out;
	}
	m->pos = 0;
	r = 0;
out:
	free(reply);
	return r;
}

int snapmap_next(struct snapmap *m, struct chunk_run *run)
{
	int r;

	while (m->pos == m->count) {
		if (m->next >= m->chunks)
			return 0;
		r = fetch(m);
		if (!r && m->fetched)
			r = m->fetched(m, m->data);
		if (r)
			return r;
	}
	*run = m->runs[m->pos++];
	return 1;
}

void snapmap_release(struct snapmap *m)
{
	free(m->runs);
	memset(m, 0, sizeof(*m));
}
