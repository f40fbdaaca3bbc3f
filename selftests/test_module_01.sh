#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="module loads and unloads, registers cbw and snapshot-access, unload refused while in use"

requires() {
	[ -n "${CBW_KO:-}" ] && [ -f "$CBW_KO" ] || { _skip_reason "CBW_KO not set"; return 1; }
}

targets_listed() {
	dmsetup targets | awk '{ print $1 }' | grep -cxE 'cbw|snapshot-access'
}

test_main() {
	_expect_eq "$(targets_listed)" 2 "targets listed while loaded"

	_expect_ok "unload" rmmod dm-cbw
	_expect_eq "$(targets_listed)" 0 "targets listed after unload"

	_expect_ok "load" insmod "$CBW_KO"
	_expect_eq "$(targets_listed)" 2 "targets listed after reload"

	_brd_setup 2 8
	_dm_create cbwmod "0 $(_size_sectors /dev/ram0) cbw /dev/ram0 /dev/ram1 128"
	_expect_err "unload while in use" "in use" rmmod dm-cbw
	_expect_eq "$(targets_listed)" 2 "targets listed after refused unload"
	_dm_remove cbwmod
	_expect_ok "unload when unused" rmmod dm-cbw
	_expect_ok "load again" insmod "$CBW_KO"
}
