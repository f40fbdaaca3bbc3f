#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="the cbw tracepoints: a first write's copy start and end and its wait, a snapshot discard, a copy timeout on a stuck COW device, a break, each with its exact fields"

# Documentation/dm-cbw.rst, "Tracepoints".  The events of the cbw system
# in tracefs, on a cbw device tr (origin /dev/ram0, 16 MiB, chunks of
# 128 sectors: 64 KiB, 256 chunks; COW device trcow, dm-linear over
# /dev/ram1) and its snapshot-access device tr-snap.  The trace is
# cleared before each step and its cbw lines of tr must be exactly these,
# in this order (latency_ns and wait_ns checked as numbers, then N):
#   1. A 4 KiB write in chunk 3:
#        cbw_copy_start: chunks=3-3 slot=0 runs=1 bytes=65536
#        cbw_copy_end: chunks=3-3 slot=0 runs=1 bytes=65536 latency_ns=N error=0
#        cbw_write_wait: chunks=3-3 wait_ns=N error=0
#   2. A discard of chunks 8-11 on tr-snap:
#        cbw_snap_discard: chunks=8-11 count=4
#   3. 'message timeout TIMEOUT', trcow suspended, a 4 KiB write in chunk
#      20: it fails with ETIMEDOUT (the default policy, fail), and
#        cbw_copy_start: chunks=20-20 slot=1 runs=1 bytes=65536
#        cbw_timeout: chunks=20-20 timeout_ms=TIMEOUT
#        cbw_write_wait: chunks=20-20 wait_ns=N error=-110
#      with the wait at least TIMEOUT - 20 ms.
#   4. 'message break', then trcow resumed: the timed-out copy ends, its
#      data thrown away:
#        cbw_break: reason=user
#        cbw_copy_end: chunks=20-20 slot=1 runs=1 bytes=65536 latency_ns=N error=-110
#      with the latency at least TIMEOUT ms.
# Every line names tr's device number (dev=MAJOR,MINOR).

SZ=$((16 * 2048))	# origin and COW: 16 MiB
CHUNK=65536		# bytes
TIMEOUT=500		# ms, step 3
EVENTS="cbw_copy_start cbw_copy_end cbw_write_wait cbw_timeout cbw_break cbw_drop cbw_snap_discard"

TR=			# the tracefs folder
TR_MOUNTED=		# TR was mounted by this test
TR_WAS_ON=		# tracing_on before the test

requires() {
	local d
	for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		[ -d "$d/events" ] && { TR=$d; return 0; }
	done
	if [ -d /sys/kernel/tracing ] &&
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
		TR=/sys/kernel/tracing TR_MOUNTED=1
		[ -d "$TR/events" ] && return 0
		umount "$TR"
	fi
	_skip_reason "no tracefs (/sys/kernel/tracing or debugfs tracing)"
	return 1
}

# (clean-up) the cbw events off, the trace empty, tracefs as it was.
trace_off() {
	echo 0 >"$TR/events/cbw/enable"
	echo >"$TR/trace"
	echo "$TR_WAS_ON" >"$TR/tracing_on"
	[ -z "$TR_MOUNTED" ] || umount "$TR"
}

# events DEVNO: the cbw lines of the device DEVNO (MAJOR,MINOR) in the
# trace, from the event's name on: "cbw_break: dev=253,2 reason=user".
events() {
	sed -n "s/^.* \(cbw_[a-z_]*: dev=$1 .*\)\$/\1/p" "$TR/trace"
}

# check_events WHAT DEVNO EXPECTED: the trace holds exactly EXPECTED (the
# lines without "dev=DEVNO ", latency_ns and wait_ns replaced by N).  The
# numbers of latency_ns and wait_ns, in order, are left in NS.
NS=()
check_events() {
	local what=$1 dev=$2 expected=$3 got line
	got=$(events "$dev")
	NS=()
	while IFS= read -r line; do
		[[ $line =~ (latency_ns|wait_ns)=([0-9]+) ]] && NS+=("${BASH_REMATCH[2]}")
	done <<<"$got"
	got=$(sed -E "s/ dev=$dev / /; s/(latency_ns|wait_ns)=[0-9]+/\1=N/" <<<"$got")
	_expect_eq "$got" "$expected" "$what: trace lines"
}

