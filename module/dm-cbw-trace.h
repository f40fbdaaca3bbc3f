/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw tracepoints: the system "cbw" in tracefs.  Each event names the
 * cbw device by its number (dev=MAJOR,MINOR) and chunks by their index
 * on the origin.  Documentation/dm-cbw.rst, "Tracepoints", says when
 * each one fires.  dm-cbw-core.c defines them (CREATE_TRACE_POINTS).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cbw

#if !defined(_TRACE_CBW_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_CBW_H

#include <linux/kdev_t.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

#include "dm-cbw-snap.h"

TRACE_DEFINE_ENUM(CBW_OK);
TRACE_DEFINE_ENUM(CBW_IO_ERROR);
TRACE_DEFINE_ENUM(CBW_TIMEOUT);
TRACE_DEFINE_ENUM(CBW_COW_FULL);
TRACE_DEFINE_ENUM(CBW_NOMEM);
TRACE_DEFINE_ENUM(CBW_USER);

/* The status words of cbw_reason_name(). */
#define show_cbw_reason(reason)					\
	__print_symbolic(reason,				\
			 { CBW_OK,		"-" },		\
			 { CBW_IO_ERROR,	"io_error" },	\
			 { CBW_TIMEOUT,		"timeout" },	\
			 { CBW_COW_FULL,	"cow_full" },	\
			 { CBW_NOMEM,		"no_memory" },	\
			 { CBW_USER,		"user" })

TRACE_EVENT(cbw_copy_start,

	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last, u64 slot,
		 unsigned int runs, u64 bytes),

	TP_ARGS(snap, first, last, slot, runs, bytes),

	TP_STRUCT__entry(
		__field(dev_t,		dev)
		__field(u64,		first)
		__field(u64,		last)
		__field(u64,		slot)
		__field(unsigned int,	runs)
		__field(u64,		bytes)
	),

	TP_fast_assign(
		__entry->dev	= snap->md_devt;
		__entry->first	= first;
		__entry->last	= last;
		__entry->slot	= slot;
		__entry->runs	= runs;
		__entry->bytes	= bytes;
	),

	TP_printk("dev=%u,%u chunks=%llu-%llu slot=%llu runs=%u bytes=%llu",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->first, __entry->last, __entry->slot,
		  __entry->runs, __entry->bytes)
);

TRACE_EVENT(cbw_copy_end,

	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last, u64 slot,
		 unsigned int runs, u64 bytes, u64 latency_ns, int error),

	TP_ARGS(snap, first, last, slot, runs, bytes, latency_ns, error),

	TP_STRUCT__entry(
		__field(dev_t,		dev)
		__field(u64,		first)
		__field(u64,		last)
		__field(u64,		slot)
		__field(unsigned int,	runs)
		__field(u64,		bytes)
		__field(u64,		latency_ns)
		__field(int,		error)
	),

	TP_fast_assign(
		__entry->dev		= snap->md_devt;
		__entry->first		= first;
		__entry->last		= last;
		__entry->slot		= slot;
		__entry->runs		= runs;
		__entry->bytes		= bytes;
		__entry->latency_ns	= latency_ns;
		__entry->error		= error;
	),

	TP_printk("dev=%u,%u chunks=%llu-%llu slot=%llu runs=%u bytes=%llu latency_ns=%llu error=%d",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->first, __entry->last, __entry->slot,
		  __entry->runs, __entry->bytes, __entry->latency_ns,
		  __entry->error)
);

TRACE_EVENT(cbw_write_wait,

	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last, u64 wait_ns,
		 int error),

	TP_ARGS(snap, first, last, wait_ns, error),

	TP_STRUCT__entry(
		__field(dev_t,		dev)
		__field(u64,		first)
		__field(u64,		last)
		__field(u64,		wait_ns)
		__field(int,		error)
	),

	TP_fast_assign(
		__entry->dev		= snap->md_devt;
		__entry->first		= first;
		__entry->last		= last;
		__entry->wait_ns	= wait_ns;
		__entry->error		= error;
	),

	TP_printk("dev=%u,%u chunks=%llu-%llu wait_ns=%llu error=%d",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->first, __entry->last, __entry->wait_ns,
		  __entry->error)
);

TRACE_EVENT(cbw_timeout,

	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last,
		 unsigned int timeout_ms),

	TP_ARGS(snap, first, last, timeout_ms),

	TP_STRUCT__entry(
		__field(dev_t,		dev)
		__field(u64,		first)
		__field(u64,		last)
		__field(unsigned int,	timeout_ms)
	),

	TP_fast_assign(
		__entry->dev		= snap->md_devt;
		__entry->first		= first;
		__entry->last		= last;
		__entry->timeout_ms	= timeout_ms;
	),

	TP_printk("dev=%u,%u chunks=%llu-%llu timeout_ms=%u",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->first, __entry->last, __entry->timeout_ms)
);

TRACE_EVENT(cbw_break,

	TP_PROTO(struct cbw_snap *snap, enum cbw_reason reason),

	TP_ARGS(snap, reason),

	TP_STRUCT__entry(
		__field(dev_t,		dev)
		__field(int,		reason)
	),

	TP_fast_assign(
		__entry->dev	= snap->md_devt;
		__entry->reason	= reason;
	),

	TP_printk("dev=%u,%u reason=%s",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  show_cbw_reason(__entry->reason))
);

/* Chunks [@first, @last] left the snapshot, @count of them readable. */
DECLARE_EVENT_CLASS(cbw_chunks_class,

	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last, u64 count),

	TP_ARGS(snap, first, last, count),

	TP_STRUCT__entry(
		__field(dev_t,		dev)
		__field(u64,		first)
		__field(u64,		last)
		__field(u64,		count)
	),

	TP_fast_assign(
		__entry->dev	= snap->md_devt;
		__entry->first	= first;
		__entry->last	= last;
		__entry->count	= count;
	),

	TP_printk("dev=%u,%u chunks=%llu-%llu count=%llu",
		  MAJOR(__entry->dev), MINOR(__entry->dev),
		  __entry->first, __entry->last, __entry->count)
);

DEFINE_EVENT(cbw_chunks_class, cbw_drop,
	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last, u64 count),
	TP_ARGS(snap, first, last, count)
);

DEFINE_EVENT(cbw_chunks_class, cbw_snap_discard,
	TP_PROTO(struct cbw_snap *snap, u64 first, u64 last, u64 count),
	TP_ARGS(snap, first, last, count)
);

#endif /* _TRACE_CBW_H */

/* Outside include/trace/events: define_trace.h finds us through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dm-cbw-trace
#include <trace/define_trace.h>
