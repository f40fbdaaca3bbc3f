#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a guest discard of the whole origin copies every chunk first (in steps of at most 16 MiB); the snapshot keeps the data"

NULLB=/sys/kernel/config/nullb/cbwdisc

requires() {
	[ -e /sys/module/null_blk ] || { _skip_reason "null_blk not loaded"; return 1; }
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config ||
		{ _skip_reason "no configfs"; return 1; }
	[ -d /sys/kernel/config/nullb ] || { _skip_reason "null_blk has no configfs"; return 1; }
}

# A 64 MiB memory-backed null_blk device that supports discard (brd does
# not, on 6.1 or 6.12); prints its node.
make_origin() {
	mkdir "$NULLB" || return 1
	echo 64 >"$NULLB/size" && echo 1 >"$NULLB/memory_backed" &&
		echo 1 >"$NULLB/discard" && echo 1 >"$NULLB/power" || return 1
	echo "/dev/${NULLB##*/}"	# the disk is named after the configfs item
}

remove_origin() {
	echo 0 >"$NULLB/power"
	rmdir "$NULLB"
}

test_main() {
	local origin sz

	_brd_setup 1 64
	origin=$(make_origin) || _die "cannot make a null_blk device with discard"
	_on_cleanup remove_origin
	[ -b "$origin" ] || _die "$origin missing"
	sz=$(_size_sectors "$origin")
	_log "origin discard_max_bytes: $(cat "/sys/block/${origin#/dev/}/queue/discard_max_bytes")"

	_pattern_write "$origin" 0 64k 0x5d
	_pattern_write "$origin" 20M 1M 0xd5
	_pattern_write "$origin" 0x3ff0000 64k 0xcd

	_dm_create disc "0 $sz cbw $origin /dev/ram0 128"
	_dm_create disc-snap "0 $sz snapshot-access /dev/mapper/disc" --readonly

	_expect_ok "blkdiscard" blkdiscard /dev/mapper/disc
	_log "copy jobs for the discard: $(_status_field disc 5)"
	_expect_eq "$(_status_field disc 3)" 1024 "chunks copied by the discard"
	_expect_eq "$(_status_field disc 6)" 0 "copy errors"
	[ "$(_status_field disc 5)" -ge 4 ] ||
		_fail "a 64 MiB discard made fewer than 4 copy steps of 16 MiB"

	_pattern_check /dev/mapper/disc-snap 0 64k 0x5d
	_pattern_check /dev/mapper/disc-snap 20M 1M 0xd5
	_pattern_check /dev/mapper/disc-snap 0x3ff0000 64k 0xcd
	_pattern_check /dev/mapper/disc-snap 1M 1M 0
	_pattern_check "$origin" 0 64k 0
	_pattern_check "$origin" 20M 1M 0

	_dm_remove disc-snap
	_dm_remove disc
}
