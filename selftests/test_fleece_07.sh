#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a sequential stream's next copy step starts in the background when its writes reach the window copied last, the snapshot stays exact"

# Documentation/dm-cbw.rst, "Guest writes": from the third step of a
# stream, a step copies ahead (2, 4, 8, 16 MiB windows); the write that
# reaches the window copied last starts the next step with no bio on it.
# 20 sequential 1 MiB writes on a 4 KiB-chunk snapshot then leave these
# steps: [0,1) [1,2) [2,4) (bio steps; the third copies ahead and arms the
# write at 3 MiB), then in the background [4,8) (from the write at 3),
# [8,16) (at 4), [16,32) (at 8), [32,48) (at 16): 48 MiB copied.  Steps
# driven by bios alone stop at 32 MiB ([4,8) [8,16) [16,32) by the
# writes at 4, 8 and 16).

MIB_CHUNKS=256		# 4 KiB chunks per MiB

test_main() {
	local sz copied jobs i

	# Windows of 16 MiB need 8 x 16 MiB of free slots: 224 MiB devices.
	_brd_setup 2 224
	sz=$((64 * 2048))
	_pattern_write /dev/ram0 0 64M 0x5a

	_dm_create seq "0 $sz cbw /dev/ram0 /dev/ram1 8"
	_dm_create seq-snap "0 $sz snapshot-access /dev/mapper/seq" --readonly
	_expect_ok "20 sequential 1 MiB writes" dd if=/dev/zero of=/dev/mapper/seq \
		bs=1M count=20 oflag=direct status=none
	# The last step starts on the worker's CPU after the write at
	# 16 MiB: give it time to start (a suspend stops steps not yet
	# started), then the suspend waits for the copies in flight.
	for ((i = 0; i < 100; i++)); do
		[ "$(_cbw_field seq copied)" -ge $((48 * MIB_CHUNKS)) ] && break
		sleep 0.1
	done
	_expect_ok "suspend" dmsetup suspend seq
	_expect_ok "resume" dmsetup resume seq

	copied=$(_cbw_field seq copied)
	jobs=$(_cbw_field seq copies)
	_log "20 MiB written: $copied chunks copied in $jobs copy jobs"
	_expect_eq "$copied" $((48 * MIB_CHUNKS)) "chunks copied (48 MiB: two windows in the background)"
	_expect_eq "$(_cbw_field seq to_copy)" $(((64 - 48) * MIB_CHUNKS)) "chunks to copy"
	_expect_eq "$(_cbw_field seq copy_errors)" 0 "copy errors"

	_pattern_check /dev/mapper/seq-snap 0 64M 0x5a
	_pattern_check /dev/mapper/seq 0 20M 0
	_pattern_check /dev/mapper/seq 20M 44M 0x5a

	# After the resume the stream goes on where its last step ended.
	_expect_ok "1 MiB at 48 MiB" dd if=/dev/zero of=/dev/mapper/seq \
		bs=1M seek=48 count=1 oflag=direct status=none
	_expect_ok "suspend" dmsetup suspend seq
	_expect_ok "resume" dmsetup resume seq
	_expect_eq "$(_cbw_field seq to_copy)" 0 "chunks to copy after a write at 48 MiB (copy-ahead to 64 MiB)"
	_pattern_check /dev/mapper/seq-snap 0 64M 0x5a
	_pattern_check /dev/mapper/seq 48M 1M 0

	_dm_remove seq-snap
	_dm_remove seq
}
