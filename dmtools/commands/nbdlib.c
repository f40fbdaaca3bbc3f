// SPDX-License-Identifier: GPL-2.0
/*
 * libnbd, loaded when first needed; see nbdlib.h.
 */

#include <dlfcn.h>
#include <stdio.h>

#include "nbdlib.h"

struct nbdlib nbdlib;

/* A call of the library and where its address goes. */
struct sym {
	const char *name;
	void **addr;
};

int nbdlib_load(char *err, size_t err_len)
{
	struct nbdlib lib;
	const struct sym syms[] = {
		{ "nbd_create", (void **)&lib.create },
		{ "nbd_close", (void **)&lib.close },
		{ "nbd_get_error", (void **)&lib.get_error },
		{ "nbd_connect_systemd_socket_activation",
		  (void **)&lib.connect_systemd_socket_activation },
		{ "nbd_pread", (void **)&lib.pread },
		{ "nbd_pwrite", (void **)&lib.pwrite },
		{ "nbd_zero", (void **)&lib.zero },
		{ "nbd_flush", (void **)&lib.flush },
		{ "nbd_shutdown", (void **)&lib.shutdown },
	};
	static void *handle;
	const char *why;
	size_t i;

	if (handle)
		return 0;
	dlerror();
	handle = dlopen(NBDLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		why = dlerror();
		snprintf(err, err_len, "cannot load %s (Debian: libnbd0): %s",
			 NBDLIB_SONAME, why ? why : "unknown error");
		return -1;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		dlerror();
		*syms[i].addr = dlsym(handle, syms[i].name);
		why = dlerror();
		if (why || !*syms[i].addr) {
			snprintf(err, err_len, "%s has no %s: %s",
				 NBDLIB_SONAME, syms[i].name,
				 why ? why : "a null address");
			dlclose(handle);
			handle = NULL;
			return -1;
		}
	}
	nbdlib = lib;
	return 0;
}
