// SPDX-License-Identifier: GPL-2.0
/*
 * cbw_version(): the dm-cbw release the library comes from.
 */

#include "libcbw.h"

#ifndef LIBCBW_RELEASE
#error "LIBCBW_RELEASE is set by the Makefile (debian/changelog's version)"
#endif

const char *cbw_version(void)
{
	return LIBCBW_RELEASE;
}
