// SPDX-License-Identifier: GPL-2.0
/* kvzalloc() and kvfree() in linux/slab.h (5.10: in linux/mm.h). */
#include <linux/slab.h>

void probe_kv(size_t size);
void probe_kv(size_t size)
{
	kvfree(kvzalloc(size, GFP_KERNEL));
}
