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

#include "libcbw.h"

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

#endif /* CBWCTL_SIZE_H */
