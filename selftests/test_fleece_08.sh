#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="copy-ahead stops before a chunk that a snapshot read holds, instead of giving up the window"

# Documentation/dm-cbw.rst, "Guest writes": a copy-ahead window ends before
# the first chunk that a busy interval holds.  The COW device is dm-delay
# of a RAM disk whose reads take DELAY ms (writes are not delayed, so
# copies are not).  A 4 KiB write at 40 MiB copies that chunk; a snapshot
# read of it then reads its COW slot and holds the chunk busy for DELAY
# ms.  Meanwhile 20 sequential 1 MiB writes from 0 make the steps of
# test_fleece_07: [0,1) [1,2) [2,4) with their bios, then [4,8) [8,16)
# [16,32) and [32,48) MiB in the background; the last one is cut before
# 40 MiB, so 40 MiB are copied by the stream.  A window that gave up
# where something held one of its chunks would leave 32 MiB.

MIB_CHUNKS=256		# 4 KiB chunks per MiB
DELAY=8000		# ms, COW read delay

requires() {
	_require_target delay dm-delay
}

test_main() {
	local sz=$((64 * 2048)) cow=$((224 * 2048)) copied rpid t0 i

	_brd_setup 2 224
	_pattern_write /dev/ram0 0 64M 0x5a
	_dm_create f8cow "0 $cow delay /dev/ram1 0 $DELAY /dev/ram1 0 0"
	_dm_create f8 "0 $sz cbw /dev/ram0 /dev/mapper/f8cow 8"
	_dm_create f8-snap "0 $sz snapshot-access /dev/mapper/f8" --readonly

	_expect_ok "4 KiB at 40 MiB" dd if=/dev/zero of=/dev/mapper/f8 \
		bs=4k seek=$((40 * MIB_CHUNKS)) count=1 oflag=direct status=none
	_expect_eq "$(_cbw_field f8 copied)" 1 "chunks copied by the write at 40 MiB"
	t0=$(_now_ms)
	dd if=/dev/mapper/f8-snap of=/dev/null bs=4k skip=$((40 * MIB_CHUNKS)) \
		count=1 iflag=direct status=none &
	rpid=$!
	# The read holds the chunk once it is in flight: the COW delays it.
	for ((i = 0; i < 50; i++)); do
		[ "$(_access_field f8-snap cow_reads)" -ge 1 ] && break
		sleep 0.1
	done
	_expect_ok "20 sequential 1 MiB writes" dd if=/dev/zero of=/dev/mapper/f8 \
		bs=1M count=20 oflag=direct status=none
	for ((i = 0; i < 100; i++)); do
		[ "$(_cbw_field f8 copied)" -ge $((40 * MIB_CHUNKS + 1)) ] && break
		sleep 0.1
	done
	copied=$(_cbw_field f8 copied)
	_log "20 MiB written $(($(_now_ms) - t0)) ms after the read began: $copied chunks copied"
	[ $(($(_now_ms) - t0)) -lt "$DELAY" ] ||
		_fail "the stream outlasted the snapshot read: the test proves nothing"
	wait "$rpid" || _fail "the snapshot read of the chunk at 40 MiB failed"
	_expect_ok "suspend" dmsetup suspend f8
	_expect_ok "resume" dmsetup resume f8
	_expect_eq "$(_cbw_field f8 copied)" $((40 * MIB_CHUNKS + 1)) \
		"chunks copied (the stream's window cut before 40 MiB, and the chunk at 40 MiB)"
	_expect_eq "$(_cbw_field f8 copy_errors)" 0 "copy errors"
	_pattern_check /dev/mapper/f8-snap 0 64M 0x5a
	_pattern_check /dev/mapper/f8 0 20M 0
	_pattern_check /dev/mapper/f8 20M 20M 0x5a

	_dm_remove f8-snap
	_dm_remove f8
	_dm_remove f8cow
}
