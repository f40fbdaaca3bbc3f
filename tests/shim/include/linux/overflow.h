/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: struct_size() (without the kernel's saturation). */
#ifndef SHIM_LINUX_OVERFLOW_H
#define SHIM_LINUX_OVERFLOW_H

#define struct_size(p, member, n) \
	(sizeof(*(p)) + (size_t)(n) * sizeof(*(p)->member))

#endif
