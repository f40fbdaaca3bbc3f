/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The image file that backup writes: a sparse copy of the snapshot,
 * written to a temporary file next to it and renamed into place at the
 * end, or a stream of every byte to standard output.
 *
 * File: image_open() makes ".NAME.XXXXXX" in FILE's folder (mode 0600)
 * and sets its size; image_write() puts data where it belongs, in any
 * order, everything never written reads as zero (a hole); image_commit()
 * syncs the file and renames it to FILE (replacing an old one only with
 * force); image_abort() removes it.
 *
 * Stream ("-"): the image goes to standard output in order, the bytes
 * between two writes and up to the end as zeros.  Writes must come in
 * increasing order; nothing can be taken back.
 *
 *	struct image im;
 *
 *	if (image_open(&im, path, bytes, force))
 *		return ...;		(print im.err)
 *	... image_write(&im, off, buf, len), in increasing order for a
 *	stream ...
 *	if (failed || image_commit(&im))
 *		free(image_abort(&im, false));
 *
 * Each function returns 0 or a negative errno; on failure the one-line reason is
 * in im->err, for the caller to print (maybe with more to say).
 */
#ifndef CBWCTL_IMAGE_H
#define CBWCTL_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * struct image - an image being written.
 * @path: FILE as given, or "-".
 * @tmp: the temporary file's path (file only).
 * @fd: the temporary file, or standard output.
 * @stream: writing to standard output.
 * @force: FILE may be replaced.
 * @syncable: fdatasync() works on @fd (a file, or standard output
 *	      redirected to a file or a block device).
 * @bytes: the image's size.
 * @pos: stream only: the bytes written so far.
 * @err: the reason of the last failure.
 */
struct image {
	const char *path;
	char *tmp;
	int fd;
	bool stream;
	bool force;
	bool syncable;
	uint64_t bytes;
	uint64_t pos;
	char err[512];
};

/**
 * image_open() - start writing the image.
 * @im: the image.
 * @path: FILE, or "-" for standard output.
 * @bytes: the image's size.
 * @force: replace FILE if it exists (a regular file only).
 *
 * Refuses an existing FILE without @force (-EBUSY), an existing
 * FILE that is not a regular file, and standard output on a terminal.
 *
 * Return: 0, -EINVAL (standard output is a terminal),
 * -EBUSY or -EIO.
 */
int image_open(struct image *im, const char *path, uint64_t bytes,
	       bool force);

/**
 * image_write() - write @len bytes of data at @off.
 * @im: the image.
 * @off: the offset in the image.
 * @buf: the data.
 * @len: its length; @off + @len is at most the image's size.
 *
 * Return: 0 or -EIO.
 */
int image_write(struct image *im, uint64_t off, const void *buf, size_t len);

/**
 * image_fill() - a stream: send the zeros up to @off now (the bytes not
 * written between the last write and @off), so that a sync makes them
 * durable.  A file, or a stream already past @off: nothing to do.
 * @im: the image.
 * @off: the offset; at most the image's size.
 *
 * Return: 0 or -EIO.
 */
int image_fill(struct image *im, uint64_t off);

/**
 * image_punch() - make [@off, @off + @len) zero again.
 * @im: the image, a file (a stream cannot take bytes back).
 * @off: the offset.
 * @len: the length.
 *
 * Return: 0 or -EIO.
 */
int image_punch(struct image *im, uint64_t off, uint64_t len);

/**
 * image_sync() - make what was written so far durable (fdatasync()).
 * @im: the image; @im->syncable must be true.
 *
 * Return: 0 or -EIO.
 */
int image_sync(struct image *im);

/**
 * image_sync_entry() - make the temporary file's name durable: sync the
 * folder it is in (fsync()), so that after a crash the file is still
 * there.  Does nothing to a stream (its name, if it has one, is the
 * caller's: a shell's redirection), nor after image_commit() (it synced
 * the folder after the rename).
 * @im: the image.
 *
 * Return: 0 or -EIO.
 */
int image_sync_entry(struct image *im);

/**
 * image_commit() - finish the image: a stream gets its trailing zeros; a
 * file is synced, renamed to FILE and its folder synced.
 * @im: the image.
 *
 * Return: 0, or -EIO; then call image_abort() (the
 * temporary file is still there unless the rename was done and only the
 * folder's sync failed).
 */
int image_commit(struct image *im);

/**
 * image_abort() - give up: remove the temporary file, or with @keep leave
 * it where it is.  Does nothing to a stream.
 * @im: the image; released.
 * @keep: keep the temporary file (it holds data that exists nowhere
 *	  else any more).
 *
 * Return: the temporary file's path when it is kept (malloc'ed, for the
 * caller's message; NULL for a stream or when not kept).
 */
char *image_abort(struct image *im, bool keep);

#endif /* CBWCTL_IMAGE_H */
