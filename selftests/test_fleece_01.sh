#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="fleecing: the snapshot keeps the point-in-time data while the origin changes, exactly the touched chunks are copied"

# The layout of QEMU's image-fleecing test: a 64 MiB origin, 64 KiB chunks.
ORIGINAL=("0x5d 0 64k" "0xd5 1M 64k" "0xdc 32M 64k" "0xcd 0x3ff0000 64k")
OVERWRITE=("0xab 0 64k" "0xad 0xf8000 64k" "0x1d 0x2008000 64k" "0xea 0x3fe0000 64k")
ZEROES=("0 0xf8000 32k" "0 0x2010000 32k" "0 0x3fe0000 64k")
REMAINDER=("0xd5 0x108000 32k" "0xdc 32M 32k" "0xcd 0x3ff0000 64k")

check_all() {	# DEV PATTERN-LIST...
	local dev=$1 p
	shift
	for p in "$@"; do
		set -- $p
		_pattern_check "$dev" "$2" "$3" "$1"
	done
}

check_snapshot() {
	check_all /dev/mapper/fleece-snap "${ORIGINAL[@]}" "${ZEROES[@]}"
}

test_main() {
	local sz p copies

	_brd_setup 2 64
	sz=$(_size_sectors /dev/ram0)
	_expect_eq "$sz" 131072 "origin size"

	for p in "${ORIGINAL[@]}"; do
		set -- $p
		_pattern_write /dev/ram0 "$2" "$3" "$1"
	done

	_dm_create fleece "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_dm_create fleece-snap "0 $sz snapshot-access /dev/mapper/fleece" --readonly

	_log "snapshot before the overwrites"
	check_snapshot
	_cbw_expect fleece copied=0 to_copy=1024 in_snapshot=1024 state=active

	for p in "${OVERWRITE[@]}"; do
		set -- $p
		_pattern_write /dev/mapper/fleece "$2" "$3" "$1"
	done

	_log "snapshot after the overwrites"
	check_snapshot
	_log "origin after the overwrites"
	check_all /dev/mapper/fleece "${OVERWRITE[@]}" "${REMAINDER[@]}"
	check_all /dev/ram0 "${OVERWRITE[@]}" "${REMAINDER[@]}"

	# Chunks 0, 15, 16, 512, 513 and 1022.
	_cbw_expect fleece copied=6 to_copy=$((1024 - 6)) in_snapshot=1024 \
		slots=6/1024 copy_errors=0 state=active first_error=-

	# Writing the same chunks again copies nothing more.
	copies=$(_cbw_field fleece copies)
	for p in "${OVERWRITE[@]}"; do
		set -- $p
		_pattern_write /dev/mapper/fleece "$2" "$3" "$1"
	done
	_cbw_expect fleece copied=6 slots=6/1024 copies="$copies"
	check_snapshot

	_dm_remove fleece-snap
	_dm_remove fleece
}
