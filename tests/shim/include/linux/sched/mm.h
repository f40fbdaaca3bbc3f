/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the GFP_NOIO allocation scope.  shim_noio_depth lets a
 * test check that scopes are balanced.
 */
#ifndef SHIM_LINUX_SCHED_MM_H
#define SHIM_LINUX_SCHED_MM_H

extern __thread int shim_noio_depth;

static inline unsigned int memalloc_noio_save(void)
{
	return shim_noio_depth++;
}

static inline void memalloc_noio_restore(unsigned int flags)
{
	shim_noio_depth = flags;
}

#endif
