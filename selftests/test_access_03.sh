#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="snapshot reads go down in runs: untouched chunks in one origin read, chunks copied in order in one COW read, scattered copies piece by piece; data is the frozen image; a run stops at a chunk outside the snapshot"

# 8 MiB origin in 4 KiB chunks (2048): a 1 MiB read spans 256 chunks.
# Reads are O_DIRECT through qemu-io, one request each; the block layer
# may still cut a 1 MiB request once, so "one piece" is checked as at
# most 2 where a split per chunk would make 256.

# _reads_delta DEV COUNTER BEFORE: how much COUNTER grew since BEFORE.
_reads_delta() { echo $(($(_access_field "$1" "$2") - $3)); }

# _expect_range WHAT VALUE MIN MAX
_expect_range() {
	if [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		_fail "$1: $2, expected $3 to $4"
	else
		_log "$1: $2"
	fi
}

test_main() {
	local sz o c n i

	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)
	_pattern_write_all /dev/ram0 "0x11 0 4M" "0x22 4M 4M"
	_dm_create rr "0 $sz cbw /dev/ram0 /dev/ram1 8"
	_dm_create rr-snap "0 $sz snapshot-access /dev/mapper/rr"

	_log "untouched: 1 MiB reads the origin in one piece"
	o=$(_access_field rr-snap origin_reads)
	_pattern_check /dev/mapper/rr-snap 0 1M 0x11
	_expect_range "origin reads for 1 MiB untouched" "$(_reads_delta rr-snap origin_reads "$o")" 1 2
	_access_expect rr-snap cow_reads=0 failed_reads=0

	_log "64 KiB copied in order (consecutive slots): one COW piece, then the origin"
	_pattern_write /dev/mapper/rr 1M 64k 0xa1
	_cbw_expect rr copied=16 slots=16/2048
	o=$(_access_field rr-snap origin_reads)
	c=$(_access_field rr-snap cow_reads)
	_pattern_check /dev/mapper/rr-snap 1M 1M 0x11
	_expect_range "COW reads for 16 copied chunks in order" "$(_reads_delta rr-snap cow_reads "$c")" 1 2
	_expect_range "origin reads for the 240 untouched after them" "$(_reads_delta rr-snap origin_reads "$o")" 1 2

	_log "every other chunk of 256 KiB copied, in reverse order: 32 + 32 pieces"
	for ((i = 62; i >= 0; i -= 2)); do
		_pattern_write /dev/mapper/rr $((2048 + 4 * i))k 4k 0xb2
	done
	_cbw_expect rr copied=48
	o=$(_access_field rr-snap origin_reads)
	c=$(_access_field rr-snap cow_reads)
	_pattern_check /dev/mapper/rr-snap 2M 256k 0x11
	_expect_range "COW reads for 32 scattered copied chunks" "$(_reads_delta rr-snap cow_reads "$c")" 32 33
	_expect_range "origin reads for the 32 between them" "$(_reads_delta rr-snap origin_reads "$o")" 32 33

	_log "copied chunks in reverse order: slots descend, one piece per chunk"
	_pattern_write /dev/mapper/rr $((4096 + 12))k 4k 0xc3
	_pattern_write /dev/mapper/rr $((4096 + 8))k 4k 0xc3
	_pattern_write /dev/mapper/rr $((4096 + 4))k 4k 0xc3
	c=$(_access_field rr-snap cow_reads)
	_pattern_check /dev/mapper/rr-snap $((4096 + 4))k 12k 0x22
	_expect_range "COW reads for 3 chunks in descending slots" "$(_reads_delta rr-snap cow_reads "$c")" 3 3

	_log "a whole mixed 8 MiB read is the frozen image"
	_pattern_check_all /dev/mapper/rr-snap "0x11 0 4M" "0x22 4M 4M"
	_pattern_check_all /dev/mapper/rr "0xa1 1M 64k" "0xb2 2M 4k" "0x11 $((2048 + 4))k 4k" \
		"0xc3 $((4096 + 4))k 12k"

	_log "a chunk discarded from the snapshot: reads across it fail, around it they work"
	_expect_ok "discard chunk 1500" blkdiscard -f -o $((1500 * 4096)) -l 4096 /dev/mapper/rr-snap
	_cbw_expect rr discarded=1 in_snapshot=2047
	n=$(_access_field rr-snap failed_reads)
	_read_nodata /dev/mapper/rr-snap "$((1400 * 4096)) 1M" "$((1500 * 4096)) 4k"
	_expect_range "failed reads" "$(_reads_delta rr-snap failed_reads "$n")" 2 2
	_pattern_check /dev/mapper/rr-snap $((1400 * 4096)) $((100 * 4096)) 0x22
	_pattern_check /dev/mapper/rr-snap $((1501 * 4096)) 1M 0x22

	_dm_remove rr-snap
	_dm_remove rr
}
