#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="no memory for bitmap nodes (failslab): copies that need one fail by policy, those that need none go through, the snapshot stays sound, no crash"

FS=/sys/kernel/debug/failslab
CACHES=(dm_cbw_bitmap_leaf dm_cbw_bitmap_node)

requires() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	[ -d "$FS" ] || { _skip_reason "kernel without failslab (make check-debug runs this)"; return 1; }
	[ -e /sys/kernel/slab/${CACHES[0]}/failslab ] ||
		{ _skip_reason "no SLUB sysfs for the bitmap caches"; return 1; }
}

# Fail every allocation from the bitmap's node caches, and only those.
# The caches carry failslab's mark from boot (scripts/vm passes
# slub_debug=A,<caches> to a kernel with failslab; 6.1 does not let
# /sys/kernel/slab/*/failslab be written).
failslab_on() {
	local c
	for c in "${CACHES[@]}"; do
		[ "$(cat /sys/kernel/slab/$c/failslab)" = 1 ] ||
			_die "$c has no failslab mark (boot with slub_debug=A,$c)"
	done
	echo Y >$FS/cache-filter
	echo N >$FS/ignore-gfp-wait
	echo 0 >$FS/verbose
	echo -1 >$FS/times
	echo 0 >$FS/interval
	echo 100 >$FS/probability
}

failslab_off() {
	echo 0 >$FS/probability
}

test_main() {
	local sz

	_brd_setup 2 16
	sz=$(_size_sectors /dev/ram0)
	_pattern_write /dev/ram0 0 1M 0x11
	_on_cleanup failslab_off

	_dm_create fault "0 $sz cbw /dev/ram0 /dev/ram1 8"
	_dm_create fault-snap "0 $sz snapshot-access /dev/mapper/fault" --readonly

	# The first copy splits the all-set bitmaps: it needs nodes.
	failslab_on
	if qemu-io -f raw -n -c "write -P 0x22 0 4k" /dev/mapper/fault >/dev/null 2>&1; then
		_fail "a write succeeded although no bitmap node could be allocated"
	fi
	failslab_off
	_expect_eq "$(_cbw_field fault state)" active "state after the failed copy (fail policy)"
	_expect_eq "$(_cbw_field fault first_error)" no_memory "first error"
	_expect_eq "$(_cbw_field fault copied)" 0 "chunks copied"
	_pattern_check /dev/mapper/fault-snap 0 4k 0x11
	_pattern_check /dev/ram0 0 4k 0x11

	# Memory is back: the retry copies, and the snapshot keeps old data.
	_pattern_write /dev/mapper/fault 0 4k 0x22
	_expect_eq "$(_cbw_field fault copied)" 1 "chunks copied by the retry"
	_pattern_check /dev/mapper/fault-snap 0 4k 0x11

	# A one-chunk copy that needs no node goes through without memory:
	# its slot is in the used-slot leaf that exists, its map entry in the
	# map's leaf, and it allocates nothing else (it starts in the map
	# function, which never waits for memory).
	failslab_on
	_pattern_write /dev/mapper/fault 8M 4k 0x33
	failslab_off
	_expect_eq "$(_cbw_field fault copied)" 2 "chunks copied without memory"
	_expect_eq "$(_cbw_field fault state)" active "state after a copy that needed no node"
	_pattern_check /dev/mapper/fault-snap 8M 4k 0

	# Drop policy without memory: a write across two chunks goes to the
	# worker, whose slot allocation first tops the used-slot bitmap's
	# node reserve up (it cannot), and the drop cannot be recorded (the
	# readable set needs a node), so the snapshot breaks; the guest
	# write goes on.
	_expect_ok "on_error drop" dmsetup message fault 0 on_error drop
	failslab_on
	_pattern_write /dev/mapper/fault 12M 8k 0x44
	failslab_off
	_expect_eq "$(_cbw_field fault state)" broken:no_memory "state after a drop without memory"
	_read_fails /dev/mapper/fault-snap 0 4k
	_pattern_check /dev/mapper/fault 12M 8k 0x44

	_dm_remove fault-snap
	_dm_remove fault
}
