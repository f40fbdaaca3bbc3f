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
 * cbw_status_parse_track() - cbw_status_parse(), and the 5 fields of a
 * track table (19 to 23): <uuid> <generation> <changed chunks> <set>
 * <set chunks>, the set "-", "pending:G" or "committed:G".
 * @line: the target's status parameters: 18 or 23 fields.
 * @st: filled on success; may be partly written on failure.
 * @track: NULL, or filled on success: @track->tracking is false for an
 *	   18-field line (its other fields 0); the fields of bytes, of the
 *	   sizes and @track->snapshot are left 0 (the caller knows them).
 *
 * Besides the checks of cbw_status_parse(): the uuid is 8-4-4-4-12
 * lower-case hex, the generation at least 1, the changed and set chunks
 * at most the chunks, a "-" set has 0 chunks, a set's generation is older
 * than the generation, and the state "none" (no snapshot) comes only with
 * tracking, without a set, chunks in the snapshot or COW slots.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *cbw_status_parse_track(const char *line, struct cbw_status *st,
				   struct cbw_track_info *track);

/**
 * track_uuid_valid() - is @s a tracking uuid: 36 characters, lower-case
 * hex digits in groups of 8-4-4-4-12 separated by '-'?
 * @s: the text, or NULL (which is not).
 *
 * Return: true if it is.
 */
bool track_uuid_valid(const char *s);

/**
 * access_status_parse() - parse a snapshot-access status line.
 * @line: the target's status parameters.
 * @st: filled on success; may be partly written on failure.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *access_status_parse(const char *line, struct cbw_access_status *st);

#endif /* CBWCTL_STATUS_LINE_H */
