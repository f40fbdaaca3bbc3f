// SPDX-License-Identifier: GPL-2.0
/*
 * The arithmetic of a backup's I/O; see imgio.h.
 */

#include <string.h>

#include "imgio.h"

const char *cbw_io_size_check(uint64_t bytes)
{
	if (!bytes || (bytes & (bytes - 1)))
		return "not a power of two";
	if (bytes < CBW_IO_SIZE_MIN)
		return "smaller than 4KiB";
	if (bytes > CBW_IO_SIZE_MAX)
		return "larger than 64MiB";
	return NULL;
}

uint64_t io_request_len(uint64_t pos, uint64_t end, uint64_t io_size)
{
	uint64_t len = io_size - (pos & (io_size - 1));

	return len < end - pos ? len : end - pos;
}

bool run_bytes(uint64_t first, uint64_t last, uint64_t chunk_bytes,
	       uint64_t dev_bytes, uint64_t *start, uint64_t *end)
{
	uint64_t chunks = (dev_bytes + chunk_bytes - 1) / chunk_bytes;

	if (first >= chunks)
		return false;
	*start = first * chunk_bytes;
	*end = last >= chunks - 1 ? dev_bytes : (last + 1) * chunk_bytes;
	return true;
}

bool block_is_zero(const void *buf, size_t len)
{
	static const unsigned char zeros[16];
	const unsigned char *p = buf;

	/* The head against zeros, then the rest against itself, shifted. */
	if (len <= sizeof(zeros))
		return !memcmp(p, zeros, len);
	return !memcmp(p, zeros, sizeof(zeros)) &&
	       !memcmp(p, p + sizeof(zeros), len - sizeof(zeros));
}

size_t extent_next(const void *buf, size_t len, size_t off, size_t block,
		   bool *zero)
{
	const unsigned char *p = buf;
	size_t start = off, n;
	bool first = true;

	while (off < len) {
		bool z;

		n = len - off < block ? len - off : block;
		z = block_is_zero(p + off, n);
		if (first)
			*zero = z;
		else if (z != *zero)
			break;
		first = false;
		off += n;
	}
	return off - start;
}

const char *discard_range_check(uint64_t off, uint64_t len,
				uint64_t chunk_bytes, uint64_t dev_bytes)
{
	if (!len)
		return "LENGTH is 0";
	if (off >= dev_bytes)
		return "OFFSET is at or past the end of the device";
	if (len > dev_bytes - off)
		return "the range goes past the end of the device";
	if (off % chunk_bytes)
		return "OFFSET is not a multiple of the chunk size";
	if (len % chunk_bytes && off + len != dev_bytes)
		return "LENGTH is not a multiple of the chunk size, and the range does not end at the end of the device";
	return NULL;
}
