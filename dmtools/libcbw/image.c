// SPDX-License-Identifier: GPL-2.0
/*
 * The image file of a backup; see image.h.
 */

#define _GNU_SOURCE		/* fallocate(), mkostemp(), renameat2() */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "image.h"
#include "error.h"

/*
 * Offsets into an image pass 4 GiB: a 32-bit off_t would wrap them into
 * the wrong place (the Makefile asks for 64-bit file offsets).
 */
_Static_assert(sizeof(off_t) == 8, "off_t must be 64-bit (_FILE_OFFSET_BITS=64)");

/* Zeros for the gaps of a stream. */
static const unsigned char zeros[64 << 10];

__attribute__((format(printf, 2, 3)))
static int fail(struct image *im, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(im->err, sizeof(im->err), fmt, ap);
	va_end(ap);
	return -EIO;
}

/* The image's name in messages. */
static const char *name(const struct image *im)
{
	return im->stream ? "standard output" : im->path;
}

/* pwrite() (or write() if @off is -1) of all @len bytes; 0 or an errno. */
static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (!n)
			return EIO;
		p += n;
		len -= n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

/* A stream: zeros up to @off. */
static int stream_fill(struct image *im, uint64_t off)
{
	int err;

	while (im->pos < off) {
		size_t n = off - im->pos < sizeof(zeros) ? off - im->pos :
			   sizeof(zeros);

		err = write_all(im->fd, zeros, n, -1);
		if (err)
			return fail(im, "cannot write the image to %s: %s",
				    name(im), strerror(err));
		im->pos += n;
	}
	return 0;
}

static int open_stream(struct image *im)
{
	struct stat st;

	im->stream = true;
	im->fd = STDOUT_FILENO;
	if (isatty(im->fd)) {
		snprintf(im->err, sizeof(im->err),
			 "refusing to write the image to a terminal; redirect standard output");
		return -EINVAL;
	}
	if (fstat(im->fd, &st))
		return fail(im, "cannot check standard output: %s",
			    strerror(errno));
	im->syncable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
	return 0;
}

