// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl export: serve the snapshot of NAME over NBD with qemu-nbd, so
 * that a backup server pulls the image over the network, and its TRIM
 * (NBD_CMD_TRIM) discards what it has read, as --discard-behind does.
 *
 * qemu-nbd runs with:
 *
 *   --format=raw          the device as it is, no probing
 *   --cache=none          O_DIRECT, like every snapshot reader should:
 *                         the page cache would answer for chunks that
 *                         have left the snapshot since
 *   --discard=unmap       TRIM becomes BLKDISCARD on NAME-snap
 *   --read-only           only if NAME-snap is read-only
 *
 * (writes fail with EIO anyway: the snapshot-access target refuses them).
 * By default qemu-nbd forks off the server and exits once it listens, and
 * so does cbwctl, printing the NBD URI; its messages go to a temporary
 * file, so that a failure is one line.  With --foreground cbwctl becomes
 * qemu-nbd (exec).
 */

#define _GNU_SOURCE		/* O_TMPFILE */

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cmd.h"
#include "msg.h"
#include "nbdaddr.h"
#include "snapdev.h"

extern char **environ;

#define QEMU_NBD	"qemu-nbd"

enum {
	OPT_NBD = 256,
	OPT_FOREGROUND,
	OPT_PERSISTENT,
	OPT_PID_FILE,
};

struct export_opts {
	const char *name;	/* the cbw device */
	const char *nbd;	/* SOCKET or HOST:PORT as given */
	struct nbd_addr addr;
	bool foreground;
	bool persistent;	/* serve on after the last client left */
	const char *pid_file;
};

/* The most arguments export gives qemu-nbd, NULL included. */
#define MAX_ARGS	16

/* Find qemu-nbd in $PATH; false if it is not there. */
static bool find_program(const char *prog, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	int n;

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		n = snprintf(buf, len, "%.*s/%s", end == p ? 1 : (int)(end - p),
			     end == p ? "." : p, prog);
		if (n > 0 && (size_t)n < len && !access(buf, X_OK))
			return true;
		if (!*end)
			return false;
	}
}

/*
 * The arguments of qemu-nbd.  @opt holds the "--opt=value" words, so that
 * they live as long as @argv.
 */
static void make_args(const struct export_opts *o, const struct snapdev *sd,
		      const char *prog, char opt[4][PATH_MAX + 16],
		      char *argv[MAX_ARGS])
{
	int n = 0;

	argv[n++] = (char *)prog;
	argv[n++] = "--format=raw";
	argv[n++] = "--cache=none";
	argv[n++] = "--discard=unmap";
	if (sd->d.snap.read_only)
		argv[n++] = "--read-only";
	if (o->persistent)
		argv[n++] = "--persistent";
	if (!o->foreground)
		argv[n++] = "--fork";
	if (o->pid_file) {
		snprintf(opt[0], sizeof(opt[0]), "--pid-file=%s", o->pid_file);
		argv[n++] = opt[0];
	}
	if (o->addr.socket) {
		snprintf(opt[1], sizeof(opt[1]), "--socket=%s", o->addr.socket);
		argv[n++] = opt[1];
	} else {
		snprintf(opt[1], sizeof(opt[1]), "--bind=%s", o->addr.host);
		snprintf(opt[2], sizeof(opt[2]), "--port=%u", o->addr.port);
		argv[n++] = opt[1];
		argv[n++] = opt[2];
	}
	snprintf(opt[3], sizeof(opt[3]), "%s", sd->path);	/* outlives @sd */
	argv[n++] = opt[3];
	argv[n] = NULL;
}

/* The last line qemu-nbd wrote to @fd, without "qemu-nbd: ". */
static void last_line(int fd, char *buf, size_t len)
{
	char text[4096], *line;
	ssize_t n;

	buf[0] = '\0';
	n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return;
	text[n] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	line = strrchr(text, '\n');
	line = line ? line + 1 : text;
	if (!strncmp(line, QEMU_NBD ": ", strlen(QEMU_NBD ": ")))
		line += strlen(QEMU_NBD ": ");
	n = strcspn(line, "\r");
	if ((size_t)n >= len)
		n = len - 1;	/* cut: a message line is short anyway */
	memcpy(buf, line, n);
	buf[n] = '\0';
}

/* An unlinked temporary file for qemu-nbd's messages. */
static int message_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	snprintf(path, sizeof(path), "%s/cbwctl-export.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* Run qemu-nbd --fork and wait until it listens (its parent exits). */
static int spawn_server(const struct export_opts *o, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	char msg[512], uri[PATH_MAX + 32];
	int fd, err, status;
	pid_t pid;

	fd = message_file();
	if (fd < 0) {
		msg_error("cannot make a temporary file for qemu-nbd's messages: %s",
			  strerror(errno));
		return CBW_EXIT_FAILED;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO);
	err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		close(fd);
		msg_error("cannot run %s: %s", argv[0], strerror(err));
		return CBW_EXIT_FAILED;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			msg_error("cannot wait for %s: %s", argv[0],
				  strerror(errno));
			close(fd);
			return CBW_EXIT_FAILED;
		}
	}
	last_line(fd, msg, sizeof(msg));
	close(fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		msg_error("qemu-nbd failed to serve %s: %s", o->name,
			  msg[0] ? msg : WIFEXITED(status) ?
			  "it exited without a message" : "it was killed");
		return CBW_EXIT_FAILED;
	}
	if (nbd_addr_uri(&o->addr, uri, sizeof(uri)))
		printf("%s\n", uri);
	return CBW_EXIT_OK;
}

