/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the test has one writer thread, which is also the only
 * one to refill, so the reserve's lock can be a no-op.  shim_lock_depth
 * catches unbalanced use and allocation under the lock.
 */
#ifndef SHIM_LINUX_SPINLOCK_H
#define SHIM_LINUX_SPINLOCK_H

typedef struct {
	int unused;
} spinlock_t;

extern __thread int shim_lock_depth;

#define spin_lock_init(l)		((void)(l))
#define spin_lock_irqsave(l, f)		((void)(l), (f) = 0, shim_lock_depth++)
#define spin_unlock_irqrestore(l, f)	((void)(l), (void)(f), shim_lock_depth--)
#define lockdep_is_held(l)		((void)(l), shim_lock_depth > 0)

#endif
