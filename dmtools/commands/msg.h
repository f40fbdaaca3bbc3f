/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Messages to the user and cbwctl's exit codes.
 *
 * Every error is one line on stderr, "cbwctl: <what went wrong>": the
 * command line's own (usage_error(), msg_error()), or those libcbw gives
 * for a failed call.  libcbw's come through the log function (msg_dm_log(),
 * CBW_LOG_REASON) and are printed the moment the library adds them, as
 * cbwctl printed them before the library: between libdevmapper's messages
 * (-v, -vv) and the lines of a progress bar, in the order they happened.
 * Callers only pass the exit code up (msg_lib_error()).
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
	CBW_EXIT_NEW_HISTORY = 9, /* track: a new history, the next backup full */
};

/* Print "cbwctl: <message>\n" on stderr. */
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * msg_hold() - keep the error lines of the next libcbw call instead of
 * printing them: msg_lib_error() prints them, msg_lib_drop() forgets them
 * (status passes over what is not a cbw device quietly).
 */
void msg_hold(void);

/**
 * msg_lib_error() - the exit code of a libcbw call; its error lines have
 * been printed (or are printed now, after msg_hold()), a line
 * "cbwctl: <line>" each.
 * @r: what the call returned: 0 or more for success, else a negative
 *     errno.
 *
 * Return: CBW_EXIT_OK for @r >= 0, else the exit code of the errno:
 * EINVAL CBW_EXIT_USAGE, ENODEV CBW_EXIT_DEVICE, ENOENT CBW_EXIT_NOTFOUND,
 * ENOTBLK CBW_EXIT_NOT_DM, EBUSY CBW_EXIT_BUSY, ERANGE CBW_EXIT_RANGE, any
 * other CBW_EXIT_FAILED.
 */
int msg_lib_error(int r);

/* How much of libdevmapper's log to show: cbwctl -v, -vv. */
extern int msg_verbose;

/**
 * msg_dm_log() - cbwctl's libdevmapper log (cbw_set_log()): prints the
 * output lines (a report's) on stdout and libcbw's error lines on stderr
 * (or holds them, see msg_hold()), keeps the first libdevmapper error for
 * msg_dm_error(), and shows libdevmapper's messages on stderr as -v and
 * -vv ask.
 * @level: an enum cbw_log_level.
 * @msg: the message.
 * @data: unused.
 */
void msg_dm_log(int level, const char *msg, void *data);

/**
 * msg_dm_error() - the first libdevmapper error since msg_dm_clear(), for
 * what cbwctl asks libdevmapper itself (status reports).
 *
 * Return: the message, or a generic text if libdevmapper gave none.
 */
const char *msg_dm_error(void);

/* msg_dm_clear() - forget the error msg_dm_error() holds. */
void msg_dm_clear(void);

/**
 * msg_lib_drop() - msg_lib_error() that forgets the lines held since
 * msg_hold() instead of printing them.
 * @r: what the call returned.
 *
 * Return: the exit code.
 */
int msg_lib_drop(int r);

/**
 * exit_code() - the exit code of what a libcbw call returned.
 * @r: what the call returned.
 *
 * Return: the exit code (see msg_lib_error()).
 */
int exit_code(int r);

#endif /* CBWCTL_MSG_H */
