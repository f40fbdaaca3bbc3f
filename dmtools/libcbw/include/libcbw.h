/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libcbw - dm-cbw copy-before-write snapshots for backup agents.
 *
 * The engine of cbwctl as a C library: make a cbw device and its snapshot
 * node (or put a snapshot underneath a live device-mapper device, and take
 * it away again), read its state as a struct, change its settings, walk
 * the snapshot's readable extents, load a chunk set into an incremental
 * snapshot, discard backed-up ranges, and run the backup loop with a
 * progress callback.  It is built on libdevmapper.
 *
 * A backup agent does (see examples/backup-agent.c):
 *
 *	char node[CBW_PATH_MAX];
 *	struct cbw_snapshot_opts so = { .dev = "vg-data", .cow = "/dev/vg/cow" };
 *	struct cbw_backup_opts bo = { .to = "/srv/data.img",
 *				      .discard_behind = true,
 *				      .progress = show, .progress_data = &me };
 *	struct cbw_backup_result res;
 *
 *	if (cbw_snapshot(&so, node, sizeof(node)) < 0)
 *		die(cbw_get_error());
 *	if (cbw_backup("vg-data", &bo, &res) < 0)
 *		warn(cbw_get_error());
 *	cbw_backup_result_free(&res);
 *	if (cbw_release("vg-data") < 0)
 *		die(cbw_get_error());
 *	cbw_lib_exit();
 *
 * Errors: every call that can fail returns an int: 0 (or a count) on
 * success and a negative errno on failure; the reason is then read with
 * cbw_get_error() (one or more lines of text, the cause first, then what
 * undoing the change found) and cbw_get_errno().  The other calls (the
 * parsers and formatters, the free and close calls, cbw_map_geometry(),
 * cbw_set_log(), cbw_set_mlock(), cbw_version(), cbw_lib_exit()) cannot
 * fail in that way and leave the last error alone.  The library never
 * prints and never exits.  Bad arguments never crash a call: one that
 * returns an errno fails with -EINVAL and says why (a NULL pointer where
 * one is needed, a value outside its enum), the others give their own
 * answer for them (NULL, false, a text; see each).  The errno tells the
 * kind of failure:
 *
 *   EINVAL     a bad argument: a name, a size, an option, a chunk set file
 *              that cannot be opened or has a syntax error
 *   ENODEV     a bad device: missing, not a block device, too small,
 *              read-only, or a table that cannot go under a snapshot
 *   ENOENT     no such device, not a cbw device, or not one of cbwctl's
 *   ENOTBLK    not a device-mapper device (cbw_snapshot(), cbw_release())
 *   EBUSY      in use, already under a snapshot, a name taken, the image
 *              file exists, or not in incremental set-up
 *   ERANGE     a range or chunk set outside the device, or not whole chunks
 *   ECANCELED  the backup was stopped (struct cbw_backup_opts.stop)
 *   ETIMEDOUT  the change was made, but waiting for udev to process it
 *              failed (cbw_create(), cbw_remove(), cbw_snapshot(),
 *              cbw_release()): the devices are as on success, their nodes
 *              under /dev/mapper may be late or missing; see each call
 *   others     the operation failed (EIO: the kernel or libdevmapper
 *              refused; ENOMEM ...)
 *
 * Devices made by the library are the same as cbwctl's (uuid prefix CBW-,
 * snapshot node NAME-snap; see cbwctl(8)), so the tool and an agent can
 * work on each other's devices.
 *
 * libdevmapper: while libcbw is in use (from its first call or
 * cbw_set_log() to cbw_lib_exit()) it owns libdevmapper's log function
 * (dm_log_with_errno_init()), for the whole process.  libdevmapper's
 * messages, also those of the program's own libdevmapper calls, go to the
 * function of cbw_set_log() if one is set and are dropped otherwise: the
 * library never prints.  The first libdevmapper error of a failed call is
 * in its cbw_get_error() text all the same.  cbw_lib_exit() gives
 * libdevmapper its own log function back.  libdevmapper opens its control
 * device (/dev/mapper/control) without O_CLOEXEC, and cannot be asked to:
 * a program that runs others gets the descriptor into them unless it
 * closes it in the child or marks its descriptors close-on-exec first
 * (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC), as cbwctl export does);
 * cbw_lib_exit() closes it.
 *
 * Threads: the last error is per thread (cbw_get_error() gives the error
 * of the calling thread's last call).  libdevmapper is not thread-safe:
 * the calls that use it (every call that returns an errno) must not run
 * at once in two threads, nor at once with the program's own use of
 * libdevmapper; serialize them with a lock.  The parsers and formatters
 * (cbw_name_check() to cbw_format_parse()) and cbw_version() may run in
 * any thread at any time.  Callbacks run in the thread of the call that
 * makes them.
 *
 * Versions and ABI: LIBCBW_VERSION_MAJOR.MINOR.PATCH below is the version
 * of this header, and cbw_version() that of the library a program runs
 * with (the dm-cbw release it comes from).  The layout of every struct of
 * this header (its fields, their order and sizes, CBW_PATH_MAX in struct
 * cbw_nodes and the arrays of struct cbw_info) and the values of its
 * enums and macros are part of the ABI of libcbw.so.0: a new or changed
 * field, even at the end of a struct, means a new MAJOR and a new soname
 * (libcbw.so.1); the structs have no size field and no room kept for
 * later.  A new call, or a new value at the end of an enum, comes with a
 * new MINOR: a program built against MINOR needs a library of at least
 * that MINOR, and one that reads an enum from the library (a state, a
 * reason, a log level, a progress event) should take an unknown value
 * calmly.  PATCH changes for fixes alone.  Set option structs up with an
 * initializer ({ 0 } or designated fields), so that every field the
 * program does not name is 0.
 */
#ifndef LIBCBW_H
#define LIBCBW_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header (see "Versions and ABI" above): the shared
 * library is libcbw.so.MAJOR (its soname), file libcbw.so.MAJOR.MINOR.PATCH.
 */
#define LIBCBW_VERSION_MAJOR	0
#define LIBCBW_VERSION_MINOR	2
#define LIBCBW_VERSION_PATCH	0

#define CBW_API	__attribute__((visibility("default")))

/* Large enough for any device node path the library returns. */
#define CBW_PATH_MAX		4096

/*
 * The longest NAME cbw_create() accepts: NAME-snap must fit a
 * device-mapper name (127 characters) and CBW-NAME-snap a uuid (128).
 */
#define CBW_NAME_MAX		119

/* Chunk sizes: powers of two from 4 KiB to 1 GiB; 64 KiB by default. */
#define CBW_CHUNK_MIN_BYTES	4096ULL
#define CBW_CHUNK_MAX_BYTES	(1ULL << 30)
#define CBW_CHUNK_DEFAULT_BYTES	(64ULL << 10)

/* The longest copy timeout the cbw target takes: one day, in ms. */
#define CBW_MAX_TIMEOUT_MS	86400000ULL

/* The read request size of cbw_backup(): powers of two, 4 KiB to 64 MiB. */
#define CBW_IO_SIZE_DEFAULT	(4ULL << 20)
#define CBW_IO_SIZE_MIN		(4ULL << 10)
#define CBW_IO_SIZE_MAX		(64ULL << 20)

/* A buffer that holds any cbw_size_format() result. */
#define CBW_SIZE_BUF_LEN	32

/* Where a cbw snapshot is in its life (status field 9). */
enum cbw_state {
	CBW_STATE_SETUP,	/* "setup": loaded, never resumed */
	CBW_STATE_ACTIVE,	/* "active" */
	CBW_STATE_BROKEN,	/* "broken:<reason>" */
	CBW_STATE_NONE,		/* "none": a track-only table, no snapshot */
};

/* Why a copy failed or the snapshot broke (status fields 9 and 10). */
enum cbw_reason {
	CBW_REASON_NONE,	/* "-" (field 10 only) */
	CBW_REASON_IO_ERROR,	/* "io_error" */
	CBW_REASON_TIMEOUT,	/* "timeout" */
	CBW_REASON_COW_FULL,	/* "cow_full" */
	CBW_REASON_NO_MEMORY,	/* "no_memory" */
	CBW_REASON_USER,	/* "user": the break message */
};

/* What a failed copy does (status field 11). */
enum cbw_policy {
	CBW_POLICY_FAIL,	/* "fail": the write fails, the snapshot stays */
	CBW_POLICY_BREAK,	/* "break": the snapshot is given up */
	CBW_POLICY_DROP,	/* "drop": the chunks concerned leave it */
};

/**
 * struct cbw_status - the status of a cbw target, its 18 fields:
 * @chunk_sectors: the chunk size in 512-byte sectors.
 * @chunks: chunks in the device.
 * @in_snapshot: chunks in the snapshot (readable through the node).
 * @copied: chunks whose old data is on the COW device.
 * @to_copy: chunks of the snapshot not yet written since it was taken.
 * @dropped: chunks that left the snapshot because their copy failed.
 * @discarded: chunks discarded from the snapshot.
 * @slots_used: COW slots in use.
 * @slots_total: COW slots on the COW device.
 * @state: setup, active or broken; none for a track-only table (change
 *	   tracking without a snapshot: struct cbw_track_info).
 * @broken: why it broke; CBW_REASON_NONE unless broken.
 * @first_error: the first copy error, CBW_REASON_NONE if none.
 * @policy: the error policy.
 * @timeout_ms: the copy timeout, 0 for none.
 * @copies: copy jobs run.
 * @copy_errors: copy jobs that failed or timed out.
 * @timeouts: copy jobs that timed out.
 * @waited: guest I/Os that waited for a copy or a snapshot read.
 * @wait_ms: their total wait.
 * @bytes: memory the kernel uses to track the chunks.
 */
struct cbw_status {
	uint64_t chunk_sectors;
	uint64_t chunks;
	uint64_t in_snapshot;
	uint64_t copied;
	uint64_t to_copy;
	uint64_t dropped;
	uint64_t discarded;
	uint64_t slots_used;
	uint64_t slots_total;
	enum cbw_state state;
	enum cbw_reason broken;
	enum cbw_reason first_error;
	enum cbw_policy policy;
	uint64_t timeout_ms;
	uint64_t copies;
	uint64_t copy_errors;
	uint64_t timeouts;
	uint64_t waited;
	uint64_t wait_ms;
	uint64_t bytes;
};

/* The state of a snapshot-access target (the snapshot node). */
enum cbw_access_state {
	CBW_ACCESS_VALID,	/* "valid" */
	CBW_ACCESS_BROKEN,	/* "broken": the snapshot broke */
	CBW_ACCESS_INVALID,	/* "invalid": the cbw target is gone */
};

/**
 * struct cbw_access_status - the status of a snapshot-access target.
 * @state: valid, broken or invalid.
 * @origin_reads: snapshot reads served from the origin.
 * @cow_reads: snapshot reads served from the COW device.
 * @failed_reads: snapshot reads that failed.
 */
struct cbw_access_status {
	enum cbw_access_state state;
	uint64_t origin_reads;
	uint64_t cow_reads;
	uint64_t failed_reads;
};

/* The formats of a chunk set file (see cbwctl bitmap --help). */
enum cbw_format {
	CBW_FORMAT_AUTO,	/* detect from the first 4 KiB */
	CBW_FORMAT_RANGES,	/* text: N or N-M per line */
	CBW_FORMAT_RAW,		/* a bitmap, bit N = chunk N */
	CBW_FORMAT_ERA,		/* era_invalidate's XML */
};

/* Errors, log, version */

/**
 * cbw_get_error() - why the calling thread's last call that can fail (one
 * that returns an errno) failed.
 *
 * Every such call forgets the error of the one before when it starts.
 *
 * Return: one or more lines of text separated by '\n' (no final one), the
 * cause first; "" if that call did not fail.  Valid until the thread's
 * next call that can fail.
 */
CBW_API const char *cbw_get_error(void);

/**
 * cbw_get_errno() - the errno of the calling thread's last call that can
 * fail (see the table at the top of this header).
 *
 * Return: a positive errno, or 0 if that call did not fail.
 */
CBW_API int cbw_get_errno(void);

/*
 * What an error's text says where libdevmapper refused without a message
 * of its own (its messages at CBW_LOG_DEBUG may tell more).
 */
#define CBW_DM_NO_MESSAGE	"libdevmapper failed without a message"

/*
 * The levels of cbw_log_fn: libdevmapper's, then two that are not
 * libdevmapper's messages.
 */
enum cbw_log_level {
	CBW_LOG_FATAL = 2,
	CBW_LOG_ERROR = 3,
	CBW_LOG_WARN = 4,
	CBW_LOG_NOTICE = 5,
	CBW_LOG_INFO = 6,
	CBW_LOG_DEBUG = 7,
	CBW_LOG_OUTPUT = 16,	/* a line libdevmapper prints: dm_report's */
	CBW_LOG_REASON = 17,	/* a line of cbw_get_error(), as it is added */
};

/**
 * typedef cbw_log_fn - receives libdevmapper's messages, and the lines of
 * the library's errors.
 * @level: an enum cbw_log_level.
 * @msg: the message, one line without '\n' (a CBW_LOG_REASON line holds
 *	 one if a device name or path in it does).
 * @data: the caller's pointer given to cbw_set_log().
 */
typedef void (*cbw_log_fn)(int level, const char *msg, void *data);

/**
 * cbw_set_log() - route libdevmapper's log (process-wide) through @fn.
 * @fn: the function, or NULL to drop every message (the default).
 * @data: passed to @fn.
 *
 * The library installs its own libdevmapper log function (here, and at
 * the start of every call that can fail), which keeps the first error of
 * each call for cbw_get_error() and passes everything on to @fn.  A
 * program that makes libdevmapper reports itself (dm_report) gets their
 * lines as CBW_LOG_OUTPUT.  Each line of a failing call's error comes as
 * CBW_LOG_REASON at the moment it is added, before the call returns and
 * cbw_get_error() has them all: a program that shows libdevmapper's
 * messages can show both in the order they came.  Set it before the first
 * call, from one thread.
 *
 * @fn runs in the middle of the library's work, in the thread of the
 * call, also while cbw_snapshot() or cbw_release() keep DMDEV suspended
 * (libdevmapper's messages of the suspend and resume): it must not do I/O
 * on DMDEV or on a filesystem on it (a log file there would wait for a
 * resume that never comes), and must not make calls of the library that
 * can fail.
 */
CBW_API void cbw_set_log(cbw_log_fn fn, void *data);

/**
 * cbw_version() - the version of the library the program runs with,
 * "MAJOR.MINOR.PATCH" ("0.2.0"): that of the dm-cbw release it comes
 * from, whose libcbw.h has the same LIBCBW_VERSION_* numbers.
 *
 * Return: a static string.
 */
CBW_API const char *cbw_version(void);

/**
 * cbw_lib_exit() - release libdevmapper's resources (its control device)
 * and give libdevmapper its own log function back (which prints on
 * stderr); call it once at the end, after the last call.  Without it,
 * libdevmapper's own exit-time destructor (dm_lib_exit() at exit()) runs
 * with libcbw's log function still installed and may call the function
 * of cbw_set_log() (its @data then too) during exit: a program that does
 * not call cbw_lib_exit() keeps both valid until the process ends.
 */
CBW_API void cbw_lib_exit(void);

/* Devices */

/**
 * struct cbw_create_opts - what cbw_create() makes.
 * @name: the cbw device's name; at most CBW_NAME_MAX characters from
 *	  A-Z a-z 0-9 # + - . : = @ _, not ending in -snap or -real.
 * @origin: the origin block device (path).
 * @cow: the COW block device (path); its contents are overwritten.
 * @chunk_bytes: the chunk size; 0 for CBW_CHUNK_DEFAULT_BYTES.
 * @timeout_ms: the copy timeout, 0 for none, at most CBW_MAX_TIMEOUT_MS.
 * @policy: the error policy.
 * @no_discard_passdown: do not discard the COW slots snapshot discards free.
 * @set_file: NULL for a snapshot of every chunk; else a chunk set file
 *	      ("-": standard input) whose chunks alone make the snapshot
 *	      (an incremental backup).
 * @set_format: its format.
 * @era_block_sectors: for an era file: the dm-era block size in sectors.
 */
struct cbw_create_opts {
	const char *name;
	const char *origin;
	const char *cow;
	uint64_t chunk_bytes;
	uint64_t timeout_ms;
	enum cbw_policy policy;
	bool no_discard_passdown;
	const char *set_file;
	enum cbw_format set_format;
	uint64_t era_block_sectors;
};

/**
 * struct cbw_nodes - the device nodes cbw_create() made.
 * @dev: the cbw device, /dev/mapper/NAME.
 * @snap: the snapshot node, /dev/mapper/NAME-snap.
 */
struct cbw_nodes {
	char dev[CBW_PATH_MAX];
	char snap[CBW_PATH_MAX];
};

/**
 * cbw_create() - stack the cbw device @o->name on the origin and make its
 * snapshot node NAME-snap (uuids CBW-NAME and CBW-NAME-snap).
 * @o: what to make.
 * @nodes: set to the two nodes on success; may be NULL.
 *
 * A chunk set file is read and checked whole before any device is made;
 * if anything fails, nothing that was made stays (if removing it again
 * fails too, the error's text says so and names 'cbwctl remove NAME'),
 * except after the one failure that comes when both devices are made:
 * -ETIMEDOUT, waiting for udev failed.  Then both devices exist and work
 * as after a success, but @nodes is not set and their nodes may be late
 * or missing; the caller keeps them (the nodes are /dev/mapper/NAME and
 * NAME-snap) or removes them with cbw_remove().  NAME-snap is writable so
 * that it takes discards; every write to it fails with EIO.
 *
 * Return: 0, or a negative errno: -EINVAL (@o NULL, a name, a chunk
 * size, a timeout, a policy or format out of its enum, a chunk set
 * file), -ENODEV (a device missing, not a block device, too small, or
 * COW and origin the same), -EBUSY (a name or uuid taken), -ERANGE (a
 * chunk outside the origin), -ETIMEDOUT (made, see above), -EIO.
 */
CBW_API int cbw_create(const struct cbw_create_opts *o,
		       struct cbw_nodes *nodes);

/**
 * cbw_remove() - remove NAME-snap (if it exists) and the cbw device @name,
 * which must have been made by cbw_create() (or cbwctl create).
 * @name: the cbw device.
 *
 * If either device is in use (open or mounted), nothing is removed.
 *
 * Return: 0, -EINVAL, -ENOENT (no such device, not one of cbwctl's),
 * -EBUSY (in use), -ETIMEDOUT (both were removed, but waiting for udev
 * failed: nothing is left to do),
 * -EIO (libdevmapper refused; NAME-snap may be gone already, the error's
 * text says so: call cbw_remove() again).
 */
CBW_API int cbw_remove(const char *name);

/**
 * struct cbw_snapshot_opts - what cbw_snapshot() does.
 * @dev: the live device-mapper device: a name, /dev/mapper/NAME or
 *	 /dev/dm-N.  Its table may hold linear, striped, zero and error
 *	 targets only.
 * @cow: the COW block device (path): neither @dev nor under it.
 * @chunk_bytes: the chunk size; 0 for CBW_CHUNK_DEFAULT_BYTES.
 * @timeout_ms: the copy timeout, 0 for none.
 * @policy: the error policy.
 */
struct cbw_snapshot_opts {
	const char *dev;
	const char *cow;
	uint64_t chunk_bytes;
	uint64_t timeout_ms;
	enum cbw_policy policy;
};

/**
 * cbw_snapshot() - start a snapshot underneath the live device @o->dev,
 * without stopping its users: its table moves to the hidden DMDEV-real,
 * DMDEV gets a cbw table over it, and the snapshot node DMDEV-snap shows
 * DMDEV as it was at that moment.  A filesystem on DMDEV is frozen only
 * between the suspend and the resume that swap the tables.
 * @o: what to do.
 * @snap_node: set to the snapshot node's path on success; may be NULL.
 * @len: the size of @snap_node (CBW_PATH_MAX is always enough; a shorter
 *	 buffer gets a cut path).
 *
 * Process-wide effects: the calling thread's signals SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT and SIGTSTP are blocked (pthread_sigmask()) while the
 * devices change, and delivered afterwards.  Only the calling thread's:
 * a process-directed signal goes to any other thread that does not block
 * it, and its default action (ending or stopping the process) may then
 * leave DMDEV suspended; a program with more threads blocks these signals
 * in the others (or handles them) while the call runs.  The process's
 * memory is locked with mlockall(MCL_CURRENT | MCL_FUTURE) from just
 * before DMDEV is suspended until it is resumed, then unlocked with
 * munlockall(), which also drops locks of the program's own (see
 * cbw_set_mlock()).
 * While DMDEV is suspended the library writes to no file and no terminal;
 * the log function of cbw_set_log() may be called (libdevmapper's
 * messages).
 *
 * On a failure the earlier steps are undone, except after the one that
 * comes once the snapshot is in place: -ETIMEDOUT, waiting for udev
 * failed.  Then the snapshot goes on as after a success (end it with
 * cbw_release()), but @snap_node is not set; the node is DMDEV-snap under
 * /dev/mapper and may be late or missing.  If undoing fails as well,
 * DMDEV may be left suspended (its users wait until it is resumed) or
 * with the cbw table or a table in its inactive slot: the error's later
 * lines say so and what to run (dmsetup resume, clear, remove, or
 * 'cbwctl release'); the caller must show them to a person.
 *
 * Test hook, for the selftests alone: with CBWCTL_FAIL_AT=STEP in the
 * environment (the selftests set it for cbwctl), the step it names fails
 * as if the kernel had refused it; a program must not set it.
 *
 * Return: 0, or a negative errno: -EINVAL (@o NULL, an option out of
 * range, @snap_node without room), -ENODEV (the COW device; a table that
 * cannot be moved; a read-only DMDEV), -ENOENT, -ENOTBLK,
 * -EBUSY (already under a snapshot, suspended, a name taken), -ETIMEDOUT
 * (the snapshot was made, see above), -EIO.
 */
CBW_API int cbw_snapshot(const struct cbw_snapshot_opts *o, char *snap_node,
			 size_t len);

/**
 * cbw_release() - end the snapshot that cbw_snapshot() started under
 * @dev: remove DMDEV-snap, give DMDEV its own table back and remove
 * DMDEV-real.
 * @dev: as @dev of struct cbw_snapshot_opts.
 *
 * If the snapshot node is in use, nothing changes; if a later step fails,
 * the snapshot node is made again and the snapshot goes on, up to the
 * resume that gives DMDEV its own table.  Two failures come after it, and
 * then DMDEV is released (its own table, no snapshot, no DMDEV-snap):
 *  - DMDEV-real cannot be removed: -EIO, the error's text names it and
 *    'dmsetup remove DMDEV-real'.  It holds nothing the caller needs, but
 *    its name stays taken, so a new cbw_snapshot() of DMDEV fails with
 *    -EBUSY until it is removed (libdevmapper's DM_DEVICE_REMOVE).  To tell
 *    this -EIO from one where the snapshot goes on: cbw_info_get() of
 *    DMDEV's name fails with -ENOENT here, succeeds there.
 *  - waiting for udev fails: -ETIMEDOUT, nothing is left to do (DMDEV-real
 *    was removed).
 * Signals, memory locking, undo failures and the test hook as for
 * cbw_snapshot().
 *
 * Return: 0, -EINVAL (@dev NULL or empty), -ENOENT (not under a snapshot
 * of cbw_snapshot()), -ENOTBLK, -ENODEV (a path that does not exist),
 * -EBUSY, -ETIMEDOUT (released, see above), -EIO (see above).
 */
CBW_API int cbw_release(const char *dev);

/**
 * cbw_set_mlock() - whether cbw_snapshot() and cbw_release() lock the
 * process's memory while DMDEV is suspended (process-wide; on by default).
 * @on: true: mlockall() before the suspend and munlockall() after the
 *	resume, so that no page fault waits for DMDEV (a program or library
 *	file on DMDEV would wait forever); false: neither, for a program
 *	that locks its memory itself, whose locks munlockall() would drop
 *	(it must then keep locked what it runs while DMDEV is suspended).
 *
 * Set it before the first call, from one thread.
 */
CBW_API void cbw_set_mlock(bool on);

/* State and settings */

/**
 * struct cbw_info - a cbw device and its snapshot node.
 * @name: the cbw device's name.
 * @uuid: its uuid, "" if it has none.
 * @major: its device number, major.
 * @minor: its device number, minor.
 * @size_bytes: its size.
 * @chunk_bytes: the chunk size.
 * @status: its status.
 * @has_snap: the snapshot node exists (found by uuid: the cbw device's
 *	      uuid + "-snap", or CBW-NAME-snap under a live device).
 * @snap_name: the snapshot node's device name, "" without one.
 * @snap_node: its path, /dev/mapper/NAME-snap; "" without one.
 * @snap_major: its device number, major.
 * @snap_minor: its device number, minor.
 * @snap_read_only: it is read-only (discards need it writable).
 * @snap_size_bytes: its size.
 * @snap_status: its status.
 */
struct cbw_info {
	char name[128];
	char uuid[129];
	uint32_t major;
	uint32_t minor;
	uint64_t size_bytes;
	uint64_t chunk_bytes;
	struct cbw_status status;
	bool has_snap;
	char snap_name[128];
	char snap_node[CBW_PATH_MAX];
	uint32_t snap_major;
	uint32_t snap_minor;
	bool snap_read_only;
	uint64_t snap_size_bytes;
	struct cbw_access_status snap_status;
};

/**
 * cbw_info_get() - the state of the cbw device @name (any cbw device, made
 * by cbwctl or not) and its snapshot node.
 * @name: a device name.
 * @info: filled on success.
 *
 * Return: 0, -EINVAL (a bad name, @info NULL), -ENOENT (no such device,
 * or its table is not one cbw target), -EIO (libdevmapper failed, a
 * status not understood).
 */
CBW_API int cbw_info_get(const char *name, struct cbw_info *info);

/**
 * cbw_snapshot_device() - cbw_info_get(), and check that the snapshot can
 * be read through its node: it exists, the snapshot is active (not in
 * incremental set-up, not broken) and the node valid.
 * @name: the cbw device.
 * @discard: the caller will discard: the node must be writable too.
 * @info: filled on success.
 *
 * Return: 0, -EINVAL, -ENOENT (no such cbw device, or no snapshot node),
 * -ENODEV (@discard and the node is read-only), -EIO (not readable).
 */
CBW_API int cbw_snapshot_device(const char *name, bool discard,
				struct cbw_info *info);

/**
 * cbw_list() - the names of every device-mapper device, sorted, for
 * cbw_info_get() to look at (it fails with -ENOENT for those that are not
 * cbw devices, or are gone since).
 * @names: set to a malloc'ed array of names; free with cbw_list_free().
 * @count: set to the number of names.
 *
 * Return: 0, -EINVAL (@names or @count NULL) or -EIO.
 */
CBW_API int cbw_list(char ***names, size_t *count);

/**
 * cbw_list_free() - free a cbw_list() result.
 * @names: the array, or NULL.
 * @count: its length.
 */
CBW_API void cbw_list_free(char **names, size_t count);

/**
 * struct cbw_settings - what cbw_set() changes.
 * @set_timeout: change the copy timeout to @timeout_ms.
 * @timeout_ms: milliseconds, 0 for none, at most CBW_MAX_TIMEOUT_MS.
 * @set_policy: change the error policy to @policy.
 * @policy: the policy.
 */
struct cbw_settings {
	bool set_timeout;
	uint64_t timeout_ms;
	bool set_policy;
	enum cbw_policy policy;
};

/**
 * cbw_set() - change the settings of the running cbw device @name with
 * target messages (timeout first, then policy).  They last until the
 * table is reloaded.
 * @name: any cbw device.
 * @s: what to change; at least one of the two.
 *
 * Return: 0, -EINVAL (a bad name, @s NULL, nothing to set, a timeout too
 * long, an unknown policy), -ENOENT, -EIO (the target refused).
 */
CBW_API int cbw_set(const char *name, const struct cbw_settings *s);

/* The snapshot's map */

/**
 * struct cbw_extent - a run of readable chunks of a snapshot.
 * @first_chunk: its first chunk.
 * @last_chunk: its last chunk (included).
 * @offset: its first byte on the snapshot node.
 * @length: its length in bytes (the last run ends at the device's end,
 *	    even if the last chunk is partial).
 */
struct cbw_extent {
	uint64_t first_chunk;
	uint64_t last_chunk;
	uint64_t offset;
	uint64_t length;
};

/* A walk through the map of a snapshot (opaque). */
struct cbw_map;

/**
 * cbw_map_open() - start a walk through the readable extents of the
 * snapshot of the cbw device @name (any cbw device, in any state: during
 * the incremental set-up, the set built so far; when broken, the chunks
 * that were readable).
 * @name: the cbw device.
 * @map: set to the walk on success; end it with cbw_map_close().
 *
 * The map is read from the kernel in parts ("map" messages) as the walk
 * goes; while chunks are dropped or discarded, it is not a picture of one
 * moment.  Chunks never join the snapshot after its set-up, so none is
 * missed.
 *
 * Return: 0, -EINVAL (a bad name, @map NULL), -ENOENT, -ENOMEM, -EIO.
 */
CBW_API int cbw_map_open(const char *name, struct cbw_map **map);

/**
 * cbw_map_geometry() - the device the walk is on.
 * @map: the walk; if NULL, every value is set to 0.
 * @chunk_bytes: set to the chunk size, if not NULL.
 * @chunks: set to the number of chunks, if not NULL.
 * @size_bytes: set to the device's size, if not NULL.
 */
CBW_API void cbw_map_geometry(const struct cbw_map *map, uint64_t *chunk_bytes,
			      uint64_t *chunks, uint64_t *size_bytes);

/**
 * cbw_map_next() - the next extent, in increasing order; extents neither
 * overlap nor touch.
 * @map: the walk.
 * @e: set to the extent.
 *
 * Return: 1 with @e set, 0 at the end of the map, or a negative errno
 * (-EINVAL: @map or @e NULL; -EIO: a message failed or its reply was not
 * understood; -ENOMEM).
 */
CBW_API int cbw_map_next(struct cbw_map *map, struct cbw_extent *e);

/**
 * cbw_map_close() - end a walk.
 * @map: the walk, or NULL.
 */
CBW_API void cbw_map_close(struct cbw_map *map);

/* Incremental snapshots */

/**
 * struct cbw_import_opts - what cbw_import() reads.
 * @file: the chunk set file; "-" is standard input.
 * @format: its format.
 * @era_block_sectors: for an era file: the dm-era block size in sectors.
 * @no_start: leave the device in set-up afterwards.
 */
struct cbw_import_opts {
	const char *file;
	enum cbw_format format;
	uint64_t era_block_sectors;
	bool no_start;
};

/**
 * cbw_import() - add the chunks of a chunk set file to the snapshot set of
 * the cbw device @name, in incremental set-up, and end the set-up unless
 * @o->no_start.
 * @name: the cbw device.
 * @o: the file.
 *
 * The file is read and checked whole before anything is sent; only the
 * chunks not in the set yet are sent.  If the device refuses a message,
 * the chunks that were added are removed again.
 *
 * Return: 0, -EINVAL (a bad name, @o or its file NULL, an unknown
 * format, a file that cannot be opened or read as one), -ENOENT, -EBUSY
 * (not in incremental set-up), -ERANGE (a chunk outside the device),
 * -EIO.
 */
CBW_API int cbw_import(const char *name, const struct cbw_import_opts *o);

/**
 * cbw_start() - end the incremental set-up of the cbw device @name: its
 * held writes go on, and its snapshot node can be made.
 * @name: the cbw device.
 *
 * Return: 0, -EINVAL, -ENOENT, -EBUSY (not in incremental set-up), -EIO.
 */
CBW_API int cbw_start(const char *name);

/* Discard and backup */

/**
 * cbw_discard() - take whole chunks out of the snapshot of @name (a
 * discard on its snapshot node): reads of them fail from then on, their
 * COW slots are freed, and writes to them copy nothing.
 * @name: the cbw device.
 * @offset: the first byte, a multiple of the chunk size.
 * @length: the bytes, a multiple of the chunk size unless the range ends
 *	    at the device's end.
 *
 * Return: 0, -EINVAL, -ENOENT, -ENODEV (a read-only node), -ERANGE (not
 * whole chunks, empty, or past the end), -EIO.
 */
CBW_API int cbw_discard(const char *name, uint64_t offset, uint64_t length);

/**
 * struct cbw_progress - how far a backup is.
 * @done: bytes of readable chunks handled.
 * @total: bytes of readable chunks when the backup started.
 * @read: bytes read.
 * @zero: of them, zero blocks (holes in the image).
 * @discarded: bytes discarded from the snapshot so far.
 * @failed_chunks: chunks that could not be read so far.
 */
struct cbw_progress {
	uint64_t done;
	uint64_t total;
	uint64_t read;
	uint64_t zero;
	uint64_t discarded;
	uint64_t failed_chunks;
};

/* When cbw_backup() calls its progress callback. */
enum cbw_progress_event {
	CBW_PROGRESS_START,	/* the reads begin: the image is ready */
	CBW_PROGRESS_READ,	/* a read request was handled */
	CBW_PROGRESS_END,	/* the reads are over, the image not yet done */
};

/**
 * typedef cbw_progress_fn - the progress callback of cbw_backup().
 * @ev: why it is called.
 * @p: how far the backup is.
 * @data: the caller's pointer (struct cbw_backup_opts.progress_data).
 *
 * Called once with CBW_PROGRESS_START when the image is ready and before
 * the snapshot's map is read; once with CBW_PROGRESS_READ after each read
 * request (and the chunk by chunk retries of a request that failed); and
 * once with CBW_PROGRESS_END when the reads are over, whether they all
 * ran or stopped on an error or on struct cbw_backup_opts.stop.  After
 * CBW_PROGRESS_END the image is synced, the snapshot's state checked, and
 * the image committed (or removed), which can take a while and can still
 * fail the backup.  With CBW_PROGRESS_END, @p->done is @p->total if the
 * reads all ran.  A backup that fails before the reads begin (a missing
 * device, an image that cannot be made) makes no call; one that makes the
 * CBW_PROGRESS_START call makes the CBW_PROGRESS_END one too.
 *
 * It cannot stop the backup (see struct cbw_backup_opts.stop), and must
 * not make calls of the library that can fail.
 */
typedef void (*cbw_progress_fn)(enum cbw_progress_event ev,
				const struct cbw_progress *p, void *data);

/**
 * struct cbw_backup_opts - where and how cbw_backup() writes.
 * @to: the image file; "-" writes every byte (zeros too) to standard
 *	output, which must not be a terminal.  If standard output is a
 *	pipe whose reader goes away, the write raises SIGPIPE, which ends
 *	the program unless it ignores or catches the signal (then the
 *	write fails with EPIPE and the backup with -EIO); cbwctl ignores
 *	it during a backup.
 * @force: replace @to if it exists.
 * @discard_behind: discard the chunks read from the snapshot once they
 *		    are safely in the image (synced, every 64 MiB and at
 *		    the end; before the first discard, the folder of the
 *		    temporary file too, so that its name survives a crash).
 *		    With "-", standard output must be a file or a block
 *		    device; only its data is synced: the library does not
 *		    know the name of the file it goes to, and cannot sync
 *		    it.  A file just created for it (a shell's redirection)
 *		    may be gone after a crash, with chunks already
 *		    discarded: the caller syncs its folder before the
 *		    backup.
 * @io_size: the largest read request; 0 for CBW_IO_SIZE_DEFAULT.
 * @progress: the progress callback, or NULL.
 * @progress_data: passed to @progress.
 * @stop: NULL, or a flag looked at before each read request (not during
 *	  the image's sync and commit at the end): once *@stop is not 0,
 *	  the backup reads no more and fails with -ECANCELED.  Meant for a
 *	  signal handler, which stores its signal number N: the reason then
 *	  reads "interrupted by signal N"; a negative value reads "stopped
 *	  by the caller".  A stop after the last read is too late: the
 *	  backup finishes.
 */
struct cbw_backup_opts {
	const char *to;
	bool force;
	bool discard_behind;
	uint64_t io_size;
	cbw_progress_fn progress;
	void *progress_data;
	const volatile sig_atomic_t *stop;
};

/**
 * struct cbw_failed_range - chunks that could not be read.
 * @first_chunk: the first.
 * @last_chunk: the last (included).
 * @offset: the first byte.
 * @length: the bytes.
 * @err: the errno of the read (ENODATA: they left the snapshot, or may
 *	 have: see cbw_backup()).
 */
struct cbw_failed_range {
	uint64_t first_chunk;
	uint64_t last_chunk;
	uint64_t offset;
	uint64_t length;
	int err;
};

/**
 * struct cbw_backup_result - what cbw_backup() did.
 * @bytes: the image's size (the device's).
 * @chunk_bytes: the chunk size.
 * @progress: the final counts.
 * @failed: the chunks that could not be read, in order (a partial
 *	    backup).  In a file image they read as zeros; in a stream (@o->to
 *	    "-") their bytes are zeros only where the chunk's whole read
 *	    failed at once: the parts of a chunk read in more than one
 *	    request (@o->io_size below the chunk size) that were already
 *	    written stay in the stream as they were read.
 * @nr_failed: how many ranges @failed holds.
 */
struct cbw_backup_result {
	uint64_t bytes;
	uint64_t chunk_bytes;
	struct cbw_progress progress;
	struct cbw_failed_range *failed;
	size_t nr_failed;
};

/**
 * cbw_backup() - copy the snapshot of the cbw device @name into a sparse
 * image: the chunks of its map are read from the snapshot node with
 * O_DIRECT, data blocks written, zero blocks left as holes.
 * @name: the cbw device.
 * @o: where and how.
 * @res: filled (also on failure); free with cbw_backup_result_free().
 *
 * The image is written to a temporary file next to @o->to (.FILE.XXXXXX,
 * mode 0600) and renamed into place when it is complete or partial.  A
 * read that fails with a media error is tried again chunk by chunk; the
 * chunks that still fail are listed in @res and the backup is partial
 * (it succeeds).  Chunks that leave the snapshot during the backup
 * (dropped, or discarded by another program) are listed with ENODATA:
 * their read fails with it, or, when one left before the part of the map
 * that holds it was fetched, the status's dropped + discarded (less the
 * backup's own discards) rose, and then every chunk outside the map in
 * the parts fetched from then on is listed with ENODATA, also those that
 * were never in the snapshot.  If the snapshot breaks or its device goes
 * away, the backup fails; the state is checked once more after the last
 * read.
 * Once anything was discarded (or a discard was tried: a failed one may
 * have discarded part of its range), a failed backup keeps its partial
 * image (the message names it); when only the sync of @o->to's folder
 * after the rename failed, the image is @o->to already, and the message
 * says that it is kept and holds chunks already discarded from the
 * snapshot.  No signal handler is installed: a caller that
 * wants to stop on a signal points @o->stop at the flag its handler sets.
 *
 * Return: 0 (complete, or partial when @res->nr_failed > 0), or a negative
 * errno: -EINVAL (a bad name, @o or @res NULL, no image file, a bad I/O
 * size, standard output a terminal), -ENOENT, -ENODEV,
 * -EBUSY (the image exists), -ECANCELED (@o->stop), -ENOMEM (the I/O
 * buffer or the map's runs could not be allocated), -EIO (the snapshot
 * broke, a read or write failed).
 */
CBW_API int cbw_backup(const char *name, const struct cbw_backup_opts *o,
		       struct cbw_backup_result *res);

/**
 * cbw_backup_result_free() - free what cbw_backup() put into @res.
 * @res: the result, or NULL.
 */
CBW_API void cbw_backup_result_free(struct cbw_backup_result *res);

/* Change tracking ("incremental forever") */

/*
 * A cbw table with the feature "track" marks every chunk that a write,
 * write-zeroes or discard changes in a "changed" set; nothing is copied.
 * Under a live device it is put by cbw_track() (a "track-only" table,
 * cbw DMDEV-real - <chunk> 1 track), and taken away by cbw_untrack().
 * cbw_track_snapshot() takes a snapshot of exactly the changed set: the
 * set of generation G becomes the snapshot's (pending) set, tracking goes
 * on into generation G + 1.  After the backup, cbw_track_commit() forgets
 * the set (or the part of it backed up) and cbw_release() goes back to the
 * track-only table; without a commit the set merges back into the changed
 * set, so no change is lost.  Each tracking history has an identity, a
 * uuid and a generation number, so that an agent can tell that the set it
 * gets continues the chain it backed up last time.
 */

/* A tracking uuid's length: 8-4-4-4-12 lower-case hex digits. */
#define CBW_TRACK_UUID_LEN	36

/* The tracking set of a track snapshot (status field 22). */
enum cbw_track_set {
	CBW_TRACK_SET_NONE,	 /* "-": no snapshot set */
	CBW_TRACK_SET_PENDING,	 /* "pending:G": merges back unless committed */
	CBW_TRACK_SET_COMMITTED, /* "committed:G": its rest merges back */
};

/**
 * struct cbw_track_info - the change tracking of a cbw device (status
 * fields 19 to 23 of a track table).
 * @tracking: the table tracks; the other fields are 0 when it does not.
 * @snapshot: the table is a track snapshot (it has a COW device); false
 *	      for a track-only table.
 * @uuid: the history's identity, CBW_TRACK_UUID_LEN characters.
 * @generation: the number of the changed set being filled now (>= 1).
 * @chunk_bytes: the chunk size.
 * @chunks: chunks in the device.
 * @size_bytes: the device's size.
 * @changed: chunks in the changed set.
 * @changed_bytes: their bytes (the device's last chunk may be partial).
 * @set: the snapshot's tracking set.
 * @set_generation: its generation (0 for CBW_TRACK_SET_NONE).
 * @set_chunks: its chunks still pending (not committed).
 * @set_bytes: their bytes.
 */
struct cbw_track_info {
	bool tracking;
	bool snapshot;
	char uuid[CBW_TRACK_UUID_LEN + 1];
	uint64_t generation;
	uint64_t chunk_bytes;
	uint64_t chunks;
	uint64_t size_bytes;
	uint64_t changed;
	uint64_t changed_bytes;
	enum cbw_track_set set;
	uint64_t set_generation;
	uint64_t set_chunks;
	uint64_t set_bytes;
};

/**
 * cbw_track_info_get() - the change tracking of the cbw device @name.
 * @name: a device name (a live device under cbw_track() has a cbw table).
 * @ti: filled on success; @ti->tracking is false for a cbw table that
 *	does not track.
 *
 * The bytes of a set whose device ends with a partial chunk need one
 * "track_map" (or "map") message, to learn whether that chunk is in it.
 *
 * Return: 0, -EINVAL (a bad name, @ti NULL), -ENOENT (no such device, or
 * its table is not one cbw target), -EIO.
 */
CBW_API int cbw_track_info_get(const char *name, struct cbw_track_info *ti);

/**
 * cbw_track_set_name() - the status word of a tracking set without its
 * generation.
 * @set: the set.
 *
 * Return: "-", "pending" or "committed"; NULL for a value that is not an
 * enum cbw_track_set.
 */
CBW_API const char *cbw_track_set_name(enum cbw_track_set set);

/**
 * struct cbw_track_opts - what cbw_track() does.
 * @dev: the live device-mapper device, as @dev of struct
 *	 cbw_snapshot_opts.
 * @chunk_bytes: the tracking chunk size; 0 for CBW_CHUNK_DEFAULT_BYTES.
 *		 Every track snapshot of the history has this chunk size.
 * @state_file: NULL, or the state file cbw_untrack() wrote: a clean one of
 *		this device's size and chunk size continues its history;
 *		it is then rewritten as active (see cbw_untrack()).
 *
 * A new history counts every chunk as changed (the kernel's rule), so its
 * first track snapshot holds the whole device: its backup is the full one,
 * and a chain can never rest on a backup of another history.
 */
struct cbw_track_opts {
	const char *dev;
	uint64_t chunk_bytes;
	const char *state_file;
};

/* How cbw_track() began its history. */
enum cbw_track_start {
	CBW_TRACK_NEW,		/* no state file, or none yet: a new history */
	CBW_TRACK_CONTINUED,	/* the state file's history goes on */
	CBW_TRACK_NEW_UNTRUSTED, /* a state file that cannot be trusted (unclean
				  * stop, other sizes, damaged): a new history;
				  * the next backup must be full */
};

/**
 * struct cbw_track_result - what cbw_track() did.
 * @start: how the history began.
 * @uuid: its uuid.
 * @generation: its generation.
 * @restored_chunks: the chunks of the state file marked changed again.
 * @why_new: for CBW_TRACK_NEW_UNTRUSTED, why the file was not used.
 */
struct cbw_track_result {
	enum cbw_track_start start;
	char uuid[CBW_TRACK_UUID_LEN + 1];
	uint64_t generation;
	uint64_t restored_chunks;
	char why_new[256];
};

/**
 * cbw_track() - start change tracking underneath the live device @o->dev,
 * without stopping its users: its table moves to the hidden DMDEV-real and
 * DMDEV gets the track-only table "cbw DMDEV-real - <chunk> 1 track" (the
 * insertion of cbw_snapshot(), without a snapshot node).
 * @o: what to do.
 * @res: filled on success; may be NULL.
 *
 * With @o->state_file, a clean state file of this device (its size and
 * @o->chunk_bytes) continues its history: after the insertion its ranges
 * are sent ("track_add"), then its identity ("track_id"), and the file is
 * rewritten as active, so that a stop without cbw_untrack() (a crash)
 * leaves it active.  A file that is active, of other sizes or damaged
 * starts a new history (@res->start CBW_TRACK_NEW_UNTRUSTED, and
 * @res->why_new) and is rewritten as active for it: this is not a
 * failure, but the next backup must be a full one.  A missing file (the
 * first time) starts a new history too, as CBW_TRACK_NEW, and is made.  A file that cannot
 * be rewritten fails the call, after tracking was taken away again.
 * Signals, memory locking, the test hook (steps track:real, track:load,
 * track:suspend, track:resume) and undo failures as for cbw_snapshot().
 *
 * Return: 0, or a negative errno: -EINVAL (@o NULL, a chunk size),
 * -ENODEV, -ENOENT, -ENOTBLK, -EBUSY (already tracked or under a
 * snapshot, a name taken), -ETIMEDOUT (tracking runs; udev's wait
 * failed), -EIO (the state file could not be written, the kernel
 * refused).
 */
CBW_API int cbw_track(const struct cbw_track_opts *o,
		      struct cbw_track_result *res);

/**
 * cbw_untrack() - end the tracking that cbw_track() started under @dev:
 * DMDEV gets its own table back and DMDEV-real goes.
 * @dev: as @dev of struct cbw_track_opts.
 * @state_file: NULL (the changed set is forgotten), or the file to save
 *		the changed set and its identity to.
 *
 * With @state_file, DMDEV's own table is loaded, DMDEV suspended, the
 * status and the changed set ("track_map") read while no write can reach
 * it, then DMDEV is resumed with its own table (the set read is exactly
 * the set at the swap), and only then is the file written (@state_file.tmp,
 * fsync, rename, the folder's fsync): nothing is written while DMDEV is
 * suspended, since the file may live on DMDEV.  If the file cannot be
 * written, DMDEV is released all the same and the call fails with -EIO:
 * the old file (active) then gives a new history at the next cbw_track().
 * A device under a track snapshot is refused: cbw_release() it first.
 * Signals, memory locking and the test hook (untrack:load,
 * untrack:suspend, untrack:resume) as for cbw_release().
 *
 * Return: 0, -EINVAL, -ENOENT (not tracked by cbw_track()), -ENOTBLK,
 * -ENODEV, -EBUSY (a track snapshot, suspended), -ETIMEDOUT (released;
 * udev's wait failed), -EIO.
 */
CBW_API int cbw_untrack(const char *dev, const char *state_file);

/**
 * struct cbw_track_snapshot_opts - what cbw_track_snapshot() does.
 * @dev: the tracked device, as @dev of struct cbw_track_opts.
 * @cow: the COW block device (path).
 * @timeout_ms: the copy timeout, 0 for none.
 * @policy: the error policy.
 */
struct cbw_track_snapshot_opts {
	const char *dev;
	const char *cow;
	uint64_t timeout_ms;
	enum cbw_policy policy;
};

/**
 * cbw_track_snapshot() - take a snapshot of the changed set of the device
 * that cbw_track() tracks: DMDEV's table becomes "cbw DMDEV-real COW
 * <chunk> [timeout, on_error] track" (the tracking chunk size), whose
 * first resume turns the changed set into the snapshot's set, and
 * DMDEV-snap is made.  The snapshot's map is exactly the chunks changed
 * since the last committed snapshot (since tracking began, for the first).
 * @o: what to do.
 * @snap_node: set to the snapshot node's path on success; may be NULL.
 * @len: the size of @snap_node.
 *
 * End it with cbw_release(), after cbw_track_commit() if the backup
 * succeeded: DMDEV goes back to the track-only table; an uncommitted set
 * merges back into the changed set.  If the snapshot node cannot be made,
 * the track-only table is loaded back (the set merges back).  Signals,
 * memory locking, undo failures and the test hook (the steps of
 * cbw_snapshot() but snapshot:real) as for cbw_snapshot().
 *
 * Return: 0, -EINVAL, -ENODEV (the COW device), -ENOENT (not tracked by
 * cbw_track()), -ENOTBLK, -EBUSY (already a track snapshot, suspended, a
 * name taken), -ETIMEDOUT, -EIO.
 */
CBW_API int cbw_track_snapshot(const struct cbw_track_snapshot_opts *o,
			       char *snap_node, size_t len);

/**
 * cbw_track_commit() - tell the track snapshot of @name that its set, or
 * part of it, is backed up: those chunks are forgotten instead of merging
 * back into the changed set at cbw_release() (the "commit" message).
 * @name: the cbw device (DMDEV).
 * @runs: the backed-up extents (only their chunk numbers count), or NULL
 *	  with @count 0 for the whole set.
 * @count: how many.
 *
 * Repeatable.  After a partial commit the generation still goes on at
 * cbw_release(); the rest of the set merges back.
 *
 * Return: 0, -EINVAL (a bad name, @runs NULL with @count), -ENOENT,
 * -EBUSY (not a track snapshot), -ERANGE (a chunk outside the device),
 * -EIO.
 */
CBW_API int cbw_track_commit(const char *name, const struct cbw_extent *runs,
			     size_t count);

/* Parsing and formatting, as cbwctl does it */

/**
 * cbw_name_check() - is @name usable as a device name?
 * @name: the name (NULL is not).
 * @for_create: also require what cbw_create() needs: at most CBW_NAME_MAX
 *		characters from A-Z a-z 0-9 # + - . : = @ _, not ending in
 *		-snap or -real.
 *
 * Return: NULL if it is, else a short static text saying why not.
 */
CBW_API const char *cbw_name_check(const char *name, bool for_create);

/**
 * cbw_size_parse() - parse a size: decimal bytes with an optional binary
 * suffix k K KiB, m M MiB, g G GiB, t T TiB ("64k" = "65536").
 * @s: the text.
 * @bytes: set on success.
 *
 * Return: NULL on success, else a short static text saying what is wrong
 * (also when @s or @bytes is NULL).
 */
CBW_API const char *cbw_size_parse(const char *s, uint64_t *bytes);

/**
 * cbw_decimal_parse() - parse a plain decimal number (digits only).
 * @s: the text.
 * @max: the largest value allowed.
 * @v: set on success.
 *
 * Return: NULL on success, else a short static text saying what is wrong
 * (also when @s or @v is NULL).
 */
CBW_API const char *cbw_decimal_parse(const char *s, uint64_t max,
				      uint64_t *v);

/**
 * cbw_chunk_size_check() - is @bytes a chunk size the library takes?
 * @bytes: the size.
 *
 * Return: NULL if it is a power of two from CBW_CHUNK_MIN_BYTES to
 * CBW_CHUNK_MAX_BYTES, else a short static text saying why not.
 */
CBW_API const char *cbw_chunk_size_check(uint64_t bytes);

/**
 * cbw_io_size_check() - is @bytes a read request size cbw_backup() takes?
 * @bytes: the size.
 *
 * Return: NULL if it is a power of two from CBW_IO_SIZE_MIN to
 * CBW_IO_SIZE_MAX, else a short static text saying why not.
 */
CBW_API const char *cbw_io_size_check(uint64_t bytes);

/**
 * cbw_size_format() - a size for people: the largest binary unit that
 * divides it exactly ("64KiB", "1536KiB"), or bytes ("512B").
 * @bytes: the size.
 * @buf: where the text goes.
 * @len: the size of @buf; CBW_SIZE_BUF_LEN is always enough.
 *
 * Return: @buf; NULL if @buf is NULL or @len is 0.
 */
CBW_API char *cbw_size_format(uint64_t bytes, char *buf, size_t len);

/**
 * cbw_policy_parse() - the error policy named @word ("fail", "break" or
 * "drop").
 * @word: the name.
 * @policy: set on success.
 *
 * Return: false if @word names no policy (or @word or @policy is NULL).
 */
CBW_API bool cbw_policy_parse(const char *word, enum cbw_policy *policy);

/**
 * cbw_policy_name() - the name of an error policy.
 * @policy: the policy.
 *
 * Return: "fail", "break" or "drop"; NULL for a value that is not an
 * enum cbw_policy.
 */
CBW_API const char *cbw_policy_name(enum cbw_policy policy);

/**
 * cbw_reason_name() - the status word of a reason.
 * @reason: the reason.
 *
 * Return: "-", "io_error", "timeout", "cow_full", "no_memory" or "user";
 * NULL for a value that is not an enum cbw_reason.
 */
CBW_API const char *cbw_reason_name(enum cbw_reason reason);

/**
 * cbw_state_format() - the status word of a state: "setup", "active",
 * "none", "broken:io_error" ...
 * @st: a status.
 * @buf: where the word goes.
 * @size: the size of @buf; 24 bytes hold any state.
 *
 * Return: @buf; NULL if @buf is NULL or @size 0, or if @st is NULL or its
 * state or broken reason is not a value of its enum (then @buf holds "").
 */
CBW_API char *cbw_state_format(const struct cbw_status *st, char *buf,
			       unsigned int size);

/**
 * cbw_access_state_name() - the status word of a snapshot node's state.
 * @state: the state.
 *
 * Return: "valid", "broken" or "invalid"; NULL for a value that is not
 * an enum cbw_access_state.
 */
CBW_API const char *cbw_access_state_name(enum cbw_access_state state);

/**
 * cbw_format_parse() - the chunk set format named @word ("ranges", "raw"
 * or "era").
 * @word: the name.
 * @format: set on success.
 *
 * Return: false if @word names no format (or @word or @format is NULL).
 */
CBW_API bool cbw_format_parse(const char *word, enum cbw_format *format);

#ifdef __cplusplus
}
#endif

#endif /* LIBCBW_H */
