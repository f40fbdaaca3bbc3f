#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a background copy step that fails or times out before any write waits on it applies no policy: its chunks stay to copy, and the write that later needs them meets the policy"

# Documentation/dm-cbw.rst, "Error policies" and "Guest writes".  As in
# test_fleece_07, 20 sequential 1 MiB writes on a 4 KiB-chunk snapshot copy
# [0,32) MiB in steps the writes wait on, and start the step [32,48) MiB in
# the background after the write at 16 MiB; no write reaches it.  COW slots
# are taken in order from the start, so that step writes the COW's
# [32,48) MiB.  Here the COW device is dm-linear to a RAM disk for its
# first 32 MiB and, beyond, an error target (case io) or dm-delay of a
# RAM disk by DELAY ms (case timeout, cbw timeout TIMEOUT ms).
#   - io, policy drop: the background step fails: copy errors 1, first
#     error io_error, state active, nothing dropped, 32 MiB copied and
#     32 MiB still to copy, the snapshot exact.  The failure ended the
#     stream, so a write at 32 MiB copies just its own 1 MiB; that copy
#     fails too, with the write waiting: the policy drops those 256 chunks,
#     the write lands, their snapshot reads fail (ENODATA), the rest of the
#     snapshot stays exact.
#   - timeout, policy break: the background step times out: timeouts 1,
#     state active.  A suspend and resume of the COW device lets the
#     delayed write through, the step ends and frees its slots: 32 MiB
#     copied, 32 MiB to copy, the snapshot exact.  A write at 32 MiB then
#     waits on its own copy, which times out: the snapshot breaks
#     (broken:timeout) and the write lands.
# With the policy applied to a step no write waited on, case io would drop
# 4096 chunks and case timeout would break the snapshot at once.

MIB_CHUNKS=256		# 4 KiB chunks per MiB
SZ=$((64 * 2048))	# origin: 64 MiB
COW_SZ=$((224 * 2048))	# COW: 224 MiB (windows of 16 MiB need 128 MiB free)
GOOD=$((32 * 2048))	# the COW's first 32 MiB work
DELAY=30000		# ms, COW delay beyond GOOD (case timeout)
TIMEOUT=3000		# ms, cbw copy timeout (case timeout)

requires() {
	if ! dmsetup targets | grep -q '^delay '; then
		modprobe dm-delay 2>/dev/null
		dmsetup targets | grep -q '^delay ' ||
			{ _skip_reason "dm-delay not available"; return 1; }
	fi
}

# stream NAME: the 20 writes, then wait (up to 20 s) for the background
# step's failure or timeout, counted in copy_errors.
stream() {
	local i
	_expect_ok "20 sequential 1 MiB writes" dd if=/dev/zero \
		of=/dev/mapper/"$1" bs=1M count=20 oflag=direct status=none
	for ((i = 0; i < 200; i++)); do
		[ "$(_cbw_field "$1" copy_errors)" -ge 1 ] && break
		sleep 0.1
	done
}

case_io() {
	local -A st

	_log "case io, policy drop"
	_pattern_write /dev/ram0 0 64M 0x5a
	_dm_create p4cow "$(printf '0 %d linear /dev/ram1 0\n%d %d error' \
		$GOOD $GOOD $((COW_SZ - GOOD)))"
	_dm_create p4 "0 $SZ cbw /dev/ram0 /dev/mapper/p4cow 8 2 on_error drop"
	_dm_create p4-snap "0 $SZ snapshot-access /dev/mapper/p4" --readonly
	stream p4
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

case_timeout() {
	local -A st

	_log "case timeout, policy break"
	_pattern_write /dev/ram0 0 64M 0x5a
	_dm_create p4cow "$(printf '0 %d linear /dev/ram1 0\n%d %d delay /dev/ram1 %d %d' \
		$GOOD $GOOD $((COW_SZ - GOOD)) $GOOD $DELAY)"
	_dm_create p4 "0 $SZ cbw /dev/ram0 /dev/mapper/p4cow 8 4 on_error break timeout $TIMEOUT"
	_dm_create p4-snap "0 $SZ snapshot-access /dev/mapper/p4" --readonly
	stream p4
	_cbw_status p4 st
	_log "after the stream: copied ${st[copied]}, to copy ${st[to_copy]}, timeouts ${st[timeouts]}"
	_expect_eq "${st[state]} ${st[first_error]} ${st[timeouts]}" \
		"active timeout 1" "state, first error, timeouts"

	# The delayed COW write goes through; the step ends, its data thrown
	# away; the cbw suspend waits for it.
	_expect_ok "suspend the COW" dmsetup suspend p4cow
	_expect_ok "resume the COW" dmsetup resume p4cow
	_expect_ok "suspend" dmsetup suspend p4
	_expect_ok "resume" dmsetup resume p4
	_cbw_status p4 st
	_expect_eq "${st[copied]} ${st[to_copy]} ${st[slots]}" \
		"$((32 * MIB_CHUNKS)) $((32 * MIB_CHUNKS)) $((32 * MIB_CHUNKS))/$((224 * MIB_CHUNKS))" \
		"copied, to copy, slots once the step ended"
	_expect_eq "${st[state]} ${st[copy_errors]}" "active 1" "state, copy errors"
	_pattern_check /dev/mapper/p4-snap 0 64M 0x5a

	_expect_ok "1 MiB at 32 MiB" dd if=/dev/zero of=/dev/mapper/p4 \
		bs=1M seek=32 count=1 oflag=direct status=none
	_cbw_status p4 st
	_expect_eq "${st[state]} ${st[timeouts]}" "broken:timeout 2" \
		"state, timeouts after a write that waited"
	_pattern_check /dev/mapper/p4 32M 1M 0
	_expect_ok "suspend the COW" dmsetup suspend p4cow
	_expect_ok "resume the COW" dmsetup resume p4cow
	_dm_remove p4-snap
	_dm_remove p4
	_dm_remove p4cow
}

test_main() {
	_brd_setup 2 224
	case_io
	case_timeout
}
