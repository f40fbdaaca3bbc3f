#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_policy_03: the COW device fills up, under each error policy.
#
# Origin 4 MiB, 64 chunks of 64 KiB; the COW device holds 4 chunks.  Six
# distinct chunks are written (1, 3, 5, 7, then 9 and 11), each with its
# own old data; chunk 13 is never written.  The first four copy and fill
# the COW device; then:
#   - fail: the writes to chunks 9 and 11 fail with ENOSPC and do not land;
#     both stay to copy; state active, first error cow_full, two copy
#     errors, no kcopyd job for them, no dm event; the snapshot reads the
#     old data of all six chunks and of chunk 13.
#   - break: the write to chunk 9 succeeds and lands; state
#     broken:cow_full, a dm event; the write to chunk 11 copies nothing;
#     every snapshot read fails with ENODATA.
#   - drop: the writes to chunks 9 and 11 succeed and land; both leave the
#     snapshot (dropped 2, in snapshot 62), their reads fail with ENODATA;
#     the four copied chunks and chunk 13 read their old data; a dm event.

DESCRIPTION="COW full under each policy: fail gives ENOSPC, break breaks the snapshot, drop drops the chunks that found no slot"

CHUNKS=64
OLD=("0x11 64k 64k" "0x33 192k 64k" "0x55 320k 64k" "0x77 448k 64k"
	"0x99 576k 64k" "0xbb 704k 64k" "0xee 832k 64k")
FIRST4=("0xf1 64k 4k" "0xf3 192k 4k" "0xf5 320k 4k" "0xf7 448k 4k")

# setup NAME POLICY: a fresh snapshot NAME (and NAME-snap) with POLICY on
# a freshly filled origin and an empty COW; the first four chunks copied.
setup() {
	_pattern_write_all /dev/ram0 "${OLD[@]}"
	_dm_create "$1" "0 $SZ cbw /dev/ram0 /dev/mapper/p3cow 128 2 on_error $2"
	_dm_create "$1-snap" "0 $SZ snapshot-access /dev/mapper/$1" --readonly
	_pattern_write_all "/dev/mapper/$1" "${FIRST4[@]}"
	_cbw_expect "$1" copied=4 to_copy=$((CHUNKS - 4)) slots=4/4 copies=4 \
		copy_errors=0 state=active first_error=- policy="$2"
}

policy_fail() {
	local ev0

	_log "policy fail"
	setup cf fail
	ev0=$(_dm_events cf)
	_write_errno /dev/mapper/cf "No space left on device" "0xf9 576k 4k" "0xfb 704k 4k"
	_cbw_expect cf state=active first_error=cow_full copied=4 to_copy=$((CHUNKS - 4)) \
		in_snapshot=$CHUNKS dropped=0 slots=4/4 copies=4 copy_errors=2
	_expect_eq "$(_dm_events cf)" "$ev0" "event number after failed writes (fail)"
	_pattern_check_all /dev/ram0 "0x99 576k 64k" "0xbb 704k 64k"
	_pattern_check_all /dev/mapper/cf-snap "${OLD[@]}"
	_access_expect cf-snap state=valid failed_reads=0
	_dm_remove cf-snap
	_dm_remove cf
}

policy_break() {
	local ev0 ev1

	_log "policy break"
	setup cb break
	ev0=$(_dm_events cb)
	_pattern_write /dev/mapper/cb 576k 4k 0xf9
	_cbw_expect cb state=broken:cow_full first_error=cow_full copies=4 copy_errors=1
	ev1=$(_dm_events cb)
	[ "$ev1" -gt "$ev0" ] || _fail "no dm event for the break (event number $ev0 -> $ev1)"
	_pattern_write /dev/mapper/cb 704k 4k 0xfb
	_cbw_expect cb state=broken:cow_full copies=4 copy_errors=1
	_pattern_check_all /dev/ram0 "0xf9 576k 4k" "0x99 580k 60k" "0xfb 704k 4k" \
		"0xbb 708k 60k"
	_read_nodata /dev/mapper/cb-snap "64k 4k" "448k 4k" "576k 4k" "704k 4k" "832k 4k"
	_access_expect cb-snap state=broken origin_reads=0 cow_reads=0
	_dm_remove cb-snap
	_dm_remove cb
}

policy_drop() {
	local ev0 ev1

	_log "policy drop"
	setup cd drop
	ev0=$(_dm_events cd)
	_pattern_write_all /dev/mapper/cd "0xf9 576k 4k" "0xfb 704k 4k"
	_cbw_expect cd state=active first_error=cow_full dropped=2 \
		in_snapshot=$((CHUNKS - 2)) copied=4 to_copy=$((CHUNKS - 6)) slots=4/4 \
		copies=4 copy_errors=2
	ev1=$(_dm_events cd)
	[ "$ev1" -gt "$ev0" ] || _fail "no dm event for the drop (event number $ev0 -> $ev1)"
	_pattern_check_all /dev/ram0 "0xf9 576k 4k" "0x99 580k 60k" "0xfb 704k 4k" \
		"0xbb 708k 60k"
	_read_nodata /dev/mapper/cd-snap "576k 4k" "764k 4k"
	_pattern_check_all /dev/mapper/cd-snap "${OLD[@]:0:4}" "${OLD[6]}" "0 640k 64k"
	_access_expect cd-snap state=valid failed_reads=2
	_dm_remove cd-snap
	_dm_remove cd
}

test_main() {
	_brd_setup 2 4
	SZ=$(_size_sectors /dev/ram0)
	_expect_eq "$SZ" $((CHUNKS * 128)) "origin size"
	_dm_create p3cow "0 512 linear /dev/ram1 0"	# 4 slots

	policy_fail
	policy_break
	policy_drop
	_dm_remove p3cow
}
