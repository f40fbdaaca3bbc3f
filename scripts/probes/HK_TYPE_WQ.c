// SPDX-License-Identifier: GPL-2.0
/* HK_TYPE_WQ: the CPUs for workqueues, 5.19 to 6.x (5.10 has HK_FLAG_WQ). */
#include <linux/sched/isolation.h>

const struct cpumask *probe_mask(void);
const struct cpumask *probe_mask(void)
{
	return housekeeping_cpumask(HK_TYPE_WQ);
}
