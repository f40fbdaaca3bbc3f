// SPDX-License-Identifier: GPL-2.0
/*
 * Status line parsers; see status_line.h for the formats and the rules.
 *
 * Each parser walks the line with a cursor: next_word() takes one field
 * and the single space after it, so empty fields, doubled, leading or
 * trailing spaces and tabs all fail.
 */

#include <string.h>

#include "status_line.h"

/* A field is at most this long; a 64-bit number has 20 digits. */
#define WORD_MAX 24

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
	uint64_t n = 0;

	if (!*word)
		return false;
	for (; *word; word++) {
		unsigned int digit;

		if (*word < '0' || *word > '9')
			return false;
		digit = *word - '0';
		if (n > (UINT64_MAX - digit) / 10)
			return false;
		n = n * 10 + digit;
	}
	*val = n;
	return true;
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

const char *cbw_status_parse(const char *line, struct cbw_status *st)
{
	uint64_t *const fields[] = {
		&st->chunk_sectors, &st->chunks, &st->copied, &st->to_copy,
		&st->copies, &st->copy_errors, &st->waited,
	};
	const char *pos = line;

	if (!parse_numbers(&pos, fields, sizeof(fields) / sizeof(fields[0])))
		return "expected 7 decimal numbers";
	if (*pos)
		return "more than 7 fields";
	if (st->chunk_sectors < 8 || (st->chunk_sectors & (st->chunk_sectors - 1)))
		return "chunk size is not a power of two of at least 8 sectors";
	if (st->copied > st->chunks || st->to_copy != st->chunks - st->copied)
		return "copied and to copy do not add up to the chunks";
	return NULL;
}

const char *access_status_parse(const char *line, struct access_status *st)
{
	uint64_t *const fields[] = {
		&st->origin_reads, &st->cow_reads, &st->waited,
	};
	char word[WORD_MAX + 1];
	const char *pos = line;

	if (!next_word(&pos, word))
		return "expected valid or invalid";
	if (!strcmp(word, "valid"))
		st->valid = true;
	else if (!strcmp(word, "invalid"))
		st->valid = false;
	else
		return "expected valid or invalid";
	if (!parse_numbers(&pos, fields, sizeof(fields) / sizeof(fields[0])))
		return "expected 3 decimal numbers after the state";
	if (*pos)
		return "more than 4 fields";
	return NULL;
}
