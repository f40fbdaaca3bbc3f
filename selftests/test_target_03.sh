#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="lifecycle: snapshot reads wait while the cbw device is suspended; replacing its table ends the snapshot (reads fail)"

test_main() {
	local sz pid out

	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)
	_tmpdir
	_pattern_write /dev/ram0 0 64k 0x5d

	_dm_create life "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_dm_create life-snap "0 $sz snapshot-access /dev/mapper/life" --readonly
	_pattern_write /dev/mapper/life 0 4k 0xab
	_cbw_expect life copied=1 slots=1/$((sz / 128))

	# A read while the cbw device is suspended waits for its resume.
	_expect_ok "suspend" dmsetup suspend life
	qemu-io -f raw -n -r -c "read -P 0x5d 0 64k" /dev/mapper/life-snap \
		>"$CBW_TMP/read.out" 2>&1 &
	pid=$!
	sleep 2
	kill -0 "$pid" 2>/dev/null || _fail "a snapshot read finished while the cbw device was suspended"
	_expect_eq "$(_access_field life-snap state)" valid "state while suspended"
	_expect_ok "resume" dmsetup resume life
	wait "$pid" || _fail "the parked read failed: $(cat "$CBW_TMP/read.out")"
	grep -q '^read 65536/65536 bytes' "$CBW_TMP/read.out" ||
		_fail "parked read: $(cat "$CBW_TMP/read.out")"

	# Suspend, replace the table by an identical one, resume: a new
	# snapshot; the old one is gone, and its reader gets errors.
	_expect_ok "suspend" dmsetup suspend life
	qemu-io -f raw -n -r -c "read 64k 64k" /dev/mapper/life-snap \
		>"$CBW_TMP/read2.out" 2>&1 &
	pid=$!
	_expect_ok "load" dmsetup load life --table "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_expect_ok "resume with the new table" dmsetup resume life
	wait "$pid"
	grep -q 'read failed: Input/output error' "$CBW_TMP/read2.out" ||
		_fail "a read parked across the table swap: $(cat "$CBW_TMP/read2.out")"
	_expect_eq "$(_access_field life-snap state)" invalid "state after the table swap"
	_read_fails /dev/mapper/life-snap 0 64k
	_cbw_expect life copied=0 in_snapshot=$((sz / 128)) slots=0/$((sz / 128)) state=active

	# The new snapshot works on its own.
	_dm_remove life-snap
	_dm_create life-snap2 "0 $sz snapshot-access /dev/mapper/life" --readonly
	_pattern_check /dev/mapper/life-snap2 0 4k 0xab
	_pattern_write /dev/mapper/life 0 4k 0xcc
	_pattern_check /dev/mapper/life-snap2 0 4k 0xab
	_dm_remove life-snap2
	_dm_remove life
}
