// SPDX-License-Identifier: GPL-2.0
/* WQ_PERCPU: 7.2 warns about a workqueue with neither it nor WQ_UNBOUND. */
#include <linux/workqueue.h>

unsigned int probe_flags(void);
unsigned int probe_flags(void)
{
	return WQ_PERCPU;
}
