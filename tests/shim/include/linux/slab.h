/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: kmem_cache over malloc(), with live-object counters and
 * failure injection (shim_fail_countdown: the Nth allocation from now
 * fails, and every one after it while shim_fail_sticky is set).
 */
#ifndef SHIM_LINUX_SLAB_H
#define SHIM_LINUX_SLAB_H

#include <linux/gfp.h>
#include <linux/types.h>

struct kmem_cache {
	const char *name;
	size_t size;
	long live;
};

extern long shim_fail_countdown;
extern bool shim_fail_sticky;
extern long shim_allocs;
extern long shim_live;

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned long flags,
				     void (*ctor)(void *));
void kmem_cache_destroy(struct kmem_cache *s);
void *kmem_cache_alloc(struct kmem_cache *s, gfp_t gfp);
void kmem_cache_free(struct kmem_cache *s, void *p);
void *kzalloc(size_t size, gfp_t gfp);
void *kmalloc(size_t size, gfp_t gfp);
void kfree(const void *p);
void *kvmalloc_array(size_t n, size_t size, gfp_t gfp);
void *kvzalloc(size_t size, gfp_t gfp);
void kvfree(const void *p);

#endif
