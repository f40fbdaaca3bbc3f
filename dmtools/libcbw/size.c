// SPDX-License-Identifier: GPL-2.0
/*
 * Size parsing and formatting; see size.h for the syntax.
 */

#include <stdio.h>
#include <string.h>

#include "size.h"

static const struct {
	const char *suffix;
	unsigned int shift;
} suffixes[] = {
	{ "",    0 },
	{ "k",  10 }, { "K",  10 }, { "KiB", 10 },
	{ "m",  20 }, { "M",  20 }, { "MiB", 20 },
	{ "g",  30 }, { "G",  30 }, { "GiB", 30 },
	{ "t",  40 }, { "T",  40 }, { "TiB", 40 },
};

const char *cbw_size_parse(const char *s, uint64_t *bytes)
{
	const char *p = s, *why;
	uint64_t n;
	size_t i;

	if (!s || !bytes)
		return "no text or no result (NULL)";
	why = decimal_take(&p, UINT64_MAX, &n);
	if (why)
		return why;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		unsigned int shift = suffixes[i].shift;

		if (strcmp(p, suffixes[i].suffix))
			continue;
		if (shift && n > UINT64_MAX >> shift)
			return "too large";
		*bytes = n << shift;
		return NULL;
	}
	return "unknown suffix (use k, M, G, T or KiB, MiB, GiB, TiB)";
}

const char *decimal_take(const char **s, uint64_t max, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return "not a number";
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = *p - '0';

		if (digit > max || n > (max - digit) / 10)
			return "too large";
		n = n * 10 + digit;
	}
	*s = p;
	*v = n;
	return NULL;
}

const char *cbw_decimal_parse(const char *s, uint64_t max, uint64_t *v)
{
	const char *p = s, *why;
	uint64_t n;

	if (!s || !v)
		return "no text or no result (NULL)";
	why = decimal_take(&p, max, &n);
	if (!why && *p)
		why = "not a number";
	if (!why)
		*v = n;
	return why;
}

const char *cbw_chunk_size_check(uint64_t bytes)
{
	if (!bytes || (bytes & (bytes - 1)))
		return "not a power of two";
	if (bytes < CBW_CHUNK_MIN_BYTES)
		return "smaller than 4KiB";
	if (bytes > CBW_CHUNK_MAX_BYTES)
		return "larger than 1GiB";
	return NULL;
}

char *cbw_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	unsigned int u = 0;

	if (!buf || !len)
		return NULL;
	while (bytes && !(bytes & 1023) && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes >>= 10;
		u++;
	}
	snprintf(buf, len, "%llu%s", (unsigned long long)bytes, units[u]);
	return buf;
}
