/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The signals that stop a long copy (backup, backup --incremental): the
 * command checks its flag between requests, stops and cleans up.
 */
#ifndef CBWCTL_STOP_SIGNALS_H
#define CBWCTL_STOP_SIGNALS_H

#include <signal.h>

/**
 * stop_signals() - catch SIGINT, SIGTERM and SIGHUP into @flag and ignore
 * SIGPIPE, or give all four their default actions again.
 * @flag: where a caught signal stores its number; NULL for the defaults.
 *
 * SIGPIPE is ignored so that a closed pipe fails its write (and the copy
 * reports it) instead of killing cbwctl in the middle.
 */
void stop_signals(volatile sig_atomic_t *flag);

#endif /* CBWCTL_STOP_SIGNALS_H */
