/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: min() and max() insist on operands of one type, as the
 * kernel's (6.1) do, so that the test build catches what W=1 would.
 */
#ifndef SHIM_LINUX_MINMAX_H
#define SHIM_LINUX_MINMAX_H

#define __shim_cmp(x, y, op) ({						\
	__typeof__(x) __x = (x);					\
	__typeof__(y) __y = (y);					\
	(void)(&__x == &__y);						\
	__x op __y ? __x : __y;						\
})

#define min(x, y)		__shim_cmp(x, y, <)
#define max(x, y)		__shim_cmp(x, y, >)
#define max3(x, y, z)		({ __typeof__(x) __m3 = max(x, y); max(__m3, z); })
#define min_t(t, x, y)		__shim_cmp((t)(x), (t)(y), <)
#define max_t(t, x, y)		__shim_cmp((t)(x), (t)(y), >)

#endif
