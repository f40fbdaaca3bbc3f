#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_fleece_02: the frozen image stays exact under concurrent guest
# writes, snapshot reads and a suspend/resume.
#
# Origin 64 MiB of random data, chunks of 32 KiB (2048 chunks); the COW
# device is 48 MiB (1536 slots), smaller than the origin: the store is
# packed.  fio writes 4 KiB blocks at random (two jobs, queue depth 8)
# through the cbw device, over a 44 MiB area (1408 chunks, so the COW
# cannot fill up), for 15 s, while a reader streams the whole snapshot
# with O_DIRECT (64 KiB reads) and the cbw device is suspended and resumed
# in the middle of the stream.  After fio ends, a second pass (1 MiB
# reads).  Each pass must give the origin's SHA-256 taken at snapshot time
# (on a mismatch, cmp with the saved image tells where).  fio must see no
# error, some chunks must have been copied, none may fail, the counters
# must agree (copied + to copy = chunks, one slot per copied chunk), and
# the origin must differ from the snapshot (the writes landed).

DESCRIPTION="concurrency: random writes on the origin while the snapshot is read, with a suspend/resume in the middle; the image matches the checksum taken at snapshot time"

requires() {
	command -v fio >/dev/null || { _skip_reason "fio not installed"; return 1; }
}

# check_pass NAME SUMFILE: the snapshot's checksum in SUMFILE is the one
# taken at snapshot time.
check_pass() {
	local sum
	read -r sum _ <"$2"
	if [ "$sum" != "$BEFORE" ]; then
		_fail "$1: snapshot checksum $sum, expected $BEFORE; first difference: $(
			cmp <(dd if=/dev/mapper/conc-snap bs=1M iflag=direct status=none) \
			    "$CBW_TMP/orig.img" 2>&1 | head -n1)"
	fi
}

test_main() {
	local sz tmp fio_pid rdr_pid fio_rc t0
	local -A st

	_brd_setup 2 64
	sz=$(_size_sectors /dev/ram0)
	_expect_eq "$sz" 131072 "origin size"
	_tmpdir
	tmp=$CBW_TMP

	dd if=/dev/urandom of=/dev/ram0 bs=1M count=64 oflag=direct status=none
	dd if=/dev/ram0 of="$tmp/orig.img" bs=1M iflag=direct status=none
	read -r BEFORE _ < <(sha256sum "$tmp/orig.img")

	_dm_create conc-cow "0 98304 linear /dev/ram1 0"	# 48 MiB
	_dm_create conc "0 $sz cbw /dev/ram0 /dev/mapper/conc-cow 64"
	_dm_create conc-snap "0 $sz snapshot-access /dev/mapper/conc" --readonly
	_cbw_expect conc chunks=2048 slots=0/1536 state=active

	fio --name=guest --filename=/dev/mapper/conc --rw=randwrite --bs=4k \
		--offset=16M --size=44M --direct=1 --ioengine=libaio --iodepth=8 \
		--numjobs=2 --time_based --runtime=15 --randrepeat=0 \
		--output="$tmp/fio.out" &
	fio_pid=$!
	sleep 2

	# First pass, with a suspend and resume of the cbw device in its middle.
	t0=$(_now_ms)
	dd if=/dev/mapper/conc-snap bs=64k iflag=direct status=none |
		sha256sum >"$tmp/pass1" &
	rdr_pid=$!
	sleep 1
	_expect_ok "suspend" dmsetup suspend conc
	sleep 0.5
	_expect_ok "resume" dmsetup resume conc
	wait $rdr_pid || _fail "first pass: the reader failed"
	_log "first pass: $(($(_now_ms) - t0)) ms"
	check_pass "first pass (suspend/resume in the middle)" "$tmp/pass1"

	kill -0 $fio_pid 2>/dev/null || _log "fio ended before the first pass did"

	wait $fio_pid
	fio_rc=$?
	_expect_eq "$fio_rc" 0 "fio exit status"
	grep -q 'err= 0' "$tmp/fio.out" || _fail "fio saw errors: $(grep err= "$tmp/fio.out")"
	_log "fio: $(grep -m1 -o 'IOPS=[^,]*' "$tmp/fio.out") per job"

	dd if=/dev/mapper/conc-snap bs=1M iflag=direct status=none | sha256sum >"$tmp/pass2"
	check_pass "pass after the writes" "$tmp/pass2"

	_cbw_status conc st
	_log "chunks copied: ${st[copied]} of ${st[chunks]}, copy jobs: ${st[copies]}, waited bios: ${st[waited]} (${st[wait_ms]} ms)"
	[ "${st[copied]}" -gt 0 ] || _fail "no chunk was copied"
	[ "${st[copied]}" -le 1408 ] || _fail "${st[copied]} chunks copied, more than the area written"
	_expect_eq "$((st[copied] + st[to_copy]))" 2048 "copied + to copy"
	_expect_eq "${st[slots]}" "${st[copied]}/1536" "slots"
	_expect_eq "${st[in_snapshot]} ${st[dropped]} ${st[copy_errors]}" "2048 0 0" \
		"in snapshot, dropped, copy errors"
	_expect_eq "${st[state]} ${st[first_error]}" "active -" "state, first error"
	_access_expect conc-snap state=valid failed_reads=0
	if cmp -s <(dd if=/dev/ram0 bs=1M iflag=direct status=none) "$tmp/orig.img"; then
		_fail "the origin is unchanged: the writes did not land"
	fi

	_dm_remove conc-snap
	_dm_remove conc
	_dm_remove conc-cow
}
