// SPDX-License-Identifier: GPL-2.0
/*
 * test_stack_track - cbw_track(), cbw_untrack(), cbw_track_snapshot(),
 * cbw_track_commit() and cbw_release() of a track snapshot (stack.c,
 * track.c) on a fake device-mapper: dm.o and sysblock.o are this file's,
 * with a small model of the cbw target's tracking as the kernel interface
 * of issue 24 (notes/i24-spec.md) fixes it: a track table continues the
 * history of the live one, a track snapshot's first resume freezes the
 * changed set and starts the next generation, its replacement merges an
 * uncommitted set back (and the generation goes back), and the messages
 * track_add, track_id, track_map (two runs a reply, then "more"), map and
 * commit.  blockdev_probe() is wrapped (ld --wrap): the COW device is a
 * name.  Every call is logged, so the order of the steps can be checked.
 *
 * The scenario: track a linear volume of 1000 sectors (8 chunks of 128,
 * the last partial): a new history with every chunk changed; a track
 * snapshot freezes them, a commit and release forget them; a write goes
 * into the next generation; a snapshot released without a commit merges
 * back and the generation goes back; untrack --state reads the set while
 * the volume is suspended and writes the file only after the resume;
 * track --state continues the history (track_add, then track_id) and makes
 * the file active; an active file gives a new history; the refusals; and
 * the test hook's failures undo their steps.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <libcbw.h>

#include "chunk_runs.h"
#include "device.h"
#include "dm.h"
#include "error.h"
#include "sysblock.h"
#include "track.h"
#include "tap.h"

#define MAXDEV		8
#define MAXC		64
#define VOL_SECTORS	1000

struct ftable {
	bool present;
	char type[32];
	char params[256];
	uint64_t len;
};

struct fdev {
	bool used;
	char name[128];
	char uuid[130];
	unsigned int minor;
	bool suspended;
	struct ftable live, inact;
	/* The tracking of a live cbw table that tracks. */
	bool tracking, has_cow, fresh, has_set, committed;
	char tuuid[40];
	uint64_t gen, set_gen, chunk;
	bool changed[MAXC], pending[MAXC], snap[MAXC];
	/*
	 * The chunks marked since the history began: a new history counts
	 * every chunk as changed (@changed all set) until track_id, which
	 * leaves only these.
	 */
	bool marks[MAXC];
};

static struct fdev devs[MAXDEV];
static unsigned int next_minor, next_uuid;
static char oplog[16384];
static const char *state_path;
static int file_at_resume = -1;	/* the state file existed at a resume */

static void logop(const char *fmt, ...)
{
	size_t len = strlen(oplog);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(oplog + len, sizeof(oplog) - len, fmt, ap);
	va_end(ap);
	len = strlen(oplog);
	if (len + 1 < sizeof(oplog))
		strcat(oplog, ";");
}

static struct fdev *by_name(const char *name)
{
	int i;

	for (i = 0; i < MAXDEV; i++)
		if (devs[i].used && !strcmp(devs[i].name, name))
			return &devs[i];
	return NULL;
}

static struct fdev *add_dev(const char *name, const char *uuid,
			    const char *type, const char *params, uint64_t len)
{
	int i;

	for (i = 0; i < MAXDEV && devs[i].used; i++)
		;
	memset(&devs[i], 0, sizeof(devs[i]));
	devs[i].used = true;
	snprintf(devs[i].name, sizeof(devs[i].name), "%s", name);
	snprintf(devs[i].uuid, sizeof(devs[i].uuid), "%s", uuid);
	devs[i].minor = next_minor++;
	devs[i].live.present = true;
	snprintf(devs[i].live.type, sizeof(devs[i].live.type), "%s", type);
	snprintf(devs[i].live.params, sizeof(devs[i].live.params), "%s", params);
	devs[i].live.len = len;
	return &devs[i];
}

static uint64_t nchunks(const struct fdev *d)
{
	return d->chunk ? (d->live.len + d->chunk - 1) / d->chunk : 0;
}

