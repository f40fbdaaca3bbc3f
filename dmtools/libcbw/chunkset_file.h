/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Chunk sets from files: the three formats that 'cbwctl create --bitmap'
 * and 'cbwctl bitmap NAME import' read.  No libdevmapper here, so that the
 * parsers are unit-tested on the host (tests/test_ranges.c).
 *
 * ranges   Text, one range of chunk numbers per line: "N" or "N-M"
 *          (decimal, inclusive, N <= M).  Blanks around the range are
 *          allowed; '#' starts a comment that runs to the end of the line;
 *          blank lines are allowed.  Ranges may come in any order and may
 *          overlap.  This is also what 'cbwctl map --chunks' prints.
 * raw      A bitmap: bit N of the file, least significant bit first within
 *          each byte, stands for chunk N.  The file may be shorter than
 *          the device (the chunks after its end are not in the set); a set
 *          bit at or beyond the chunk count is an error, clear ones there
 *          are not.
 * era      The XML of era_invalidate(8) (thin-provisioning-tools): a
 *          <blocks> element holding <range begin="B" end="E"/> (era blocks
 *          B to E - 1) and <block block="B"/> elements.  An era block of S
 *          sectors covers sectors [B * S, (B + 1) * S); a chunk is in the
 *          set when any era block of the set covers any of its sectors.  The
 *          last era block of a device may reach past the device's end: an
 *          era block is an error only when it starts at or after the last
 *          chunk's end.
 *
 * Auto-detection (CBW_FORMAT_AUTO) looks at the first 4 KiB of the
 * file: if the first byte that is not a blank or a line break is '<', the
 * format is era; else if every byte there is printable ASCII, a tab, CR
 * or LF, and the first such byte is a digit or '#' (or there is none: an
 * empty file), it is ranges; else raw.  A raw bitmap whose first bytes
 * happen to be such text (bytes 0x23, 0x30-0x39 ...) must be given with
 * the raw format explicitly.
 */
#ifndef CBWCTL_RANGES_H
#define CBWCTL_RANGES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chunk_runs.h"
#include "libcbw.h"

/* How many bytes auto-detection looks at. */
#define BITMAP_DETECT_BYTES	4096

/* The longest line of a ranges file, its line break excluded. */
#define RANGES_LINE_MAX		1024

/*
 * struct bitmap_geometry - the device a chunk set is for.
 * @chunks: its number of chunks; every chunk of the set must be below it.
 * @chunk_sectors: its chunk size in 512-byte sectors (era conversion).
 * @era_block_sectors: the era block size in sectors, for the era format;
 *		       0 if not given (then an era file is refused).
 */
struct bitmap_geometry {
	uint64_t chunks;
	uint64_t chunk_sectors;
	uint64_t era_block_sectors;
};

/* struct bitmap_error - why a parse failed: a whole message line. */
struct bitmap_error {
	char text[320];
};

/**
 * cbw_format_name() - the name of @format ("auto" for
 * CBW_FORMAT_AUTO).
 * @format: a format.
 *
 * Return: a static string.
 */
const char *cbw_format_name(enum cbw_format format);

/**
 * format_known() - is @format one of enum cbw_format's values?
 * @format: a value from a caller.
 *
 * Return: true if it is.
 */
bool format_known(enum cbw_format format);

/**
 * bitmap_detect() - the format of a file that starts with @head.
 * @head: the first bytes of the file (up to BITMAP_DETECT_BYTES are looked
 *	  at).
 * @len: how many there are; fewer than BITMAP_DETECT_BYTES means the
 *	 whole file.
 *
 * Return: CBW_FORMAT_RANGES, CBW_FORMAT_RAW or CBW_FORMAT_ERA
 * (see the rules above).
 */
enum cbw_format bitmap_detect(const void *head, size_t len);

/**
 * bitmap_parse() - read a chunk set from @f.
 * @f: the open file, read from its current position to its end; it need
 *     not be seekable (a pipe will do).
 * @name: the file's name, for messages.
 * @format: its format, or CBW_FORMAT_AUTO to detect it.
 * @g: the device the set is for.
 * @out: an empty list; filled with the set, normalized.  On failure it may
 *	 hold part of the set: free it all the same.
 * @used: if not NULL, set to the format that was read (the detected one
 *	  for CBW_FORMAT_AUTO).
 * @err: filled with a one-line message on failure, "NAME:LINE: ..." for
 *	 an error on a line of a text or XML file, "NAME: ..." otherwise.
 *
 * Return: 0; -EINVAL for a syntax error, or
 * an era file without @g->era_block_sectors; -ERANGE for a chunk at
 * or beyond @g->chunks; -EIO when reading fails or memory runs
 * out.
 */
int bitmap_parse(FILE *f, const char *name, enum cbw_format format,
		 const struct bitmap_geometry *g, struct chunk_runs *out,
		 enum cbw_format *used, struct bitmap_error *err);

#endif /* CBWCTL_RANGES_H */
