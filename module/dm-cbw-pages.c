// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw copy buffers: an engine-owned cache of pages in struct page_list
 * chains (dm-cbw-pages.h).
 */

#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "dm-cbw-pages.h"

/* One page and its chain link, or NULL. */
static struct page_list *alloc_pl(gfp_t gfp)
{
	struct page_list *pl = kmalloc(sizeof(*pl), gfp);

	if (!pl)
		return NULL;
	pl->page = alloc_page(gfp);
	if (!pl->page) {
		kfree(pl);
		return NULL;
	}
	return pl;
}

static void free_pl(struct page_list *pl)
{
	__free_page(pl->page);
	kfree(pl);
}

/**
 * cbw_pages_init() - set up a page cache and fill its reserve.
 * @p: the cache.
 * @reserve: pages allocated now and kept until cbw_pages_exit().
 * @cap: the most pages kept in the cache; at least @reserve.
 *
 * Context: process context; may sleep.
 * Return: 0, or -ENOMEM (nothing is left allocated).
 */
int cbw_pages_init(struct cbw_pages *p, unsigned int reserve, unsigned int cap)
{
	struct page_list *pl;

	p->free = NULL;
	p->nr_free = 0;
	p->nr_out = 0;
	p->reserve = reserve;
	p->cap = max(cap, reserve);
	while (p->nr_free < reserve) {
		pl = alloc_pl(GFP_KERNEL);
		if (!pl) {
			cbw_pages_exit(p);
			return -ENOMEM;
		}
		pl->next = p->free;
		p->free = pl;
		p->nr_free++;
	}
	return 0;
}

/**
 * cbw_pages_exit() - free every cached page.
 * @p: the cache; no page may be out.
 *
 * Context: any context that may free pages.
 */
void cbw_pages_exit(struct cbw_pages *p)
{
	struct page_list *pl;

	WARN_ON(p->nr_out);
	while ((pl = p->free)) {
		p->free = pl->next;
		free_pl(pl);
	}
	p->nr_free = 0;
}

/**
 * cbw_pages_get() - take up to @want more pages.
 * @p: the cache.
 * @want: pages wanted, at least 1.
 * @chain: a chain (or NULL); the pages taken are put at its head.
 *
 * Takes cached pages first, then allocates without waiting.  The pages'
 * contents are undefined.  When no page is out, at least one is always
 * taken (the reserve).
 *
 * Context: the owner (see dm-cbw-pages.h); does not sleep.
 * Return: the number of pages taken, 0 to @want.
 */
unsigned int cbw_pages_get(struct cbw_pages *p, unsigned int want,
			   struct page_list **chain)
{
	struct page_list *pl;
	unsigned int n = 0;

	while (n < want) {
		pl = p->free;
		if (pl) {
			p->free = pl->next;
			p->nr_free--;
		} else {
			pl = alloc_pl(GFP_NOWAIT | __GFP_NOWARN);
			if (!pl)
				break;
		}
		pl->next = *chain;
		*chain = pl;
		n++;
	}
	p->nr_out += n;
	return n;
}

/**
 * cbw_pages_put() - give pages back.
 * @p: the cache.
 * @chain: a chain cbw_pages_get() returned (or a part of one), or NULL.
 * @n: the number of pages in @chain.
 *
 * Pages go back to the cache up to its cap, the rest to the page
 * allocator.
 *
 * Context: the owner (see dm-cbw-pages.h); does not sleep.
 */
void cbw_pages_put(struct cbw_pages *p, struct page_list *chain,
		   unsigned int n)
{
	struct page_list *pl;

	p->nr_out -= n;
	while ((pl = chain)) {
		chain = pl->next;
		if (p->nr_free < p->cap) {
			pl->next = p->free;
			p->free = pl;
			p->nr_free++;
		} else {
			free_pl(pl);
		}
	}
}
