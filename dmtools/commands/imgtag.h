/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tag of an image written by cbwctl backup --incremental: which
 * tracking set it holds, in a small text file next to it (IMAGE.cbw), so
 * that the next incremental backup can check that its --prev image is the
 * backup it continues, not one of another history or generation:
 *
 *	cbw-track-image 1
 *	uuid 5e0b2c1a-8f3d-4b6e-9a70-1c2d3e4f5a6b
 *	generation 4
 *	chunk-sectors 128
 *	device-sectors 2097152
 *	complete yes
 *
 * uuid and generation: the tracking history and the generation of the set
 * the image holds (the track snapshot's "pending:G"); chunk-sectors and
 * device-sectors: the geometry; complete: "yes", or "no" for the partial
 * image of a failed backup with --sync always (its chunks are committed,
 * the rest of its set goes on into the next one).  Each line ends with
 * '\n', in this order, nothing else.
 */
#ifndef CBWCTL_IMGTAG_H
#define CBWCTL_IMGTAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libcbw.h>

#define IMGTAG_SUFFIX	".cbw"

struct imgtag {
	char uuid[CBW_TRACK_UUID_LEN + 1];
	uint64_t generation;
	uint64_t chunk_sectors;
	uint64_t device_sectors;
	bool complete;
};

/**
 * imgtag_parse() - parse the text of a tag.
 * @text: the text, NUL-terminated.
 * @t: filled on success.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *imgtag_parse(const char *text, struct imgtag *t);

/**
 * imgtag_format() - the text of a tag.
 * @t: the tag.
 * @buf: where it goes.
 * @len: the size of @buf; 256 bytes always do.
 */
void imgtag_format(const struct imgtag *t, char *buf, size_t len);

/**
 * imgtag_read() - read the tag of @image (@image + IMGTAG_SUFFIX).
 * @image: the image's path.
 * @t: filled on success.
 * @err: set to why it failed.
 * @err_len: the size of @err.
 *
 * Return: 0, -ENOENT (no tag), -EINVAL (damaged) or -EIO.
 */
int imgtag_read(const char *image, struct imgtag *t, char *err,
		size_t err_len);

/**
 * imgtag_write() - write the tag of @image: a temporary file, fsync,
 * rename, fsync of the folder.
 * @image: the image's path.
 * @t: the tag.
 * @err: set to why it failed.
 * @err_len: the size of @err.
 *
 * Return: 0 or -1.
 */
int imgtag_write(const char *image, const struct imgtag *t, char *err,
		 size_t err_len);

/**
 * imgtag_continues() - can an image of @set_generation of the history
 * @uuid rest on the image tagged @prev?  Yes if @prev is of the same
 * history and holds the generation before (@set_generation - 1), or the
 * same generation (a set never committed, --sync never: the new set holds
 * all its chunks again).
 * @prev: the previous image's tag.
 * @uuid: the history of the snapshot backed up now.
 * @set_generation: the generation of its set.
 *
 * Return: NULL if it can, else a short static text saying why not.
 */
const char *imgtag_continues(const struct imgtag *prev, const char *uuid,
			     uint64_t set_generation);

#endif /* CBWCTL_IMGTAG_H */
