/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A snapshot underneath a live device-mapper device: cbwctl snapshot and
 * release.
 *
 * 'cbwctl snapshot DMDEV' moves DMDEV's table to a new hidden device and
 * puts a cbw table over it into DMDEV, without stopping DMDEV's users (the
 * filesystem is frozen between suspend and resume, for milliseconds):
 *
 *   before:  DMDEV       <DMDEV's table>               (uuid: its own)
 *   after:   DMDEV       0 <sectors> cbw <DMDEV-real> <cow> <chunk> ...
 *            DMDEV-real  <DMDEV's table>               uuid CBW-DMDEV-real
 *            DMDEV-snap  0 <sectors> snapshot-access <DMDEV>
 *                        read-only, uuid CBW-DMDEV-snap
 *
 * DMDEV keeps its name, uuid and device number, so whatever uses it (a
 * mount, lvm, a device stacked on it) goes on as before.  'cbwctl release
 * DMDEV' is the exact reverse: afterwards 'dmsetup table DMDEV' is what it
 * was before.
 *
 * -real is a hidden layer, like lvm's: udev gives it no disk rules, no
 * blkid scanning and no other rules (see enum cbwdm_udev).  Release finds
 * it through DMDEV's cbw table (its origin), and the snapshot node through
 * the uuid of -real, so a renamed DMDEV is still released whole.
 *
 * Only tables of linear, striped, zero and error targets are moved: they
 * keep no state of their own, so for a moment two copies of the table may
 * be live (DMDEV's and -real's) without harm.  Targets with state (raid,
 * mirror, cache, thin, crypt with its key, a dm-snapshot origin...) are
 * refused.
 *
 * Test hook (for the selftests only, not a user interface): when the
 * environment variable CBWCTL_FAIL_AT names a step, that step is not done
 * and fails as if the kernel had refused it, so that each rollback can be
 * tested.  The steps: snapshot:real, snapshot:load, snapshot:suspend,
 * snapshot:resume, snapshot:snap (make -real, load the cbw table into
 * DMDEV, suspend, resume, make the snapshot node); release:load,
 * release:snap, release:suspend, release:resume (load the table back,
 * remove the snapshot node, suspend, resume).
 */
#ifndef CBWCTL_STACK_H
#define CBWCTL_STACK_H

#include <stdint.h>

#include "commands.h"
#include "dm.h"
#include "status_line.h"


/* The environment variable of the test hook (see above). */
#define CBW_FAIL_AT_ENV		"CBWCTL_FAIL_AT"

/**
 * struct snapshot_opts - what cbwctl snapshot was asked.
 * @dev: DMDEV as given: a device-mapper name, /dev/mapper/NAME or
 *	 /dev/dm-N (any path to the device node).
 * @cow: the COW block device (path).
 * @chunk_bytes: the chunk size, already checked by chunk_size_check().
 * @timeout_ms: the copy timeout, 0 for none; at most CBW_MAX_TIMEOUT_MS.
 * @policy: the error policy.
 */
struct snapshot_opts {
	const char *dev;
	const char *cow;
	uint64_t chunk_bytes;
	uint64_t timeout_ms;
	enum cbw_policy policy;
};

/**
 * struct release_opts - what cbwctl release was asked.
 * @dev: DMDEV as for struct snapshot_opts.
 */
struct release_opts {
	const char *dev;
};

/**
 * cbw_snapshot() - put a snapshot underneath the live device @o->dev and
 * print the snapshot node.
 * @o: the options.
 *
 * On any failure everything done so far is undone: DMDEV gets its table
 * back and -real and -snap are removed; DMDEV keeps working throughout.
 * Prints its error (one line).
 *
 * Return: CBW_EXIT_OK; CBW_EXIT_USAGE (a name cbwctl cannot use, a chunk
 * smaller than a logical block); CBW_EXIT_DEVICE (the COW device is
 * missing, not a block device, DMDEV or under it; DMDEV has no live table,
 * a target that cannot be moved, or is read-only); CBW_EXIT_NOTFOUND (no
 * such device-mapper device); CBW_EXIT_NOT_DM; CBW_EXIT_BUSY (already
 * under a snapshot or one of cbwctl's devices, suspended, with an inactive
 * table, or a name taken); CBW_EXIT_FAILED (the kernel or libdevmapper
 * failed).
 */
int cbw_snapshot(const struct snapshot_opts *o);

/**
 * cbw_release() - end the snapshot under @o->dev: remove the snapshot
 * node, give DMDEV its table back and remove -real.
 * @o: the options.
 *
 * If the snapshot node is in use, nothing is changed.  On a failure before
 * DMDEV has its table back, the snapshot node is made again.  Prints its
 * error (one line).
 *
 * Return: CBW_EXIT_OK; CBW_EXIT_NOTFOUND (no such device, not under a
 * snapshot of cbwctl snapshot, e.g. made by cbwctl create);
 * CBW_EXIT_NOT_DM; CBW_EXIT_DEVICE (a path that does not exist);
 * CBW_EXIT_BUSY (the snapshot node is in use, DMDEV is suspended or has an
 * inactive table); CBW_EXIT_FAILED.
 */
int cbw_release(const struct release_opts *o);

/**
 * stack_is_snapshotted() - did cbwctl snapshot put @dev under a snapshot:
 * is its table one cbw target whose origin has a uuid CBW-...-real?
 * @dev: a device, as cbwdm_status() filled it.
 *
 * Return: 1 if so, 0 if not, CBWDM_ERROR if its table or origin cannot be
 * read (see cbwdm_error()).
 */
int stack_is_snapshotted(const struct cbwdm_dev *dev);

#endif /* CBWCTL_STACK_H */
