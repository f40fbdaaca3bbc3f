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
 *
 * Whoever reaches the export reads the whole snapshot and can discard
 * from it, so a TCP export needs TLS (qemu's TLS credentials objects) or
 * an explicit --insecure:
 *
 *   --tls-x509 DIR   --object tls-creds-x509,id=tls0,endpoint=server,
 *                    dir=DIR,verify-peer=on: DIR holds ca-cert.pem,
 *                    server-cert.pem and server-key.pem, and a client
 *                    needs a certificate signed by that CA
 *   --tls-psk DIR    --object tls-creds-psk,id=tls0,endpoint=server,
 *                    dir=DIR: DIR/keys.psk holds "username:hexkey" lines,
 *                    one per client allowed
 *   --tls-authz ID   --object authz-simple,id=authz0,identity=ID and
 *                    --tls-authz=authz0: only the client certificate
 *                    whose distinguished name is ID (qemu-nbd checks
 *                    x509 names only, not PSK usernames)
 *
 * each with --tls-creds=tls0.  A Unix socket needs no TLS: it is made
 * mode 0600 (qemu-nbd runs under umask 0177), so only its owner (root)
 * connects.
 *
 * By default qemu-nbd forks off the server and exits once it listens, and
 * so does cbwctl, printing the NBD URI; its messages go to a temporary
 * file, so that a failure is one line.  With --foreground cbwctl becomes
 * qemu-nbd (exec).
 */

#define _GNU_SOURCE		/* O_TMPFILE */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"
#include "nbdaddr.h"

extern char **environ;

#define QEMU_NBD	"qemu-nbd"

enum {
	OPT_NBD = 256,
	OPT_FOREGROUND,
	OPT_PERSISTENT,
	OPT_PID_FILE,
	OPT_TLS_X509,
	OPT_TLS_PSK,
	OPT_TLS_AUTHZ,
	OPT_INSECURE,
};

/* The longest --tls-authz IDENTITY. */
#define IDENTITY_MAX	1024

/* The umask qemu-nbd creates a Unix socket under: mode 0600. */
#define SOCKET_UMASK	0177

struct export_opts {
	const char *name;	/* the cbw device */
	const char *nbd;	/* SOCKET or HOST:PORT as given */
	struct nbd_addr addr;
	bool foreground;
	bool persistent;	/* serve on after the last client left */
	const char *pid_file;
	const char *tls_option;	/* "--tls-x509", "--tls-psk" or NULL */
	char tls_dir[PATH_MAX];	/* its DIR, absolute */
	const char *authz;	/* --tls-authz IDENTITY */
	bool insecure;		/* plain TCP asked for */
};

/* The most arguments export gives qemu-nbd, NULL included. */
#define MAX_ARGS	20

/* The longest "--opt=value" word, a value with every ',' doubled. */
#define OPT_MAX		(2 * PATH_MAX + 64)
#define NR_OPTS		6

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
 * @value for a qemu option list ("key=value,..."): every ',' doubled.
 * @buf needs 2 * strlen(@value) + 1 bytes.
 */
static const char *opt_value(const char *value, char *buf)
{
	char *p = buf;

	for (; *value; value++) {
		*p++ = *value;
		if (*value == ',')
			*p++ = ',';
	}
	*p = '\0';
	return buf;
}

/*
 * The arguments of qemu-nbd.  @opt holds the "--opt=value" words, so that
 * they live as long as @argv.
 */
static void make_args(const struct export_opts *o, const struct cbw_info *sd,
		      const char *prog, char opt[NR_OPTS][OPT_MAX],
		      char *argv[MAX_ARGS])
{
	char value[2 * PATH_MAX + 1];
	int n = 0;

	argv[n++] = (char *)prog;
	argv[n++] = "--format=raw";
	argv[n++] = "--cache=none";
	argv[n++] = "--discard=unmap";
	if (sd->snap_read_only)
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
	if (o->tls_option) {
		bool psk = !strcmp(o->tls_option, "--tls-psk");

		snprintf(opt[4], sizeof(opt[4]), "%s,id=tls0,endpoint=server,dir=%s%s",
			 psk ? "tls-creds-psk" : "tls-creds-x509",
			 opt_value(o->tls_dir, value), psk ? "" : ",verify-peer=on");
		argv[n++] = "--object";
		argv[n++] = opt[4];
		argv[n++] = "--tls-creds=tls0";
	}
	if (o->authz) {
		snprintf(opt[5], sizeof(opt[5]), "authz-simple,id=authz0,identity=%s",
			 opt_value(o->authz, value));
		argv[n++] = "--object";
		argv[n++] = opt[5];
		argv[n++] = "--tls-authz=authz0";
	}
	snprintf(opt[3], sizeof(opt[3]), "%s", sd->snap_node);	/* outlives @sd */
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
	if (nbd_addr_uri(&o->addr, o->tls_option != NULL, uri, sizeof(uri)))
		printf("%s\n", uri);
	return CBW_EXIT_OK;
}

static int export(const struct export_opts *o)
{
	char prog[PATH_MAX], opt[NR_OPTS][OPT_MAX], *argv[MAX_ARGS];
	struct cbw_info *sd;
	mode_t mask = 0;
	int r;

	if (!find_program(QEMU_NBD, prog, sizeof(prog))) {
		msg_error("%s not found in PATH (Debian: apt-get install qemu-utils)",
			  QEMU_NBD);
		return CBW_EXIT_FAILED;
	}
	/* Large (its paths): on the heap. */
	sd = malloc(sizeof(*sd));
	if (!sd) {
		msg_error("out of memory");
		return CBW_EXIT_FAILED;
	}
	r = cbw_snapshot_device(o->name, false, sd);
	if (r < 0) {
		free(sd);
		return msg_lib_error(r);
	}
	make_args(o, sd, prog, opt, argv);
	free(sd);
	/*
	 * qemu-nbd gets none of our descriptors but 0-2 (libdevmapper's
	 * control device is not opened close-on-exec).  Without
	 * CLOSE_RANGE_CLOEXEC (before Linux 5.11) they leak, harmlessly.
	 */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/*
	 * qemu-nbd makes the socket with mode 0777 less its umask: under
	 * ours it is 0600 from the start, with no window for a chmod.
	 */
	if (o->addr.socket)
		mask = umask(SOCKET_UMASK);
	if (!o->foreground) {
		r = spawn_server(o, argv);
		if (o->addr.socket)
			umask(mask);
		return r;
	}
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
	{ "tls-x509", required_argument, NULL, OPT_TLS_X509 },
	{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
	{ "tls-authz", required_argument, NULL, OPT_TLS_AUTHZ },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	HELP_OPTION,
	OPTIONS_END
};

/* --tls-x509 DIR or --tls-psk DIR: a folder, kept as an absolute path. */
static int tls_dir_option(const struct command *cmd, struct export_opts *o,
			  const char *option, const char *arg)
{
	char path[PATH_MAX];
	struct stat st;

	if (o->tls_option && strcmp(o->tls_option, option))
		return usage_error(cmd, "%s and %s do not go together",
				   o->tls_option, option);
	if (!*arg)
		return usage_error(cmd, "%s needs a DIR", option);
	if (!realpath(arg, path) || stat(path, &st))
		return usage_error(cmd, "cannot use %s '%s': %s", option, arg,
				   strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return usage_error(cmd, "invalid %s '%s': not a folder", option,
				   arg);
	o->tls_option = option;
	memcpy(o->tls_dir, path, sizeof(path));
	return CBW_EXIT_OK;
}

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
	case OPT_TLS_X509:
		return tls_dir_option(cmd, o, "--tls-x509", arg);
	case OPT_TLS_PSK:
		return tls_dir_option(cmd, o, "--tls-psk", arg);
	case OPT_TLS_AUTHZ:
		if (!*arg)
			return usage_error(cmd, "--tls-authz needs an IDENTITY");
		if (strlen(arg) > IDENTITY_MAX)
			return usage_error(cmd, "--tls-authz IDENTITY too long");
		o->authz = arg;
		return CBW_EXIT_OK;
	case OPT_INSECURE:
		o->insecure = true;
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
	if (o->addr.socket && (o->tls_option || o->insecure))
		return usage_error(cmd, "%s is for TCP: a Unix socket export needs no TLS (its socket is mode 0600)",
				   o->tls_option ? o->tls_option : "--insecure");
	if (o->tls_option && o->insecure)
		return usage_error(cmd, "%s and --insecure do not go together",
				   o->tls_option);
	if (o->authz && (!o->tls_option || strcmp(o->tls_option, "--tls-x509")))
		return usage_error(cmd, "--tls-authz needs --tls-x509 DIR (with --tls-psk DIR, the users in DIR/keys.psk are the clients allowed)");
	if (!o->addr.socket && !o->tls_option && !o->insecure)
		return usage_error(cmd, "a TCP export needs TLS (--tls-x509 DIR or --tls-psk DIR), or --insecure for plain NBD");
	return export(o);
}

const struct command cmd_export = {
	.name = "export",
	.args = "NAME --nbd SOCKET|HOST:PORT [--tls-x509 DIR [--tls-authz IDENTITY] | --tls-psk DIR | --insecure] [--persistent] [--pid-file FILE] [--foreground]",
	.help = "serve the snapshot of NAME over NBD (qemu-nbd)",
	.details =
"Serve NAME-snap, the snapshot of the cbw device NAME, as an NBD export\n"
"with qemu-nbd (from qemu-utils), for a backup server to pull.  The export\n"
"has the default (empty) name.  Reads of chunks outside the snapshot fail;\n"
"writes fail; a TRIM (discard) of whole chunks makes them leave the\n"
"snapshot, which frees their COW space, as backup --discard-behind does.\n"
"qemu-nbd reads with direct I/O.  Once qemu-nbd listens, cbwctl prints the\n"
"NBD URI (nbd+unix:///?socket=SOCKET, or for TCP nbds://HOST:PORT with\n"
"TLS, nbd://HOST:PORT with --insecure) and exits; qemu-nbd serves one\n"
"client at a time and, unless --persistent, exits when the first client\n"
"disconnects.  While it runs, NAME cannot be removed.\n"
"\n"
"Options:\n"
"  --nbd SOCKET     listen on the Unix socket SOCKET: a path with a '/'\n"
"                   (./nbd.sock for one in the current folder), made\n"
"                   mode 0600: only its owner connects; no TLS\n"
"  --nbd HOST:PORT  listen on TCP: HOST is a name or an address, [ADDR]\n"
"                   for IPv6, 0.0.0.0 for every interface; it needs\n"
"                   --tls-x509, --tls-psk or --insecure\n"
"  --tls-x509 DIR   TLS with x509 certificates: DIR holds ca-cert.pem,\n"
"                   server-cert.pem and server-key.pem; a client must\n"
"                   show a certificate signed by that CA\n"
"  --tls-authz IDENTITY  with --tls-x509: serve only the client whose\n"
"                   certificate has the distinguished name IDENTITY, as\n"
"                   GnuTLS writes it (O=Example,CN=backup)\n"
"  --tls-psk DIR    TLS with pre-shared keys: DIR/keys.psk has a line\n"
"                   USERNAME:HEXKEY for each client allowed\n"
"  --insecure       plain TCP: anyone who reaches the port can read the\n"
"                   snapshot and discard from it\n"
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
