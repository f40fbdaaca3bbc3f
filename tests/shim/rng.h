/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Random numbers for the module's unit tests (splitmix64): a test sets
 * rng_state from its seed (printed, so that a run can be repeated).
 */
#ifndef SHIM_RNG_H
#define SHIM_RNG_H

#include <linux/types.h>

static u64 rng_state;

static inline u64 rnd(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 if n is 0. */
static inline u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

#endif
