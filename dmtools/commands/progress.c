// SPDX-License-Identifier: GPL-2.0
/*
 * The progress bar; see progress.h.
 */

#include <stdio.h>
#include <time.h>

#include "progress.h"

#define NSEC_PER_SEC	1000000000ULL

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

char *human_bytes(uint64_t bytes, char *buf)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	unsigned int u = 0;
	double v;

	if (bytes < 1024) {
		snprintf(buf, HUMAN_BUF_LEN, "%lluB", (unsigned long long)bytes);
		return buf;
	}
	v = bytes / 1024.0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, HUMAN_BUF_LEN, "%.1f%s", v, units[u]);
	return buf;
}

char *human_duration(uint64_t seconds, char *buf)
{
	if (seconds < 3600)
		snprintf(buf, HUMAN_BUF_LEN, "%llu:%02llu",
			 (unsigned long long)seconds / 60,
			 (unsigned long long)seconds % 60);
	else
		snprintf(buf, HUMAN_BUF_LEN, "%llu:%02llu:%02llu",
			 (unsigned long long)seconds / 3600,
			 (unsigned long long)seconds / 60 % 60,
			 (unsigned long long)seconds % 60);
	return buf;
}

int progress_format(char *buf, size_t len, const char *label, uint64_t done,
		    uint64_t total, uint64_t elapsed_ns)
{
	char d[HUMAN_BUF_LEN], t[HUMAN_BUF_LEN], r[HUMAN_BUF_LEN];
	char eta[HUMAN_BUF_LEN];
	unsigned int percent = 100;
	double rate = 0;
	int n;

	if (done < total)
		percent = (unsigned int)(done * 100.0 / total);
	if (elapsed_ns)
		rate = done * (double)NSEC_PER_SEC / elapsed_ns;
	n = snprintf(buf, len, "%s: %3u%% %s/%s  %s/s", label, percent,
		     human_bytes(done, d), human_bytes(total, t),
		     human_bytes((uint64_t)rate, r));
	if (rate >= 1 && done < total && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, "  ETA %s",
			      human_duration((uint64_t)((total - done) / rate),
					     eta));
	if (n < 0)
		return 0;
	return (size_t)n < len ? n : (int)len - 1;
}

void progress_start(struct progress *p, bool on, const char *label,
		    uint64_t total)
{
	p->on = on;
	p->label = label;
	p->total = total;
	p->start_ns = now_ns();
	p->next_ns = p->start_ns;
	p->width = 0;
}

void progress_update(struct progress *p, uint64_t done)
{
	char line[256];
	uint64_t now;
	int n;

	if (!p->on)
		return;
	now = now_ns();
	if (now < p->next_ns)
		return;
	p->next_ns = now + NSEC_PER_SEC / PROGRESS_HZ;
	n = progress_format(line, sizeof(line), p->label, done, p->total,
			    now - p->start_ns);
	/* Blanks over what is left of a longer line before. */
	fprintf(stderr, "\r%s%*s", line, p->width > n ? p->width - n : 0, "");
	fflush(stderr);
	p->width = n;
}

void progress_end(struct progress *p)
{
	if (!p->on || !p->width)
		return;
	fprintf(stderr, "\r%*s\r", p->width, "");
	fflush(stderr);
	p->width = 0;
}
