#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a zoned origin or COW device (zoned null_blk) is refused by the cbw constructor with a clear message"

# Documentation/dm-cbw.rst, "Constructor": a zone reset of the origin
# would change chunks without a copy, and the COW store writes its slots
# in any order.  A 64 MiB host-managed zoned null_blk device (8 MiB zones)
# as the origin, then as the COW device, next to an 8 MiB RAM disk: both
# tables are refused with the constructor's own message; the RAM disks
# alone still load.

requires() {
	_require_nullb || return 1
	grep -qw zoned /sys/kernel/config/nullb/features ||
		{ _skip_reason "null_blk without zoned devices (CONFIG_BLK_DEV_ZONED)"; return 1; }
	# null_blk lists "zoned" whatever the kernel's configuration; a kernel
	# without zoned block devices refuses to power one on and says so (the
	# debug kernel of scripts/debug-kernel).  Any other failure is left to
	# test_main, where it fails the test.
	if ! make_zoned >/dev/null 2>&1; then
		_nullb_remove cbwzoned 2>/dev/null
		if dmesg | tail -n 5 | grep -q "CONFIG_BLK_DEV_ZONED not enabled"; then
			_skip_reason "a kernel without zoned block devices (CONFIG_BLK_DEV_ZONED)"
			return 1
		fi
		return 0
	fi
	_nullb_remove cbwzoned
}

# make_zoned: the zoned null_blk device (64 MiB, 8 MiB zones); prints its
# node.
make_zoned() {
	_nullb_make cbwzoned size=64 memory_backed=1 zoned=1 zone_size=8
}

test_main() {
	local sz zoned

	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)	# 16384 sectors

	_on_cleanup _nullb_remove cbwzoned
	zoned=$(make_zoned) || _die "cannot make a zoned null_blk device"
	[ -b "$zoned" ] || _die "$zoned missing"
	_expect_eq "$(cat "/sys/block/${zoned#/dev/}/queue/zoned")" host-managed \
		"zoned model of $zoned"

	_expect_refused bad "0 $sz cbw $zoned /dev/ram1 128" \
		"Zoned origin device not supported"
	_expect_refused bad "0 $sz cbw /dev/ram0 $zoned 128" \
		"Zoned COW device not supported"
	_expect_refused bad "0 $sz cbw $zoned $zoned 128" "COW device is the origin"

	_dm_create good "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_cbw_expect good state=active in_snapshot=$((sz / 128))
	_dm_remove good
}
