/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sizes on the command line and in reports.
 *
 * A size is a decimal number of bytes with an optional binary suffix:
 * k K KiB (2^10), m M MiB (2^20), g G GiB (2^30), t T TiB (2^40).  There
 * is no sign, no fraction, no space and no decimal (SI) unit: "64k",
 * "64KiB" and "65536" are the same size; "64KB", "1.5M" and "-4k" are
 * refused.
 */
#ifndef CBWCTL_SIZE_H
#define CBWCTL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Chunk sizes cbwctl accepts: powers of two from 4 KiB to 1 TiB. */
#define CHUNK_MIN_BYTES		4096ULL
#define CHUNK_MAX_BYTES		(1ULL << 30)
#define CHUNK_DEFAULT_BYTES	(64ULL << 10)

/* A buffer that holds any size_format() result. */
#define SIZE_BUF_LEN 32

/**
 * size_parse() - parse a size in bytes.
 * @s: the text, for example "64k", "1MiB" or "4096".
 * @bytes: set to the size on success, untouched otherwise.
 *
 * Return: NULL on success, else a short static text saying what is wrong
 * ("not a number", "unknown suffix", "too large"), for an error message.
 */
const char *size_parse(const char *s, uint64_t *bytes);

/**
 * decimal_take() - parse the decimal number at the start of *@s (digits
 * only, at least one, no sign) and move *@s past it: for numbers inside a
 * longer text ("4-9", "64k").
 * @s: the text; on success, set to the first character after the digits.
 * @max: the largest value allowed.
 * @v: set to the number on success, untouched otherwise.
 *
 * Return: NULL on success, else a short static text saying what is wrong
 * ("not a number" when *@s does not start with a digit, "too large"); *@s
 * is then unchanged.
 */
const char *decimal_take(const char **s, uint64_t max, uint64_t *v);

/**
 * decimal_parse() - parse a plain decimal number (a count, milliseconds,
 * sectors): digits only, no sign, no suffix; decimal_take() over the
 * whole of @s.
 * @s: the text.
 * @max: the largest value allowed.
 * @v: set to the number on success, untouched otherwise.
 *
 * Return: NULL on success, else a short static text saying what is wrong
 * ("not a number", "too large").
 */
const char *decimal_parse(const char *s, uint64_t max, uint64_t *v);

/**
 * chunk_size_check() - is @bytes a chunk size cbwctl accepts?
 * @bytes: the size in bytes.
 *
 * Return: NULL if it is a power of two in [CHUNK_MIN_BYTES,
 * CHUNK_MAX_BYTES], else a short static text saying why not.
 */
const char *chunk_size_check(uint64_t bytes);

/**
 * size_format() - a size for people: the largest binary unit that divides
 * @bytes exactly ("64KiB", "1MiB", "1536KiB"), or plain bytes ("512B").
 * @bytes: the size.
 * @buf: where the text goes.
 * @len: size of @buf; SIZE_BUF_LEN is always enough.
 *
 * Return: @buf.
 */
char *size_format(uint64_t bytes, char *buf, size_t len);

#endif /* CBWCTL_SIZE_H */
