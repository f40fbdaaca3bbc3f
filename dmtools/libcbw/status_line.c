// SPDX-License-Identifier: GPL-2.0
/*
 * Status line parsers; see status_line.h for the formats and the rules.
 *
 * Each parser walks the line with a cursor: next_word() takes one field
 * and the single space after it, so empty fields, doubled, leading or
 * trailing spaces and tabs all fail.
 */

#include <stdio.h>
#include <string.h>

#include "size.h"
#include "status_line.h"

/* A field is at most this long: "<used>/<total>" has 2 x 20 digits + 1. */
#define WORD_MAX 48

/* The cbw status has 18 fields, a track table's 5 more (23). */
#define CBW_FIELDS 18
#define CBW_TRACK_FIELDS 23

static const char *const reason_names[] = {
	[CBW_REASON_NONE] = "-",
	[CBW_REASON_IO_ERROR] = "io_error",
	[CBW_REASON_TIMEOUT] = "timeout",
	[CBW_REASON_COW_FULL] = "cow_full",
	[CBW_REASON_NO_MEMORY] = "no_memory",
	[CBW_REASON_USER] = "user",
};

static const char *const policy_names[] = {
	[CBW_POLICY_FAIL] = "fail",
	[CBW_POLICY_BREAK] = "break",
	[CBW_POLICY_DROP] = "drop",
};

static const char *const access_state_names[] = {
	[CBW_ACCESS_VALID] = "valid",
	[CBW_ACCESS_BROKEN] = "broken",
	[CBW_ACCESS_INVALID] = "invalid",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Copy the field at *pos into @word and move *pos past it and past the
 * space that ends it, if any.  Return false on an empty or too long field.
 */
static bool next_word(const char **pos, char word[WORD_MAX + 1])
{
	const char *p = *pos;
	size_t len = strcspn(p, " ");

	if (!len || len > WORD_MAX)
		return false;
	memcpy(word, p, len);
	word[len] = '\0';
	p += len;
	if (*p == ' ') {
		p++;
		if (!*p)
			return false;	/* a trailing space */
	}
	*pos = p;
	return true;
}

/* A decimal number without sign or spaces that fits in 64 bits. */
static bool parse_u64(const char *word, uint64_t *val)
{
	return !cbw_decimal_parse(word, UINT64_MAX, val);
}

/* Parse @count numbers from *pos into @vals. */
static bool parse_numbers(const char **pos, uint64_t *const vals[],
			  unsigned int count)
{
	char word[WORD_MAX + 1];
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (!**pos || !next_word(pos, word) || !parse_u64(word, vals[i]))
			return false;
	}
	return true;
}

/* The index of @word in @names (of @count), or -1. */
static int lookup(const char *word, const char *const names[], unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (!strcmp(word, names[i]))
			return i;
	return -1;
}

/* "<used>/<total>", two numbers. */
static bool parse_slots(const char *word, uint64_t *used, uint64_t *total)
{
	char num[WORD_MAX + 1];
	const char *slash = strchr(word, '/');
	size_t len;

	if (!slash)
		return false;
	len = slash - word;
	memcpy(num, word, len);
	num[len] = '\0';
	return parse_u64(num, used) && parse_u64(slash + 1, total);
}

/* "setup", "active" or "broken:<reason>" (a reason other than "-"). */
static bool parse_state(const char *word, struct cbw_status *st)
{
	int r;

	st->broken = CBW_REASON_NONE;
	if (!strcmp(word, "setup")) {
		st->state = CBW_STATE_SETUP;
		return true;
	}
	if (!strcmp(word, "active")) {
		st->state = CBW_STATE_ACTIVE;
		return true;
	}
	if (!strcmp(word, "none")) {
		st->state = CBW_STATE_NONE;
		return true;
	}
	if (strncmp(word, "broken:", 7))
		return false;
	r = lookup(word + 7, reason_names, ARRAY_SIZE(reason_names));
	if (r <= CBW_REASON_NONE)
		return false;
	st->state = CBW_STATE_BROKEN;
	st->broken = r;
	return true;
}

