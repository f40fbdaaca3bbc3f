#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_policy_01: a copy that fails because the COW device returns write
# errors, under each error policy.
#
# The COW device is a dm device over a RAM disk whose table is switched
# between linear (healthy) and flakey with error_writes (every write fails,
# reads work).  Origin 4 MiB, 64 chunks of 64 KiB; for each policy chunk A
# is copied while the COW is healthy, then the COW fails:
#   - fail: the guest write to chunk B fails with EIO; the origin keeps the
#     old data, the chunk stays to copy, state active, first error
#     io_error, one copy error, no dm event; the snapshot reads the old
#     data of A (COW) and B (origin).  Once the COW is healthy, the same
#     write copies and succeeds; the failed copy's slot was given back.
#   - break: the write to B succeeds and lands; state broken:io_error, a dm
#     event (dmsetup wait returns); every snapshot read fails with ENODATA
#     (A copied, B, untouched C); later writes copy nothing, even with a
#     healthy COW.
#   - drop: a write over chunks B and B+1 succeeds; both leave the
#     snapshot (dropped 2, in snapshot 62), their reads fail with ENODATA,
#     A and the untouched chunks (also B's neighbours) read their old data;
#     a dm event.  A dropped chunk makes no copy later; a chunk still in
#     the snapshot copies again once the COW is healthy.

DESCRIPTION="COW write errors under each policy: fail gives EIO and keeps the chunk, break breaks the snapshot, drop drops only the failed chunks"

CHUNKS=64
COWSZ=8192	# sectors: 64 slots

requires() {
	_require_target flakey dm-flakey
}

# reload DEV TABLE: switch DEV to TABLE (suspend, swap, resume).
reload() {
	_expect_ok "load $1" dmsetup load "$1" --table "$2" &&
		_expect_ok "resume $1" dmsetup resume "$1"
}

cow_healthy() { reload p1cow "0 $COWSZ linear /dev/ram1 0"; }
cow_failing() { reload p1cow "0 $COWSZ flakey /dev/ram1 0 0 1 1 error_writes"; }

# Chunk A = 2 (128k), B = 5 (320k), B+1 = 6, C = 9 (576k), D = 12 (768k);
# the rest of the origin is zeroes.
fill_origin() {
	_pattern_write_all /dev/ram0 "0xa1 128k 64k" "0xb1 320k 128k" \
		"0xc1 576k 64k" "0xd1 768k 64k"
}

# setup NAME POLICY: a fresh snapshot NAME (and NAME-snap) with POLICY on
# a freshly filled origin and a healthy COW; chunk A copied.
setup() {
	fill_origin
	_dm_create "$1" "0 $SZ cbw /dev/ram0 /dev/mapper/p1cow 128 2 on_error $2"
	_dm_create "$1-snap" "0 $SZ snapshot-access /dev/mapper/$1" --readonly
	_pattern_write "/dev/mapper/$1" 128k 4k 0xa2
	_cbw_expect "$1" copied=1 to_copy=$((CHUNKS - 1)) copies=1 copy_errors=0 \
		policy="$2" state=active first_error=-
}

policy_fail() {
	local ev0

	_log "policy fail"
	setup pf fail
	cow_failing
	ev0=$(_dm_events pf)
	_write_errno /dev/mapper/pf "Input/output error" "0xb2 320k 4k"
	_cbw_expect pf state=active first_error=io_error in_snapshot=$CHUNKS \
		copied=1 to_copy=$((CHUNKS - 1)) dropped=0 copies=2 copy_errors=1 \
		slots=1/$CHUNKS
	_expect_eq "$(_dm_events pf)" "$ev0" "event number after a failed write (fail)"
	_pattern_check_all /dev/ram0 "0xb1 320k 64k"
	_pattern_check_all /dev/mapper/pf-snap "0xa1 128k 64k" "0xb1 320k 64k" \
		"0xc1 576k 64k"
	_access_expect pf-snap state=valid failed_reads=0

	_log "fail: the COW is healthy again, the write is retried"
	cow_healthy
	_pattern_write /dev/mapper/pf 320k 4k 0xb2
	_cbw_expect pf state=active first_error=io_error copied=2 \
		to_copy=$((CHUNKS - 2)) copies=3 copy_errors=1 slots=2/$CHUNKS
	_pattern_check_all /dev/mapper/pf "0xb2 320k 4k" "0xb1 324k 60k"
	_pattern_check_all /dev/mapper/pf-snap "0xa1 128k 64k" "0xb1 320k 64k"
	_dm_remove pf-snap
	_dm_remove pf
}

