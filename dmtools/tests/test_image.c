// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of image.c in a temporary folder: a sparse image is written
 * and renamed into place, an existing image is kept without --force and
 * replaced with it, a failed image leaves nothing (or, when asked, its
 * temporary file), holes punched read zero, and a stream on standard
 * output gets every byte, zeros included.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "image.h"
#include "error.h"
#include "tap.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024)

static char dir[] = "/tmp/test_image.XXXXXX";

/* Files in the test folder, sorted names joined by ' '. */
static void listing(char *buf, size_t len)
{
	struct dirent **names;
	size_t k = 0;
	int n, i;

	buf[0] = '\0';
	n = scandir(dir, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
			k += snprintf(buf + k, len - k, "%s%s", k ? " " : "",
				      names[i]->d_name[0] == '.' ? ".tmp" :
				      names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

/* Does @path hold @len bytes of @byte at @off? */
static bool holds(const char *path, uint64_t off, size_t len, int byte)
{
	unsigned char *buf = malloc(len);
	bool ok = false;
	size_t i;
	int fd = open(path, O_RDONLY);

	if (fd >= 0 && buf && pread(fd, buf, len, off) == (ssize_t)len) {
		ok = true;
		for (i = 0; i < len; i++)
			ok &= buf[i] == byte;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

static void test_file(void)
{
	static unsigned char data[64 * 1024];
	char path[256], ls[256];
	struct image im;
	struct stat st;
	char *kept;
	int r;

	snprintf(path, sizeof(path), "%s/a.img", dir);
	memset(data, 0xab, sizeof(data));

	r = image_open(&im, path, 16 * MiB, false);
	tap_ok(!r, "open a new image");
	listing(ls, sizeof(ls));
	tap_ok(!strcmp(ls, ".tmp"), "it is a temporary file first: %s", ls);
	tap_ok(!image_write(&im, MiB, data, sizeof(data)) &&
	       !image_write(&im, 15 * MiB, data, sizeof(data)) &&
	       !image_write(&im, 0, data, 4096), "writes in any order");
	tap_ok(!image_punch(&im, 15 * MiB, 4096), "punch a hole");
	tap_ok(!image_commit(&im), "commit");
	listing(ls, sizeof(ls));
	tap_ok(!strcmp(ls, "a.img"), "renamed into place: %s", ls);
	tap_ok(!stat(path, &st) && st.st_size == (off_t)(16 * MiB) &&
	       (st.st_mode & 0777) == 0600, "16MiB, mode 0600");
	tap_ok((uint64_t)st.st_blocks * 512 < MiB, "sparse: %llu bytes allocated",
	       (unsigned long long)st.st_blocks * 512);
	tap_ok(holds(path, 0, 4096, 0xab) && holds(path, 4096, MiB - 4096, 0) &&
	       holds(path, MiB, 64 * KiB, 0xab) &&
	       holds(path, 15 * MiB, 4096, 0) &&
	       holds(path, 15 * MiB + 4096, 60 * KiB, 0xab) &&
	       holds(path, 15 * MiB + 64 * KiB, MiB - 64 * KiB, 0),
	       "data where written, zeros elsewhere and in the hole");

	r = image_open(&im, path, MiB, false);
	tap_ok(r == -EBUSY && strstr(im.err, "exists"),
	       "an existing image is refused without force (%d: %s)", r, im.err);
	r = image_open(&im, path, MiB, true);
	tap_ok(!r && !image_commit(&im), "and replaced with force");
	tap_ok(!stat(path, &st) && st.st_size == (off_t)MiB && holds(path, 0, MiB, 0),
	       "the new image replaced the old one");

	r = image_open(&im, dir, MiB, true);
	tap_ok(r == -EIO && strstr(im.err, "not a regular file"),
	       "a folder is refused even with force: %s", im.err);

	snprintf(path, sizeof(path), "%s/none/b.img", dir);
	r = image_open(&im, path, MiB, false);
	tap_ok(r == -EIO && strstr(im.err, "cannot create"),
	       "a missing folder: %s", im.err);

	snprintf(path, sizeof(path), "%s/b.img", dir);
	r = image_open(&im, path, MiB, false);
	tap_ok(!r && !image_write(&im, 0, data, 4096), "open and write b.img");
	kept = image_abort(&im, false);
	listing(ls, sizeof(ls));
	tap_ok(!kept && !strcmp(ls, "a.img"), "abort leaves nothing: %s", ls);

	r = image_open(&im, path, MiB, false);
	kept = image_abort(&im, true);
	listing(ls, sizeof(ls));
	tap_ok(!r && kept && strstr(kept, "/.b.img.") && !strcmp(ls, ".tmp a.img"),
	       "abort with keep keeps the temporary file %s", kept ? kept : "");
	if (kept)
		unlink(kept);
	free(kept);

	/* Created while written: not replaced without force. */
	r = image_open(&im, path, MiB, false);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	tap_ok(!r && image_commit(&im) == -EIO &&
	       strstr(im.err, "appeared"), "an image that appeared meanwhile: %s",
	       im.err);
	kept = image_abort(&im, false);
	listing(ls, sizeof(ls));
	tap_ok(!kept && !strcmp(ls, "a.img b.img"), "the temporary file is gone: %s",
	       ls);
}

static void test_stream(void)
{
	static unsigned char data[8192];
	char path[256];
	struct image im;
	struct stat st;
	int fd, saved, r, w1, w2, c;

	snprintf(path, sizeof(path), "%s/stream.img", dir);
	memset(data, 0x5a, sizeof(data));
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	r = image_open(&im, "-", MiB, false);
	w1 = image_write(&im, 4096, data, sizeof(data));
	w2 = image_write(&im, 64 * KiB, data, 4096);
	c = image_commit(&im);
	dup2(saved, STDOUT_FILENO);
	close(saved);

	tap_ok(!r && im.stream && im.syncable, "stream to a file: syncable");
	tap_ok(!w1 && !w2 && !c, "two writes and the end");
	tap_ok(!stat(path, &st) && st.st_size == (off_t)MiB, "every byte is there");
	tap_ok(holds(path, 0, 4096, 0) && holds(path, 4096, 8192, 0x5a) &&
	       holds(path, 12288, 64 * KiB - 12288, 0) &&
	       holds(path, 64 * KiB, 4096, 0x5a) &&
	       holds(path, 68 * KiB, MiB - 68 * KiB, 0),
	       "data in place, zeros between and after");
	unlink(path);
}

int main(void)
{
	char cmd[64];

	if (!mkdtemp(dir)) {
		tap_ok(false, "make a temporary folder");
		return tap_done();
	}
	test_file();
	test_stream();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		tap_diag("cannot remove %s", dir);
	return tap_done();
}
