#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="cbw feature arguments: good values load, read back exactly as given and show in the status; bad ones refused with their message"

# good "CHUNK [FEATURES...]" FIELD=VALUE...: the cbw line with these last
# arguments loads, 'dmsetup table' gives it back word for word, and the
# status has these fields.
good() {
	local args=$1
	shift
	_dm_create cbwf "0 $SZ cbw /dev/ram0 /dev/ram1 $args"
	_expect_eq "$(dmsetup table cbwf)" "0 $SZ cbw /dev/ram0 /dev/ram1 $args" \
		"table of '$args'"
	[ $# -eq 0 ] || _cbw_expect cbwf "$@"
	_dm_remove cbwf
}

# bad "CHUNK [FEATURES...]" MESSAGE: the cbw line with these last
# arguments is refused, and the kernel says MESSAGE.
bad() {
	_expect_refused cbwbad "0 $SZ cbw /dev/ram0 /dev/ram1 $1" "$2"
}

test_main() {
	local all

	_brd_setup 2 8
	SZ=$(_size_sectors /dev/ram0)	# 16384 sectors, 128 chunks of 64 KiB

	_log "good feature arguments"
	good "128 0" in_snapshot=128 policy=fail timeout=0 state=active
	good "0128" chunk_sectors=128 chunks=128
	good "128 1 incremental" in_snapshot=0 to_copy=0 copied=0 state=setup
	good "128 1 no_discard_passdown" in_snapshot=128
	good "128 2 timeout 0" timeout=0
	good "128 2 timeout 1" timeout=1
	good "128 2 timeout 86400000" timeout=86400000
	good "128 2 on_error fail" policy=fail
	good "128 2 on_error break" policy=break
	good "128 2 on_error drop" policy=drop
	good "128 2 low_water 1" slots=0/128
	good "128 2 low_water 18446744073709551615" slots=0/128
	all="timeout 5000 on_error drop incremental no_discard_passdown low_water 3"
	good "128 8 $all" policy=drop timeout=5000 in_snapshot=0
	good "128 8 low_water 3 no_discard_passdown incremental on_error break timeout 7" \
		policy=break timeout=7 in_snapshot=0

	_log "bad feature arguments"
	bad "+128" "Invalid chunk size"
	bad "128 x" "Invalid number of feature arguments"
	bad "128 +1 incremental" "Invalid number of feature arguments"
	bad "128 4294967297 incremental" "Invalid number of feature arguments"
	bad "128 18446744073709551617 incremental" "Invalid number of feature arguments"
	bad "128 -1" "Invalid number of feature arguments"
	bad "128 9 $all x" "Invalid number of feature arguments"
	bad "128 2 incremental" "Invalid number of feature arguments"
	bad "128 1 frobnicate" "Unrecognised feature argument"
	bad "128 2 incremental incremental" "Duplicate feature argument"
	bad "128 4 timeout 1 timeout 2" "Duplicate feature argument"
	bad "128 6 low_water 1 on_error drop low_water 1" "Duplicate feature argument"
	bad "128 1 timeout" "Feature argument needs a value"
	bad "128 1 on_error" "Feature argument needs a value"
	bad "128 2 incremental low_water" "Feature argument needs a value"
	bad "128 2 timeout x" "Invalid timeout"
	bad "128 2 timeout -1" "Invalid timeout"
	bad "128 2 timeout 86400001" "Invalid timeout"
	bad "128 2 timeout 18446744073709551617" "Invalid timeout"
	bad "128 2 timeout +5" "Invalid timeout"
	bad "128 2 timeout incremental" "Invalid timeout"
	bad "128 2 on_error ignore" "Invalid error policy"
	bad "128 2 on_error 1" "Invalid error policy"
	bad "128 2 low_water 0" "Invalid low water mark"
	bad "128 2 low_water x" "Invalid low water mark"
	bad "128 2 low_water 18446744073709551616" "Invalid low water mark"
	bad "128 2 low_water +3" "Invalid low water mark"
	bad "128 1 incremental extra" "Invalid argument count"
	bad "128 0 incremental" "Invalid argument count"
}
