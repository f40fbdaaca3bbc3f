#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="cbw table lines: valid ones load, status and table read back, bad ones refused with a clear message"

test_main() {
	local sz c cow4k disk line w

	_brd_setup 3 8
	sz=$(_size_sectors /dev/ram0)	# 16384 sectors

	# Valid, then table and status read back.
	_dm_create cbwt "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_expect_eq "$(dmsetup table cbwt)" "0 $sz cbw /dev/ram0 /dev/ram1 128" \
		"table status reproduces the line"
	# 18 fields; the tracking memory (the last) is some positive number.
	line=$(dmsetup status cbwt)
	read -ra w <<<"$line"
	_expect_eq "${#w[@]} ${w[*]:0:20}" \
		"21 0 $sz cbw 128 128 128 0 128 0 0 0/128 active - fail 0 0 0 0 0 0" \
		"fresh status"
	[[ ${w[20]:-} =~ ^[1-9][0-9]*$ ]] || _fail "tracking bytes '${w[20]:-}' in '$line'"
	_dm_remove cbwt

	# Chunk 8 (4 KiB) and a target shorter than the origin.
	_dm_create cbwt "0 $((sz - 100)) cbw 1:0 1:1 8"
	_cbw_expect cbwt chunks=$(((sz - 100 + 7) / 8)) in_snapshot=$(((sz - 100 + 7) / 8)) \
		slots=0/$((sz / 8)) chunk_sectors=8
	_dm_remove cbwt

	# Bad lines.
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram1" "Invalid argument count"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram1 128 0 x" "Invalid argument count"
	_expect_refused bad "0 $sz cbw /dev/nonexistent /dev/ram1 128" "Error opening origin device"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/nonexistent 128" "Error opening COW device"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram0 128" "COW device is the origin"
	for c in 0 4 7 12 100 abc -8 8x 4194304 4294967296; do
		_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram1 $c" "Invalid chunk size"
	done
	_expect_refused bad "0 $((sz + 8)) cbw /dev/ram0 /dev/ram1 128" "Origin device too small"
	_expect_refused bad "0 8 zero
8 $((sz - 8)) cbw /dev/ram0 /dev/ram1 128" "cbw target must start at sector 0"

	# The largest chunk, 1 GiB, is accepted (one partial chunk here) with
	# a COW device of one chunk (a zero target: nothing is written).
	_dm_create zcow "0 2097152 zero"
	_dm_create cbwt "0 $sz cbw /dev/ram0 /dev/mapper/zcow 2097152"
	_cbw_expect cbwt chunks=1 in_snapshot=1 to_copy=1 slots=0/1
	_dm_remove cbwt
	_dm_remove zcow

	# A COW device with 4 KiB logical blocks: chunk and length must fit it.
	_tmpdir
	truncate -s 8M "$CBW_TMP/cow4k.img"
	cow4k=$(losetup -f --show -b 4096 "$CBW_TMP/cow4k.img") || _die "losetup"
	_expect_refused bad "0 $sz cbw /dev/ram0 $cow4k 4" "Invalid chunk size"
	_expect_refused bad "0 $((sz - 1)) cbw /dev/ram0 $cow4k 8" \
		"Length not a multiple of the logical block size"
	_dm_create cbwt "0 $((sz - 8)) cbw /dev/ram0 $cow4k 8"
	_dm_remove cbwt
	losetup -d "$cow4k"

	# A COW device that is a partition of the origin disk: the block layer
	# refuses the second exclusive claim.
	truncate -s 20M "$CBW_TMP/disk.img"
	printf 'label: dos\n,8M\n,\n' | sfdisk -q "$CBW_TMP/disk.img" || _die "sfdisk"
	disk=$(losetup -f --show -P "$CBW_TMP/disk.img") || _die "losetup -P"
	[ -b "${disk}p2" ] || _die "no partition ${disk}p2"
	_expect_refused bad "0 $((sz / 2)) cbw $disk ${disk}p2 8" \
		"Error opening COW device"
	_expect_refused bad "0 $((sz / 2)) cbw ${disk}p1 $disk 8" \
		"Error opening COW device"
	_dm_create cbwt "0 $(_size_sectors "${disk}p1") cbw ${disk}p1 ${disk}p2 8"
	_dm_remove cbwt
	losetup -d "$disk"

	# The COW store is packed: a COW device smaller than the target is
	# fine, down to one chunk; smaller than one chunk is refused.
	_dm_create smallcow "0 $((sz / 2)) linear /dev/ram2 0"
	_dm_create cbwt "0 $sz cbw /dev/ram0 /dev/mapper/smallcow 128"
	_cbw_expect cbwt chunks=$((sz / 128)) slots=0/$((sz / 2 / 128))
	_dm_remove cbwt
	_dm_create tinycow "0 64 linear /dev/ram2 0"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/mapper/tinycow 128" \
		"COW device smaller than one chunk"
	_dm_create cbwt "0 $sz cbw /dev/ram0 /dev/mapper/tinycow 64"
	_cbw_expect cbwt chunks=$((sz / 64)) slots=0/1
	_dm_remove cbwt

	# Two cbw targets on one origin.
	_dm_create cbwa "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram2 128" \
		"Origin already has a cbw target"
}
