/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: RCU.
 *
 * By default readers cost nothing and call_rcu() runs its callback at
 * once (the tests are single-threaded: a writer that touched a node after
 * handing it to call_rcu() is caught by AddressSanitizer).
 *
 * With shim_rcu_defer set, the concurrency test's reader threads
 * register (shim_rcu_register()), rcu_read_lock()/unlock() bump a
 * per-thread counter (odd: inside), call_rcu() queues, and
 * shim_rcu_sync() - a grace period - waits until every reader has been
 * seen outside a read-side section, then runs what was queued before.
 * kfree_rcu() and kvfree_rcu() queue like call_rcu().
 */
#ifndef SHIM_LINUX_RCUPDATE_H
#define SHIM_LINUX_RCUPDATE_H

#include <linux/compiler.h>
#include <linux/types.h>

struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
};

struct shim_rcu_reader {
	unsigned long ctr;
	int depth;
};

extern bool shim_rcu_defer;
extern __thread struct shim_rcu_reader *shim_rcu_self;

static inline void rcu_read_lock(void)
{
	struct shim_rcu_reader *r = shim_rcu_self;

	if (r && !r->depth++)
		__atomic_fetch_add(&r->ctr, 1, __ATOMIC_SEQ_CST);
}

static inline void rcu_read_unlock(void)
{
	struct shim_rcu_reader *r = shim_rcu_self;

	if (r && !--r->depth)
		__atomic_fetch_add(&r->ctr, 1, __ATOMIC_SEQ_CST);
}

/*
 * rcu_read_lock_sched() disables preemption in the kernel, and a grace
 * period waits for that too: here the same reader section.
 */
static inline void rcu_read_lock_sched(void)
{
	rcu_read_lock();
}

static inline void rcu_read_unlock_sched(void)
{
	rcu_read_unlock();
}

static inline int rcu_read_lock_any_held(void)
{
	return 1;
}

#define rcu_dereference(p)		__atomic_load_n(&(p), __ATOMIC_CONSUME)
#define rcu_dereference_check(p, c)	((void)(c), rcu_dereference(p))
#define rcu_dereference_protected(p, c)	((void)(c), (p))
#define rcu_assign_pointer(p, v) do {					\
	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE);			\
	shim_preempt_point();						\
} while (0)
#define RCU_INIT_POINTER(p, v)		WRITE_ONCE(p, v)

void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));

/*
 * kvfree() after a grace period.  The head is scribbled over, as the
 * kernel's kvfree_rcu() links it into its lists: a reader that trusts a
 * field sharing its place reads rubbish.
 */
void shim_kvfree_rcu(const void *p, struct rcu_head *head);
#define kvfree_rcu(p, head)	shim_kvfree_rcu(p, &(p)->head)
#define kfree_rcu(p, head)	kvfree_rcu(p, head)
void rcu_barrier(void);
void shim_rcu_register(struct shim_rcu_reader *r);
void shim_rcu_unregister(struct shim_rcu_reader *r);
void shim_rcu_sync(void);
/* A thread that runs grace periods until *(int *)stop is set. */
void *shim_rcu_gp_thread(void *stop);
/* CLOCK_MONOTONIC in seconds, for the race tests' durations. */
double shim_now(void);

#endif
