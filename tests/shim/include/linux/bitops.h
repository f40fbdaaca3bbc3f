/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: the bit operations the bitmap uses. */
#ifndef SHIM_LINUX_BITOPS_H
#define SHIM_LINUX_BITOPS_H

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/types.h>

static_assert(sizeof(long) * 8 == BITS_PER_LONG, "64-bit hosts only");

/* The first set bit; undefined for 0, as in the kernel. */
static inline unsigned long __ffs(unsigned long word)
{
	return __builtin_ctzl(word);
}

static inline unsigned int hweight_long(unsigned long w)
{
	return __builtin_popcountl(w);
}

#endif
