// SPDX-License-Identifier: GPL-2.0
/* timer_container_of(), which replaced from_timer() (7.2 has only it). */
#include <linux/timer.h>

struct probe_holder {
	struct timer_list timer;
};

struct probe_holder *probe_holder(struct timer_list *t);
struct probe_holder *probe_holder(struct timer_list *t)
{
	struct probe_holder *h = timer_container_of(h, t, timer);

	return h;
}
