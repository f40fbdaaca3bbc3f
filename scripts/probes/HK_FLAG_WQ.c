// SPDX-License-Identifier: GPL-2.0
/* HK_FLAG_WQ: the CPUs for workqueues, before HK_TYPE_WQ (5.10). */
#include <linux/sched/isolation.h>

const struct cpumask *probe_mask(void);
const struct cpumask *probe_mask(void)
{
	return housekeeping_cpumask(HK_FLAG_WQ);
}