/* FILE must not exist, or be a regular file to replace with @force. */
static int check_target(struct image *im, bool force)
{
	struct stat st;

	if (stat(im->path, &st)) {
		if (errno == ENOENT)
			return 0;
		return fail(im, "cannot check the image %s: %s", im->path,
			    strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return fail(im, "%s exists and is not a regular file (for a device or a pipe use --to - and a redirection)",
			    im->path);
	if (!force) {
		snprintf(im->err, sizeof(im->err),
			 "the image %s exists (--force replaces it)", im->path);
		return -EBUSY;
	}
	return 0;
}

/* Make the temporary file ".NAME.XXXXXX" next to FILE, at its size. */
static int open_tmp(struct image *im)
{
	char *dup_dir = strdup(im->path), *dup_base = strdup(im->path);
	int r = -EIO;
	const char *dir, *base;

	if (!dup_dir || !dup_base) {
		fail(im, "out of memory");
		goto out;
	}
	dir = dirname(dup_dir);
	base = basename(dup_base);
	if (asprintf(&im->tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
		im->tmp = NULL;
		fail(im, "out of memory");
		goto out;
	}
	im->fd = mkostemp(im->tmp, O_CLOEXEC);
	if (im->fd < 0) {
		fail(im, "cannot create the image %s (a file in %s): %s",
		     im->path, dir, strerror(errno));
		goto out;
	}
	if (ftruncate(im->fd, im->bytes)) {
		fail(im, "cannot make the image %s %llu bytes large: %s",
		     im->path, (unsigned long long)im->bytes, strerror(errno));
		close(im->fd);
		unlink(im->tmp);
		goto out;
	}
	im->syncable = true;
	r = 0;
out:
	if (r) {
		free(im->tmp);
		im->tmp = NULL;
	}
	free(dup_dir);
	free(dup_base);
	return r;
}

int image_open(struct image *im, const char *path, uint64_t bytes,
	       bool force)
{
	int r;

	memset(im, 0, sizeof(*im));
	im->path = path;
	im->bytes = bytes;
	im->fd = -1;
	im->force = force;
	if (!strcmp(path, "-"))
		return open_stream(im);
	r = check_target(im, force);
	if (r)
		return r;
	return open_tmp(im);
}

int image_write(struct image *im, uint64_t off, const void *buf, size_t len)
{
	int err, r;

	if (!im->stream) {
		err = write_all(im->fd, buf, len, off);
		if (err)
			return fail(im, "cannot write the image %s: %s", im->path,
				    strerror(err));
		return 0;
	}
	if (off < im->pos)
		return fail(im, "internal error: stream written backwards");
	r = stream_fill(im, off);
	if (r)
		return r;
	err = write_all(im->fd, buf, len, -1);
	if (err)
		return fail(im, "cannot write the image to standard output: %s",
			    strerror(err));
	im->pos += len;
	return 0;
}

int image_fill(struct image *im, uint64_t off)
{
	if (!im->stream)
		return 0;	/* holes read as zeros already */
	return stream_fill(im, off < im->bytes ? off : im->bytes);
}

int image_punch(struct image *im, uint64_t off, uint64_t len)
{
	int err;

	if (im->stream)
		return 0;	/* sent already; see image.h */
	if (!fallocate(im->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       off, len))
		return 0;
	if (errno != EOPNOTSUPP)
		return fail(im, "cannot punch a hole into the image %s: %s",
			    im->path, strerror(errno));
	while (len) {		/* a file system without holes */
		size_t n = len < sizeof(zeros) ? len : sizeof(zeros);

		err = write_all(im->fd, zeros, n, off);
		if (err)
			return fail(im, "cannot write the image %s: %s",
				    im->path, strerror(err));
		off += n;
		len -= n;
	}
	return 0;
}

int image_sync(struct image *im)
{
	if (fdatasync(im->fd))
		return fail(im, "cannot sync the image %s: %s", name(im),
			    strerror(errno));
	return 0;
}

/* Rename the temporary file to FILE; without --force never replace one. */
static int rename_tmp(struct image *im)
{
	if (im->force) {
		if (!rename(im->tmp, im->path))
			return 0;
		return errno;
	}
	if (!renameat2(AT_FDCWD, im->tmp, AT_FDCWD, im->path, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	/* The file system cannot: link() does not replace either. */
	if (link(im->tmp, im->path))
		return errno;
	unlink(im->tmp);
	return 0;
}

/* Sync the folder of @path (FILE, or the temporary file next to it). */
static int sync_dir(const char *path)
{
	char *dup = strdup(path);
	int fd, err = 0;

	if (!dup)
		return ENOMEM;
	fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		err = errno;
	if (fd >= 0)
		close(fd);
	free(dup);
	return err;
}

int image_sync_entry(struct image *im)
{
	int err;

	if (im->stream || !im->tmp)
		return 0;	/* a stream, or committed: renamed and synced */
	err = sync_dir(im->tmp);
	if (err)
		return fail(im, "cannot sync the folder of the image %s: %s",
			    im->path, strerror(err));
	return 0;
}

static int commit_file(struct image *im)
{
	int err;

	err = fsync(im->fd) ? errno : 0;
	close(im->fd);
	im->fd = -1;
	if (err)
		return fail(im, "cannot sync the image %s: %s", im->path,
			    strerror(err));
	err = rename_tmp(im);
	if (err == EEXIST)
		return fail(im, "the image %s appeared while it was written (--force replaces it)",
			    im->path);
	if (err)
		return fail(im, "cannot rename the image to %s: %s", im->path,
			    strerror(err));
	free(im->tmp);
	im->tmp = NULL;
	err = sync_dir(im->path);	/* the rename durable */
	if (err)
		return fail(im, "the image %s is written, but syncing its folder failed: %s",
			    im->path, strerror(err));
	return 0;
}

int image_commit(struct image *im)
{
	if (im->stream)
		return stream_fill(im, im->bytes);
	return commit_file(im);
}

char *image_abort(struct image *im, bool keep)
{
	char *kept = NULL;

	if (im->stream)
		return NULL;
	if (im->fd >= 0)
		close(im->fd);
	im->fd = -1;
	if (im->tmp && keep)
		kept = im->tmp;
	else if (im->tmp)
		unlink(im->tmp);
	if (!kept)
		free(im->tmp);
	im->tmp = NULL;
	return kept;
}
