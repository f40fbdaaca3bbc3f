// SPDX-License-Identifier: GPL-2.0
/*
 * cbwctl status: the state and counters of one or every cbw device, as a
 * table (-o FIELDS, --noheadings, --separator) or as JSON, both made by
 * libdevmapper's report code (the one dmsetup and lvm use), so the column
 * alignment, the field selection, sorting and the JSON quoting are theirs.
 *
 * One row per cbw device, from cbw_info_get().  A field reads a member of
 * struct status_row
 * at its offset: the generic reporters below turn a uint64_t or a string
 * into a cell; the few fields that need formatting have their own.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcbw.h>
#include <libdevmapper.h>

#include "cmd.h"
#include "msg.h"

struct status_opts {
	const char *name;	/* NULL: every cbw device */
	const char *fields;	/* -o: NULL for the default fields */
	const char *sort;	/* -O: sort keys, NULL for none */
	const char *separator;	/* --separator: NULL for aligned columns */
	bool noheadings;
	bool json;
	bool track;		/* --track: the tracking fields */
};

/* The report has one object type. */
#define ROW_TYPE	1

/* What one row reports; the strings live as long as the row. */
struct status_row {
	const char *name;
	const char *uuid;
	const char *snap_name;		/* "" without a snapshot */
	const char *snap_state;		/* valid broken invalid none */
	char chunk[CBW_SIZE_BUF_LEN];	/* e.g. "64KiB" */
	char state[32];			/* active, setup, broken:REASON */
	char slots[48];			/* used/total */
	const char *first_error;
	const char *policy;
	uint64_t chunk_bytes;
	uint64_t size_bytes;
	struct cbw_status st;
	struct cbw_access_status snap_st;
	struct cbw_track_info tr;
	char track_set[32];		/* -, pending:G, committed:G */
	char changed_size[CBW_SIZE_BUF_LEN];
};

static int report_u64(struct dm_report *rh, struct dm_pool *mem,
		      struct dm_report_field *field, const void *data,
		      void *private)
{
	(void)mem;
	(void)private;
	return dm_report_field_uint64(rh, field, data);
}

/* A member that is a char array. */
static int report_chars(struct dm_report *rh, struct dm_pool *mem,
			struct dm_report_field *field, const void *data,
			void *private)
{
	const char *s = data;

	(void)mem;
	(void)private;
	return dm_report_field_string(rh, field, &s);
}

/* A member that is a const char *. */
static int report_str(struct dm_report *rh, struct dm_pool *mem,
		      struct dm_report_field *field, const void *data,
		      void *private)
{
	(void)mem;
	(void)private;
	return dm_report_field_string(rh, field, data);
}

static void *row_data(void *object)
{
	return object;
}

static const struct dm_report_object_type types[] = {
	{ ROW_TYPE, "cbw device", "", row_data },
	{ 0, NULL, NULL, NULL },
};

#define OFF(member)	offsetof(struct status_row, member)
#define ST(member)	(OFF(st) + offsetof(struct cbw_status, member))
#define SNAP(member)	(OFF(snap_st) + offsetof(struct cbw_access_status, member))
#define TR(member)	(OFF(tr) + offsetof(struct cbw_track_info, member))
#define STR	(DM_REPORT_FIELD_TYPE_STRING | DM_REPORT_FIELD_ALIGN_LEFT)
#define NUM	(DM_REPORT_FIELD_TYPE_NUMBER | DM_REPORT_FIELD_ALIGN_RIGHT)
#define FIELD(flags, off, width, id, heading, fn, desc) \
	{ ROW_TYPE, flags, off, width, id, heading, fn, desc }

