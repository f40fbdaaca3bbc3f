// SPDX-License-Identifier: GPL-2.0
/*
 * cbw_discard(): take a range of whole chunks out of the snapshot of a cbw
 * device (a discard on its snapshot node): reads of them fail from then
 * on, their COW slots are freed, and guest writes to them copy nothing.
 * For a backup agent that has read them some other way.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "device.h"
#include "error.h"
#include "imgio.h"
#include "size.h"
#include "snapdev.h"

int cbw_discard(const char *name, uint64_t offset, uint64_t length)
{
	char chunk[CBW_SIZE_BUF_LEN], size[CBW_SIZE_BUF_LEN];
	uint64_t range[2] = { offset, length };
	struct snapdev sd;
	const char *why;
	int r;

	lib_begin();
	r = snapdev_find(name, true, &sd);
	if (r)
		return lib_end(r);
	why = discard_range_check(offset, length, sd.chunk_bytes, sd.bytes);
	if (why) {
		lib_error("cannot discard %llu+%llu from %s (chunks of %s, %s large): %s",
			  (unsigned long long)offset,
			  (unsigned long long)length, sd.d.snap.name,
			  cbw_size_format(sd.chunk_bytes, chunk, sizeof(chunk)),
			  cbw_size_format(sd.bytes, size, sizeof(size)), why);
		r = -ERANGE;
		goto out;
	}
	r = snapdev_open(&sd, O_WRONLY);
	if (r)
		goto out;
	if (ioctl(sd.fd, BLKDISCARD, range)) {
		lib_error("cannot discard %llu+%llu from %s: %s",
			  (unsigned long long)offset,
			  (unsigned long long)length, sd.path,
			  strerror(errno));
		r = -EIO;
	}
out:
	snapdev_release(&sd);
	return lib_end(r);
}