# at_least WHAT NS MIN_MS: NS nanoseconds are at least MIN_MS ms.
at_least() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt $(($3 * 1000000)) ]; then
		_fail "$1: $2 ns, expected at least $3 ms"
	fi
}

test_main() {
	local dev e i
	_brd_setup 2 16
	[ -d "$TR/events/cbw" ] || _die "no cbw events in $TR/events (dm-cbw without tracepoints?)"
	for e in $EVENTS; do
		[ -e "$TR/events/cbw/$e/enable" ] || _fail "event $e missing"
	done
	TR_WAS_ON=$(cat "$TR/tracing_on")
	_on_cleanup trace_off
	echo 1 >"$TR/tracing_on"
	echo >"$TR/trace"
	echo 1 >"$TR/events/cbw/enable" || _die "cannot enable the cbw events"

	_dm_create trcow "0 $SZ linear /dev/ram1 0"
	_on_cleanup _resume_if_there trcow
	_dm_create tr "0 $SZ cbw /dev/ram0 /dev/mapper/trcow 128"
	_dm_create tr-snap "0 $SZ snapshot-access /dev/mapper/tr"
	dev=$(_devno /dev/mapper/tr)
	dev=${dev/:/,}
	_log "tr is $dev; tracefs at $TR"

	# 1: a first write copies its chunk, the write waits on the copy.
	echo >"$TR/trace"
	_timed_write /dev/mapper/tr $((3 * CHUNK)) 4096
	_expect_eq "$CBW_WRITE_ERR" "" "first write: error"
	check_events "first write" "$dev" \
"cbw_copy_start: chunks=3-3 slot=0 runs=1 bytes=65536
cbw_copy_end: chunks=3-3 slot=0 runs=1 bytes=65536 latency_ns=N error=0
cbw_write_wait: chunks=3-3 wait_ns=N error=0"
	_log "first write: copy latency ${NS[0]:-?} ns, write wait ${NS[1]:-?} ns"

	# 2: a snapshot discard of four whole chunks.
	echo >"$TR/trace"
	_expect_ok "discard chunks 8-11" blkdiscard -f -o $((8 * CHUNK)) \
		-l $((4 * CHUNK)) /dev/mapper/tr-snap
	check_events "snapshot discard" "$dev" "cbw_snap_discard: chunks=8-11 count=4"

	# 3: a copy stuck on the COW device times out.
	_msg tr timeout $TIMEOUT
	_expect_ok "suspend the COW device" dmsetup suspend trcow
	echo >"$TR/trace"
	_timed_write /dev/mapper/tr $((20 * CHUNK)) 4096
	_expect_eq "$CBW_WRITE_ERR" "Connection timed out" "stuck copy: error of the write"
	check_events "copy timeout" "$dev" \
"cbw_copy_start: chunks=20-20 slot=1 runs=1 bytes=65536
cbw_timeout: chunks=20-20 timeout_ms=$TIMEOUT
cbw_write_wait: chunks=20-20 wait_ns=N error=-110"
	at_least "copy timeout: the write's wait" "${NS[0]:-}" $((TIMEOUT - 20))

	# 4: a break; the timed-out copy ends once the COW device resumes.
	echo >"$TR/trace"
	_msg tr break
	_expect_ok "resume the COW device" dmsetup resume trcow
	for ((i = 0; i < 50; i++)); do
		events "$dev" | grep -q "^cbw_copy_end: " && break
		sleep 0.1
	done
	check_events "break" "$dev" \
"cbw_break: reason=user
cbw_copy_end: chunks=20-20 slot=1 runs=1 bytes=65536 latency_ns=N error=-110"
	at_least "break: the timed-out copy's latency" "${NS[0]:-}" $TIMEOUT

	_dm_remove tr-snap
	_dm_remove tr
	_dm_remove trcow
}
