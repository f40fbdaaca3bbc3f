/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The library's last error (cbw_get_error(), cbw_get_errno()).
 *
 * Code that meets a failure adds one line saying what went wrong with
 * lib_error() and returns a negative errno (see the table in libcbw.h);
 * the caller passes the errno up.  A public function starts with
 * lib_begin(), which forgets the last call's error, and ends with
 * lib_end(), which records its result's errno.  Lines accumulate: the
 * first says why the call failed, later ones what undoing it found.
 */
#ifndef LIBCBW_ERROR_H
#define LIBCBW_ERROR_H

#include "libcbw.h"

/* lib_begin() - a public function starts: forget the last error. */
void lib_begin(void);

/**
 * lib_end() - a public function ends with @r.
 * @r: 0 or more on success, a negative errno on failure.
 *
 * Return: @r.
 */
int lib_end(int r);

/* lib_error() - add a line to the error (printf format, no '\n'). */
void lib_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LIBCBW_ERROR_H */
