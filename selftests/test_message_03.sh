#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="numbers in messages: chunk ranges and values that overflow 64 bits or are not plain decimal digits are refused with EINVAL and change nothing"

# Documentation/dm-cbw.rst, "Messages": a number is one or more decimal
# digits, nothing else, at most 2^64 - 1.  On an incremental cbw device
# with 128 chunks:
#  1. Numbers past 2^64 - 1 (2^64 + 1 was taken as chunk 1), empty
#     tokens, signs, hexadecimal, white space or a newline inside a word
#     (backslash-quoted, as device-mapper splits messages) are refused
#     with EINVAL: the status and the map stay as they were.
#  2. The same for the values of timeout and map.
#  3. Numbers in range, with leading zeros too, are still accepted.

# refused DEV WORD...: 'dmsetup message DEV 0 WORD...' fails with EINVAL,
# the status and the map of DEV are the same before and after, and the
# kernel logged a "device-mapper: cbw: " line.
refused() {
	local dev=$1 status map mark log
	shift
	mark="cbw-msg-$RANDOM$RANDOM"
	echo "<7>$mark" >/dev/kmsg
	status=$(dmsetup status "$dev")
	map=$(dmsetup message "$dev" 0 map)
	_expect_err "message '$*'" "Invalid argument" dmsetup message -- "$dev" 0 "$@"
	_expect_eq "$(dmsetup status "$dev")" "$status" "status after message '$*'"
	_expect_eq "$(dmsetup message "$dev" 0 map)" "$map" "map after message '$*'"
	log=$(dmesg)
	log=${log##*"$mark"}
	[[ $log == *"device-mapper: cbw: "* ]] ||
		_fail "message '$*': no 'device-mapper: cbw:' line in the kernel log"
}

test_main() {
	local sz chunks w

	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)	# 16384 sectors
	chunks=$((sz / 128))		# 128 chunks of 64 KiB

	_dm_create num "0 $sz cbw /dev/ram0 /dev/ram1 128 1 incremental"
	_msg num add 3 10-20
	_msg num map
	_expect_eq "$CBW_MSG_OUT" "3-3 10-20 end" "map after the first add"

	_log "chunk numbers past 2^64 - 1"
	refused num add 18446744073709551617	# 2^64 + 1
	refused num add 18446744073709551616	# 2^64
	refused num add 1-18446744073709551617
	refused num add 18446744073709551617-18446744073709551618
	refused num add 99999999999999999999999
	refused num add 18446744073709551615	# 2^64 - 1: past the chunk count
	refused num add 5 18446744073709551617
	refused num remove 18446744073709551619	# 2^64 + 3

	_log "malformed ranges"
	for w in "" - 5- -5 1--2 1-2-3 +1 +1-2 1-+2 0x10 0x1-2 1e2 1.0 \
		a 1-a '\ 1' '1\ ' '1-\ 2' '1\ -2' $'1\\\n' $'1\\\t'; do
		refused num add "$w"
	done
	refused num remove 3-
	refused num remove -3

	_log "timeout and map values"
	refused num timeout +5
	refused num timeout 18446744073709551617
	refused num timeout $'5\\\n'
	refused num timeout '\ 5'
	refused num map +1
	refused num map 18446744073709551616
	refused num map 0x1
	refused num map '\ 1'

	_log "numbers in range are taken, leading zeros too"
	_msg num add 0 000000000000000000000000000042 30-0031 $((chunks - 1))-$((chunks - 1))
	_msg num remove 0010-10
	_msg num map
	_expect_eq "$CBW_MSG_OUT" "0-0 3-3 11-20 30-31 42-42 $((chunks - 1))-$((chunks - 1)) end" \
		"map after adds and removes in range"
	_msg num map 011
	_expect_eq "$CBW_MSG_OUT" "11-20 30-31 42-42 $((chunks - 1))-$((chunks - 1)) end" \
		"map from chunk 011"
	_msg num timeout 0005
	_cbw_expect num timeout=5 in_snapshot=16 state=setup
	_msg num start
	_cbw_expect num in_snapshot=16 to_copy=16 state=active
}
