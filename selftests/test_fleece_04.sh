#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="incremental fleecing: only the chunks added before the first resume are in the snapshot and copied; the others read ENODATA"

# The layout of test_fleece_01 (QEMU's image-fleecing test): a 64 MiB
# origin, 64 KiB chunks.  The snapshot set is chunks 0, 16, 512 and 1023.
ORIGINAL=("0x5d 0 64k" "0xd5 1M 64k" "0xdc 32M 64k" "0xcd 0x3ff0000 64k")
OVERWRITE=("0xab 0 64k" "0xad 0xf8000 64k" "0x1d 0x2008000 64k" "0xea 0x3fe0000 64k")
# test_fleece_01's zero areas, in chunks 15, 513 and 1022: not in the set.
OUTSIDE=("0xf8000 32k" "0x2010000 32k" "0x3fe0000 64k")
REMAINDER=("0xd5 0x108000 32k" "0xdc 32M 32k" "0xcd 0x3ff0000 64k")

# check_snapshot: the set reads its point-in-time data, the rest ENODATA.
check_snapshot() {
	_pattern_check_all /dev/mapper/fleece-snap "${ORIGINAL[@]}"
	_read_nodata /dev/mapper/fleece-snap "${OUTSIDE[@]}"
}

test_main() {
	local sz status copies pid

	_tmpdir

	_brd_setup 2 64
	sz=$(_size_sectors /dev/ram0)
	_expect_eq "$sz" 131072 "origin size"
	_pattern_write_all /dev/ram0 "${ORIGINAL[@]}"

	_log "set-up: an empty set; chunks added; writes held; reads pass"
	_dm_create fleece "0 $sz cbw /dev/ram0 /dev/ram1 128 1 incremental"
	_cbw_expect fleece state=setup in_snapshot=0 to_copy=0 copied=0 chunks=1024
	_msg fleece add 0 16 512 1023
	_cbw_expect fleece state=setup in_snapshot=4 to_copy=4 copied=0 slots=0/1024
	_msg fleece map
	_expect_eq "$CBW_MSG_OUT" "0-0 16-16 512-512 1023-1023 end" "map of the set"
	_expect_refused fleece-snap "0 $sz snapshot-access /dev/mapper/fleece" \
		"cbw device is in incremental set-up"
	# A write to chunk 0 (in the set) waits for the end of the set-up.
	qemu-io -f raw -n -c "write -P 0xab 0 64k" /dev/mapper/fleece >"$CBW_TMP/held.out" 2>&1 &
	pid=$!
	_pattern_check_all /dev/mapper/fleece "${ORIGINAL[@]}"
	sleep 1
	kill -0 "$pid" 2>/dev/null || _fail "a write finished during the set-up: $(<"$CBW_TMP/held.out")"
	_pattern_check /dev/ram0 0 64k 0x5d
	_cbw_expect fleece state=setup copied=0 copies=0

	_log "start: the held write goes on, after copying chunk 0"
	_msg fleece start
	wait "$pid" || _fail "the held write failed: $(<"$CBW_TMP/held.out")"
	_cbw_expect fleece state=active in_snapshot=4 to_copy=3 copied=1 slots=1/1024

	_log "the set is fixed once started"
	status=$(dmsetup status fleece)
	_expect_err "add after start" "Device or resource busy" dmsetup message fleece 0 add 1
	_expect_err "remove after start" "Device or resource busy" \
		dmsetup message fleece 0 remove 0
	_expect_err "a second start" "Invalid argument" dmsetup message fleece 0 start
	_expect_eq "$(dmsetup status fleece)" "$status" "status after the refused messages"

	_dm_create fleece-snap "0 $sz snapshot-access /dev/mapper/fleece" --readonly

	_log "snapshot before the overwrites"
	check_snapshot

	_pattern_write_all /dev/mapper/fleece "${OVERWRITE[@]}"

	_log "snapshot after the overwrites"
	check_snapshot
	_log "origin after the overwrites"
	_pattern_check_all /dev/mapper/fleece "${OVERWRITE[@]}" "${REMAINDER[@]}"
	_pattern_check_all /dev/ram0 "${OVERWRITE[@]}" "${REMAINDER[@]}"

	# Chunks 0, 16 and 512 of the set were written (15, 513 and 1022 too,
	# but they are not in it); 1023 was not.
	_cbw_expect fleece in_snapshot=4 copied=3 to_copy=1 slots=3/1024 \
		copy_errors=0 dropped=0 discarded=0 state=active first_error=-
	_access_expect fleece-snap state=valid failed_reads=6

	# Writing the same chunks again copies nothing more.
	copies=$(_cbw_field fleece copies)
	_pattern_write_all /dev/mapper/fleece "${OVERWRITE[@]}"
	_cbw_expect fleece copied=3 to_copy=1 slots=3/1024 copies="$copies"
	check_snapshot
	_msg fleece map
	_expect_eq "$CBW_MSG_OUT" "0-0 16-16 512-512 1023-1023 end" "map after the writes"

	_dm_remove fleece-snap
	_dm_remove fleece
}
