/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: the kernel's integer limits (plus the system's file). */
#ifndef SHIM_LINUX_LIMITS_H
#define SHIM_LINUX_LIMITS_H

#include_next <linux/limits.h>

#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)

#endif
