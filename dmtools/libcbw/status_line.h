/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strict parsers for the status lines of the two dm-cbw targets, the
 * part after "<start> <length> <target type>" in 'dmsetup status'.
 *
 * A line is accepted only if it has exactly the documented fields, each
 * a plain decimal number (or keyword) that fits, separated by single
 * spaces, and the numbers agree with each other.  Anything else is
 * refused as a whole, so a changed or damaged kernel interface gives an
 * error instead of a wrong report.
 */
#ifndef CBWCTL_STATUS_LINE_H
#define CBWCTL_STATUS_LINE_H

#include "libcbw.h"

/**
 * cbw_status_parse() - parse a cbw status line.
 * @line: the target's status parameters.
 * @st: filled on success; may be partly written on failure.
 *
 * Besides the syntax it checks that the chunk size is a power of two of
 * at least 8 sectors, that the chunks in the snapshot are at most the
 * chunks, that copied + to copy = in snapshot, that in snapshot + dropped
 * + discarded is at most the chunks, that the used slots are at most the
 * total, and that the timeout is at most one day.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *cbw_status_parse(const char *line, struct cbw_status *st);

/**
 * access_status_parse() - parse a snapshot-access status line.
 * @line: the target's status parameters.
 * @st: filled on success; may be partly written on failure.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *access_status_parse(const char *line, struct cbw_access_status *st);

#endif /* CBWCTL_STATUS_LINE_H */