/* A tracking uuid: 36 characters, lower-case hex in 8-4-4-4-12. */
bool track_uuid_valid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != CBW_TRACK_UUID_LEN)
		return false;
	for (i = 0; i < CBW_TRACK_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
			     (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

/* "-", "pending:G" or "committed:G" (G a decimal number of at least 1). */
static bool parse_track_set(const char *word, struct cbw_track_info *tr)
{
	const char *num;

	tr->set_generation = 0;
	if (!strcmp(word, "-")) {
		tr->set = CBW_TRACK_SET_NONE;
		return true;
	}
	if (!strncmp(word, "pending:", 8)) {
		tr->set = CBW_TRACK_SET_PENDING;
		num = word + 8;
	} else if (!strncmp(word, "committed:", 10)) {
		tr->set = CBW_TRACK_SET_COMMITTED;
		num = word + 10;
	} else {
		return false;
	}
	return parse_u64(num, &tr->set_generation) && tr->set_generation;
}

/*
 * Fields 19-23 of a track table: <uuid> <generation> <changed chunks>
 * <set> <set chunks>.
 */
static const char *parse_track(const char **pos, const struct cbw_status *st,
			       struct cbw_track_info *tr)
{
	char word[WORD_MAX + 1];
	uint64_t *const changed[] = { &tr->changed };
	uint64_t *const set_chunks[] = { &tr->set_chunks };

	if (!next_word(pos, word) || !track_uuid_valid(word))
		return "field 19 is not a tracking uuid (8-4-4-4-12 lower-case hex)";
	memcpy(tr->uuid, word, CBW_TRACK_UUID_LEN + 1);
	if (!**pos || !next_word(pos, word) ||
	    !parse_u64(word, &tr->generation) || !tr->generation)
		return "field 20 is not a generation of at least 1";
	if (!parse_numbers(pos, changed, 1))
		return "field 21 is not a decimal number (changed chunks)";
	if (!**pos || !next_word(pos, word) || !parse_track_set(word, tr))
		return "field 22 is not -, pending:<generation> or committed:<generation>";
	if (!parse_numbers(pos, set_chunks, 1))
		return "field 23 is not a decimal number (set chunks)";
	if (**pos)
		return "more than 23 fields";
	if (tr->changed > st->chunks)
		return "more changed chunks than chunks";
	if (tr->set_chunks > st->chunks)
		return "more chunks in the tracking set than chunks";
	if (tr->set == CBW_TRACK_SET_NONE && tr->set_chunks)
		return "chunks in a tracking set that is -";
	if (tr->set != CBW_TRACK_SET_NONE && tr->set_generation >= tr->generation)
		return "the set's generation is not older than the generation";
	if (tr->set != CBW_TRACK_SET_NONE && st->state == CBW_STATE_NONE)
		return "a tracking set on a table without a snapshot (none)";
	tr->tracking = true;
	return NULL;
}

const char *cbw_status_parse(const char *line, struct cbw_status *st)
{
	return cbw_status_parse_track(line, st, NULL);
}

const char *cbw_status_parse_track(const char *line, struct cbw_status *st,
				   struct cbw_track_info *track)
{
	struct cbw_track_info local, *tr = track ? track : &local;
	uint64_t *const head[] = {
		&st->chunk_sectors, &st->chunks, &st->in_snapshot, &st->copied,
		&st->to_copy, &st->dropped, &st->discarded,
	};
	uint64_t *const tail[] = {
		&st->timeout_ms, &st->copies, &st->copy_errors, &st->timeouts,
		&st->waited, &st->wait_ms, &st->bytes,
	};
	char word[WORD_MAX + 1];
	const char *pos = line, *why;
	int r;

	if (!parse_numbers(&pos, head, ARRAY_SIZE(head)))
		return "expected 7 decimal numbers first";
	if (!*pos || !next_word(&pos, word) ||
	    !parse_slots(word, &st->slots_used, &st->slots_total))
		return "field 8 is not <used slots>/<total slots>";
	if (!*pos || !next_word(&pos, word) || !parse_state(word, st))
		return "field 9 is not setup, active, none or broken:<reason>";
	if (!*pos || !next_word(&pos, word) ||
	    (r = lookup(word, reason_names, ARRAY_SIZE(reason_names))) < 0)
		return "field 10 is not - or a reason";
	st->first_error = r;
	if (!*pos || !next_word(&pos, word) ||
	    (r = lookup(word, policy_names, ARRAY_SIZE(policy_names))) < 0)
		return "field 11 is not fail, break or drop";
	st->policy = r;
	if (!parse_numbers(&pos, tail, ARRAY_SIZE(tail)))
		return "expected 7 decimal numbers last";
	memset(tr, 0, sizeof(*tr));
	if (*pos) {
		why = parse_track(&pos, st, tr);
		if (why)
			return why;
	}
	if (st->state == CBW_STATE_NONE &&
	    (!tr->tracking || st->in_snapshot || st->dropped ||
	     st->discarded || st->slots_total))
		return "state none (no snapshot) without tracking, or with chunks or slots";

	if (st->chunk_sectors < 8 || (st->chunk_sectors & (st->chunk_sectors - 1)))
		return "chunk size is not a power of two of at least 8 sectors";
	if (st->in_snapshot > st->chunks)
		return "more chunks in the snapshot than chunks";
	if (st->copied > st->in_snapshot ||
	    st->to_copy != st->in_snapshot - st->copied)
		return "copied and to copy do not add up to the chunks in the snapshot";
	if (st->dropped > st->chunks - st->in_snapshot ||
	    st->discarded > st->chunks - st->in_snapshot - st->dropped)
		return "in snapshot, dropped and discarded add up to more than the chunks";
	if (st->slots_used > st->slots_total)
		return "more slots used than there are";
	if (st->timeout_ms > CBW_MAX_TIMEOUT_MS)
		return "timeout longer than one day";
	return NULL;
}

char *cbw_state_format(const struct cbw_status *st, char *buf, unsigned int size)
{
	const char *reason;

	if (!buf || !size)
		return NULL;
	buf[0] = '\0';
	if (!st)
		return NULL;
	switch (st->state) {
	case CBW_STATE_SETUP:
		snprintf(buf, size, "setup");
		return buf;
	case CBW_STATE_ACTIVE:
		snprintf(buf, size, "active");
		return buf;
	case CBW_STATE_NONE:
		snprintf(buf, size, "none");
		return buf;
	case CBW_STATE_BROKEN:
		reason = cbw_reason_name(st->broken);
		if (!reason)
			return NULL;
		snprintf(buf, size, "broken:%s", reason);
		return buf;
	}
	return NULL;
}

/* The name of @value in @names (of @count), NULL if it is out of range. */
static const char *name_of(unsigned int value, const char *const names[],
			   unsigned int count)
{
	return value < count ? names[value] : NULL;
}

const char *cbw_reason_name(enum cbw_reason reason)
{
	return name_of(reason, reason_names, ARRAY_SIZE(reason_names));
}

const char *cbw_policy_name(enum cbw_policy policy)
{
	return name_of(policy, policy_names, ARRAY_SIZE(policy_names));
}

bool cbw_policy_parse(const char *word, enum cbw_policy *policy)
{
	int r;

	if (!word || !policy)
		return false;
	r = lookup(word, policy_names, ARRAY_SIZE(policy_names));
	if (r < 0)
		return false;
	*policy = r;
	return true;
}

const char *access_status_parse(const char *line, struct cbw_access_status *st)
{
	uint64_t *const fields[] = {
		&st->origin_reads, &st->cow_reads, &st->failed_reads,
	};
	char word[WORD_MAX + 1];
	const char *pos = line;
	int r;

	if (!next_word(&pos, word) ||
	    (r = lookup(word, access_state_names, ARRAY_SIZE(access_state_names))) < 0)
		return "expected valid, broken or invalid";
	st->state = r;
	if (!parse_numbers(&pos, fields, ARRAY_SIZE(fields)))
		return "expected 3 decimal numbers after the state";
	if (*pos)
		return "more than 4 fields";
	return NULL;
}

const char *cbw_access_state_name(enum cbw_access_state state)
{
	return name_of(state, access_state_names,
		       ARRAY_SIZE(access_state_names));
}
