// SPDX-License-Identifier: GPL-2.0
/*
 * Reading the readable chunks of a cbw snapshot; see map.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm.h"
#include "map.h"
#include "msg.h"

/* Parse the decimal number at *s (digits only), move *s past it. */
static bool number(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (*p - '0')) / 10)
			return false;
		n = n * 10 + (*p - '0');
	}
	*s = p;
	*v = n;
	return true;
}

const char *map_answer_parse(const char *answer, uint64_t from,
			     struct chunk_runs *out, uint64_t *next)
{
	const char *p = answer;
	uint64_t first, last, min = from;	/* the next run starts at min or later */

	for (;;) {
		if (!strcmp(p, "end")) {
			*next = UINT64_MAX;
			return NULL;
		}
		if (!strncmp(p, "more ", 5)) {
			p += 5;
			if (!number(&p, next) || *p)
				return "bad 'more <chunk>'";
			if (*next < min || *next <= from)
				return "'more <chunk>' goes back";
			return NULL;
		}
		if (!number(&p, &first) || *p++ != '-' || !number(&p, &last) ||
		    *p++ != ' ')
			return "bad run, want <first>-<last>";
		if (last < first)
			return "a run ends before it starts";
		if (first < min)
			return "runs out of order";
		if (!runs_add(out, first, last))
			return "out of memory";
		if (last == UINT64_MAX)
			return "a run at the end of the chunk numbers";
		min = last + 1;
	}
}

int cbw_map_read(const char *name, struct chunk_runs *out)
{
	char message[32], *answer;
	uint64_t from = 0, next;
	const char *why;

	for (;;) {
		snprintf(message, sizeof(message), "map %llu",
			 (unsigned long long)from);
		if (!cbwdm_message(name, message, &answer, NULL)) {
			msg_error("cannot read the map of %s: %s", name,
				  cbwdm_error());
			return CBW_EXIT_FAILED;
		}
		why = map_answer_parse(answer, from, out, &next);
		if (why) {
			msg_error("%s: unexpected answer to '%s': %.60s%s: %s",
				  name, message, answer,
				  strlen(answer) > 60 ? "..." : "", why);
			free(answer);
			return CBW_EXIT_FAILED;
		}
		free(answer);
		if (next == UINT64_MAX)
			return CBW_EXIT_OK;
		from = next;
	}
}
