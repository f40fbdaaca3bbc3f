/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The library's last error (cbw_get_error(), cbw_get_errno()) and the
 * caller's log function (cbw_set_log()).
 *
 * Code that meets a failure adds one line saying what went wrong with
 * lib_error() and returns a negative errno (see the table in libcbw.h);
 * the caller passes the errno up.  A public function that can fail starts
 * with lib_begin(), which installs libdevmapper's log function and forgets
 * the last call's error, and ends with lib_end(), which records its
 * result's errno.  Lines accumulate: the first says why the call failed,
 * later ones what undoing it found.  Each line also goes to the caller's
 * log function as it is added (CBW_LOG_REASON), so that a program that
 * shows libdevmapper's messages can show both in the order they came.
 *
 * The error is per thread; the log function is the process's.
 */
#ifndef LIBCBW_ERROR_H
#define LIBCBW_ERROR_H

#include "libcbw.h"

/*
 * lib_begin() - a public function starts: install libdevmapper's log
 * function (before any libdevmapper call) and forget the last error.
 * Defined in dm.c, with the log function.
 */
void lib_begin(void);

/* lib_error_reset() - forget the last error (lib_begin() without dm). */
void lib_error_reset(void);

/**
 * lib_end() - a public function ends with @r.
 * @r: 0 or more on success, a negative errno on failure.
 *
 * Return: @r.
 */
int lib_end(int r);

/*
 * lib_error() - add a line to the error (printf format, no '\n') and pass
 * it to the caller's log function.
 */
void lib_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * lib_einval() - lib_error() for a bad argument of a public call.
 *
 * Return: -EINVAL.
 */
int lib_einval(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* lib_log_set() - the caller's log function (cbw_set_log()). */
void lib_log_set(cbw_log_fn fn, void *data);

/*
 * lib_log_hold() - while @hold, the lines of lib_error() are not passed to
 * the caller's log function (they are still kept for cbw_get_error()):
 * for work done while DMDEV is suspended, when the log could live on it.
 */
void lib_log_hold(bool hold);

/* lib_log() - pass @msg at @level to the caller's log function, if any. */
void lib_log(int level, const char *msg);

/* lib_log_wanted() - is there a log function to pass messages to? */
bool lib_log_wanted(void);

#endif /* LIBCBW_ERROR_H */
