#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="cbw messages: timeout, on_error, break, add/remove/start in the incremental set-up, map with paging; malformed ones change nothing"

# refused DEV PATTERN WORD...: 'dmsetup message DEV 0 WORD...' fails with
# an error matching PATTERN, the status of DEV is the same before and
# after, and the kernel logged a "device-mapper: cbw: " line.
refused() {
	local dev=$1 pattern=$2 before mark log
	shift 2
	mark="cbw-msg-$RANDOM$RANDOM"
	echo "<7>$mark" >/dev/kmsg
	before=$(dmsetup status "$dev")
	_expect_err "message '$*'" "$pattern" dmsetup message -- "$dev" 0 "$@"
	_expect_eq "$(dmsetup status "$dev")" "$before" "status after message '$*'"
	log=$(dmesg)
	log=${log##*"$mark"}
	[[ $log == *"device-mapper: cbw: "* ]] ||
		_fail "message '$*': no 'device-mapper: cbw:' line in the kernel log"
}

# same_text ACTUAL EXPECTED WHAT: like _expect_eq, for long texts: on a
# difference it shows the lengths and where they part.
same_text() {
	local a=$1 b=$2 i=0 from
	[ "$a" = "$b" ] && return 0
	while [ "${a:i:1}" = "${b:i:1}" ]; do
		i=$((i + 1))
	done
	from=$((i > 40 ? i - 40 : 0))
	_fail "$3: ${#1} characters, expected ${#2}; they differ at $i:" \
		"got '...${a:from:80}...', expected '...${b:from:80}...'"
}

# map_all DEV [CHUNK]: the map from CHUNK (default 0) through every page:
# the runs in $MAP_RUNS, the number of pages in $MAP_PAGES.
map_all() {
	local dev=$1 from=${2:-} out
	MAP_RUNS='' MAP_PAGES=0
	while [ "$MAP_PAGES" -lt 20 ]; do
		if ! out=$(dmsetup message "$dev" 0 map ${from:+"$from"} 2>&1); then
			_fail "map $from: $out"
			return 1
		fi
		MAP_PAGES=$((MAP_PAGES + 1))
		if [[ $out == end ]]; then
			return 0
		elif [[ $out =~ ^(.*)\ end$ ]]; then
			MAP_RUNS+="${MAP_RUNS:+ }${BASH_REMATCH[1]}"
			return 0
		elif [[ $out =~ ^(.*)\ more\ ([0-9]+)$ ]]; then
			MAP_RUNS+="${MAP_RUNS:+ }${BASH_REMATCH[1]}"
			from=${BASH_REMATCH[2]}
			_log "map page $MAP_PAGES: ${#out} characters, then from chunk $from"
		else
			_fail "map $from: unexpected text '${out:0:80}...${out: -80}'"
			return 1
		fi
	done
	_fail "map of $dev: more than 20 pages"
}

test_main() {
	local sz chunks ev exp i c args copies status

	_brd_setup 4 8
	sz=$(_size_sectors /dev/ram0)	# 16384 sectors
	chunks=$((sz / 128))		# 128 chunks of 64 KiB

	_log "timeout and on_error change the status"
	_dm_create msg "0 $sz cbw /dev/ram0 /dev/ram1 128"
	_cbw_expect msg timeout=0 policy=fail state=active
	_msg msg timeout 5000
	_msg msg on_error drop
	_cbw_expect msg timeout=5000 policy=drop
	_msg msg timeout 86400000
	_msg msg on_error break
	_cbw_expect msg timeout=86400000 policy=break
	_msg msg timeout 0
	_msg msg on_error fail
	_cbw_expect msg timeout=0 policy=fail state=active

	_log "malformed messages fail and change nothing"
	refused msg "Invalid argument" frobnicate
	refused msg "Invalid argument" timeout
	refused msg "Invalid argument" timeout x
	refused msg "Invalid argument" timeout 86400001
	refused msg "Invalid argument" timeout 1 2
	refused msg "Invalid argument" on_error
	refused msg "Invalid argument" on_error ignore
	refused msg "Invalid argument" break now
	refused msg "Invalid argument" add
	refused msg "Invalid argument" add 5-3
	refused msg "Invalid argument" add 1 0-$chunks
	refused msg "Invalid argument" add $chunks
	refused msg "Invalid argument" remove 3-
	refused msg "Invalid argument" map x
	refused msg "Invalid argument" map 1 2
	refused msg "Invalid argument" map $((chunks + 1))
	refused msg "Invalid argument" start
	# Well-formed, but there is no incremental set-up.
	refused msg "Device or resource busy" add 5
	_msg msg map
	_expect_eq "$CBW_MSG_OUT" "0-$((chunks - 1)) end" "map of a full snapshot"

	_log "add, remove and start in the incremental set-up; all ranges checked first"
	_dm_create msgi "0 $sz cbw /dev/ram2 /dev/ram3 128 1 incremental"
	_cbw_expect msgi state=setup in_snapshot=0
	refused msgi "Invalid argument" add 1 2-3 $chunks
	_msg msgi map
	_expect_eq "$CBW_MSG_OUT" "end" "map after refused adds"
	_msg msgi add 1 2-3 $((chunks - 1))
	_msg msgi map
	_expect_eq "$CBW_MSG_OUT" "1-3 $((chunks - 1))-$((chunks - 1)) end" "map after add"
	_msg msgi remove 2 $((chunks - 1))
	_msg msgi add 10-20 15-30
	_msg msgi map
	_expect_eq "$CBW_MSG_OUT" "1-1 3-3 10-30 end" "map after remove and add"
	_cbw_expect msgi state=setup in_snapshot=23 to_copy=23 copied=0
	_msg msgi start
	_cbw_expect msgi state=active in_snapshot=23 to_copy=23
	refused msgi "Device or resource busy" add 5
	refused msgi "Invalid argument" start
	_dm_remove msgi

	_log "a suspend ends the incremental set-up"
	_dm_create msgi "0 $sz cbw /dev/ram2 /dev/ram3 128 1 incremental"
	_msg msgi add 7
	_expect_ok "suspend" dmsetup suspend msgi
	_expect_ok "resume" dmsetup resume msgi
	_cbw_expect msgi state=active in_snapshot=1 to_copy=1
	_dm_remove msgi

	_log "break"
	_pattern_write_all /dev/ram0 "0x11 0 1M"
	_dm_create msg-snap "0 $sz snapshot-access /dev/mapper/msg" --readonly
	_pattern_write /dev/mapper/msg 0 64k 0x22
	_cbw_expect msg copied=1 slots=1/$chunks state=active
	copies=$(_cbw_field msg copies)
	ev=$(_dm_events msg)
	_msg msg break
	_cbw_expect msg state=broken:user copied=1 policy=fail
	_expect_eq "$(_dm_events msg)" $((ev + 1)) "event number after break"
	_access_expect msg-snap state=broken
	_read_nodata /dev/mapper/msg-snap "0 64k" "64k 64k" "512k 64k"
	# Guest writes go straight through and copy nothing.
	_pattern_write_all /dev/mapper/msg "0x33 64k 64k" "0x44 640k 128k"
	_pattern_check_all /dev/ram0 "0x22 0 64k" "0x33 64k 64k" "0x11 128k 64k" "0x44 640k 128k"
	_cbw_expect msg state=broken:user copied=1 copies="$copies" slots=1/$chunks copy_errors=0
	status=$(dmsetup status msg)
	_expect_err "a second break" "Operation already in progress" dmsetup message msg 0 break
	_expect_eq "$(dmsetup status msg)" "$status" "status after a second break"
	_expect_eq "$(_dm_events msg)" $((ev + 1)) "event number after a second break"
	_dm_remove msg-snap
	_dm_remove msg

	_log "map after snapshot discards split the set"
	_dm_create mapd "0 $sz cbw /dev/ram2 /dev/ram3 128"
	_dm_create mapd-snap "0 $sz snapshot-access /dev/mapper/mapd"
	_expect_ok "discard chunks 10-19" blkdiscard -f -o 640k -l 640k /dev/mapper/mapd-snap
	_expect_ok "discard chunk 100" blkdiscard -f -o 6400k -l 64k /dev/mapper/mapd-snap
	_cbw_expect mapd discarded=11 in_snapshot=$((chunks - 11))
	_msg mapd map
	_expect_eq "$CBW_MSG_OUT" "0-9 20-99 101-$((chunks - 1)) end" "map after discards"
	_msg mapd map 15
	_expect_eq "$CBW_MSG_OUT" "20-99 101-$((chunks - 1)) end" "map from chunk 15"
	_msg mapd map 50
	_expect_eq "$CBW_MSG_OUT" "50-99 101-$((chunks - 1)) end" "map from chunk 50"
	_msg mapd map $((chunks - 1))
	_expect_eq "$CBW_MSG_OUT" "$((chunks - 1))-$((chunks - 1)) end" "map from the last chunk"
	_msg mapd map $chunks
	_expect_eq "$CBW_MSG_OUT" "end" "map from past the last chunk"
	_dm_remove mapd-snap
	_dm_remove mapd

	# dmsetup asks with a 16 KiB buffer (it would grow it only if the
	# kernel said the buffer was full; the target says "more" first).
	# 1000 single-chunk runs of 8-digit chunk numbers are about 18 KB.
	_log "map in pages: 1000 runs on a 128 GiB zero origin with 4 KiB chunks"
	_dm_create bigzero "0 $((1 << 28)) zero"
	chunks=$((1 << 25))
	_dm_create pg "0 $((1 << 28)) cbw /dev/mapper/bigzero /dev/ram3 8 1 incremental"
	args=(0-99) exp="0-99"
	for ((i = 0; i < 1000; i++)); do
		c=$((10000000 + 2 * i))
		args+=("$c")
		exp+=" $c-$c"
	done
	args+=("30000000-$((chunks - 1))")
	exp+=" 30000000-$((chunks - 1))"
	_msg pg add "${args[@]}" || _die "cannot add 1002 ranges"
	_msg pg start
	_cbw_expect pg chunks=$chunks in_snapshot=$((100 + 1000 + chunks - 30000000))
	_log "tracking memory: $(_cbw_field pg bytes) bytes"
	map_all pg
	[ "$MAP_PAGES" -ge 2 ] || _fail "the map of ${#exp} characters came in $MAP_PAGES page(s)"
	same_text "$MAP_RUNS" "$exp" "map of 1002 runs, pages put together"
	map_all pg 50
	same_text "$MAP_RUNS" "50-${exp#0-}" "map from chunk 50, pages put together"
	map_all pg 10000001
	same_text "$MAP_RUNS" "${exp#* 10000000-10000000 }" "map from chunk 10000001"
	_msg pg map 10001999
	_expect_eq "$CBW_MSG_OUT" "30000000-$((chunks - 1)) end" "map from chunk 10001999"
	_msg pg map $chunks
	_expect_eq "$CBW_MSG_OUT" "end" "map from the chunk count"
	_dm_remove pg
	_dm_remove bigzero
}
