/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where cbwctl export serves its NBD export: a Unix socket or a TCP
 * address, given as one word on the command line:
 *
 *   /run/data.sock, ./data.sock   a word with a '/' is a socket path
 *   localhost:10809               otherwise HOST:PORT, with a HOST
 *   192.0.2.7:10809, [::1]:10809  (an IPv6 address in brackets)
 *
 * and the NBD URI a client connects to.
 */
#ifndef CBWCTL_NBDADDR_H
#define CBWCTL_NBDADDR_H

#include <stdbool.h>
#include <stddef.h>

/* The longest HOST. */
#define NBD_HOST_MAX	255

/**
 * struct nbd_addr - a parsed address.
 * @socket: the socket path (the word as given), or NULL for TCP.
 * @host: TCP: the host, without brackets.
 * @port: TCP: the port, 1 to 65535.
 */
struct nbd_addr {
	const char *socket;
	char host[NBD_HOST_MAX + 1];
	unsigned int port;
};

/**
 * nbd_addr_parse() - parse SOCKET or HOST:PORT.
 * @word: the word from the command line (kept for a socket).
 * @a: filled on success.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *nbd_addr_parse(const char *word, struct nbd_addr *a);

/**
 * nbd_addr_uri() - the NBD URI of @a: "nbd+unix:///?socket=PATH" or
 * "nbd://HOST:PORT" ("nbd://[::1]:10809" for IPv6), "nbds://HOST:PORT"
 * with TLS.
 * @a: the address.
 * @tls: TCP: the export requires TLS (ignored for a socket).
 * @buf: where the URI goes.
 * @len: the size of @buf.
 *
 * Return: false if it does not fit @buf.
 */
bool nbd_addr_uri(const struct nbd_addr *a, bool tls, char *buf, size_t len);

#endif /* CBWCTL_NBDADDR_H */
