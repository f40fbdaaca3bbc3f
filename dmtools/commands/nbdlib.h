/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libnbd, loaded the first time an image is opened through it (cbwctl
 * backup --incremental, cbwctl restore), not when cbwctl starts.  libnbd
 * brings GnuTLS, libxml2, ICU and the C++ runtime with it: linked in, the
 * dynamic loader maps and relocates some twenty libraries at every start
 * of cbwctl, a cost every command paid (under the test VM's emulation
 * several hundred milliseconds, more than a backup of a small device takes
 * to read it).  The calls keep libnbd's own prototypes (<libnbd.h>), so the
 * compiler checks them as if they were linked.
 */
#ifndef CBWCTL_NBDLIB_H
#define CBWCTL_NBDLIB_H

#include <stddef.h>

#include <libnbd.h>

/* The libnbd calls cbwctl makes, named without their "nbd_". */
struct nbdlib {
	__typeof__(nbd_create) *create;
	__typeof__(nbd_close) *close;
	__typeof__(nbd_get_error) *get_error;
	__typeof__(nbd_connect_systemd_socket_activation) *connect_systemd_socket_activation;
	__typeof__(nbd_pread) *pread;
	__typeof__(nbd_pwrite) *pwrite;
	__typeof__(nbd_zero) *zero;
	__typeof__(nbd_flush) *flush;
	__typeof__(nbd_shutdown) *shutdown;
};

/* Set by nbdlib_load(); use only after it succeeded. */
extern struct nbdlib nbdlib;

/* The library's file: the soname of libnbd's stable ABI. */
#define NBDLIB_SONAME		"libnbd.so.0"

/**
 * nbdlib_load() - load libnbd and look up its calls, once per process.
 * @err: set to why it failed (dlerror()'s text).
 * @err_len: the size of @err.
 *
 * Return: 0, or -1 if the library or one of its calls is missing (a later
 * call tries again).
 */
int nbdlib_load(char *err, size_t err_len);

#endif /* CBWCTL_NBDLIB_H */
