/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: what scripts/compat-probe would find, for
 * module/compat-include.h (the shim has these headers and slab.h has
 * kvzalloc()).
 */
#ifndef SHIM_COMPAT_GEN_H
#define SHIM_COMPAT_GEN_H

#define HAVE_LINUX_ALIGN_H 1
#define HAVE_LINUX_CONTAINER_OF_H 1
#define HAVE_KVMALLOC_IN_SLAB_H 1

#endif
