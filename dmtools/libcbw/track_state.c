// SPDX-License-Identifier: GPL-2.0
/*
 * The state file of change tracking; see track.h for the format.
 *
 * The parser takes the text one line at a time: each line must be exactly
 * what its place asks for ("<key> <value>\n", single spaces, no extra
 * words), numbers plain decimal digits.  Anything else refuses the whole
 * file: a damaged file must start a new history, never restore a wrong set.
 */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "size.h"
#include "status_line.h"
#include "track.h"

/* A cursor over the text: the current line and what is left. */
struct cursor {
	const char *p;
	const char *end;
	unsigned int line;
	char buf[96];		/* the current line, '\0'-terminated */
};

/* Take the next line into c->buf; false at the end, or a line too long or without '\n'. */
static bool next_line(struct cursor *c, const char **why)
{
	const char *nl;
	size_t len;

	c->line++;
	if (c->p >= c->end) {
		*why = "the file ends before 'end'";
		return false;
	}
	nl = memchr(c->p, '\n', c->end - c->p);
	if (!nl) {
		*why = "the last line does not end with a newline";
		return false;
	}
	len = nl - c->p;
	if (len >= sizeof(c->buf) || memchr(c->p, '\0', len)) {
		*why = "a line too long or holding a NUL byte";
		return false;
	}
	memcpy(c->buf, c->p, len);
	c->buf[len] = '\0';
	c->p = nl + 1;
	return true;
}

/* The value of "<key> <value>" in c->buf; NULL if the key differs. */
static const char *value_of(const struct cursor *c, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(c->buf, key, n) || c->buf[n] != ' ' || !c->buf[n + 1])
		return NULL;
	return c->buf + n + 1;
}

/* "<key> <decimal number>", the number at most @max. */
static bool number_line(struct cursor *c, const char *key, uint64_t max,
			uint64_t *v, const char **why)
{
	const char *val;

	if (!next_line(c, why))
		return false;
	val = value_of(c, key);
	if (!val || cbw_decimal_parse(val, max, v)) {
		*why = "expected the next key and a decimal number";
		return false;
	}
	return true;
}

/* "N" or "N-M": one run of chunks. */
static bool parse_run(const char *s, struct chunk_run *run)
{
	if (decimal_take(&s, UINT64_MAX, &run->first))
		return false;
	run->last = run->first;
	if (*s == '-') {
		s++;
		if (decimal_take(&s, UINT64_MAX, &run->last))
			return false;
	}
	return !*s && run->first <= run->last;
}

/* The ranges after "changed N", up to and including "end". */
static const char *parse_ranges(struct cursor *c, struct track_state *ts,
				uint64_t chunks, uint64_t count)
{
	struct chunk_run run;
	uint64_t sum = 0, lowest = 0;
	const char *why;

	for (;;) {
		if (!next_line(c, &why))
			return why;
		if (!strcmp(c->buf, "end"))
			break;
		if (!ts->clean)
			return "ranges in an active file";
		if (!parse_run(c->buf, &run))
			return "expected a range N or N-M, or 'end'";
		if (run.first < lowest)
			return "ranges out of order, overlapping or touching";
		if (run.last >= chunks)
			return "a range past the device's last chunk";
		if (!runs_add(&ts->runs, run.first, run.last))
			return "out of memory";
		sum += run.last - run.first + 1;
		lowest = run.last + 2;	/* touching runs are one run */
	}
	if (sum != count)
		return "the ranges do not hold the chunks 'changed' counts";
	if (c->p != c->end) {
		c->line++;
		return "something follows 'end'";
	}
	return NULL;
}

const char *track_state_parse(const char *text, size_t len,
			      struct track_state *ts, unsigned int *line)
{
	struct cursor c = { .p = text, .end = text + len };
	uint64_t chunks, count;
	const char *why, *val;

	memset(ts, 0, sizeof(*ts));
	*line = 0;
	if (!next_line(&c, &why))
		goto bad;
	if (strcmp(c.buf, TRACK_STATE_MAGIC)) {
		why = strncmp(c.buf, "cbw-track-state ", 16) ?
		      "not a dm-cbw tracking state file" :
		      "a version of the format this cbwctl does not know";
		goto bad;
	}
	if (!next_line(&c, &why))
		goto bad;
	val = value_of(&c, "uuid");
	if (!val || !track_uuid_valid(val)) {
		why = "expected uuid and a tracking uuid";
		goto bad;
	}
	memcpy(ts->uuid, val, CBW_TRACK_UUID_LEN + 1);
	if (!number_line(&c, "generation", UINT64_MAX, &ts->generation, &why))
		goto bad;
	if (!ts->generation) {
		why = "generation 0";
		goto bad;
	}
	if (!number_line(&c, "chunk-sectors", UINT64_MAX, &ts->chunk_sectors,
			 &why))
		goto bad;
	if (ts->chunk_sectors < 8 ||
	    (ts->chunk_sectors & (ts->chunk_sectors - 1))) {
		why = "the chunk size is not a power of two of at least 8 sectors";
		goto bad;
	}
	if (!number_line(&c, "device-sectors", UINT64_MAX, &ts->device_sectors,
			 &why))
		goto bad;
	if (!ts->device_sectors) {
		why = "a device of 0 sectors";
		goto bad;
	}
	if (!next_line(&c, &why))
		goto bad;
	val = value_of(&c, "state");
	if (!val || (strcmp(val, "clean") && strcmp(val, "active"))) {
		why = "expected state clean or state active";
		goto bad;
	}
	ts->clean = !strcmp(val, "clean");
	chunks = ts->device_sectors / ts->chunk_sectors +
		 !!(ts->device_sectors % ts->chunk_sectors);
	if (!number_line(&c, "changed", chunks, &count, &why)) {
		if (!strcmp(why, "expected the next key and a decimal number"))
			why = "expected changed and a number of chunks (at most the device's)";
		goto bad;
	}
	why = parse_ranges(&c, ts, chunks, count);
	if (!why)
		return NULL;
bad:
	*line = c.line;
	return why;
}

