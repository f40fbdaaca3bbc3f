/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: the one dm-io type the page cache uses. */
#ifndef SHIM_LINUX_DM_IO_H
#define SHIM_LINUX_DM_IO_H

struct page;

struct page_list {
	struct page_list *next;
	struct page *page;
};

#endif
