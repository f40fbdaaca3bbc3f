#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="snapshot-access table lines, the cbw device pinned while it exists, writes refused, discards only where writable"

test_main() {
	local sz devnum

	_brd_setup 3 8
	sz=$(_size_sectors /dev/ram0)

	_dm_create lin "0 $sz linear /dev/ram2 0"
	_expect_refused bad "0 $sz snapshot-access" "Invalid argument count"
	_expect_refused bad "0 $sz snapshot-access /dev/ram0 x" "Invalid argument count"
	_expect_refused bad "0 $sz snapshot-access /dev/nonexistent" "Invalid cbw device"
	_expect_refused bad "0 $sz snapshot-access 99999999:1" "Invalid cbw device"
	_expect_refused bad "0 $sz snapshot-access /dev/ram0" "Not a live cbw device"
	_expect_refused bad "0 $sz snapshot-access /dev/mapper/lin" "Not a live cbw device"

	# A cbw table that is loaded but was never resumed is not live.
	_expect_ok "create inactive" dmsetup create cbwi --notable
	CBW_DM_DEVS+=(cbwi)
	dmsetup mknodes cbwi
	_expect_ok "load cbw" dmsetup load cbwi --table "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_expect_refused bad "0 $sz snapshot-access /dev/mapper/cbwi" "Not a live cbw device"
	_expect_ok "resume" dmsetup resume cbwi
	devnum=$(dmsetup info -c --noheadings -o major,minor --separator : cbwi)

	_expect_refused bad "0 $((sz + 8)) snapshot-access $devnum" \
		"Snapshot longer than the cbw device"
	# Numbers that do not fit are refused, not wrapped round to this one.
	_expect_refused bad "0 $sz snapshot-access $((${devnum%%:*} + (1 << 32))):${devnum#*:}" \
		"Invalid cbw device"
	_expect_refused bad "0 $sz snapshot-access ${devnum%%:*}:$((${devnum#*:} + (1 << 32)))" \
		"Invalid cbw device"
	_expect_refused bad "0 $sz snapshot-access +${devnum}" "Invalid cbw device"
	_expect_refused bad "0 $sz snapshot-access ${devnum}:" "Invalid cbw device"

	# By major:minor and by path; both pin the cbw device.
	_dm_create snapa "0 $sz snapshot-access $devnum" --readonly
	_dm_create snapb "0 $((sz / 2)) snapshot-access /dev/mapper/cbwi" --readonly
	_expect_eq "$(dmsetup table snapa)" "0 $sz snapshot-access $devnum" "table status"
	_expect_eq "$(dmsetup status snapa)" "0 $sz snapshot-access valid 0 0 0" "fresh status"
	_expect_err "remove pinned cbw" "busy" dmsetup remove cbwi
	_dm_remove snapb

	# A read-only snapshot-access device takes no discard.
	_expect_err "discard on a read-only snapshot-access" "." \
		blkdiscard -f -o 0 -l 64k /dev/mapper/snapa
	_cbw_expect cbwi discarded=0 in_snapshot=$((sz / 128))

	# Writes to a writable snapshot-access device fail; the image is unchanged.
	_pattern_write /dev/ram0 0 64k 0x11
	_dm_remove snapa
	_dm_create snapw "0 $sz snapshot-access $devnum"
	if qemu-io -f raw -n -c "write -P 0x22 0 4k" /dev/mapper/snapw 2>&1 | grep -q '^wrote'; then
		_fail "a write to snapshot-access succeeded"
	fi
	_pattern_check /dev/mapper/snapw 0 64k 0x11
	# A discard takes the chunk out of the snapshot, not off the origin.
	_expect_ok "discard on snapshot-access" blkdiscard -f -o 0 -l 64k /dev/mapper/snapw
	_cbw_expect cbwi discarded=1 in_snapshot=$((sz / 128 - 1))
	_read_nodata /dev/mapper/snapw "0 64k"
	_pattern_check /dev/ram0 0 64k 0x11
	_dm_remove snapw
	_dm_remove cbwi
}