static uint64_t count(const bool *set, uint64_t n)
{
	uint64_t i, c = 0;

	for (i = 0; i < n; i++)
		c += set[i];
	return c;
}

/* The fake cbw constructor: origin, COW ("-"), chunk, track. */
static void parse_cbw(const char *params, char *origin, bool *cow,
		      uint64_t *chunk, bool *track)
{
	char o[32], c[32];
	int n = 0;

	sscanf(params, "%31s %31s %llu%n", o, c, (unsigned long long *)chunk, &n);
	strcpy(origin, o);
	*cow = strcmp(c, "-");
	*track = strstr(params + n, "track") != NULL;
}

/* Swap in the inactive table, as a resume does, with the tracking rules. */
static void swap_tables(struct fdev *d)
{
	char o_old[32] = "", o_new[32];
	bool cow_old = false, track_old = false, cow, track;
	uint64_t chunk_old = 0, chunk, i, n;
	struct ftable old = d->live;

	if (!strcmp(old.type, "cbw"))
		parse_cbw(old.params, o_old, &cow_old, &chunk_old, &track_old);
	d->live = d->inact;
	memset(&d->inact, 0, sizeof(d->inact));
	if (strcmp(d->live.type, "cbw")) {
		d->tracking = false;
		return;
	}
	parse_cbw(d->live.params, o_new, &cow, &chunk, &track);
	if (!track) {
		d->tracking = false;
		return;
	}
	if (d->tracking && track_old && !strcmp(o_old, o_new) &&
	    chunk_old == chunk && old.len == d->live.len) {
		n = nchunks(d);
		if (d->has_set) {
			for (i = 0; i < n; i++)
				d->changed[i] |= d->pending[i];
			if (!d->committed)
				d->gen = d->set_gen;
		}
	} else {
		d->tracking = true;
		d->fresh = true;
		d->chunk = chunk;
		snprintf(d->tuuid, sizeof(d->tuuid),
			 "00000000-0000-4000-8000-%012u", ++next_uuid);
		d->gen = 1;
		memset(d->changed, 0, sizeof(d->changed));
		memset(d->marks, 0, sizeof(d->marks));
		for (i = 0; i < nchunks(d); i++)
			d->changed[i] = true;
	}
	d->has_set = false;
	d->has_cow = cow;
	memset(d->pending, 0, sizeof(d->pending));
	memset(d->snap, 0, sizeof(d->snap));
	if (cow) {
		memcpy(d->pending, d->changed, sizeof(d->pending));
		memcpy(d->snap, d->changed, sizeof(d->snap));
		memset(d->changed, 0, sizeof(d->changed));
		d->has_set = true;
		d->committed = false;
		d->set_gen = d->gen++;
		d->fresh = false;
	}
}

static void status_line(const struct fdev *d, char *buf, size_t len)
{
	uint64_t n = nchunks(d), in = count(d->snap, n);
	char set[40];

	if (!strcmp(d->live.type, "snapshot-access")) {
		snprintf(buf, len, "valid 0 0 0");
		return;
	}
	if (strcmp(d->live.type, "cbw") || !d->tracking) {
		snprintf(buf, len, "%s", d->live.params);
		return;
	}
	if (d->has_set)
		snprintf(set, sizeof(set), "%s:%llu",
			 d->committed ? "committed" : "pending",
			 (unsigned long long)d->set_gen);
	else
		snprintf(set, sizeof(set), "-");
	snprintf(buf, len,
		 "%llu %llu %llu 0 %llu 0 0 0/%d %s - fail 0 0 0 0 0 0 100 %s %llu %llu %s %llu",
		 (unsigned long long)d->chunk, (unsigned long long)n,
		 (unsigned long long)in, (unsigned long long)in,
		 d->has_cow ? 64 : 0, d->has_cow ? "active" : "none",
		 d->tuuid, (unsigned long long)d->gen,
		 (unsigned long long)count(d->changed, n), set,
		 (unsigned long long)(d->has_set ? count(d->pending, n) : 0));
}

