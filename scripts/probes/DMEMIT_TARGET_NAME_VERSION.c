// SPDX-License-Identifier: GPL-2.0
/* DMEMIT_TARGET_NAME_VERSION(): how an IMA status starts (not in 5.10). */
#include <linux/device-mapper.h>

#ifndef DMEMIT_TARGET_NAME_VERSION
#error "no DMEMIT_TARGET_NAME_VERSION"
#endif
