// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of nbdaddr.c: socket paths, HOST:PORT with names, IPv4 and
 * bracketed IPv6 addresses, the URIs, and each kind of bad address.
 */

#include <string.h>

#include "nbdaddr.h"
#include "tap.h"

int main(void)
{
	static const struct {
		const char *word;
		const char *uri;
	} good[] = {
		{ "/tmp/nbd.sock", "nbd+unix:///?socket=/tmp/nbd.sock" },
		{ "./nbd.sock", "nbd+unix:///?socket=./nbd.sock" },
		{ "/tmp/a:b.sock", "nbd+unix:///?socket=/tmp/a:b.sock" },
		{ "localhost:10809", "nbd://localhost:10809" },
		{ "192.0.2.7:1", "nbd://192.0.2.7:1" },
		{ "0.0.0.0:65535", "nbd://0.0.0.0:65535" },
		{ "[::1]:10809", "nbd://[::1]:10809" },
		{ "[fe80::1%eth0]:10809", "nbd://[fe80::1%eth0]:10809" },
		{ "backup.example.org:10809", "nbd://backup.example.org:10809" },
	};
	static const char *const bad[] = {
		"", "nbd.sock", "localhost", "localhost:", ":10809",
		"localhost:0", "localhost:65536", "localhost:99999999999",
		"localhost:-1", "localhost:+1", "localhost:10809x",
		"localhost:0x10", "::1:10809", "[::1:10809", "[]:10809",
		"[::1]10809", "local host:10809", "host\t:10809",
		"[[::1]]:10809",
	};
	char uri[256], q[128];
	struct nbd_addr a;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = nbd_addr_parse(good[i].word, &a);
		tap_ok(!why && nbd_addr_uri(&a, false, uri, sizeof(uri)) &&
		       !strcmp(uri, good[i].uri), "'%s' is %s",
		       tap_quote(good[i].word, q, sizeof(q)), good[i].uri);
		if (why)
			tap_diag("refused: %s", why);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = nbd_addr_parse(bad[i], &a);
		tap_ok(why != NULL, "'%s' refused%s%s",
		       tap_quote(bad[i], q, sizeof(q)), why ? ": " : "",
		       why ? why : "");
	}
	tap_ok(!nbd_addr_parse("/tmp/x", &a) && !nbd_addr_uri(&a, false, uri, 10),
	       "a URI that does not fit is refused");
	tap_ok(!nbd_addr_parse("192.0.2.7:10809", &a) &&
	       nbd_addr_uri(&a, true, uri, sizeof(uri)) &&
	       !strcmp(uri, "nbds://192.0.2.7:10809"), "TLS: nbds://192.0.2.7:10809");
	tap_ok(!nbd_addr_parse("[::1]:10809", &a) &&
	       nbd_addr_uri(&a, true, uri, sizeof(uri)) &&
	       !strcmp(uri, "nbds://[::1]:10809"), "TLS: nbds://[::1]:10809");
	tap_ok(!nbd_addr_parse("/tmp/nbd.sock", &a) &&
	       nbd_addr_uri(&a, true, uri, sizeof(uri)) &&
	       !strcmp(uri, "nbd+unix:///?socket=/tmp/nbd.sock"),
	       "TLS does not change a socket's URI");
	return tap_done();
}