/* Mark @first-@last (a write through the track table). */
static void write_chunks(const char *name, uint64_t first, uint64_t last)
{
	struct fdev *d = by_name(name);

	for (; first <= last; first++)
		d->changed[first] = true;
}

/* Apply "a b-c ..." to @set (true: add, false: remove). */
static int apply_ranges(struct fdev *d, const char *p, bool *set, bool val)
{
	unsigned long long a, b;
	int n;

	while (*p == ' ')
		p++;
	while (*p) {
		if (sscanf(p, "%llu%n", &a, &n) != 1)
			return EINVAL;
		p += n;
		b = a;
		if (*p == '-') {
			if (sscanf(p + 1, "%llu%n", &b, &n) != 1)
				return EINVAL;
			p += 1 + n;
		}
		if (b >= nchunks(d) || a > b)
			return EINVAL;
		for (; a <= b; a++)
			set[a] = val;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* "a-b ... end", two runs at most, then "more N". */
static void runs_reply(const struct fdev *d, const bool *set, uint64_t from,
		       char **result)
{
	uint64_t n = nchunks(d), i = from, a;
	char buf[256] = "";
	int runs = 0;

	while (i < n) {
		if (!set[i]) {
			i++;
			continue;
		}
		if (runs == 2) {
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
				 "more %llu", (unsigned long long)i);
			*result = strdup(buf);
			return;
		}
		a = i;
		while (i < n && set[i])
			i++;
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 "%llu-%llu ", (unsigned long long)a,
			 (unsigned long long)i - 1);
		runs++;
	}
	strcat(buf, "end");
	*result = strdup(buf);
}

/* The fake libdevmapper wrappers (dm.h). */
void lib_begin(void)
{
	lib_error_reset();
}

void cbw_set_log(cbw_log_fn fn, void *data)
{
	lib_log_set(fn, data);
}

void cbw_lib_exit(void)
{
}

const char *cbwdm_error(void)
{
	return "fake libdevmapper error";
}

const char *cbwdm_dir(void)
{
	return "/dev/mapper";
}

bool cbwdm_udev_begin(uint32_t *cookie)
{
	*cookie = 1;
	return true;
}

bool cbwdm_udev_wait(uint32_t cookie)
{
	(void)cookie;
	return true;
}

void cbwdm_dev_release(struct cbwdm_dev *dev)
{
	free(dev->name);
	free(dev->uuid);
	free(dev->type);
	free(dev->params);
	memset(dev, 0, sizeof(*dev));
}

static int fill(const struct fdev *d, struct cbwdm_dev *dev)
{
	char line[512];

	memset(dev, 0, sizeof(*dev));
	status_line(d, line, sizeof(line));
	dev->name = strdup(d->name);
	dev->uuid = strdup(d->uuid);
	dev->major = 253;
	dev->minor = d->minor;
	dev->suspended = d->suspended;
	dev->inactive_table = d->inact.present;
	dev->open_count = 0;
	dev->targets = d->live.present;
	dev->length = d->live.len;
	dev->type = strdup(d->live.type);
	dev->params = strdup(line);
	return CBWDM_FOUND;
}

int cbwdm_status(const char *name, const char *uuid, struct cbwdm_dev *dev)
{
	int i;

	for (i = 0; i < MAXDEV; i++)
		if (devs[i].used && (name ? !strcmp(devs[i].name, name) :
					    !strcmp(devs[i].uuid, uuid)))
			return fill(&devs[i], dev);
	return CBWDM_NOTFOUND;
}

int cbwdm_status_devno(uint32_t major, uint32_t minor, struct cbwdm_dev *dev)
{
	int i;

	for (i = 0; i < MAXDEV; i++)
		if (devs[i].used && major == 253 && devs[i].minor == minor)
			return fill(&devs[i], dev);
	return CBWDM_NOTFOUND;
}

