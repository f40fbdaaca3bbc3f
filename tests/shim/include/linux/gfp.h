/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: allocation flags (only passed through). */
#ifndef SHIM_LINUX_GFP_H
#define SHIM_LINUX_GFP_H

#include <linux/types.h>

#define __GFP_NOFAIL	0x1u
#define GFP_NOWAIT	0x2u
#define GFP_ATOMIC	0x4u
#define GFP_NOIO	0x8u
#define GFP_KERNEL	0x10u
#define __GFP_NOWARN	0x20u

#endif
