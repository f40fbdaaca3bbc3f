/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: IS_ENABLED(CONFIG_X) is 1 if the test defines CONFIG_X
 * to 1, else 0 (none is defined: the shim is a plain, non-RT kernel).
 * The usual preprocessor idiom: a defined option pastes into a macro that
 * shifts a 1 into the second argument's place.
 */
#ifndef SHIM_LINUX_KCONFIG_H
#define SHIM_LINUX_KCONFIG_H

#define __SHIM_ARG_PLACEHOLDER_1	0,
#define __shim_second_arg(ignored, val, ...)	val
#define __shim_is_defined(x)		___shim_is_defined(x)
#define ___shim_is_defined(val)		\
	____shim_is_defined(__SHIM_ARG_PLACEHOLDER_##val)
#define ____shim_is_defined(arg1_or_junk)	\
	__shim_second_arg(arg1_or_junk 1, 0)
#define IS_ENABLED(option)		__shim_is_defined(option)

#endif
