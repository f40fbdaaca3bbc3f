/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: WARN_ON_ONCE() and WARN_ON() count in shim_warnings (the test fails
 * if it is not 0) and reports where.
 */
#ifndef SHIM_LINUX_BUG_H
#define SHIM_LINUX_BUG_H

#include <stdio.h>

extern int shim_warnings;

#define WARN_ON_ONCE(cond) ({						\
	int __c = !!(cond);						\
	if (__c) {							\
		shim_warnings++;					\
		fprintf(stderr, "WARNING at %s:%d: %s\n",		\
			__FILE__, __LINE__, #cond);			\
	}								\
	__c;								\
})

/* Counted like WARN_ON_ONCE(). */
#define WARN_ON(cond) WARN_ON_ONCE(cond)

#endif
