#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a sequential stream of small writes is copied in batches (copy-ahead), the snapshot stays exact"

test_main() {
	local sz jobs copied

	# Copy-ahead needs 64 MiB of free COW slots: 80 MiB devices, 8 MiB used.
	_brd_setup 2 80
	sz=16384
	_pattern_write /dev/ram0 0 8M 0x5a

	# 4 KiB chunks, 2 MiB of 4 KiB sequential O_DIRECT writes: 512 chunks.
	_dm_create seq "0 $sz cbw /dev/ram0 /dev/ram1 8"
	_dm_create seq-snap "0 $sz snapshot-access /dev/mapper/seq" --readonly
	_expect_ok "sequential writes" dd if=/dev/zero of=/dev/mapper/seq bs=4k \
		count=512 oflag=direct status=none

	jobs=$(_cbw_field seq copies)
	copied=$(_cbw_field seq copied)
	_log "512 sequential 4 KiB writes: $jobs copy jobs, $copied chunks copied"
	[ "$copied" -ge 512 ] || _fail "only $copied chunks copied, 512 were written"
	# One chunk per step twice, then the window doubles: 2, 4, ... 256.
	[ "$jobs" -le 12 ] || _fail "$jobs copy jobs for a sequential stream, expected at most 12"
	_expect_eq "$(_cbw_field seq copy_errors)" 0 "copy errors"

	_pattern_check /dev/mapper/seq-snap 0 8M 0x5a
	_pattern_check /dev/mapper/seq 0 2M 0
	_pattern_check /dev/mapper/seq 2M 6M 0x5a

	_dm_remove seq-snap
	_dm_remove seq
}
