// SPDX-License-Identifier: GPL-2.0
/* The device-mapper core asks targets for an IMA status (not in 5.10). */
#include <linux/device-mapper.h>

status_type_t probe_type(void);
status_type_t probe_type(void)
{
	return STATUSTYPE_IMA;
}
