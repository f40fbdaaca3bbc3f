// SPDX-License-Identifier: GPL-2.0
/*
 * The signals that stop a long copy; see stop_signals.h.
 */

#include <string.h>

#include "stop_signals.h"

/* Set before the handler is installed, read only by it. */
static volatile sig_atomic_t *volatile stop_flag;

static void on_signal(int sig)
{
	*stop_flag = sig;
}

void stop_signals(volatile sig_atomic_t *flag)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;
	size_t i;

	if (flag)
		stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sa.sa_handler = !flag ? SIG_DFL :
				sigs[i] == SIGPIPE ? SIG_IGN : on_signal;
		sigaction(sigs[i], &sa, NULL);
	}
}
