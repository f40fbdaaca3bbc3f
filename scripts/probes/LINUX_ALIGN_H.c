// SPDX-License-Identifier: GPL-2.0
/* ALIGN() and IS_ALIGNED() have a header of their own (not in 5.10). */
#include <linux/align.h>
