// SPDX-License-Identifier: GPL-2.0
/*
 * backup-agent: how a backup agent embeds dm-cbw with libcbw alone.
 *
 *   backup-agent DMDEV COW IMAGE
 *
 * 1. cbw_snapshot(): a snapshot underneath DMDEV, a device-mapper device
 *    in use (a mounted LVM volume), old data kept on COW; DMDEV may be a
 *    path, the calls below take the name, read off the snapshot node
 *    (/dev/mapper/NAME-snap);
 * 2. cbw_backup(): the frozen image into the sparse file IMAGE, each part
 *    discarded from the snapshot once it is safely written (discard
 *    behind), with a progress line at every tenth;
 * 3. cbw_info_get(): what the snapshot cost (chunks copied, discarded);
 * 4. cbw_release(): DMDEV gets its own table back, also after a failed
 *    backup.
 *
 * Exit status: 0 complete, 1 failed, 2 usage, 3 partial (some chunks
 * could not be read).  Build: cc backup-agent.c $(pkg-config --cflags
 * --libs libcbw).
 */

#include <stdio.h>
#include <string.h>

#include <libcbw.h>

/* The progress callback: a line at each tenth of the readable bytes. */
static void show(enum cbw_progress_event ev, const struct cbw_progress *p,
		 void *data)
{
	int *shown = data;
	int tenth = p->total ? (int)(p->done * 10 / p->total) : 10;

	if (ev == CBW_PROGRESS_START)
		return;
	for (; *shown < tenth; (*shown)++)
		printf("progress: %d%%\n", (*shown + 1) * 10);
	fflush(stdout);
}

static int fail(const char *what)
{
	fprintf(stderr, "backup-agent: %s: %s\n", what, cbw_get_error());
	return 1;
}

int main(int argc, char **argv)
{
	struct cbw_snapshot_opts so = { 0 };
	struct cbw_backup_opts bo = { 0 };
	struct cbw_backup_result res;
	char node[CBW_PATH_MAX], name[CBW_PATH_MAX];
	struct cbw_info info;
	int shown = 0, r, rc;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("backup-agent on libcbw %s\n", cbw_version());
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: backup-agent DMDEV COW IMAGE\n");
		return 2;
	}

	so.dev = argv[1];
	so.cow = argv[2];
	if (cbw_snapshot(&so, node, sizeof(node)) < 0)
		return fail("snapshot");
	printf("snapshot: %s\n", node);
	snprintf(name, sizeof(name), "%s", strrchr(node, '/') + 1);
	name[strlen(name) - strlen("-snap")] = '\0';

	bo.to = argv[3];
	bo.discard_behind = true;
	bo.progress = show;
	bo.progress_data = &shown;
	r = cbw_backup(name, &bo, &res);
	if (r < 0) {
		rc = fail("backup");
	} else {
		printf("backup: %llu bytes read, %llu zero, %llu discarded, %llu chunks failed\n",
		       (unsigned long long)res.progress.read,
		       (unsigned long long)res.progress.zero,
		       (unsigned long long)res.progress.discarded,
		       (unsigned long long)res.progress.failed_chunks);
		rc = res.nr_failed ? 3 : 0;
	}
	cbw_backup_result_free(&res);

	if (cbw_info_get(name, &info) < 0) {
		rc = fail("status");
	} else {
		printf("status: %llu chunks copied, %llu discarded, %llu of %llu COW slots used\n",
		       (unsigned long long)info.status.copied,
		       (unsigned long long)info.status.discarded,
		       (unsigned long long)info.status.slots_used,
		       (unsigned long long)info.status.slots_total);
	}

	if (cbw_release(argv[1]) < 0)
		rc = fail("release");
	else
		printf("released: %s\n", argv[1]);
	cbw_lib_exit();
	return rc;
}
