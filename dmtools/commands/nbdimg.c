// SPDX-License-Identifier: GPL-2.0
/*
 * qemu-img and qemu-nbd for cbwctl's images; see nbdimg.h.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>


#include "nbdimg.h"
#include "nbdlib.h"

/* The longest output of qemu-img read. */
#define OUT_MAX		(64 << 10)

static const char *prog(const char *env, const char *def)
{
	const char *p = getenv(env);

	return p && *p ? p : def;
}

/*
 * Run @argv with stdin from /dev/null, stdout into @out (NUL-terminated,
 * cut at @out_len - 1 bytes) and stderr into @err.  Return its exit status
 * (0 success), or -1 if it could not run (then @err says why).
 */
static int run(char *const argv[], char *out, size_t out_len, char *err,
	       size_t err_len)
{
	int po[2], pe[2], status, fd;
	size_t no = 0, ne = 0;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
		snprintf(err, err_len, "cannot make a pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, err_len, "cannot start %s: %s", argv[0],
			 strerror(errno));
		close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
		return -1;
	}
	if (!pid) {
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* Small outputs: read stdout to its end, then stderr. */
	while ((n = read(po[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0 && out && no + 1 < out_len) {
			size_t k = (size_t)n < out_len - 1 - no ? (size_t)n :
				   out_len - 1 - no;
			memcpy(out + no, buf, k);
			no += k;
		}
	}
	while ((n = read(pe[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0 && ne + 1 < err_len) {
			size_t k = (size_t)n < err_len - 1 - ne ? (size_t)n :
				   err_len - 1 - ne;
			memcpy(err + ne, buf, k);
			ne += k;
		}
	}
	if (out)
		out[no] = '\0';
	if (err_len)
		err[ne] = '\0';
	/* One line: the first of its message, without the newline. */
	if (err_len)
		err[strcspn(err, "\n")] = '\0';
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, err_len, "cannot wait for %s: %s",
				 argv[0], strerror(errno));
			return -1;
		}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	snprintf(err, err_len, "%s was killed by signal %d", argv[0],
		 WTERMSIG(status));
	return -1;
}

/* The value at "\n    \"KEY\": " of a top-level key, or NULL. */
static const char *top_key(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n    \"%s\": ", key);
	p = strstr(json, pat);
	return p ? p + strlen(pat) : NULL;
}

const char *img_info_parse(const char *json, char *format, size_t format_len,
			   uint64_t *size)
{
	const char *f = top_key(json, "format"), *v = top_key(json, "virtual-size");
	size_t len;
	char *end;

	if (!f || *f != '"')
		return "no \"format\" in qemu-img's answer";
	f++;
	len = strcspn(f, "\"\n");
	if (!len || f[len] != '"' || len >= format_len)
		return "a \"format\" that is not a short string";
	memcpy(format, f, len);
	format[len] = '\0';
	if (!v || *v < '0' || *v > '9')
		return "no \"virtual-size\" in qemu-img's answer";
	errno = 0;
	*size = strtoull(v, &end, 10);
	if (errno || (*end != ',' && *end != '\n'))
		return "a \"virtual-size\" that is not a number";
	return NULL;
}

int img_info(const char *path, char *format, size_t format_len,
	     uint64_t *size, char *err, size_t err_len)
{
	char *argv[] = { (char *)prog("CBWCTL_QEMU_IMG", QEMU_IMG_DEFAULT),
			 "info", "--output=json", "--", (char *)path, NULL };
	const char *why;
	char *out = malloc(OUT_MAX);
	int r;

	if (!out) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	r = run(argv, out, OUT_MAX, err, err_len);
	if (r > 0 && !err[0])
		snprintf(err, err_len, "qemu-img info exited with %d", r);
	if (!r) {
		why = img_info_parse(out, format, format_len, size);
		if (why) {
			snprintf(err, err_len, "%s", why);
			r = -1;
		}
	}
	free(out);
	return r ? -1 : 0;
}

int img_create_qcow2(const char *path, uint64_t size, const char *backing,
		     const char *backing_format, char *err, size_t err_len)
{
	char sz[24];
	char *argv[12];
	int n = 0, r;

	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	argv[n++] = (char *)prog("CBWCTL_QEMU_IMG", QEMU_IMG_DEFAULT);
	argv[n++] = "create";
	argv[n++] = "-q";
	argv[n++] = "-f";
	argv[n++] = "qcow2";
	if (backing) {
		argv[n++] = "-b";
		argv[n++] = (char *)backing;
		argv[n++] = "-F";
		argv[n++] = (char *)backing_format;
	}
	argv[n++] = (char *)path;
	argv[n++] = sz;
	argv[n] = NULL;
	r = run(argv, NULL, 0, err, err_len);
	if (r > 0 && !err[0])
		snprintf(err, err_len, "qemu-img create exited with %d", r);
	return r ? -1 : 0;
}

struct nbd_handle *img_nbd_open(const char *path, const char *format,
				bool read_only, char *err, size_t err_len)
{
	char fmt[64];
	char *argv[] = { (char *)prog("CBWCTL_QEMU_NBD", QEMU_NBD_DEFAULT),
			 fmt, "--cache=writeback", "--aio=threads",
			 read_only ? "--read-only" : "--discard=unmap", "--",
			 (char *)path, NULL };
	struct nbd_handle *h;

	if (nbdlib_load(err, err_len))
		return NULL;
	snprintf(fmt, sizeof(fmt), "--format=%s", format);
	h = nbdlib.create();
	if (!h) {
		snprintf(err, err_len, "%s", nbdlib.get_error());
		return NULL;
	}
	if (nbdlib.connect_systemd_socket_activation(h, argv) == -1) {
		snprintf(err, err_len, "cannot serve %s with %s: %s", path,
			 argv[0], nbdlib.get_error());
		nbdlib.close(h);
		return NULL;
	}
	return h;
}

int img_backing_name(const char *prev, const char *out, char *buf, size_t len)
{
	char *p = realpath(prev, NULL), *o = strdup(out), *odir, *pdir;
	char *ocanon = NULL, *pcopy = NULL;
	int r = -1;

	if (!p || !o)
		goto out;
	odir = dirname(o);
	ocanon = realpath(odir, NULL);
	pcopy = strdup(p);
	if (!ocanon || !pcopy)
		goto out;
	pdir = dirname(pcopy);
	if (!strcmp(pdir, ocanon))
		r = snprintf(buf, len, "%s", p + strlen(pdir) + (strcmp(pdir, "/") ? 1 : 0));
	else
		r = snprintf(buf, len, "%s", p);
	if (r < 0 || (size_t)r >= len) {
		errno = ENAMETOOLONG;
		r = -1;
	} else {
		r = 0;
	}
out:
	free(p);
	free(o);
	free(ocanon);
	free(pcopy);
	return r;
}
