// SPDX-License-Identifier: GPL-2.0
/*
 * NBD addresses; see nbdaddr.h.
 */

#include <stdio.h>
#include <string.h>

#include "nbdaddr.h"
#include <libcbw.h>

/* A decimal port, 1 to 65535, nothing else. */
static bool parse_port(const char *s, unsigned int *port)
{
	uint64_t n;

	if (cbw_decimal_parse(s, 65535, &n) || !n)
		return false;
	*port = n;
	return true;
}

/* A host name or address: no blanks, no control characters, no '/'. */
static bool host_ok(const char *h, size_t len)
{
	size_t i;

	if (!len || len > NBD_HOST_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f || h[i] == '[' ||
		    h[i] == ']')
			return false;
	return true;
}

const char *nbd_addr_parse(const char *word, struct nbd_addr *a)
{
	const char *colon, *host = word;
	size_t len;

	memset(a, 0, sizeof(*a));
	if (!*word)
		return "empty";
	if (strchr(word, '/')) {
		a->socket = word;
		return NULL;
	}
	colon = strrchr(word, ':');
	if (!colon)
		return "neither a socket path (with a '/') nor HOST:PORT";
	if (!parse_port(colon + 1, &a->port))
		return "the port is not a number from 1 to 65535";
	len = colon - word;
	if (len && word[0] == '[') {
		if (len < 2 || word[len - 1] != ']')
			return "an IPv6 address in brackets lacks its ']'";
		host++;
		len -= 2;
	} else if (memchr(word, ':', len)) {
		return "an IPv6 address needs brackets: [ADDRESS]:PORT";
	}
	if (!len)
		return "HOST is missing (use 0.0.0.0 for every interface)";
	if (!host_ok(host, len))
		return "HOST has blanks, control characters or brackets";
	memcpy(a->host, host, len);
	a->host[len] = '\0';
	return NULL;
}

bool nbd_addr_uri(const struct nbd_addr *a, bool tls, char *buf, size_t len)
{
	const char *scheme = tls ? "nbds" : "nbd";
	int n;

	if (a->socket)
		n = snprintf(buf, len, "nbd+unix:///?socket=%s", a->socket);
	else if (strchr(a->host, ':'))
		n = snprintf(buf, len, "%s://[%s]:%u", scheme, a->host, a->port);
	else
		n = snprintf(buf, len, "%s://%s:%u", scheme, a->host, a->port);
	return n >= 0 && (size_t)n < len;
}
