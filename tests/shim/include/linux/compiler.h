/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: sparse annotations vanish; READ_ONCE() and WRITE_ONCE()
 * are relaxed atomic accesses (single-copy atomic, as in the kernel, and
 * visible as such to the sanitizers).
 *
 * Every store a writer makes for lock-free readers is a preemption point:
 * while shim_preempt is set (the concurrency test), the writer yields now
 * and then, so that readers get to see the tree between two stores.
 */
#ifndef SHIM_LINUX_COMPILER_H
#define SHIM_LINUX_COMPILER_H

#include <linux/kconfig.h>

#define __rcu
#define __force

#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) do {					\
	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED);			\
	shim_preempt_point();						\
} while (0)

extern int shim_preempt;
void shim_preempt_slow(void);

static inline void shim_preempt_point(void)
{
	if (__builtin_expect(shim_preempt, 0))
		shim_preempt_slow();
}

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#endif
