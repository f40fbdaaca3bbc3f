#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="copy-ahead stops before a chunk that a snapshot read holds, instead of giving up the window"

# Documentation/dm-cbw.rst, "Guest writes": a copy-ahead window ends before
# the first chunk that a busy interval holds.  The COW device is dm-delay
# without delays that reads through f8hold (a dm-linear of a RAM disk)
# and writes to the RAM disk itself, so copies go on while f8hold is
# suspended.  A 4 KiB write at 40 MiB copies that chunk; f8hold is
# suspended; a snapshot read of the chunk then reads its COW slot and
# holds the chunk busy until f8hold resumes, however slow the guest (an
# 8 s read delay was outrun by the debug kernel).  Meanwhile 20
# sequential 1 MiB writes from 0 make the steps of test_fleece_07: [0,1)
# [1,2) [2,4) with their bios, then [4,8) [8,16) [16,32) and [32,48) MiB
# in the background; the last one is cut before 40 MiB, so 40 MiB are
# copied by the stream.  A window that gave up where something held one of
# its chunks would leave 32 MiB.

MIB_CHUNKS=256		# 4 KiB chunks per MiB
HOLD_SUSPENDED=0

requires() {
	_require_target delay dm-delay
}

teardown() {
	# A snapshot read held in the suspended f8hold ends once it resumes.
	[ "$HOLD_SUSPENDED" = 0 ] || dmsetup resume f8hold
	_cleanup
}

test_main() {
	local sz=$((64 * 2048)) cow=$((224 * 2048)) copied rpid i

	trap teardown EXIT
	_brd_setup 2 224
	_pattern_write /dev/ram0 0 64M 0x5a
	_dm_create f8hold "0 $cow linear /dev/ram1 0"
	_dm_create f8cow "0 $cow delay /dev/mapper/f8hold 0 0 /dev/ram1 0 0"
	_dm_create f8 "0 $sz cbw /dev/ram0 /dev/mapper/f8cow 8"
	_dm_create f8-snap "0 $sz snapshot-access /dev/mapper/f8" --readonly

	_expect_ok "4 KiB at 40 MiB" dd if=/dev/zero of=/dev/mapper/f8 \
		bs=4k seek=$((40 * MIB_CHUNKS)) count=1 oflag=direct status=none
	_expect_eq "$(_cbw_field f8 copied)" 1 "chunks copied by the write at 40 MiB"
	dmsetup suspend f8hold || _die "cannot suspend f8hold"
	HOLD_SUSPENDED=1
	dd if=/dev/mapper/f8-snap of=/dev/null bs=4k skip=$((40 * MIB_CHUNKS)) \
		count=1 iflag=direct status=none &
	rpid=$!
	# The read holds the chunk once it is in flight: f8hold keeps it.
	for ((i = 0; i < 100; i++)); do
		[ "$(_access_field f8-snap cow_reads)" -ge 1 ] && break
		sleep 0.1
	done
	_expect_eq "$(_access_field f8-snap cow_reads)" 1 "snapshot reads sent to the COW device"
	_expect_ok "20 sequential 1 MiB writes" dd if=/dev/zero of=/dev/mapper/f8 \
		bs=1M count=20 oflag=direct status=none
	for ((i = 0; i < 300; i++)); do
		[ "$(_cbw_field f8 copied)" -ge $((40 * MIB_CHUNKS + 1)) ] && break
		sleep 0.1
	done
	copied=$(_cbw_field f8 copied)
	_log "20 MiB written while the snapshot read is held: $copied chunks copied"
	kill -0 "$rpid" 2>/dev/null ||
		_fail "the snapshot read ended while f8hold was suspended: the test proves nothing"
	dmsetup resume f8hold || _die "cannot resume f8hold"
	HOLD_SUSPENDED=0
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
	_dm_remove f8hold
}
