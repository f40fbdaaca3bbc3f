/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A snapshot underneath a live device-mapper device: cbw_snapshot() and
 * cbw_release() (cbwctl snapshot and release).
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
#ifndef LIBCBW_STACK_H
#define LIBCBW_STACK_H

#include <stdint.h>

#include "dm.h"


/* The environment variable of the test hook (see above). */
#define CBW_FAIL_AT_ENV		"CBWCTL_FAIL_AT"

/**
 * stack_is_snapshotted() - did cbwctl snapshot put @dev under a snapshot:
 * is its table one cbw target whose origin has a uuid CBW-...-real?
 * @dev: a device, as cbwdm_status() filled it.
 *
 * Return: 1 if so, 0 if not, CBWDM_ERROR if its table or origin cannot be
 * read (see cbwdm_error()).
 */
int stack_is_snapshotted(const struct cbwdm_dev *dev);

#endif /* LIBCBW_STACK_H */
