#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_fleece_03: guest discards and write-zeroes copy first, and a last
# chunk that is only partly inside the origin.
#
#   - A guest discard of the whole 64 MiB origin (null_blk, which takes
#     discards) copies every chunk first, in steps of at most 16 MiB; the
#     snapshot keeps the data, the origin reads zeroes.
#   - Guest write-zeroes on an origin that takes them (a loop device on a
#     file on ext4): 'blkdiscard -z' over 8 MiB (chunks 64-191) and a
#     hole punched with fallocate (write-zeroes without fallback) inside
#     chunk 320 copy exactly those 129 chunks first; the snapshot keeps the
#     old data, also of the chunks around them; the origin reads zeroes.
#   - A cbw table of 1000 sectors with 128-sector chunks: 8 chunks, the
#     last one 104 sectors.  A write to its end copies it (one chunk); the
#     snapshot reads its old data up to the end; the origin past the table
#     is untouched.

DESCRIPTION="a guest discard or write-zeroes copies the chunks first; a partial last chunk is copied and read back"

requires() {
	_require_nullb || return 1
	command -v mkfs.ext4 >/dev/null || { _skip_reason "mkfs.ext4 not found"; return 1; }
}

# A 32 MiB loop device on a file on ext4 on /dev/ram1: it takes
# write-zeroes (ext4 zeroes ranges; null_blk and brd do not, tmpfs only
# punches holes); sets LOOP.
make_zero_origin() {
	mkdir "$CBW_TMP/mnt" &&
		mkfs.ext4 -q -F /dev/ram1 &&
		mount /dev/ram1 "$CBW_TMP/mnt" || return 1
	_on_cleanup umount "$CBW_TMP/mnt"
	fallocate -l 32M "$CBW_TMP/mnt/origin.img" || return 1
	LOOP=$(losetup -f --show "$CBW_TMP/mnt/origin.img") || return 1
	_on_cleanup losetup -d "$LOOP"
}

discard() {
	local origin sz

	_log "guest discard"
	_on_cleanup _nullb_remove cbwdisc
	# 64 MiB, memory-backed, takes discards (brd does not, on 6.1 or 6.12).
	origin=$(_nullb_make cbwdisc size=64 memory_backed=1 discard=1) ||
		_die "cannot make a null_blk device with discard"
	[ -b "$origin" ] || _die "$origin missing"
	sz=$(_size_sectors "$origin")
	_log "origin discard_max_bytes: $(cat "/sys/block/${origin#/dev/}/queue/discard_max_bytes")"

	_pattern_write_all "$origin" "0x5d 0 64k" "0xd5 20M 1M" "0xcd 0x3ff0000 64k"

	_dm_create disc "0 $sz cbw $origin /dev/ram0 128"
	_dm_create disc-snap "0 $sz snapshot-access /dev/mapper/disc" --readonly

	_expect_ok "blkdiscard" blkdiscard /dev/mapper/disc
	_log "copy jobs for the discard: $(_cbw_field disc copies)"
	_cbw_expect disc copied=1024 to_copy=0 copy_errors=0 slots=1024/1024
	[ "$(_cbw_field disc copies)" -ge 4 ] ||
		_fail "a 64 MiB discard made fewer than 4 copy steps of 16 MiB"

	_pattern_check_all /dev/mapper/disc-snap "0x5d 0 64k" "0xd5 20M 1M" \
		"0xcd 0x3ff0000 64k" "0 1M 1M"
	_pattern_check_all "$origin" "0 0 64k" "0 20M 1M"

	_dm_remove disc-snap
	_dm_remove disc
}

write_zeroes() {
	local sz dm wz

	_log "guest write-zeroes"
	make_zero_origin || _die "cannot make a loop device on ext4"
	sz=$(_size_sectors "$LOOP")
	_expect_eq "$sz" 65536 "write-zeroes origin size"
	OLDZ=("0x7c 4032k 64k" "0x5a 4M 8M" "0x7d 12M 64k" "0x6b 20M 64k")
	_pattern_write_all "$LOOP" "${OLDZ[@]}"

	_dm_create zero "0 $sz cbw $LOOP /dev/ram0 128"
	_dm_create zero-snap "0 $sz snapshot-access /dev/mapper/zero" --readonly
	dm=$(dmsetup info -c --noheadings -o blkdevname zero)
	wz=$(cat "/sys/block/$dm/queue/write_zeroes_max_bytes")
	_log "cbw device write_zeroes_max_bytes: $wz"
	[ "$wz" -gt 0 ] || _fail "the cbw device does not take write-zeroes over $LOOP"

	# Chunks 64-191.
	_expect_ok "blkdiscard -z" blkdiscard -z -o 4M -l 8M /dev/mapper/zero
	_cbw_expect zero copied=128 to_copy=$((512 - 128)) copy_errors=0
	# 8 KiB inside chunk 320; a punched hole on a block device is
	# write-zeroes with no fallback to writes.
	_expect_ok "fallocate --punch-hole" \
		fallocate -p -o $((20 * 1048576 + 4096)) -l 8192 /dev/mapper/zero
	_cbw_expect zero copied=129 to_copy=$((512 - 129)) copy_errors=0 dropped=0 \
		slots=129/1024

	_pattern_check_all /dev/mapper/zero-snap "${OLDZ[@]}"
	_pattern_check_all /dev/mapper/zero "0x7c 4032k 64k" "0 4M 8M" "0x7d 12M 64k" \
		"0x6b 20M 4k" "0 $((20 * 1048576 + 4096)) 8k" "0x6b $((20 * 1048576 + 12288)) 52k"
	_dm_remove zero-snap
	_dm_remove zero
}

partial_chunk() {
	_log "partial last chunk"
	# Sectors 0-895: chunks 0-6; 896-999: chunk 7; 1000-1023: outside.
	_pattern_write_all /dev/ram2 "0x71 0 448k" "0x77 448k 52k" "0x7f 500k 12k"
	_dm_create part "0 1000 cbw /dev/ram2 /dev/ram0 128"
	_dm_create part-snap "0 1000 snapshot-access /dev/mapper/part" --readonly
	_cbw_expect part chunks=8 in_snapshot=8 to_copy=8 copied=0

	_pattern_write /dev/mapper/part 496k 4k 0x88
	_cbw_expect part copied=1 to_copy=7 copies=1 copy_errors=0 slots=1/1024
	_pattern_check_all /dev/mapper/part-snap "0x77 448k 52k" "0x71 384k 64k"
	_pattern_check_all /dev/mapper/part "0x77 448k 48k" "0x88 496k 4k"
	_pattern_check_all /dev/ram2 "0x7f 500k 12k"

	# The whole partial chunk, and the chunk before it.
	_pattern_write /dev/mapper/part 384k 116k 0x99
	_cbw_expect part copied=2 to_copy=6 copy_errors=0
	_pattern_check_all /dev/mapper/part-snap "0x71 384k 64k" "0x77 448k 52k"
	_pattern_check_all /dev/ram2 "0x99 384k 116k" "0x7f 500k 12k"
	_dm_remove part-snap
	_dm_remove part
}

test_main() {
	_brd_setup 3 64
	_tmpdir
	discard
	write_zeroes
	partial_chunk
}