bool cbwdm_is_dm_major(uint32_t major)
{
	return major == 253;
}

int cbwdm_open_count(const char *name)
{
	return by_name(name) ? 0 : CBWDM_ERROR;
}

bool cbwdm_create(const char *name, const char *uuid, bool read_only,
		  uint64_t sectors, const char *type, const char *params,
		  enum cbwdm_udev udev, uint32_t *cookie, uint32_t *major,
		  uint32_t *minor)
{
	struct fdev *d;

	(void)read_only;
	(void)udev;
	(void)cookie;
	if (by_name(name))
		return false;
	d = add_dev(name, uuid, type, params, sectors);
	logop("create %s %s %s", name, type, params);
	*major = 253;
	*minor = d->minor;
	return true;
}

bool cbwdm_create_table(const char *name, const char *uuid,
			const struct cbwdm_table *t, enum cbwdm_udev udev,
			uint32_t *cookie, uint32_t *major, uint32_t *minor)
{
	return cbwdm_create(name, uuid, false, t->targets[0].length,
			    t->targets[0].type, t->targets[0].params, udev,
			    cookie, major, minor);
}

void cbwdm_table_release(struct cbwdm_table *t)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		free(t->targets[i].type);
		free(t->targets[i].params);
	}
	free(t->targets);
	memset(t, 0, sizeof(*t));
}

int cbwdm_table_get(const char *name, struct cbwdm_table *t)
{
	struct fdev *d = by_name(name);

	memset(t, 0, sizeof(*t));
	if (!d)
		return CBWDM_NOTFOUND;
	if (!d->live.present)
		return CBWDM_FOUND;
	t->targets = calloc(1, sizeof(*t->targets));
	t->count = 1;
	t->targets[0].length = d->live.len;
	t->targets[0].type = strdup(d->live.type);
	t->targets[0].params = strdup(d->live.params);
	return CBWDM_FOUND;
}

uint64_t cbwdm_table_sectors(const struct cbwdm_table *t)
{
	return t->count ? t->targets[t->count - 1].start +
			  t->targets[t->count - 1].length : 0;
}

bool cbwdm_load(const char *name, const struct cbwdm_table *t)
{
	struct fdev *d = by_name(name);

	if (!d)
		return false;
	d->inact.present = true;
	snprintf(d->inact.type, sizeof(d->inact.type), "%s", t->targets[0].type);
	snprintf(d->inact.params, sizeof(d->inact.params), "%s",
		 t->targets[0].params);
	d->inact.len = t->targets[0].length;
	logop("load %s %s %s", name, t->targets[0].type, t->targets[0].params);
	return true;
}

bool cbwdm_clear(const char *name)
{
	struct fdev *d = by_name(name);

	if (!d)
		return false;
	memset(&d->inact, 0, sizeof(d->inact));
	logop("clear %s", name);
	return true;
}

bool cbwdm_suspend(const char *name)
{
	struct fdev *d = by_name(name);

	if (!d)
		return false;
	d->suspended = true;
	logop("suspend %s", name);
	return true;
}

bool cbwdm_resume(const char *name, enum cbwdm_udev udev, uint32_t *cookie)
{
	struct fdev *d = by_name(name);

	(void)udev;
	(void)cookie;
	if (!d)
		return false;
	if (d->inact.present)
		swap_tables(d);
	d->suspended = false;
	if (state_path)
		file_at_resume = !access(state_path, F_OK);
	logop("resume %s", name);
	return true;
}

bool cbwdm_remove(const char *name, uint32_t *cookie, bool *busy)
{
	struct fdev *d = by_name(name);

	(void)cookie;
	*busy = false;
	if (!d)
		return false;
	d->used = false;
	logop("remove %s", name);
	return true;
}

