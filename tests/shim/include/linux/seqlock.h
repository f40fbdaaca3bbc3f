/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: a sequence count with the kernel's ordering (acquire
 * at the start of a read, a read fence before the check, release fences
 * around a write).
 *
 * While shim_preempt is set (the concurrency tests), a reader does not
 * wait for a write under way to end: it searches the half-written
 * structure and only then learns that it must search again.  That is
 * the worst a kernel reader can meet (one that began just before the
 * write), here on every read that meets a write.
 */
#ifndef SHIM_LINUX_SEQLOCK_H
#define SHIM_LINUX_SEQLOCK_H

#include <sched.h>
#include <linux/compiler.h>
#include <linux/spinlock.h>

typedef struct {
	unsigned int sequence;
} seqcount_spinlock_t;

#define seqcount_spinlock_init(s, l)	((void)(l), (s)->sequence = 0)

static inline unsigned int read_seqcount_begin(const seqcount_spinlock_t *s)
{
	unsigned int v;

	for (;;) {
		v = __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
		if (!(v & 1) || shim_preempt)
			return v & ~1u;
		sched_yield();
	}
}

static inline int read_seqcount_retry(const seqcount_spinlock_t *s,
				      unsigned int start)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&s->sequence, __ATOMIC_RELAXED) != start;
}

static inline void write_seqcount_begin(seqcount_spinlock_t *s)
{
	__atomic_store_n(&s->sequence, s->sequence + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	shim_preempt_point();
}

static inline void write_seqcount_end(seqcount_spinlock_t *s)
{
	shim_preempt_point();
	__atomic_store_n(&s->sequence, s->sequence + 1, __ATOMIC_RELEASE);
}

#endif
