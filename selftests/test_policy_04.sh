#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a background copy step that fails, or passes its deadline, before any write waits on it applies no policy; a write that then waits on it, or needs its chunks, meets the policy within the timeout"

# Documentation/dm-cbw.rst, "Guest writes", "Copy timeouts" and "Error
# policies".  As in test_fleece_07, 20 sequential 1 MiB writes on a 4 KiB-
# chunk snapshot copy [0,32) MiB in steps the writes wait on, and start
# the step [32,48) MiB in the background after the write at 16 MiB (the
# 7th copy job); no write reaches it.  COW slots are taken in order
# from the start, so that step writes the COW's [32,48) MiB.  Here the COW
# device is dm-linear to a RAM disk for its first 32 MiB and, beyond, an
# error target (case io) or dm-delay of the RAM disk by DELAY ms (the late
# cases, cbw timeout TIMEOUT ms; the other steps take far less).
#   - io, policy drop: the background step fails: copy errors 1, first
#     error io_error, state active, nothing dropped, 32 MiB copied and
#     32 MiB still to copy, the snapshot exact.  The failure ended the
#     stream, so a write at 32 MiB copies just its own 1 MiB; that copy
#     fails too, with the write waiting: the policy drops those 256
#     chunks, the write lands, their snapshot reads fail (ENODATA), the
#     rest of the snapshot stays exact.
#   - late, policy fail: the background step is stuck past two deadlines
#     with no write waiting: no timeout, no error, state active.  Once the
#     COW is fast again (dm-linear throughout; its resume lets the delayed
#     write through) the step ends and is kept: 48 MiB copied, 16 MiB to
#     copy, the snapshot exact.
#   - late, policy break: the same stuck step; then a 4 KiB write at
#     32 MiB waits on it and is answered by the policy within about the
#     timeout: it lands, the snapshot is broken:timeout, timeouts 1.
# Applying the policy to a step no write waited on would drop 4096 chunks
# in case io and break the snapshot, or throw the step away, in the late
# cases.

MIB_CHUNKS=256		# 4 KiB chunks per MiB
SZ=$((64 * 2048))	# origin: 64 MiB
COW_SZ=$((224 * 2048))	# COW: 224 MiB (windows of 16 MiB need 128 MiB free)
GOOD=$((32 * 2048))	# the COW's first 32 MiB work
DELAY=600000		# ms, COW delay beyond GOOD (late cases): stuck
TIMEOUT=3000		# ms, cbw copy timeout (late cases)
SLACK=3000		# ms of wall time allowed on top of it

requires() {
	_require_target delay dm-delay
}

# stream NAME FIELD MIN: the 20 writes, then wait (up to 20 s) until the
# status field FIELD is at least MIN.
stream() {
	local i
	_expect_ok "20 sequential 1 MiB writes" dd if=/dev/zero \
		of=/dev/mapper/"$1" bs=1M count=20 oflag=direct status=none
	for ((i = 0; i < 200; i++)); do
		[ "$(_cbw_field "$1" "$2")" -ge "$3" ] && break
		sleep 0.1
	done
}

# cow_table DELAYED: the COW's table, the part beyond GOOD delayed or not.
cow_table() {
	if [ "$1" = 1 ]; then
		printf '0 %d linear /dev/ram1 0\n%d %d delay /dev/ram1 %d %d' \
			$GOOD $GOOD $((COW_SZ - GOOD)) $GOOD $DELAY
	else
		echo "0 $COW_SZ linear /dev/ram1 0"
	fi
}

# cow_fast: the COW without delay; the delayed bios go through.
cow_fast() {
	_expect_ok "load a fast COW table" dmsetup load p4cow --table "$(cow_table 0)"
	_expect_ok "suspend the COW" dmsetup suspend p4cow
	_expect_ok "resume the COW" dmsetup resume p4cow
}

# late_setup POLICY: the stream on a fresh snapshot with a stuck COW
# beyond GOOD; returns once the background step was issued and two of
# its deadlines passed.
late_setup() {
	local -A st

	_pattern_write /dev/ram0 0 64M 0x5a
	_dm_create p4cow "$(cow_table 1)"
	_dm_create p4 "0 $SZ cbw /dev/ram0 /dev/mapper/p4cow 8 4 on_error $1 timeout $TIMEOUT"
	_dm_create p4-snap "0 $SZ snapshot-access /dev/mapper/p4" --readonly
	stream p4 copies 7
	sleep $((TIMEOUT * 5 / 2000)).5
	_cbw_status p4 st
	_log "$1: $((TIMEOUT * 5 / 2)) ms after the stream: copied ${st[copied]}, copies ${st[copies]}, timeouts ${st[timeouts]}"
	_expect_eq "${st[copies]} ${st[copied]}" "7 $((32 * MIB_CHUNKS))" \
		"$1: copy jobs issued, chunks copied"
	_expect_eq "${st[state]} ${st[first_error]} ${st[timeouts]} ${st[copy_errors]}" \
		"active - 0 0" "$1: state, first error, timeouts, copy errors"
}