/* printf into a growing buffer; false when out of memory. */
__attribute__((format(printf, 3, 4)))
static bool add(char **buf, size_t *len, const char *fmt, ...)
{
	size_t room = *len + 128;
	char *b = realloc(*buf, room);
	va_list ap;
	int n;

	if (!b)
		return false;
	*buf = b;
	va_start(ap, fmt);
	n = vsnprintf(b + *len, room - *len, fmt, ap);
	va_end(ap);
	*len += n;
	return true;
}

char *track_state_format(const struct track_state *ts, size_t *len)
{
	uint64_t count = ts->clean ? runs_chunks(&ts->runs) : 0;
	char *buf = NULL;
	size_t i;
	bool ok;

	*len = 0;
	ok = add(&buf, len, TRACK_STATE_MAGIC "\nuuid %s\n", ts->uuid) &&
	     add(&buf, len, "generation %llu\n",
		 (unsigned long long)ts->generation) &&
	     add(&buf, len, "chunk-sectors %llu\n",
		 (unsigned long long)ts->chunk_sectors) &&
	     add(&buf, len, "device-sectors %llu\n",
		 (unsigned long long)ts->device_sectors) &&
	     add(&buf, len, "state %s\nchanged %llu\n",
		 ts->clean ? "clean" : "active", (unsigned long long)count);
	for (i = 0; ok && ts->clean && i < ts->runs.nr; i++) {
		const struct chunk_run *r = &ts->runs.run[i];

		if (r->first == r->last)
			ok = add(&buf, len, "%llu\n",
				 (unsigned long long)r->first);
		else
			ok = add(&buf, len, "%llu-%llu\n",
				 (unsigned long long)r->first,
				 (unsigned long long)r->last);
	}
	ok = ok && add(&buf, len, "end\n");
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

int track_state_read(const char *path, struct track_state *ts, char *why,
		     size_t why_len)
{
	const char *bad;
	unsigned int line;
	struct stat st;
	char *text;
	size_t done = 0;
	ssize_t n;
	int fd, r = 0;

	memset(ts, 0, sizeof(*ts));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open %s: %s", path,
			 strerror(errno));
		return errno == ENOENT ? -ENOENT : -EIO;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > TRACK_STATE_MAX) {
		snprintf(why, why_len, "%s is not a regular file of at most 256 MiB",
			 path);
		close(fd);
		return -EINVAL;
	}
	text = malloc(st.st_size + 1);
	if (!text) {
		snprintf(why, why_len, "out of memory");
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		n = read(fd, text + done, st.st_size - done);
		if (n <= 0) {
			snprintf(why, why_len, "cannot read %s: %s", path,
				 n ? strerror(errno) : "it got shorter");
			r = -EIO;
			goto out;
		}
		done += n;
	}
	bad = track_state_parse(text, done, ts, &line);
	if (bad) {
		snprintf(why, why_len, "%s, line %u: %s", path, line, bad);
		r = -EINVAL;
	}
out:
	free(text);
	close(fd);
	return r;
}

/* Write all of @buf to @fd; false on an error (errno set). */
static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return false;
		}
		buf += n;
		len -= n;
	}
	return true;
}

/* fsync the folder that holds @path, so that a rename in it lasts. */
static int sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int track_state_write(const char *path, const struct track_state *ts)
{
	size_t len, plen = strlen(path);
	char *text, *tmp;
	int fd, r = -EIO;

	text = track_state_format(ts, &len);
	tmp = malloc(plen + 5);
	if (!text || !tmp) {
		lib_error("out of memory");
		free(text);
		free(tmp);
		return -ENOMEM;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		lib_error("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (!write_all(fd, text, len) || fsync(fd)) {
		lib_error("cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd)) {
		lib_error("cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		lib_error("cannot rename %s to %s: %s", tmp, path,
			  strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = sync_dir_of(path);
	if (r) {
		lib_error("%s was written, but its folder could not be synced: %s",
			  path, strerror(-r));
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	free(text);
	free(tmp);
	return r;
}

uint64_t track_set_bytes(uint64_t count, bool has_last, uint64_t chunks,
			 uint64_t chunk_bytes, uint64_t size_bytes)
{
	uint64_t tail;

	if (!count || !chunks)
		return 0;
	tail = size_bytes - (chunks - 1) * chunk_bytes;	/* the last chunk's */
	if (has_last)
		return (count - 1) * chunk_bytes + tail;
	return count * chunk_bytes;
}