static const struct dm_report_field_type fields[] = {
	FIELD(STR, OFF(name), 4, "name", "NAME", report_str,
	      "The cbw device's name."),
	FIELD(STR, OFF(uuid), 4, "uuid", "UUID", report_str,
	      "The cbw device's uuid."),
	FIELD(STR | DM_REPORT_FIELD_ALIGN_RIGHT, OFF(chunk), 5, "chunk",
	      "CHUNK", report_chars, "The chunk size, e.g. 64KiB."),
	FIELD(NUM, OFF(chunk_bytes), 11, "chunk_bytes", "CHUNK_BYTES",
	      report_u64, "The chunk size in bytes."),
	FIELD(NUM, OFF(size_bytes), 10, "size_bytes", "SIZE_BYTES",
	      report_u64, "The device's size in bytes."),
	FIELD(NUM, ST(chunks), 6, "chunks", "CHUNKS", report_u64,
	      "Chunks in the device."),
	FIELD(NUM, ST(in_snapshot), 7, "in_snap", "IN_SNAP", report_u64,
	      "Chunks in the snapshot (readable through the snapshot node)."),
	FIELD(NUM, ST(copied), 6, "copied", "COPIED", report_u64,
	      "Chunks whose old data is on the COW device."),
	FIELD(NUM, ST(to_copy), 7, "to_copy", "TO_COPY", report_u64,
	      "Chunks of the snapshot not yet written since it was taken."),
	FIELD(NUM, ST(dropped), 7, "dropped", "DROPPED", report_u64,
	      "Chunks that left the snapshot because their copy failed."),
	FIELD(NUM, ST(discarded), 9, "discarded", "DISCARDED", report_u64,
	      "Chunks discarded from the snapshot."),
	FIELD(STR | DM_REPORT_FIELD_ALIGN_RIGHT, OFF(slots), 5, "slots",
	      "SLOTS", report_chars, "COW slots (chunks) used/total."),
	FIELD(NUM, ST(slots_used), 10, "slots_used", "SLOTS_USED",
	      report_u64, "COW slots in use."),
	FIELD(NUM, ST(slots_total), 11, "slots_total", "SLOTS_TOTAL",
	      report_u64, "COW slots on the COW device."),
	FIELD(NUM, ST(copies), 6, "copies", "COPIES", report_u64,
	      "Copy jobs run (one per run of adjacent chunks)."),
	FIELD(NUM, ST(copy_errors), 6, "errors", "ERRORS", report_u64,
	      "Copy jobs that failed or timed out."),
	FIELD(NUM, ST(timeouts), 8, "timeouts", "TIMEOUTS", report_u64,
	      "Copy jobs that timed out."),
	FIELD(NUM, ST(waited), 6, "waited", "WAITED", report_u64,
	      "Guest I/Os that waited for a copy or a snapshot read."),
	FIELD(NUM, ST(wait_ms), 7, "wait_ms", "WAIT_MS", report_u64,
	      "Their total wait in milliseconds."),
	FIELD(STR, OFF(state), 5, "state", "STATE", report_chars,
	      "setup, active, or broken:REASON."),
	FIELD(STR, OFF(first_error), 11, "first_error", "FIRST_ERROR",
	      report_str, "The first copy error: - or a reason."),
	FIELD(STR, OFF(policy), 6, "policy", "POLICY", report_str,
	      "The error policy: fail, break or drop."),
	FIELD(NUM, ST(timeout_ms), 10, "timeout_ms", "TIMEOUT_MS", report_u64,
	      "The copy timeout in milliseconds, 0 for none."),
	FIELD(NUM, ST(bytes), 14, "tracking_bytes", "TRACKING_BYTES",
	      report_u64, "Memory the kernel uses to track the chunks."),
	FIELD(STR, OFF(snap_state), 8, "snapshot", "SNAPSHOT", report_str,
	      "The snapshot node: valid, broken, invalid, or none."),
	FIELD(STR, OFF(snap_name), 9, "snap_name", "SNAP_NAME", report_str,
	      "The snapshot node's device name."),
	FIELD(NUM, SNAP(origin_reads), 12, "origin_reads", "ORIGIN_READS",
	      report_u64, "Snapshot reads served from the origin."),
	FIELD(NUM, SNAP(cow_reads), 9, "cow_reads", "COW_READS", report_u64,
	      "Snapshot reads served from the COW device."),
	FIELD(NUM, SNAP(failed_reads), 12, "failed_reads", "FAILED_READS",
	      report_u64, "Snapshot reads that failed."),
	FIELD(STR, TR(uuid), 10, "track_uuid", "TRACK_UUID", report_chars,
	      "The tracking history's uuid; empty if the table does not track."),
	FIELD(NUM, TR(generation), 3, "generation", "GEN", report_u64,
	      "The generation of the changed set being filled (0: no tracking)."),
	FIELD(NUM, TR(changed), 7, "changed", "CHANGED", report_u64,
	      "Chunks changed since the last committed track snapshot."),
	FIELD(NUM, TR(changed_bytes), 13, "changed_bytes", "CHANGED_BYTES",
	      report_u64, "Their bytes (the device's last chunk may be partial)."),
	FIELD(STR | DM_REPORT_FIELD_ALIGN_RIGHT, OFF(changed_size), 12,
	      "changed_size", "CHANGED_SIZE", report_chars,
	      "Their bytes for people, e.g. 1536KiB."),
	FIELD(STR, OFF(track_set), 9, "track_set", "TRACK_SET", report_chars,
	      "The track snapshot's set: -, pending:GEN or committed:GEN."),
	FIELD(NUM, TR(set_chunks), 10, "set_chunks", "SET_CHUNKS", report_u64,
	      "Chunks of that set still pending (not committed)."),
	FIELD(NUM, TR(set_bytes), 9, "set_bytes", "SET_BYTES", report_u64,
	      "Their bytes, as whole chunks (at most the device's size)."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

#define DEFAULT_FIELDS \
	"name,chunk,chunks,in_snap,copied,to_copy,slots,copies,errors,waited,state,snapshot"

/* The tracking fields: added to the default ones by --json, shown by --track. */
#define TRACK_FIELDS \
	"track_uuid,generation,changed,changed_bytes,track_set,set_chunks"
#define TRACK_TABLE_FIELDS \
	"name,chunk,generation,changed,changed_size,track_set,set_chunks,state,snapshot,track_uuid"

static void list_fields(void)
{
	const struct dm_report_field_type *f;

	printf("Fields of cbwctl status (-o):\n");
	for (f = fields; f->report_fn; f++)
		printf("  %-15s %s\n", f->id, f->desc);
	printf("Default: -o " DEFAULT_FIELDS "\n");
	printf("With --json: -o " DEFAULT_FIELDS "," TRACK_FIELDS "\n");
	printf("With --track: -o " TRACK_TABLE_FIELDS "\n");
}

/* Fill @row from @d and @tr; the strings point into @d. */
static void row_fill(struct status_row *row, const struct cbw_info *d,
		     const struct cbw_track_info *tr)
{
	const struct cbw_status *st = &d->status;

	memset(row, 0, sizeof(*row));
	row->tr = *tr;
	if (tr->set == CBW_TRACK_SET_NONE)
		snprintf(row->track_set, sizeof(row->track_set), "-");
	else
		snprintf(row->track_set, sizeof(row->track_set), "%s:%llu",
			 cbw_track_set_name(tr->set),
			 (unsigned long long)tr->set_generation);
	cbw_size_format(tr->changed_bytes, row->changed_size,
			sizeof(row->changed_size));
	row->name = d->name;
	row->uuid = d->uuid;
	row->st = *st;
	row->chunk_bytes = d->chunk_bytes;
	row->size_bytes = d->size_bytes;
	cbw_size_format(row->chunk_bytes, row->chunk, sizeof(row->chunk));
	cbw_state_format(st, row->state, sizeof(row->state));
	snprintf(row->slots, sizeof(row->slots), "%llu/%llu",
		 (unsigned long long)st->slots_used,
		 (unsigned long long)st->slots_total);
	row->first_error = cbw_reason_name(st->first_error);
	row->policy = cbw_policy_name(st->policy);
	row->snap_name = d->snap_name;
	row->snap_state = d->has_snap ?
			  cbw_access_state_name(d->snap_status.state) : "none";
	if (d->has_snap)
		row->snap_st = d->snap_status;
}

/*
 * Add the row of the cbw device @name; return an exit code.  With @any,
 * a device that is not a cbw device (or is gone) is passed over quietly.
 */
static int add_row(struct dm_report *rh, const char *name, bool any)
{
	struct status_row row;
	struct cbw_track_info tr;
	struct cbw_info *d;
	int r;

	/* Large (its paths): on the heap. */
	d = malloc(sizeof(*d));
	if (!d) {
		msg_error("out of memory");
		return CBW_EXIT_FAILED;
	}
	if (any)
		msg_hold();
	r = cbw_info_get(name, d);
	if (!r)
		r = cbw_track_info_get(name, &tr);
	r = any && r == -ENOENT ? msg_lib_drop(r) : msg_lib_error(r);
	if (r)
		goto out;
	row_fill(&row, d, &tr);
	msg_dm_clear();
	if (!dm_report_object(rh, &row)) {
		msg_error("cannot add %s to the report: %s", name,
			  msg_dm_error());
		r = CBW_EXIT_FAILED;
	}
out:
	free(d);
	return r;
}

/* Add a row for every cbw device; return an exit code. */
static int add_all(struct dm_report *rh)
{
	char **names;
	size_t i, count;
	int r, one;

	r = cbw_list(&names, &count);
	if (r < 0)
		return msg_lib_error(r);
	for (i = 0; i < count; i++) {
		/*
		 * libcbw takes no "." or ".." (older kernels let dmsetup
		 * make them): passed over quietly, like the devices that
		 * are not cbw devices, even if one of them is.
		 */
		if (cbw_name_check(names[i], false))
			continue;
		one = add_row(rh, names[i], true);
		/* Not a cbw device, or removed since the list was made. */
		if (one == CBW_EXIT_NOTFOUND)
			continue;
		if (one)
			r = one;
	}
	cbw_list_free(names, count);
	return r;
}

static int status_show(const struct status_opts *o)
{
	struct dm_report_group *group = NULL;
	char *fields_arg = NULL;
	const char *want = o->fields ? o->fields :
			   o->track ? TRACK_TABLE_FIELDS :
			   o->json ? DEFAULT_FIELDS "," TRACK_FIELDS :
			   DEFAULT_FIELDS;
	uint32_t flags = DM_REPORT_OUTPUT_BUFFERED, report_types = ROW_TYPE;
	struct dm_report *rh;
	int r;

	if (o->fields && !strcmp(o->fields, "help")) {
		list_fields();
		return CBW_EXIT_OK;
	}
	/* -o +FIELDS: the default fields and these. */
	if (o->fields && o->fields[0] == '+') {
		if (asprintf(&fields_arg, DEFAULT_FIELDS ",%s",
			     o->fields + 1) < 0) {
			msg_error("out of memory");
			return CBW_EXIT_FAILED;
		}
		want = fields_arg;
	}
	if (!o->noheadings)
		flags |= DM_REPORT_OUTPUT_HEADINGS;
	if (!o->separator)
		flags |= DM_REPORT_OUTPUT_ALIGNED;

	msg_dm_clear();
	rh = dm_report_init(&report_types, types, fields, want,
			    o->separator ? o->separator : " ", flags,
			    o->sort ? o->sort : "", NULL);
	if (!rh) {
		msg_error("invalid field list or sort keys '%s%s%s' (cbwctl status -o help lists the fields): %s",
			  want, o->sort ? "', '" : "", o->sort ? o->sort : "",
			  msg_dm_error());
		free(fields_arg);
		return CBW_EXIT_USAGE;
	}
	if (o->json) {
		msg_dm_clear();
		group = dm_report_group_create(DM_REPORT_GROUP_JSON, NULL);
		if (!group || !dm_report_group_push(group, rh, (void *)"cbw")) {
			msg_error("cannot start the JSON report: %s",
				  msg_dm_error());
			r = CBW_EXIT_FAILED;
			goto out;
		}
	}

	r = o->name ? add_row(rh, o->name, false) : add_all(rh);

	/*
	 * A device that failed has no row; the others are still shown.  The
	 * group's destruction outputs it (calling
	 * dm_report_group_output_and_pop_all() first would print an empty
	 * second object).
	 */
	if (!group && !dm_report_output(rh))
		r = r ? r : CBW_EXIT_FAILED;
out:
	if (group && !dm_report_group_destroy(group))
		r = r ? r : CBW_EXIT_FAILED;
	dm_report_free(rh);
	free(fields_arg);
	return r;
}

enum {
	OPT_NOHEADINGS = 256,
	OPT_SEPARATOR,
	OPT_JSON,
	OPT_TRACK,
};

static const struct option status_options[] = {
	{ "options", required_argument, NULL, 'o' },
	{ "sort", required_argument, NULL, 'O' },
	{ "noheadings", no_argument, NULL, OPT_NOHEADINGS },
	{ "separator", required_argument, NULL, OPT_SEPARATOR },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "track", no_argument, NULL, OPT_TRACK },
	HELP_OPTION,
	OPTIONS_END
};

static int status_option(const struct command *cmd, void *opts, int opt,
			 const char *arg)
{
	struct status_opts *st = opts;

	switch (opt) {
	case 'o':
		st->fields = arg;
		return CBW_EXIT_OK;
	case 'O':
		st->sort = arg;
		return CBW_EXIT_OK;
	case OPT_NOHEADINGS:
		st->noheadings = true;
		return CBW_EXIT_OK;
	case OPT_SEPARATOR:
		st->separator = arg;
		return CBW_EXIT_OK;
	case OPT_JSON:
		st->json = true;
		return CBW_EXIT_OK;
	case OPT_TRACK:
		st->track = true;
		return CBW_EXIT_OK;
	}
	return usage_error(cmd, "unhandled option %d", opt);
}

static int status_run(const struct command *cmd, void *opts, char **args,
		      int nargs)
{
	struct status_opts *st = opts;
	int r;

	if (st->json && (st->noheadings || st->separator))
		return usage_error(cmd, "--json goes with neither --noheadings nor --separator");
	if (st->track && st->fields)
		return usage_error(cmd, "--track and -o do not go together (-o +FIELDS adds tracking fields)");
	if (nargs) {
		st->name = args[0];
		r = check_name(cmd, st->name, false);
		if (r)
			return r;
	}
	return status_show(st);
}

const struct command cmd_status = {
	.name = "status",
	.args = "[-o FIELDS] [-O SORT] [--noheadings] [--separator SEP] [--track] [--json] [NAME]",
	.help = "show the copy state of NAME, or of every cbw device",
	.details =
"Show one row per cbw device: NAME, or every device whose table is one cbw\n"
"target.  The default columns:\n"
"  NAME      the cbw device\n"
"  CHUNK     the chunk size\n"
"  CHUNKS    chunks in the device\n"
"  IN_SNAP   chunks in the snapshot (readable through the snapshot node)\n"
"  COPIED    chunks whose old data is on the COW device\n"
"  TO_COPY   chunks of the snapshot not yet written since it was taken\n"
"  SLOTS     COW slots (chunks) used/total\n"
"  COPIES    copy jobs run (one per run of adjacent chunks)\n"
"  ERRORS    copy jobs that failed or timed out\n"
"  WAITED    guest I/Os that waited for a copy or a snapshot read\n"
"  STATE     setup, active, broken:REASON, or none (tracking only, no\n"
"            snapshot: cbwctl track)\n"
"  SNAPSHOT  the snapshot node: valid, broken, invalid, or none\n"
"With --track, the change tracking (cbwctl track):\n"
"  GEN           the generation of the changed set being filled\n"
"  CHANGED       chunks changed since the last committed track snapshot\n"
"  CHANGED_SIZE  their bytes (the last chunk of the device may be partial)\n"
"  TRACK_SET     the track snapshot's set: -, pending:GEN (merges back\n"
"                at release unless committed) or committed:GEN\n"
"  SET_CHUNKS    chunks of that set still pending\n"
"  TRACK_UUID    the tracking history's identity\n"
"A device that does not track shows GEN 0 and an empty TRACK_UUID.\n"
"'cbwctl status -o help' lists every field.  The report is made by\n"
"libdevmapper, like dmsetup's and lvm's.\n"
"\n"
"Options:\n"
"  -o, --options FIELDS  the fields to show, comma-separated; +FIELDS adds\n"
"                        them to the default ones; 'help' lists them\n"
"  -O, --sort KEYS       sort by these fields (-FIELD: descending)\n"
"  --noheadings          leave out the heading line\n"
"  --separator SEP       separate the fields by SEP instead of aligning\n"
"  --json                one JSON object: {\"cbw\": [{FIELD: VALUE, ...}]}\n"
"                        (values are strings, as in dmsetup's JSON); by\n"
"                        default with the tracking fields too\n"
"  --track               the tracking fields (see above) instead of the\n"
"                        default ones\n"
"  -h, --help            show this help\n",
	.min_args = 0,
	.max_args = 1,
	.options = status_options,
	.opts_size = sizeof(struct status_opts),
	.set_option = status_option,
	.fn = status_run,
};
