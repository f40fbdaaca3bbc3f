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

#include <stdbool.h>
#include <stdint.h>

/*
 * struct cbw_status - the status of a "cbw" target:
 *
 *   <chunk sectors> <chunks> <copied> <to copy> <copy jobs> <copy errors>
 *   <waited bios>
 */
struct cbw_status {
	uint64_t chunk_sectors;
	uint64_t chunks;
	uint64_t copied;
	uint64_t to_copy;
	uint64_t copies;
	uint64_t copy_errors;
	uint64_t waited;
};

/*
 * struct access_status - the status of a "snapshot-access" target:
 *
 *   <valid|invalid> <origin reads> <cow reads> <waited reads>
 */
struct access_status {
	bool valid;
	uint64_t origin_reads;
	uint64_t cow_reads;
	uint64_t waited;
};

/**
 * cbw_status_parse() - parse a cbw status line.
 * @line: the target's status parameters.
 * @st: filled on success; may be partly written on failure.
 *
 * Besides the syntax it checks that the chunk size is a power of two of
 * at least 8 sectors and that copied + to copy = chunks.
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
const char *access_status_parse(const char *line, struct access_status *st);

#endif /* CBWCTL_STATUS_LINE_H */
