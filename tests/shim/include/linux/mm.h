/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: a page is a kmalloc()ed block, so pages are counted in
 * shim_live and fail with the same injection as every allocation.
 */
#ifndef SHIM_LINUX_MM_H
#define SHIM_LINUX_MM_H

#include <linux/slab.h>

struct page {
	unsigned char data[4096];
};

static inline struct page *alloc_page(gfp_t gfp)
{
	return kmalloc(sizeof(struct page), gfp);
}

static inline void __free_page(struct page *page)
{
	kfree(page);
}

#endif
