/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Messages to the user and cbwctl's exit codes.
 *
 * Every error is one line on stderr, "cbwctl: <what went wrong>", printed
 * by the code that knows the cause; callers only pass the exit code up.
 */
#ifndef CBWCTL_MSG_H
#define CBWCTL_MSG_H

/* Exit codes; 'cbwctl --help' lists them. */
enum cbw_exit {
	CBW_EXIT_OK = 0,	/* success */
	CBW_EXIT_FAILED = 1,	/* the operation failed (kernel, libdevmapper) */
	CBW_EXIT_USAGE = 2,	/* unknown command or option, bad argument */
	CBW_EXIT_DEVICE = 3,	/* missing, not a block device, too small */
	CBW_EXIT_NOTFOUND = 4,	/* NAME not found, or not a cbw device */
	CBW_EXIT_NOT_DM = 5,	/* snapshot: not a device-mapper device */
	CBW_EXIT_BUSY = 6,	/* in use, already under a snapshot, name taken */
	CBW_EXIT_RANGE = 7,	/* range or bitmap outside the device, unaligned */
	CBW_EXIT_PARTIAL = 8,	/* backup: some chunks could not be read */
};

/* Print "cbwctl: <message>\n" on stderr. */
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* CBWCTL_MSG_H */
