/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The arithmetic of a backup's I/O, without any I/O: where the read
 * requests of a run of chunks start and end, and which parts of a buffer
 * read are zero (holes in the image).
 *
 * Read requests are cut at multiples of the I/O size: with an I/O size of
 * at least the chunk size (both powers of two) a request is whole chunks,
 * except for a partial last chunk at the device's end; with a smaller one
 * a chunk is read in several requests.
 */
#ifndef CBWCTL_IMGIO_H
#define CBWCTL_IMGIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libcbw.h"

/* Zero detection works in blocks of this size (a file system block). */
#define HOLE_BLOCK		4096

/**
 * io_request_len() - the length of the read request at @pos.
 * @pos: where the request starts (bytes).
 * @end: where the run being read ends (bytes, exclusive), > @pos.
 * @io_size: the largest request, a power of two.
 *
 * Return: the bytes from @pos to the next multiple of @io_size, or to
 * @end if that comes first.
 */
uint64_t io_request_len(uint64_t pos, uint64_t end, uint64_t io_size);

/**
 * run_bytes() - the bytes of chunks @first to @last of a device.
 * @first: the first chunk.
 * @last: the last chunk (inclusive).
 * @chunk_bytes: the chunk size.
 * @dev_bytes: the device's size; the last chunk may be partial.
 * @start: set to the first byte.
 * @end: set past the last byte, at most @dev_bytes.
 *
 * Return: false if the run lies wholly past the device's end (then
 * nothing of it can be read).
 */
bool run_bytes(uint64_t first, uint64_t last, uint64_t chunk_bytes,
	       uint64_t dev_bytes, uint64_t *start, uint64_t *end);

/**
 * block_is_zero() - are all @len bytes at @buf zero?
 * @buf: the bytes.
 * @len: how many.
 *
 * Return: true if they are (also for @len 0).
 */
bool block_is_zero(const void *buf, size_t len);

/**
 * extent_next() - the extent of zero or data blocks at @off in @buf.
 * @buf: a buffer read from the device.
 * @len: its length.
 * @off: where the extent starts; a multiple of @block, below @len.
 * @block: the block size of zero detection.
 * @zero: set to true if the extent is zero blocks, false if data.
 *
 * An extent is the longest run of blocks from @off that are all zero, or
 * all not zero; the last block may be shorter than @block.
 *
 * Return: the extent's length in bytes (> 0).
 */
size_t extent_next(const void *buf, size_t len, size_t off, size_t block,
		   bool *zero);

/**
 * discard_range_check() - can [@off, @off + @len) be discarded as given?
 * @off: the first byte.
 * @len: the length in bytes.
 * @chunk_bytes: the chunk size.
 * @dev_bytes: the device's size.
 *
 * The range must be whole chunks: @off a multiple of the chunk size, and
 * @len too unless the range ends at the device's end (the last chunk
 * may be partial); not empty, and not past the device's end.  The kernel
 * would shrink any other range to the whole chunks inside it, silently.
 *
 * Return: NULL if it can, else a short static text saying why not.
 */
const char *discard_range_check(uint64_t off, uint64_t len,
				uint64_t chunk_bytes, uint64_t dev_bytes);

#endif /* CBWCTL_IMGIO_H */
