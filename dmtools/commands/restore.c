// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl restore: write the whole image of a backup (one image, or the
 * newest of a qcow2 chain, whose backing files fill in what it does not
 * hold) to a block device or a raw file, with the progress bar of backup.
 * The image is read through qemu-nbd and libnbd (nbdimg.h): QEMU resolves
 * the chain, cbwctl parses no image format.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <libcbw.h>

#include "cmd.h"
#include "msg.h"
#include "nbdimg.h"
#include "nbdlib.h"
#include "progress.h"

#define RESTORE_IO	(4U << 20)
#define ZERO_BLOCK	4096

enum {
	OPT_FORCE = 256,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
};

struct restore_opts {
	bool force;
	int progress;		/* 0 auto, 1 on, -1 off */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static void set_signals(bool on)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on ? on_signal : SIG_DFL;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static bool is_zero(const unsigned char *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/*
 * Open the target for @size bytes: a block device at least that large
 * (exclusively: not mounted, not in use), or a regular file, made or
 * (with --force) emptied, then of @size bytes of holes.  Return the fd,
 * or -(exit code) after saying why.
 */
static int open_target(const char *path, uint64_t size, bool force,
		       bool *blockdev)
{
	uint64_t dev_size;
	struct stat st;
	int fd;

	*blockdev = !stat(path, &st) && S_ISBLK(st.st_mode);
	if (*blockdev) {
		fd = open(path, O_WRONLY | O_EXCL | O_CLOEXEC);
		if (fd < 0) {
			msg_error("cannot open %s: %s", path,
				  errno == EBUSY ? "it is in use (mounted, or a device is on it)" :
				  strerror(errno));
			return errno == EBUSY ? -CBW_EXIT_BUSY : -CBW_EXIT_DEVICE;
		}
		if (ioctl(fd, BLKGETSIZE64, &dev_size) || dev_size < size) {
			msg_error("%s is smaller than the image (%llu bytes)",
				  path, (unsigned long long)size);
			close(fd);
			return -CBW_EXIT_DEVICE;
		}
		return fd;
	}
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		msg_error("%s is neither a block device nor a regular file", path);
		return -CBW_EXIT_DEVICE;
	}
	if (!stat(path, &st) && st.st_size && !force) {
		msg_error("%s exists (--force overwrites it)", path);
		return -CBW_EXIT_BUSY;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 0) || ftruncate(fd, size)) {
		msg_error("cannot make %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -CBW_EXIT_FAILED;
	}
	return fd;
}

/* Write @len bytes at @off: zero blocks of a file stay holes. */
static int put(int fd, bool blockdev, const unsigned char *p, size_t len,
	       uint64_t off)
{
	size_t pos = 0, n;
	uint64_t range[2];
	ssize_t w;

	while (pos < len) {
		n = len - pos < ZERO_BLOCK ? len - pos : ZERO_BLOCK;
		if (is_zero(p + pos, n)) {
			range[0] = off + pos;
			range[1] = n;
			/* A device's zeroes: BLKZEROOUT, else written. */
			if (!blockdev || !ioctl(fd, BLKZEROOUT, range)) {
				pos += n;
				continue;
			}
		}
		w = pwrite(fd, p + pos, n, off + pos);
		if (w != (ssize_t)n)
			return -1;
		pos += n;
	}
	return 0;
}

static int restore(const char *image, const char *target,
		   const struct restore_opts *o)
{
	char format[32], err[1024], label[160];
	struct nbd_handle *h = NULL;
	struct progress bar;
	uint64_t size, pos = 0;
	unsigned char *buf;
	bool blockdev, on;
	size_t len;
	int fd, r = CBW_EXIT_FAILED;

	if (img_info(image, format, sizeof(format), &size, err, sizeof(err))) {
		msg_error("cannot read the image %s: %s", image, err);
		return CBW_EXIT_USAGE;
	}
	buf = malloc(RESTORE_IO);
	if (!buf) {
		msg_error("out of memory");
		return CBW_EXIT_FAILED;
	}
	fd = open_target(target, size, o->force, &blockdev);
	if (fd < 0) {
		free(buf);
		return -fd;
	}
	h = img_nbd_open(image, format, true, err, sizeof(err));
	if (!h) {
		msg_error("%s", err);
		goto out;
	}
	snprintf(label, sizeof(label), "restore %s", target);
	on = o->progress > 0 || (!o->progress && isatty(STDERR_FILENO));
	interrupted = 0;
	set_signals(true);
	progress_start(&bar, on, label, size);
	for (pos = 0; pos < size; pos += len) {
		if (interrupted) {
			msg_error("interrupted by signal %d", (int)interrupted);
			break;
		}
		len = size - pos < RESTORE_IO ? size - pos : RESTORE_IO;
		if (nbdlib.pread(h, buf, len, pos, 0) == -1) {
			msg_error("cannot read %s at byte %llu: %s", image,
				  (unsigned long long)pos, nbdlib.get_error());
			break;
		}
		if (put(fd, blockdev, buf, len, pos)) {
			msg_error("cannot write %s at byte %llu: %s", target,
				  (unsigned long long)pos, strerror(errno));
			break;
		}
		progress_update(&bar, pos + len);
	}
	progress_end(&bar);
	set_signals(false);
	if (pos < size) {
		msg_error("%s is only partly written (%llu of %llu bytes)",
			  target, (unsigned long long)pos,
			  (unsigned long long)size);
		goto out;
	}
	if (fsync(fd)) {
		msg_error("cannot sync %s: %s", target, strerror(errno));
		goto out;
	}
	if (on)
		fprintf(stderr, "%s: %llu bytes of %s (%s)\n", label,
			(unsigned long long)size, image, format);
	r = CBW_EXIT_OK;
out:
	if (h) {
		nbdlib.shutdown(h, 0);
		nbdlib.close(h);
	}
	if (close(fd) && !r) {
		msg_error("cannot write %s: %s", target, strerror(errno));
		r = CBW_EXIT_FAILED;
	}
	free(buf);
	return r;
}

static const struct option restore_options[] = {
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	HELP_OPTION,
	OPTIONS_END
};

static int restore_option(const struct command *cmd, void *opts, int opt,
			  const char *arg)
{
	struct restore_opts *o = opts;

	(void)arg;
	switch (opt) {
	case OPT_FORCE:
		o->force = true;
		return CBW_EXIT_OK;
	case OPT_PROGRESS:
		o->progress = 1;
		return CBW_EXIT_OK;
	case OPT_NO_PROGRESS:
		o->progress = -1;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int restore_run(const struct command *cmd, void *opts, char **args,
		       int nargs)
{
	(void)nargs;
	if (!*args[0] || !*args[1])
		return usage_error(cmd, "IMAGE and TARGET must not be empty");
	return restore(args[0], args[1], opts);
}

const struct command cmd_restore = {
	.name = "restore",
	.args = "IMAGE TARGET [--force] [--progress|--no-progress]",
	.help = "write the whole image of a backup (chain) to a device or file",
	.details =
"Write the whole image IMAGE holds to TARGET: a raw image of cbwctl\n"
"backup, or the newest qcow2 image of a chain of 'cbwctl backup\n"
"--incremental', whose backing files (the older backups) fill in the chunks\n"
"it does not hold.  IMAGE is read through qemu-nbd (qemu-utils), its\n"
"format asked of qemu-img, never guessed.\n"
"\n"
"TARGET is a block device at least as large as the image (opened\n"
"exclusively: not mounted, not in use; zero blocks are zeroed with\n"
"BLKZEROOUT) or a raw file, made if missing, as large as the image and\n"
"sparse (zero blocks are holes).  An existing non-empty file needs\n"
"--force.  TARGET is synced at the end.  If the restore fails or is\n"
"interrupted, TARGET is left partly written (exit 1).\n"
"\n"
"Options:\n"
"  --force          overwrite an existing non-empty TARGET file\n"
"  --progress       show a progress bar on stderr, and a summary at the end\n"
"                   (default when stderr is a terminal)\n"
"  --no-progress    no progress bar\n"
"  -h, --help       show this help\n",
	.min_args = 2,
	.max_args = 2,
	.options = restore_options,
	.opts_size = sizeof(struct restore_opts),
	.set_option = restore_option,
	.fn = restore_run,
};