policy_break() {
	local ev0 ev1

	_log "policy break"
	setup pb break
	cow_failing
	ev0=$(_dm_events pb)
	_pattern_write /dev/mapper/pb 320k 4k 0xb2
	_cbw_expect pb state=broken:io_error first_error=io_error copies=2 copy_errors=1
	ev1=$(_dm_events pb)
	[ "$ev1" -gt "$ev0" ] || _fail "no dm event for the break (event number $ev0 -> $ev1)"
	_expect_ok "dmsetup wait for the break event" timeout 20 dmsetup wait pb "$ev0"
	_pattern_check_all /dev/ram0 "0xb2 320k 4k" "0xb1 324k 60k" "0xa2 128k 4k"
	_read_nodata /dev/mapper/pb-snap "128k 4k" "320k 4k" "576k 4k" "0 4k"
	# (qemu-io's alignment probe at offset 0 fails too: at least 4.)
	_access_expect pb-snap state=broken origin_reads=0 cow_reads=0
	[ "$(_access_field pb-snap failed_reads)" -ge 4 ] ||
		_fail "pb-snap failed reads: $(_access_field pb-snap failed_reads), expected >= 4"

	_log "break: later writes copy nothing, even with a healthy COW"
	cow_healthy
	_pattern_write_all /dev/mapper/pb "0xc2 576k 4k" "0xd2 768k 64k"
	_cbw_expect pb state=broken:io_error copies=2 copy_errors=1
	_pattern_check_all /dev/ram0 "0xc2 576k 4k" "0xd2 768k 64k"
	_read_nodata /dev/mapper/pb-snap "768k 4k" "4032k 4k"
	_dm_remove pb-snap
	_dm_remove pb
}

policy_drop() {
	local ev0 ev1
	local -A st

	_log "policy drop"
	setup pd drop
	cow_failing
	ev0=$(_dm_events pd)
	# One write over chunks 5 and 6: one copy of two chunks fails.
	_pattern_write /dev/mapper/pd 320k 128k 0xb2
	_cbw_status pd st
	_expect_eq "${st[dropped]}" 2 "pd dropped"
	_expect_eq "${st[in_snapshot]}" $((CHUNKS - 2)) "pd in snapshot"
	_expect_eq "${st[copied]}" 1 "pd copied"
	_expect_eq "${st[to_copy]}" $((CHUNKS - 3)) "pd to copy"
	_expect_eq "${st[slots]}" 1/$CHUNKS "pd slots (the failed copy's are free)"
	_expect_eq "${st[state]}" active "pd state"
	_expect_eq "${st[first_error]}" io_error "pd first error"
	[ "${st[copy_errors]}" -gt 0 ] 2>/dev/null || _fail "pd copy errors: '${st[copy_errors]}'"
	ev1=$(_dm_events pd)
	[ "$ev1" -gt "$ev0" ] || _fail "no dm event for the drop (event number $ev0 -> $ev1)"
	_pattern_check_all /dev/ram0 "0xb2 320k 128k"
	_read_nodata /dev/mapper/pd-snap "320k 4k" "444k 4k"
	_pattern_check_all /dev/mapper/pd-snap "0xa1 128k 64k" "0 256k 64k" \
		"0 448k 64k" "0xc1 576k 64k" "0xd1 768k 64k"
	_access_expect pd-snap state=valid failed_reads=2

	_log "drop: a dropped chunk copies nothing; the others copy again"
	cow_healthy
	_pattern_write_all /dev/mapper/pd "0xb3 320k 4k" "0xc2 576k 4k"
	_cbw_expect pd copies=$((st[copies] + 1)) copied=2 to_copy=$((CHUNKS - 4)) \
		dropped=2 in_snapshot=$((CHUNKS - 2)) slots=2/$CHUNKS state=active
	_pattern_check_all /dev/mapper/pd-snap "0xa1 128k 64k" "0xc1 576k 64k"
	_pattern_check_all /dev/mapper/pd "0xb3 320k 4k" "0xc2 576k 4k"
	_read_nodata /dev/mapper/pd-snap "320k 4k"
	_dm_remove pd-snap
	_dm_remove pd
}

test_main() {
	_brd_setup 2 4
	SZ=$(_size_sectors /dev/ram0)
	_expect_eq "$SZ" $((CHUNKS * 128)) "origin size"
	_dm_create p1cow "0 $COWSZ linear /dev/ram1 0"

	policy_fail
	policy_break
	policy_drop
	_dm_remove p1cow
}
