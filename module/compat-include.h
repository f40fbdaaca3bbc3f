/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel headers that a helper moved into, decided by compile-time probes
 * (scripts/compat-probe writes compat-gen.h).  Apart from compat.h because
 * the unit tests build the files that include this one in userspace, where
 * tests/shim/include has a compat-gen.h and these headers of its own.
 */
#ifndef DM_CBW_COMPAT_INCLUDE_H
#define DM_CBW_COMPAT_INCLUDE_H

#include "compat-gen.h"

/* ALIGN(), IS_ALIGNED(); in linux/kernel.h before they had a header. */
#ifdef HAVE_LINUX_ALIGN_H
#include <linux/align.h>
#else
#include <linux/kernel.h>
#endif

/* container_of(); in linux/kernel.h before it had a header. */
#ifdef HAVE_LINUX_CONTAINER_OF_H
#include <linux/container_of.h>
#else
#include <linux/kernel.h>
#endif

/* kvzalloc(), kvfree(); in linux/mm.h before linux/slab.h had them. */
#ifndef HAVE_KVMALLOC_IN_SLAB_H
#include <linux/mm.h>
#endif

#endif /* DM_CBW_COMPAT_INCLUDE_H */