bool cbwdm_message(const char *name, const char *message, char **result,
		   int *err)
{
	struct fdev *d = by_name(name);
	unsigned long long from = 0, g;
	char u[40];
	int e = 0;

	if (result)
		*result = NULL;
	logop("message %s%s %s", name, d && d->suspended ? "(suspended)" : "",
	      message);
	if (!d || strcmp(d->live.type, "cbw") || !d->tracking) {
		e = EINVAL;
	} else if (!strncmp(message, "track_add ", 10)) {
		e = apply_ranges(d, message + 10, d->changed, true);
		if (!e)
			e = apply_ranges(d, message + 10, d->marks, true);
	} else if (!strncmp(message, "track_id ", 9)) {
		if (sscanf(message + 9, "%39s %llu", u, &g) != 2 || !g)
			e = EINVAL;
		else if (!d->fresh)
			e = EBUSY;
		else {
			snprintf(d->tuuid, sizeof(d->tuuid), "%s", u);
			d->gen = g;
			d->fresh = false;
			memcpy(d->changed, d->marks, sizeof(d->changed));
		}
	} else if (!strncmp(message, "track_map", 9)) {
		sscanf(message + 9, "%llu", &from);
		if (result)
			runs_reply(d, d->changed, from, result);
	} else if (!strncmp(message, "map", 3) && d->has_cow) {
		sscanf(message + 3, "%llu", &from);
		if (result)
			runs_reply(d, d->snap, from, result);
	} else if (!strncmp(message, "commit", 6)) {
		if (!d->has_set)
			e = EINVAL;
		else if (!message[6])
			memset(d->pending, 0, sizeof(d->pending));
		else
			e = apply_ranges(d, message + 6, d->pending, false);
		if (!e)
			d->committed = true;
	} else {
		e = EINVAL;
	}
	if (err)
		*err = e;
	if (e) {
		free(result ? *result : NULL);
		if (result)
			*result = NULL;
		return false;
	}
	if (result && !*result)
		*result = strdup("");
	return true;
}

bool cbwdm_list(char ***names, size_t *count)
{
	*names = NULL;
	*count = 0;
	return true;
}

void cbwdm_list_free(char **names, size_t count)
{
	(void)names;
	(void)count;
}

/* The fake sysfs (sysblock.h): nothing shared, 512-byte blocks. */
int sysblock_disk(const char *sysfs, dev_t dev, dev_t *disk)
{
	(void)sysfs;
	*disk = dev;
	return 0;
}

int sysblock_overlap(const char *sysfs, dev_t a, dev_t b)
{
	(void)sysfs;
	return a == b;
}

int sysblock_below(const char *sysfs, dev_t top, dev_t **out, size_t *n)
{
	(void)sysfs;
	*out = malloc(sizeof(**out));
	(*out)[0] = top;
	*n = 1;
	return 0;
}

int sysblock_logical_block_size(const char *sysfs, dev_t dev,
				unsigned int *size)
{
	(void)sysfs;
	(void)dev;
	*size = 512;
	return 0;
}

/* The COW device: any path but /nonexistent is a 1 GiB device 7:0. */
int __real_blockdev_probe(struct blockdev *bd);
int __wrap_blockdev_probe(struct blockdev *bd)
{
	if (!strcmp(bd->path, "/nonexistent"))
		return __real_blockdev_probe(bd);
	bd->rdev = makedev(7, 0);
	bd->bytes = 1ULL << 30;
	bd->block_size = 512;
	return 0;
}

/* Helpers of the checks. */
static struct cbw_track_info ti(void)
{
	struct cbw_track_info t;

	memset(&t, 0, sizeof(t));
	if (cbw_track_info_get("vol", &t))
		tap_diag("track info: %s", cbw_get_error());
	return t;
}

static const char *live(const char *name)
{
	struct fdev *d = by_name(name);
	static char buf[300];

	if (!d)
		return "(none)";
	snprintf(buf, sizeof(buf), "%s %s", d->live.type, d->live.params);
	return buf;
}

