/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strict parsers for the status lines of the two dm-cbw targets, the
 * part after "<start> <length> <target type>" in 'dmsetup status'.
 *
 * A line is accepted only if it has exactly the documented fields, each
 * a plain decimal number (or keyword) that fits, separated by single
 * spaces, and the numbers agree with each other.  Anything else is
 * refused as a whole, so a changed or damaged kernel interface gives an
 * error instead of a wrong report.
 */
#ifndef CBWCTL_STATUS_LINE_H
#define CBWCTL_STATUS_LINE_H

#include <stdbool.h>
#include <stdint.h>

/* The longest copy timeout the cbw target takes: one day, in ms. */
#define CBW_MAX_TIMEOUT_MS	86400000ULL

/* Where a cbw snapshot is in its life (status field 9). */
enum cbw_state {
	CBW_STATE_SETUP,	/* "setup": loaded, never resumed */
	CBW_STATE_ACTIVE,	/* "active" */
	CBW_STATE_BROKEN,	/* "broken:<reason>" */
};

/* Why a copy failed or the snapshot broke (fields 9 and 10). */
enum cbw_reason {
	CBW_REASON_NONE,	/* "-" (field 10 only) */
	CBW_REASON_IO_ERROR,	/* "io_error" */
	CBW_REASON_TIMEOUT,	/* "timeout" */
	CBW_REASON_COW_FULL,	/* "cow_full" */
	CBW_REASON_NO_MEMORY,	/* "no_memory" */
	CBW_REASON_USER,	/* "user": the break message */
};

/* What a failed copy does (field 11). */
enum cbw_policy {
	CBW_POLICY_FAIL,	/* "fail" */
	CBW_POLICY_BREAK,	/* "break" */
	CBW_POLICY_DROP,	/* "drop" */
};

/*
 * struct cbw_status - the status of a "cbw" target, 18 fields:
 *
 *   <chunk sectors> <chunks> <in snapshot> <copied> <to copy> <dropped>
 *   <discarded> <used slots>/<total slots> <state> <first error> <policy>
 *   <timeout ms> <copies> <copy errors> <timeouts> <waited> <wait ms>
 *   <tracking bytes>
 *
 * state is "setup", "active" or "broken:<reason>"; first error is "-" or
 * a reason; policy is "fail", "break" or "drop".
 */
struct cbw_status {
	uint64_t chunk_sectors;
	uint64_t chunks;
	uint64_t in_snapshot;
	uint64_t copied;
	uint64_t to_copy;
	uint64_t dropped;
	uint64_t discarded;
	uint64_t slots_used;
	uint64_t slots_total;
	enum cbw_state state;
	enum cbw_reason broken;		/* CBW_REASON_NONE unless broken */
	enum cbw_reason first_error;
	enum cbw_policy policy;
	uint64_t timeout_ms;
	uint64_t copies;
	uint64_t copy_errors;
	uint64_t timeouts;
	uint64_t waited;
	uint64_t wait_ms;
	uint64_t bytes;
};

/* The state of a "snapshot-access" target (its first field). */
enum access_state {
	ACCESS_VALID,		/* "valid" */
	ACCESS_BROKEN,		/* "broken": the snapshot broke */
	ACCESS_INVALID,		/* "invalid": the cbw target is gone */
};

/*
 * struct access_status - the status of a "snapshot-access" target:
 *
 *   <valid|broken|invalid> <origin reads> <cow reads> <failed reads>
 */
struct access_status {
	enum access_state state;
	uint64_t origin_reads;
	uint64_t cow_reads;
	uint64_t failed_reads;
};

/**
 * cbw_status_parse() - parse a cbw status line.
 * @line: the target's status parameters.
 * @st: filled on success; may be partly written on failure.
 *
 * Besides the syntax it checks that the chunk size is a power of two of
 * at least 8 sectors, that the chunks in the snapshot are at most the
 * chunks, that copied + to copy = in snapshot, that in snapshot + dropped
 * + discarded is at most the chunks, that the used slots are at most the
 * total, and that the timeout is at most one day.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *cbw_status_parse(const char *line, struct cbw_status *st);

/**
 * cbw_state_format() - the status word of a cbw state.
 * @st: a parsed status.
 * @buf: where to write the word ("active", "broken:io_error", ...).
 * @size: size of @buf; 24 bytes hold any state.
 *
 * Return: @buf.
 */
char *cbw_state_format(const struct cbw_status *st, char *buf, unsigned int size);

/**
 * cbw_reason_name() - the status word of a reason.
 * @reason: the reason.
 *
 * Return: "-", "io_error", "timeout", "cow_full", "no_memory" or "user".
 */
const char *cbw_reason_name(enum cbw_reason reason);

/**
 * cbw_policy_name() - the status word of an error policy.
 * @policy: the policy.
 *
 * Return: "fail", "break" or "drop".
 */
const char *cbw_policy_name(enum cbw_policy policy);

/**
 * cbw_policy_parse() - the error policy named @word ("fail", "break" or
 * "drop", as in the status and the table; lower case only).
 * @word: the name.
 * @policy: set on success.
 *
 * Return: false if @word names no policy.
 */
bool cbw_policy_parse(const char *word, enum cbw_policy *policy);

/**
 * access_status_parse() - parse a snapshot-access status line.
 * @line: the target's status parameters.
 * @st: filled on success; may be partly written on failure.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *access_status_parse(const char *line, struct access_status *st);

/**
 * access_state_name() - the status word of a snapshot-access state.
 * @state: the state.
 *
 * Return: "valid", "broken" or "invalid".
 */
const char *access_state_name(enum access_state state);

#endif /* CBWCTL_STATUS_LINE_H */
