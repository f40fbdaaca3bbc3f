// SPDX-License-Identifier: GPL-2.0
/* timer_delete_sync(), which replaced del_timer_sync() (7.2 has only it). */
#include <linux/timer.h>

int probe_delete(struct timer_list *timer);
int probe_delete(struct timer_list *timer)
{
	return timer_delete_sync(timer);
}