/* Does the op log hold @a before @b? */
static bool before(const char *a, const char *b)
{
	const char *pa = strstr(oplog, a), *pb = strstr(oplog, b);

	return pa && pb && pa < pb;
}

static bool expect(int r, int want, const char *part, const char *what)
{
	char q[600];

	return tap_ok(r == want && (!part || strstr(cbw_get_error(), part)),
		      "%s: %d, '%s'", what, r,
		      tap_quote(cbw_get_error(), q, sizeof(q)));
}

int main(void)
{
	struct cbw_track_snapshot_opts so = { .dev = "vol", .cow = "/dev/cowdev" };
	struct cbw_track_opts to = { .dev = "vol", .chunk_bytes = 64 << 10 };
	char dir[] = "/tmp/test_stack_track.XXXXXX", path[128], why[256];
	struct cbw_track_result res;
	struct track_state ts;
	struct cbw_track_info t;
	char node[CBW_PATH_MAX], uuid1[40];
	int r;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/vol.state", dir);
	add_dev("vol", "LVM-abc", "linear", "8:0 2048", VOL_SECTORS);

	/* A new history: every chunk changed; the missing file is made. */
	to.state_file = path;
	r = cbw_track(&to, &res);
	expect(r, 0, NULL, "track vol --state (no file yet)");
	tap_ok(res.start == CBW_TRACK_NEW && !res.why_new[0] &&
	       !track_state_read(path, &ts, why, sizeof(why)) && !ts.clean,
	       "no file yet: a new history without a warning, the file made active");
	runs_free(&ts.runs);
	unlink(path);
	to.state_file = NULL;
	t = ti();
	tap_ok(res.start == CBW_TRACK_NEW && by_name("vol-real") &&
	       !strcmp(live("vol"), "cbw 253:1 - 128 1 track") &&
	       !strcmp(live("vol-real"), "linear 8:0 2048") &&
	       !strcmp(by_name("vol-real")->uuid, "CBW-vol-real"),
	       "vol has the track-only table over vol-real: %s", live("vol"));
	tap_ok(t.tracking && !t.snapshot && t.generation == 1 &&
	       t.changed == 8 && t.chunks == 8 &&
	       t.changed_bytes == VOL_SECTORS * 512ULL &&
	       !strcmp(t.uuid, res.uuid) && res.generation == 1,
	       "a new history, generation 1, all 8 chunks changed (%llu bytes)",
	       (unsigned long long)t.changed_bytes);
	tap_ok(!strstr(oplog, "track_add"),
	       "a new history: the kernel counts every chunk, no chunk is marked by hand");
	snprintf(uuid1, sizeof(uuid1), "%s", t.uuid);

	/* Refusals of a tracked volume. */
	expect(cbw_track(&to, NULL), -EBUSY, "already tracked", "track again");
	expect(cbw_snapshot(&(struct cbw_snapshot_opts){ .dev = "vol",
		.cow = "/dev/cowdev" }, NULL, 0), -EBUSY,
	       "snapshot --incremental", "a plain snapshot of a tracked volume");
	expect(cbw_release("vol"), -ENOENT, "untrack", "release of a track-only table");
	expect(cbw_track_commit("vol", NULL, 0), -EBUSY, "no tracking set",
	       "commit without a track snapshot");

	/* The first track snapshot holds every chunk; commit; release. */
	oplog[0] = '\0';
	r = cbw_track_snapshot(&so, node, sizeof(node));
	expect(r, 0, NULL, "snapshot --incremental vol");
	t = ti();
	tap_ok(!strcmp(live("vol"), "cbw 253:1 7:0 128 1 track") &&
	       by_name("vol-snap") && !strcmp(by_name("vol-snap")->uuid, "CBW-vol-snap") &&
	       !strcmp(node, "/dev/mapper/vol-snap"),
	       "the track snapshot's table over vol-real, and vol-snap: %s",
	       live("vol"));
	tap_ok(t.snapshot && t.set == CBW_TRACK_SET_PENDING &&
	       t.set_generation == 1 && t.set_chunks == 8 && t.generation == 2 &&
	       t.changed == 0, "set pending:1 of 8 chunks, generation 2");
	expect(cbw_track_snapshot(&so, NULL, 0), -EBUSY, "already under a track snapshot",
	       "a second track snapshot");
	expect(cbw_untrack("vol", NULL), -EBUSY, "release", "untrack of a track snapshot");
	write_chunks("vol", 3, 3);
	expect(cbw_track_commit("vol", NULL, 0), 0, NULL, "commit");
	expect(cbw_release("vol"), 0, NULL, "release of the track snapshot");
	t = ti();
	tap_ok(!strcmp(live("vol"), "cbw 253:1 - 128 1 track") &&
	       by_name("vol-real") && !by_name("vol-snap") &&
	       t.generation == 2 && t.changed == 1 && t.set == CBW_TRACK_SET_NONE &&
	       !strcmp(t.uuid, uuid1),
	       "released: the track-only table, vol-real stays, generation 2, 1 chunk changed");

	/* A snapshot released without a commit merges back. */
	expect(cbw_track_snapshot(&so, NULL, 0), 0, NULL, "snapshot --incremental again");
	write_chunks("vol", 5, 5);
	tap_ok(ti().generation == 3 && ti().set_chunks == 1, "set pending:2 of 1 chunk");
	expect(cbw_release("vol"), 0, NULL, "release without commit");
	t = ti();
	tap_ok(t.generation == 2 && t.changed == 2,
	       "merged back: generation 2 again, chunks 3 and 5 changed");

	/* A partial commit: the rest merges back, the generation goes on. */
	expect(cbw_track_snapshot(&so, NULL, 0), 0, NULL, "snapshot --incremental, third");
	expect(cbw_track_commit("vol", &(struct cbw_extent){ .first_chunk = 3,
		.last_chunk = 3 }, 1), 0, NULL, "commit of chunk 3");
	expect(cbw_track_commit("vol", &(struct cbw_extent){ .first_chunk = 3,
		.last_chunk = 8 }, 1), -ERANGE, "not a range", "commit past the end");
	expect(cbw_release("vol"), 0, NULL, "release after a partial commit");
	t = ti();
	tap_ok(t.generation == 3 && t.changed == 1 && by_name("vol")->changed[5],
	       "partial commit: generation 3, chunk 5 still changed");

	/* The test hook: a failed snapshot node gives the set back. */
	setenv("CBWCTL_FAIL_AT", "snapshot:snap", 1);
	expect(cbw_track_snapshot(&so, NULL, 0), -EIO, "tracked as before",
	       "snapshot --incremental failing at the node");
	unsetenv("CBWCTL_FAIL_AT");
	t = ti();
	tap_ok(!strcmp(live("vol"), "cbw 253:1 - 128 1 track") && t.generation == 3 &&
	       t.changed == 1 && !by_name("vol-snap"),
	       "undone: the track-only table, generation 3, the chunk changed again");

	/* untrack --state: read while suspended, written after the resume. */
	write_chunks("vol", 7, 7);
	state_path = path;
	oplog[0] = '\0';
	setenv("CBWCTL_FAIL_AT", "untrack:resume", 1);
	expect(cbw_untrack("vol", path), -EIO, "tracking of vol goes on",
	       "untrack failing at the resume");
	unsetenv("CBWCTL_FAIL_AT");
	tap_ok(access(path, F_OK) && ti().changed == 2 && by_name("vol-real"),
	       "no file, tracking goes on");
	oplog[0] = '\0';
	expect(cbw_untrack("vol", path), 0, NULL, "untrack --state");
	tap_ok(before("suspend vol", "message vol(suspended) track_map 0") &&
	       before("message vol(suspended) track_map 0", "resume vol") &&
	       file_at_resume == 0 && !by_name("vol-real") &&
	       !strcmp(live("vol"), "linear 8:0 2048"),
	       "the set is read while suspended, the file written after the resume; vol has its table: %s",
	       oplog);
	r = track_state_read(path, &ts, why, sizeof(why));
	tap_ok(!r && ts.clean && ts.generation == 3 && !strcmp(ts.uuid, uuid1) &&
	       ts.chunk_sectors == 128 && ts.device_sectors == VOL_SECTORS &&
	       ts.runs.nr == 2 && ts.runs.run[0].first == 5 &&
	       ts.runs.run[1].first == 7,
	       "the file: clean, history and generation 3, chunks 5 and 7 (%s)",
	       r ? why : "");
	runs_free(&ts.runs);

	/* track --state continues the history. */
	oplog[0] = '\0';
	memset(&to, 0, sizeof(to));
	to.dev = "vol";
	to.state_file = path;
	r = cbw_track(&to, &res);
	expect(r, 0, NULL, "track --state (clean)");
	t = ti();
	tap_ok(res.start == CBW_TRACK_CONTINUED && res.restored_chunks == 2 &&
	       !strcmp(t.uuid, uuid1) && t.generation == 3 && t.changed == 2 &&
	       t.chunk_bytes == 64 << 10,
	       "the history goes on: same uuid, generation 3, 2 chunks, the file's chunk size");
	tap_ok(before("message vol track_add 5 7", "message vol track_id") &&
	       strstr(oplog, "track_id 00000000-0000-4000-8000-000000000001 3") &&
	       file_at_resume == 1,
	       "track_add, then track_id; the file was made active before");
	r = track_state_read(path, &ts, why, sizeof(why));
	tap_ok(!r && !ts.clean && !strcmp(ts.uuid, uuid1), "the file is active now");
	runs_free(&ts.runs);

	/* A stop without untrack: the active file gives a new history. */
	expect(cbw_untrack("vol", NULL), 0, NULL, "untrack without --state");
	r = cbw_track(&to, &res);
	t = ti();
	tap_ok(!r && res.start == CBW_TRACK_NEW_UNTRUSTED &&
	       strstr(res.why_new, "active") && strcmp(t.uuid, uuid1) &&
	       t.generation == 1 && t.changed == 8 && !cbw_get_error()[0],
	       "an active file: a new history with every chunk changed (%s)",
	       res.why_new);
	r = track_state_read(path, &ts, why, sizeof(why));
	tap_ok(!r && !ts.clean && !strcmp(ts.uuid, t.uuid),
	       "the file is active with the new history");
	runs_free(&ts.runs);

	/* A file of another size. */
	expect(cbw_untrack("vol", path), 0, NULL, "untrack --state again");
	by_name("vol")->live.len = VOL_SECTORS + 8;
	r = cbw_track(&to, &res);
	tap_ok(!r && res.start == CBW_TRACK_NEW_UNTRUSTED &&
	       strstr(res.why_new, "1000 sectors"),
	       "a file of another device size: a new history (%s)", res.why_new);
	expect(cbw_untrack("vol", NULL), 0, NULL, "untrack");
	by_name("vol")->live.len = VOL_SECTORS;

	/* The test hook: a failed resume gives vol its own table back. */
	setenv("CBWCTL_FAIL_AT", "track:resume", 1);
	to.state_file = NULL;
	expect(cbw_track(&to, NULL), -EIO, "was left as it was", "track failing at the resume");
	unsetenv("CBWCTL_FAIL_AT");
	tap_ok(!strcmp(live("vol"), "linear 8:0 2048") && !by_name("vol-real"),
	       "undone: vol has its own table, no vol-real");
	expect(cbw_track_snapshot(&so, NULL, 0), -ENOENT, "not tracked",
	       "snapshot --incremental of an untracked volume");
	expect(cbw_untrack("vol", NULL), -ENOENT, "not tracked",
	       "untrack of an untracked volume");

	unlink(path);
	rmdir(dir);
	return tap_done();
}
