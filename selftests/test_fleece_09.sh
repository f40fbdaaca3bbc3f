#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="COW discards that the block layer throttles hold up neither the snapshot discard nor a guest write"

# Documentation/dm-cbw.rst, "Snapshot discards": the snapshot discard ends
# once its chunks have left the snapshot, and the worker only queues the
# COW discards.  The COW device is a blk-mq null_blk device whose every
# request completes 100 ms after it is submitted, with writeback
# throttling on (wbt_lat_usec): wbt lets one discard at a time be in
# flight on a queue of depth 4, and makes the submitter of the next one
# sleep until it ends.  32 chunks to discard have slots 0, 2, 4, ... (the
# copies alternate with those of 32 chunks that stay), so the discard of
# the 32 makes 32 COW discards that cannot merge: submitted one after the
# other they take at least 3.1 s.  Submitted by the worker, they held the
# worker, the engine with it, and the snapshot discard that long, and the
# first write waited for the worker (on 6.1: 3.3 s and 2.3 s).  The
# snapshot discard must take less than 1.5 s (a process start, under
# emulation; blkdiscard -f, which does not look for signatures: reads of
# copied chunks take 100 ms each here), and a first write a second into
# it too; the COW discards then end, their slots are freed, and the
# snapshot still reads its data.

N=32			# chunks to discard, and as many that stay
BOUND_MS=1500

requires() {
	_require_nullb || return 1
	grep -qw wbt_enable_default /proc/kallsyms ||
		{ _skip_reason "no writeback throttling (CONFIG_BLK_WBT)"; return 1; }
}

test_main() {
	local cow q sz i args=() out pid discard_ms slots

	_brd_setup 1 64
	_tmpdir
	_on_cleanup _nullb_remove cbwslow
	# 64 MiB, memory-backed, takes discards, every request completes
	# 100 ms later from a timer.
	cow=$(_nullb_make cbwslow size=64 memory_backed=1 discard=1 queue_mode=2 \
		submit_queues=1 hw_queue_depth=4 irqmode=2 completion_nsec=100000000) ||
		_die "cannot make a slow null_blk device"
	[ -b "$cow" ] || _die "$cow missing"
	q=/sys/block/${cow#/dev/}/queue
	# No I/O scheduler: its requests would raise the queue depth that
	# wbt's limits come from (one discard in flight at depth 4).  wbt is
	# on by default on such a queue; make sure.
	echo none >"$q/scheduler" || _die "cannot set the I/O scheduler to none"
	echo 2000 >"$q/wbt_lat_usec" || _die "cannot turn writeback throttling on"
	_log "COW $cow: wbt_lat_usec $(cat "$q/wbt_lat_usec"), nr_requests $(cat "$q/nr_requests")"

	_pattern_write /dev/ram0 0 16M 0x5a
	sz=$(_size_sectors /dev/ram0)
	_dm_create f9 "0 $sz cbw /dev/ram0 $cow 8"
	_dm_create f9-snap "0 $sz snapshot-access /dev/mapper/f9"

	# Chunk i (to discard) gets slot 2i, chunk 1024 + i (stays) 2i + 1.
	for ((i = 0; i < N; i++)); do
		args+=(-c "write -P 0x11 $((i * 4096)) 4k"
		       -c "write -P 0x22 $(((1024 + i) * 4096)) 4k")
	done
	out=$(qemu-io -f raw -n "${args[@]}" /dev/mapper/f9 2>&1) ||
		_die "the first writes failed: $out"
	_cbw_expect f9 copied=$((2 * N)) slots=$((2 * N))/16384 copy_errors=0

	# The snapshot discard, and a first write (chunk 2048) a second into it.
	(
		t0=$(_now_ms)
		blkdiscard -f -o 0 -l $((N * 4096)) /dev/mapper/f9-snap || exit 1
		echo $(($(_now_ms) - t0)) >"$CBW_TMP/discard_ms"
	) &
	pid=$!
	sleep 1
	_timed_write /dev/mapper/f9 $((2048 * 4096)) 4096
	wait "$pid" || _fail "the snapshot discard failed"
	discard_ms=$(<"$CBW_TMP/discard_ms")
	_log "snapshot discard of $N chunks: $discard_ms ms; first write meanwhile: $CBW_WRITE_MS ms"
	[ -z "$CBW_WRITE_ERR" ] || _fail "the first write failed: $CBW_WRITE_ERR"
	[ "$CBW_WRITE_MS" -lt "$BOUND_MS" ] ||
		_fail "a first write took $CBW_WRITE_MS ms while COW discards were throttled (bound $BOUND_MS)"
	[ "$discard_ms" -lt "$BOUND_MS" ] ||
		_fail "the snapshot discard took $discard_ms ms: it waited for throttled COW discards (bound $BOUND_MS)"

	# The COW discards end (at least 3.1 s), and free their slots.
	for ((i = 0; i < 100; i++)); do
		slots=$(_cbw_field f9 slots)
		[ "${slots%/*}" = $((N + 1)) ] && break
		sleep 0.1
	done
	_cbw_expect f9 discarded=$N slots=$((N + 1))/16384 copy_errors=0

	_read_nodata /dev/mapper/f9-snap "0 $((N * 4096))"
	_pattern_check_all /dev/mapper/f9-snap "0x5a $((N * 4096)) $((4 * 1048576 - N * 4096))" \
		"0x5a 4M $((N * 4096))" "0x5a 8M 4k"
	_pattern_check_all /dev/mapper/f9 "0x11 0 $((N * 4096))" "0x22 4M $((N * 4096))" "0 8M 4k"
	_dm_remove f9-snap
	_dm_remove f9
}
