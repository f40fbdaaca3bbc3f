/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A one-line progress bar on stderr, for long commands such as backup:
 *
 *   backup data:  45% 120.5MiB/256.0MiB  98.3MiB/s  ETA 0:02
 *
 * redrawn in place ("\r") at most PROGRESS_HZ times a second, and cleared
 * at the end.  The formatting helpers are pure, for the unit tests.
 */
#ifndef CBWCTL_PROGRESS_H
#define CBWCTL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROGRESS_HZ	4

/* A buffer that holds any human_bytes() or human_duration() result. */
#define HUMAN_BUF_LEN	32

/**
 * struct progress - the state of a progress bar.
 * @on: draw it; when false every call does nothing.
 * @label: what is in progress, e.g. "backup data".
 * @total: the bytes to do.
 * @start_ns: when it started (now_ns()).
 * @next_ns: the earliest time of the next redraw.
 * @width: the length of the last line drawn, 0 if none is shown.
 */
struct progress {
	bool on;
	const char *label;
	uint64_t total;
	uint64_t start_ns;
	uint64_t next_ns;
	int width;
};

/** now_ns() - the monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/**
 * progress_start() - start a progress bar (nothing is drawn yet).
 * @p: the bar.
 * @on: draw it at all.
 * @label: what is in progress (kept, not copied).
 * @total: the bytes to do.
 */
void progress_start(struct progress *p, bool on, const char *label,
		    uint64_t total);

/**
 * progress_update() - redraw the bar if it is time to.
 * @p: the bar.
 * @done: the bytes done so far, of @p->total.
 */
void progress_update(struct progress *p, uint64_t done);

/** progress_end() - clear the bar's line, if one is shown. */
void progress_end(struct progress *p);

/**
 * human_bytes() - @bytes in the largest binary unit below it, with one
 * decimal: "512B", "1.5KiB", "120.5MiB", "2.0TiB".
 * @bytes: the size.
 * @buf: where the text goes, HUMAN_BUF_LEN bytes.
 *
 * Return: @buf.
 */
char *human_bytes(uint64_t bytes, char *buf);

/**
 * human_duration() - @seconds as "M:SS", or "H:MM:SS" from an hour on.
 * @seconds: the time.
 * @buf: where the text goes, HUMAN_BUF_LEN bytes.
 *
 * Return: @buf.
 */
char *human_duration(uint64_t seconds, char *buf);

/**
 * progress_format() - the text of the bar (without "\r").
 * @buf: where it goes.
 * @len: the size of @buf.
 * @label: what is in progress.
 * @done: the bytes done.
 * @total: the bytes to do; 0 counts as done.
 * @elapsed_ns: the time since the start.
 *
 * The rate is @done over @elapsed_ns; the ETA is left out while the rate
 * is still 0.
 *
 * Return: the length of the text.
 */
int progress_format(char *buf, size_t len, const char *label, uint64_t done,
		    uint64_t total, uint64_t elapsed_ns);

#endif /* CBWCTL_PROGRESS_H */
