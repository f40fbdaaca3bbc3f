// SPDX-License-Identifier: GPL-2.0
/* PAGE_SECTORS_SHIFT: log2 of the sectors in a page (not in 5.10). */
#include <linux/blkdev.h>

#ifndef PAGE_SECTORS_SHIFT
#error "no PAGE_SECTORS_SHIFT"
#endif
