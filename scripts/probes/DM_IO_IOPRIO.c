// SPDX-License-Identifier: GPL-2.0
/* dm_io() takes an I/O priority (6.10, and stable backports). */
#include <linux/dm-io.h>
#include <linux/ioprio.h>

int probe_io(struct dm_io_request *req, struct dm_io_region *where);
int probe_io(struct dm_io_request *req, struct dm_io_region *where)
{
	return dm_io(req, 1, where, NULL, IOPRIO_DEFAULT);
}