static int export(const struct export_opts *o)
{
	char prog[PATH_MAX], opt[4][PATH_MAX + 16], *argv[MAX_ARGS];
	struct snapdev sd;
	int r;

	if (!find_program(QEMU_NBD, prog, sizeof(prog))) {
		msg_error("%s not found in PATH (Debian: apt-get install qemu-utils)",
			  QEMU_NBD);
		return CBW_EXIT_FAILED;
	}
	r = snapdev_find(o->name, false, &sd);
	if (r)
		return r;
	make_args(o, &sd, prog, opt, argv);
	snapdev_release(&sd);
	/*
	 * qemu-nbd gets none of our descriptors but 0-2 (libdevmapper's
	 * control device is not opened close-on-exec).  Without
	 * CLOSE_RANGE_CLOEXEC (before Linux 5.11) they leak, harmlessly.
	 */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (!o->foreground)
		return spawn_server(o, argv);
	fflush(stdout);
	execv(prog, argv);
	msg_error("cannot run %s: %s", prog, strerror(errno));
	return CBW_EXIT_FAILED;
}

static const struct option export_options[] = {
	{ "nbd", required_argument, NULL, OPT_NBD },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "persistent", no_argument, NULL, OPT_PERSISTENT },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	HELP_OPTION,
	OPTIONS_END
};

static int export_option(const struct command *cmd, void *opts, int opt,
			 const char *arg)
{
	struct export_opts *o = opts;
	const char *why;

	switch (opt) {
	case OPT_NBD:
		why = nbd_addr_parse(arg, &o->addr);
		if (why)
			return usage_error(cmd, "invalid --nbd '%s': %s", arg, why);
		o->nbd = arg;
		return CBW_EXIT_OK;
	case OPT_FOREGROUND:
		o->foreground = true;
		return CBW_EXIT_OK;
	case OPT_PERSISTENT:
		o->persistent = true;
		return CBW_EXIT_OK;
	case OPT_PID_FILE:
		if (!*arg)
			return usage_error(cmd, "--pid-file needs a FILE");
		o->pid_file = arg;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int export_cmd(const struct command *cmd, void *opts, char **args,
		      int nargs)
{
	struct export_opts *o = opts;
	int r;

	(void)nargs;
	o->name = args[0];
	r = check_name(cmd, o->name, false);
	if (r)
		return r;
	if (!o->nbd)
		return usage_error(cmd, "--nbd SOCKET or --nbd HOST:PORT is required");
	if ((o->pid_file && strlen(o->pid_file) > PATH_MAX) ||
	    (o->addr.socket && strlen(o->addr.socket) > PATH_MAX))
		return usage_error(cmd, "path too long");
	return export(o);
}

const struct command cmd_export = {
	.name = "export",
	.args = "NAME --nbd SOCKET|HOST:PORT [--persistent] [--pid-file FILE] [--foreground]",
	.help = "serve the snapshot of NAME over NBD (qemu-nbd)",
	.details =
"Serve NAME-snap, the snapshot of the cbw device NAME, as an NBD export\n"
"with qemu-nbd (from qemu-utils), for a backup server to pull.  The export\n"
"has the default (empty) name.  Reads of chunks outside the snapshot fail;\n"
"writes fail; a TRIM (discard) of whole chunks makes them leave the\n"
"snapshot, which frees their COW space, as backup --discard-behind does.\n"
"qemu-nbd reads with direct I/O.  Once qemu-nbd listens, cbwctl prints the\n"
"NBD URI (nbd+unix:///?socket=SOCKET or nbd://HOST:PORT) and exits;\n"
"qemu-nbd serves one client at a time and, unless --persistent, exits when\n"
"the first client disconnects.  While it runs, NAME cannot be removed.\n"
"\n"
"Options:\n"
"  --nbd SOCKET     listen on the Unix socket SOCKET: a path with a '/'\n"
"                   (./nbd.sock for one in the current folder)\n"
"  --nbd HOST:PORT  listen on TCP: HOST is a name or an address, [ADDR]\n"
"                   for IPv6, 0.0.0.0 for every interface.  NBD has no\n"
"                   authentication here: anyone who reaches the port can\n"
"                   read the snapshot and discard from it\n"
"  --persistent     serve on after the last client disconnects\n"
"  --pid-file FILE  qemu-nbd writes its process id to FILE (to stop it:\n"
"                   kill $(cat FILE))\n"
"  --foreground     do not fork: cbwctl becomes qemu-nbd and runs until it\n"
"                   exits (its exit status and messages are qemu-nbd's)\n"
"  -h, --help       show this help\n",
	.min_args = 1,
	.max_args = 1,
	.options = export_options,
	.opts_size = sizeof(struct export_opts),
	.set_option = export_option,
	.fn = export_cmd,
};
