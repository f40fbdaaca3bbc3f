#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="one-chunk first writes copy inside the writer's own submission: the worker hardly runs, every chunk is copied once, the frozen image is exact"

# Random 4 KiB first writes on a 4 KiB-chunk snapshot of brd: each copy
# starts in the map function and, since brd completes in the submitter's
# context, ends there too (Documentation/dm-cbw.rst, "One-chunk copies").
# The worker (cbw_snap_work) runs only for what cannot go that way: the
# first chunk-map leaf and COW bitmap nodes, and one map leaf per split.
# Before one-chunk copies, every such write ran the worker at least once.

TRACE=/sys/kernel/debug/tracing
WRITES=256

requires() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	[ -w $TRACE/set_ftrace_filter ] ||
		{ _skip_reason "no function tracer"; return 1; }
}

trace_off() {
	echo 0 >$TRACE/tracing_on
	echo nop >$TRACE/current_tracer
	: >$TRACE/set_ftrace_filter
}

test_main() {
	local sz runs out

	_brd_setup 2 16
	sz=$(_size_sectors /dev/ram0)
	_pattern_write /dev/ram0 0 16M 0x3c
	_dm_create ow "0 $sz cbw /dev/ram0 /dev/ram1 8"
	_dm_create ow-snap "0 $sz snapshot-access /dev/mapper/ow" --readonly

	echo 0 >$TRACE/tracing_on
	echo cbw_snap_work >$TRACE/set_ftrace_filter || _die "cannot trace cbw_snap_work"
	echo function >$TRACE/current_tracer || _die "cannot start the function tracer"
	_on_cleanup trace_off
	: >$TRACE/trace
	echo 1 >$TRACE/tracing_on

	# Distinct random blocks (fio's random map), one write in flight.
	out=$(fio --name=ow --filename=/dev/mapper/ow --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=1 --number_ios=$WRITES \
		--randseed=7 --size=16m --output-format=terse 2>&1) ||
		_die "fio failed: $out"

	echo 0 >$TRACE/tracing_on
	runs=$(grep -c 'cbw_snap_work' $TRACE/trace)
	_log "$WRITES first writes, worker runs: $runs"
	_cbw_expect ow copied=$WRITES copies=$WRITES waited=$WRITES \
		copy_errors=0 state=active
	[ "$runs" -le $((WRITES / 8)) ] ||
		_fail "the worker ran $runs times for $WRITES one-chunk first writes (expected at most $((WRITES / 8)))"

	# The frozen image is the data from before the writes, all of it.
	_pattern_check /dev/mapper/ow-snap 0 16M 0x3c
	_access_expect ow-snap failed_reads=0
}
