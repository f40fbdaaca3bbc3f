/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: the bit operations the bitmap and the map use. */
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

/* The last set bit, counted from 1; 0 for 0. */
static inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

static inline unsigned int hweight_long(unsigned long w)
{
	return __builtin_popcountl(w);
}

#endif
