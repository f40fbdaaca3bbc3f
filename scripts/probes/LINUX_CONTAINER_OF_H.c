// SPDX-License-Identifier: GPL-2.0
/* container_of() has a header of its own (not in 5.10). */
#include <linux/container_of.h>