case_io() {
	local i
	local -A st

	_log "case io, policy drop"
	_pattern_write /dev/ram0 0 64M 0x5a
	_dm_create p4cow "$(printf '0 %d linear /dev/ram1 0\n%d %d error' \
		$GOOD $GOOD $((COW_SZ - GOOD)))"
	_dm_create p4 "0 $SZ cbw /dev/ram0 /dev/mapper/p4cow 8 2 on_error drop"
	_dm_create p4-snap "0 $SZ snapshot-access /dev/mapper/p4" --readonly
	stream p4 copy_errors 1
	# The error is counted before the first error is recorded.
	for ((i = 0; i < 50; i++)); do
		[ "$(_cbw_field p4 first_error)" != - ] && break
		sleep 0.1
	done
	_cbw_status p4 st
	_log "after the stream: copied ${st[copied]}, to copy ${st[to_copy]}, copy errors ${st[copy_errors]}, dropped ${st[dropped]}"
	_expect_eq "${st[state]} ${st[first_error]} ${st[copy_errors]}" \
		"active io_error 1" "state, first error, copy errors"
	_expect_eq "${st[dropped]} ${st[copied]} ${st[to_copy]}" \
		"0 $((32 * MIB_CHUNKS)) $((32 * MIB_CHUNKS))" \
		"dropped, copied, to copy (the failed step's chunks stay to copy)"
	_pattern_check /dev/mapper/p4-snap 0 64M 0x5a
	_pattern_check /dev/mapper/p4 0 20M 0

	_expect_ok "1 MiB at 32 MiB" dd if=/dev/zero of=/dev/mapper/p4 \
		bs=1M seek=32 count=1 oflag=direct status=none
	_cbw_status p4 st
	_expect_eq "${st[state]} ${st[copy_errors]} ${st[dropped]}" \
		"active 2 $MIB_CHUNKS" "state, copy errors, dropped after a write that waited"
	_expect_eq "${st[to_copy]}" $((31 * MIB_CHUNKS)) "to copy"
	_pattern_check /dev/mapper/p4 32M 1M 0
	_read_nodata /dev/mapper/p4-snap "32M 4k" "34598912 4k"
	_pattern_check /dev/mapper/p4-snap 0 32M 0x5a
	_pattern_check /dev/mapper/p4-snap 33M 31M 0x5a
	_dm_remove p4-snap
	_dm_remove p4
	_dm_remove p4cow
}

case_late_fail() {
	local -A st

	_log "case late, policy fail"
	late_setup fail
	cow_fast
	_expect_ok "suspend" dmsetup suspend p4
	_expect_ok "resume" dmsetup resume p4
	_cbw_status p4 st
	_expect_eq "${st[copied]} ${st[to_copy]} ${st[slots]}" \
		"$((48 * MIB_CHUNKS)) $((16 * MIB_CHUNKS)) $((48 * MIB_CHUNKS))/$((224 * MIB_CHUNKS))" \
		"fail: copied, to copy, slots once the late step ended (kept)"
	_expect_eq "${st[state]} ${st[timeouts]} ${st[copy_errors]}" "active 0 0" \
		"fail: state, timeouts, copy errors"
	_pattern_check /dev/mapper/p4-snap 0 64M 0x5a
	_pattern_check /dev/mapper/p4 0 20M 0
	_dm_remove p4-snap
	_dm_remove p4
	_dm_remove p4cow
}

case_late_break() {
	local w0
	local -A st

	_log "case late, policy break"
	late_setup break
	w0=$(_cbw_field p4 waited)
	_timed_write /dev/mapper/p4 $((32 << 20)) 4096
	_log "break: a write on the late step: ${CBW_WRITE_MS} ms (${CBW_WRITE_ERR:-ok})"
	_expect_eq "$CBW_WRITE_ERR" "" "break: error of the write"
	[ "$CBW_WRITE_MS" -le $((TIMEOUT + SLACK)) ] ||
		_fail "break: the write took $CBW_WRITE_MS ms, more than the timeout of $TIMEOUT ms (+$SLACK)"
	_cbw_status p4 st
	_expect_eq "${st[state]} ${st[timeouts]} ${st[waited]}" "broken:timeout 1 $((w0 + 1))" \
		"break: state, timeouts, bios that waited"
	_pattern_check /dev/mapper/p4 $((32 << 20)) 4k 0
	cow_fast
	_dm_remove p4-snap
	_dm_remove p4
	_dm_remove p4cow
}

test_main() {
	_brd_setup 2 224
	case_io
	case_late_fail
	case_late_break
}
