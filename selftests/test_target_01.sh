#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="cbw table lines: valid ones load, status and table read back, bad ones refused with a clear message"

test_main() {
	local sz c

	_brd_setup 3 8
	sz=$(_size_sectors /dev/ram0)	# 16384 sectors

	# Valid, then table and status read back.
	_dm_create cbwt "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_expect_eq "$(dmsetup table cbwt)" "0 $sz cbw /dev/ram0 /dev/ram1 128" \
		"table status reproduces the line"
	_expect_eq "$(dmsetup status cbwt)" "0 $sz cbw 128 128 0 128 0 0 0" \
		"fresh status"
	_dm_remove cbwt

	# Chunk 8 (4 KiB) and a target shorter than the origin.
	_dm_create cbwt "0 $((sz - 100)) cbw 1:0 1:1 8"
	_expect_eq "$(_status_field cbwt 2)" "$(((sz - 100 + 7) / 8))" \
		"chunks of a partial last chunk"
	_dm_remove cbwt

	# Bad lines.
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram1" "Invalid argument count"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram1 128 x" "Invalid argument count"
	_expect_refused bad "0 $sz cbw /dev/nonexistent /dev/ram1 128" "Error opening origin device"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/nonexistent 128" "Error opening COW device"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram0 128" "COW device is the origin"
	for c in 0 4 7 12 100 abc -8 8x 4294967296; do
		_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram1 $c" "Invalid chunk size"
	done
	_expect_refused bad "0 $((sz + 8)) cbw /dev/ram0 /dev/ram1 128" "Origin device too small"
	_expect_refused bad "0 8 zero
8 $((sz - 8)) cbw /dev/ram0 /dev/ram1 128" "must start at sector 0"

	# A COW device smaller than the target.
	_dm_create smallcow "0 $((sz / 2)) linear /dev/ram2 0"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/mapper/smallcow 128" \
		"COW device smaller than the target"

	# Two cbw targets on one origin.
	_dm_create cbwa "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_expect_refused bad "0 $sz cbw /dev/ram0 /dev/ram2 128" \
		"Origin already has a cbw target"
}
