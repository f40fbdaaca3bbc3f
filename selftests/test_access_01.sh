#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="snapshot discard: whole chunks leave the snapshot (ENODATA), later writes there copy nothing, their COW slots are freed and reused"

# 8 MiB origin, 64 KiB chunks: 128 chunks.  The COW device holds 8.
K=64	# chunk size in KiB

test_main() {
	local sz chunks copies status devnum gran out

	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)
	chunks=$((sz / 128))
	# Chunks 0-63 hold 0x11, 64-127 hold 0x22.
	_pattern_write_all /dev/ram0 "0x11 0 4M" "0x22 4M 4M"

	_dm_create cow8 "0 $((8 * 128)) linear /dev/ram1 0"
	_dm_create acc "0 $sz cbw /dev/ram0 /dev/mapper/cow8 128"
	_dm_create acc-snap "0 $sz snapshot-access /dev/mapper/acc"	# writable
	devnum=$(dmsetup info -c --noheadings -o major,minor --separator : acc-snap)
	read -r gran <"/sys/dev/block/$devnum/queue/discard_granularity"
	_expect_eq "$gran" 65536 "discard granularity of the snapshot"

	_log "fill the COW device: copy chunks 0-7"
	_pattern_write /dev/mapper/acc 0 512k 0xa0
	_cbw_expect acc copied=8 slots=8/8 copy_errors=0
	_pattern_check /dev/mapper/acc-snap 0 512k 0x11

	_log "discard chunks 0-7 from the snapshot: their slots are freed"
	_expect_ok "discard chunks 0-7" blkdiscard -f -o 0 -l 512k /dev/mapper/acc-snap
	_cbw_expect acc discarded=8 in_snapshot=$((chunks - 8)) copied=0 \
		to_copy=$((chunks - 8)) slots=0/8 state=active
	_read_nodata /dev/mapper/acc-snap "0 64k" "448k 64k" "0 512k"
	# Three reads (a read fails as one piece when its first chunk is out),
	# and the read of offset 0 with which qemu-io probes the alignment
	# when it opens the device.
	_access_expect acc-snap state=valid failed_reads=4

	_log "copy 8 other chunks into the freed slots"
	_pattern_write_all /dev/mapper/acc "0xb0 $((8 * K))k 256k" "0xb1 $((12 * K))k 64k" \
		"0xb3 $((64 * K))k 64k" "0xb4 $((100 * K))k 64k" "0xb5 $((127 * K))k 64k"
	_cbw_expect acc copied=8 slots=8/8 copy_errors=0 first_error=- discarded=8
	_pattern_check_all /dev/mapper/acc-snap "0x11 $((8 * K))k 320k" "0x22 $((64 * K))k 64k" \
		"0x22 $((100 * K))k 64k" "0x22 $((127 * K))k 64k" "0x11 $((13 * K))k 64k"
	_pattern_check_all /dev/ram0 "0xb0 $((8 * K))k 256k" "0xb1 $((12 * K))k 64k" \
		"0xb5 $((127 * K))k 64k"

	_log "writes to discarded chunks copy nothing"
	copies=$(_cbw_field acc copies)
	_pattern_write /dev/mapper/acc 0 512k 0xc0
	_cbw_expect acc copied=8 slots=8/8 copies="$copies" copy_errors=0
	_pattern_check /dev/ram0 0 512k 0xc0
	_read_nodata /dev/mapper/acc-snap "0 512k"

	_log "a discard of less than a chunk does nothing"
	status=$(dmsetup status acc)
	_expect_ok "discard 32k in chunk 20" blkdiscard -f -o $((20 * K + 4))k -l 32k \
		/dev/mapper/acc-snap
	_expect_eq "$(dmsetup status acc)" "$status" "status after a sub-chunk discard"
	_pattern_check /dev/mapper/acc-snap $((20 * K))k 64k 0x11

	_log "a discard from the middle of chunk 20 to the middle of 22 drops only 21"
	_expect_ok "discard 20.5-22.5" blkdiscard -f -o $((20 * K + 32))k -l 128k \
		/dev/mapper/acc-snap
	_cbw_expect acc discarded=9 in_snapshot=$((chunks - 9)) slots=8/8
	_read_nodata /dev/mapper/acc-snap "$((21 * K))k 64k"
	_pattern_check_all /dev/mapper/acc-snap "0x11 $((20 * K))k 64k" "0x11 $((22 * K))k 64k"

	_log "discarding a copied chunk frees its slot"
	_expect_ok "discard chunk 64" blkdiscard -f -o $((64 * K))k -l 64k /dev/mapper/acc-snap
	_cbw_expect acc discarded=10 copied=7 slots=7/8
	_read_nodata /dev/mapper/acc-snap "$((64 * K))k 64k"
	_pattern_check /dev/mapper/acc-snap $((100 * K))k 64k 0x22

	_log "the COW device is full again after one more copy; then ENOSPC"
	_pattern_write /dev/mapper/acc $((30 * K))k 64k 0xd0
	_cbw_expect acc copied=8 slots=8/8 copy_errors=0
	copies=$(_cbw_field acc copies)
	out=$(qemu-io -f raw -n -c "write -P 0xd1 $((31 * K))k 64k" /dev/mapper/acc 2>&1)
	[[ $out == *"write failed: No space left on device"* ]] ||
		_fail "a write needing a copy with the COW device full: $out"
	_cbw_expect acc copied=8 slots=8/8 copies="$copies" copy_errors=1 first_error=cow_full \
		state=active
	_pattern_check_all /dev/mapper/acc-snap "0x11 $((30 * K))k 64k" "0x11 $((31 * K))k 64k" \
		"0x11 $((8 * K))k 384k" "0x22 $((127 * K))k 64k"
	_pattern_check /dev/ram0 $((31 * K))k 64k 0x11

	_dm_remove acc-snap
	_dm_remove acc
	_dm_remove cow8
}
