// SPDX-License-Identifier: GPL-2.0
/*
 * The tag of an incremental image; see imgtag.h.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "imgtag.h"

/* Is @s a tracking uuid (8-4-4-4-12 lower-case hex)? */
static bool uuid_ok(const char *s)
{
	size_t i;

	if (strlen(s) != CBW_TRACK_UUID_LEN)
		return false;
	for (i = 0; i < CBW_TRACK_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* "KEY VALUE\n" at *p: the value into @val, *p past the line. */
static bool take_line(const char **p, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key), vlen;
	const char *nl;

	if (strncmp(*p, key, klen) || (*p)[klen] != ' ')
		return false;
	nl = strchr(*p + klen + 1, '\n');
	if (!nl)
		return false;
	vlen = nl - (*p + klen + 1);
	if (!vlen || vlen >= len)
		return false;
	memcpy(val, *p + klen + 1, vlen);
	val[vlen] = '\0';
	*p = nl + 1;
	return true;
}

static bool take_number(const char **p, const char *key, uint64_t *v)
{
	char val[32];

	return take_line(p, key, val, sizeof(val)) &&
	       !cbw_decimal_parse(val, UINT64_MAX, v);
}

const char *imgtag_parse(const char *text, struct imgtag *t)
{
	const char *p = text;
	char val[48];

	memset(t, 0, sizeof(*t));
	if (strncmp(p, "cbw-track-image 1\n", 18))
		return "not a cbw-track-image 1 tag";
	p += 18;
	if (!take_line(&p, "uuid", val, sizeof(val)) || !uuid_ok(val))
		return "expected uuid and a tracking uuid";
	memcpy(t->uuid, val, sizeof(t->uuid));
	if (!take_number(&p, "generation", &t->generation) || !t->generation)
		return "expected generation and a number of at least 1";
	if (!take_number(&p, "chunk-sectors", &t->chunk_sectors) ||
	    t->chunk_sectors < 8 || (t->chunk_sectors & (t->chunk_sectors - 1)))
		return "expected chunk-sectors and a power of two of at least 8";
	if (!take_number(&p, "device-sectors", &t->device_sectors) ||
	    !t->device_sectors)
		return "expected device-sectors and a number of at least 1";
	if (!take_line(&p, "complete", val, sizeof(val)) ||
	    (strcmp(val, "yes") && strcmp(val, "no")))
		return "expected complete yes or complete no";
	t->complete = !strcmp(val, "yes");
	if (*p)
		return "something follows the complete line";
	return NULL;
}

void imgtag_format(const struct imgtag *t, char *buf, size_t len)
{
	snprintf(buf, len,
		 "cbw-track-image 1\nuuid %s\ngeneration %llu\nchunk-sectors %llu\ndevice-sectors %llu\ncomplete %s\n",
		 t->uuid, (unsigned long long)t->generation,
		 (unsigned long long)t->chunk_sectors,
		 (unsigned long long)t->device_sectors,
		 t->complete ? "yes" : "no");
}

int imgtag_read(const char *image, struct imgtag *t, char *err, size_t err_len)
{
	char *path = NULL, text[512];
	const char *why;
	ssize_t n;
	int fd, r = 0;

	if (asprintf(&path, "%s" IMGTAG_SUFFIX, image) < 0) {
		snprintf(err, err_len, "out of memory");
		return -EIO;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? -ENOENT : -EIO;
		snprintf(err, err_len, "cannot open %s: %s", path,
			 strerror(errno));
		goto out;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, err_len, "cannot read %s: %s", path,
			 strerror(errno));
		r = -EIO;
		goto out;
	}
	text[n] = '\0';
	why = strlen(text) != (size_t)n ? "a NUL byte" : imgtag_parse(text, t);
	if (why) {
		snprintf(err, err_len, "%s: %s", path, why);
		r = -EINVAL;
	}
out:
	free(path);
	return r;
}

int imgtag_write(const char *image, const struct imgtag *t, char *err,
		 size_t err_len)
{
	char *path = NULL, *tmp = NULL, *copy = NULL, text[256];
	int fd = -1, r = -1;
	size_t len;

	if (asprintf(&path, "%s" IMGTAG_SUFFIX, image) < 0 ||
	    asprintf(&tmp, "%s.tmp", path) < 0 || !(copy = strdup(image))) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	imgtag_format(t, text, sizeof(text));
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) ||
	    close(fd)) {
		snprintf(err, err_len, "cannot write %s: %s", tmp,
			 strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		snprintf(err, err_len, "cannot rename %s to %s: %s", tmp, path,
			 strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		snprintf(err, err_len, "cannot sync the folder of %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	r = 0;
out:
	free(path);
	free(tmp);
	free(copy);
	return r;
}

const char *imgtag_continues(const struct imgtag *prev, const char *uuid,
			     uint64_t set_generation)
{
	if (strcmp(prev->uuid, uuid))
		return "it is a backup of another tracking history";
	if (prev->generation + 1 == set_generation)
		return NULL;
	/*
	 * The same generation: its set was not committed (--sync never, or a
	 * commit that failed), so the new set holds all of its chunks again.
	 */
	if (prev->generation == set_generation)
		return NULL;
	if (prev->generation >= set_generation)
		return "it is of a later generation than the snapshot";
	return "a backup between it and the snapshot is missing from the chain";
}
