#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="one-chunk first writes copy inside the writer's own submission: the worker hardly runs, every chunk is copied once, the frozen image is exact"

# Random 4 KiB first writes on a 4 KiB-chunk snapshot of brd: each copy
# starts in the map function and, since brd completes in the submitter's
# context, ends there too (Documentation/dm-cbw.rst, "One-chunk copies").
# The worker (cbw_snap_work) runs only for what cannot go that way: the
# first chunk-map leaf and COW bitmap nodes, and one map leaf per split.
# Before one-chunk copies, every such write ran the worker at least once.
# The worker is counted with the function tracer; a kernel without it (the
# debug kernel) still runs the writes and checks the image and the counts.

TRACE=/sys/kernel/debug/tracing
WRITES=256

trace_on() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	[ -w $TRACE/set_ftrace_filter ] || return 1
	echo 0 >$TRACE/tracing_on
	echo cbw_snap_work >$TRACE/set_ftrace_filter || _die "cannot trace cbw_snap_work"
	echo function >$TRACE/current_tracer || _die "cannot start the function tracer"
	_on_cleanup trace_off
	: >$TRACE/trace
	echo 1 >$TRACE/tracing_on
}

trace_off() {
	echo 0 >$TRACE/tracing_on
	echo nop >$TRACE/current_tracer
	: >$TRACE/set_ftrace_filter
}

test_main() {
	local sz runs out qd n traced=1

	_brd_setup 2 16
	sz=$(_size_sectors /dev/ram0)
	_pattern_write /dev/ram0 0 16M 0x3c
	_dm_create ow "0 $sz cbw /dev/ram0 /dev/ram1 8"
	_dm_create ow-snap "0 $sz snapshot-access /dev/mapper/ow" --readonly

	trace_on || { traced=0; _log "no function tracer: the worker's runs are not counted"; }

	# Distinct random blocks (fio's random map): one write in flight in
	# the first half, 32 in the second (many copies queued by one task).
	for qd in 1 32; do
		out=$(fio --name=ow --filename=/dev/mapper/ow --rw=randwrite \
			--bs=4k --direct=1 --ioengine=libaio --iodepth=$qd \
			--number_ios=$WRITES --randseed=7 --offset=$(((qd > 1) * 8))m \
			--size=8m --output-format=terse 2>&1) ||
			_die "fio at queue depth $qd failed: $out"
	done

	n=$((2 * WRITES))
	_cbw_expect ow copied=$n copies=$n waited=$n copy_errors=0 state=active
	if [ $traced = 1 ]; then
		echo 0 >$TRACE/tracing_on
		runs=$(grep -c 'cbw_snap_work' $TRACE/trace)
		_log "$n first writes, worker runs: $runs"
		[ "$runs" -le $((n / 8)) ] ||
			_fail "the worker ran $runs times for $n one-chunk first writes (expected at most $((n / 8)))"
	fi

	# The frozen image is the data from before the writes, all of it.
	_pattern_check /dev/mapper/ow-snap 0 16M 0x3c
	_access_expect ow-snap failed_reads=0
}
