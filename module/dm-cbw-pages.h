/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw copy buffers: a cache of pages, as chains of struct page_list
 * (dm-io.h's type), owned by one snapshot's copy engine.
 *
 * The cache keeps a reserve allocated up front, so that the worker can
 * always start a copy when none is in flight (it never waits for memory:
 * a copy in flight may need the worker to end), and keeps up to a cap of
 * pages returned by finished copies, so that a burst of copies does not
 * allocate and free a page per copy.
 *
 * Concurrency: none; every call is made by the holder of the snapshot's
 * copy engine (see dm-cbw-io.h), or by its constructor and destructor,
 * when no one else runs.
 */
#ifndef DM_CBW_PAGES_H
#define DM_CBW_PAGES_H

#include <linux/dm-io.h>
#include <linux/types.h>

/**
 * struct cbw_pages - a page cache.
 * @free: chain of cached pages.
 * @nr_free: pages in @free.
 * @nr_out: pages handed out and not yet put back.
 * @reserve: @nr_free + @nr_out never drops below this.
 * @cap: pages beyond this go back to the page allocator when put.
 */
struct cbw_pages {
	struct page_list *free;
	unsigned int nr_free;
	unsigned int nr_out;
	unsigned int reserve;
	unsigned int cap;
};

int cbw_pages_init(struct cbw_pages *p, unsigned int reserve, unsigned int cap);
void cbw_pages_exit(struct cbw_pages *p);
unsigned int cbw_pages_get(struct cbw_pages *p, unsigned int want,
			   struct page_list **chain);
void cbw_pages_put(struct cbw_pages *p, struct page_list *chain,
		   unsigned int n);

#endif /* DM_CBW_PAGES_H */
