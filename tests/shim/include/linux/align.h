/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: IS_ALIGNED() of linux/align.h. */
#ifndef SHIM_LINUX_ALIGN_H
#define SHIM_LINUX_ALIGN_H

#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)

#endif
