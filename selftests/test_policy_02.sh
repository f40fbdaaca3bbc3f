#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_policy_02: copies slower than the copy timeout, under each error
# policy.
#
# The COW device is dm-delay over a RAM disk that delays every write by
# DELAY ms (reads are not delayed; DELAY grows on a machine where a dd
# takes long, see test_main); the cbw timeout is TIMEOUT ms.  Origin
# 4 MiB, 64 chunks of 64 KiB: A = chunk 2, B = 5, C = 9, D = 12.  Each
# timed write is one dd O_DIRECT write of 4 KiB.  Its wall time (the start
# of dd included, slow under TCG and slower on the debug kernel) must stay
# under DELAY and under TIMEOUT + SLACK + BASE, where BASE is the wall time
# of the same dd straight to the origin (no copy), measured per policy;
# and the wait the kernel counted for its bio (waited, wait ms) must be
# about the timeout: at least TIMEOUT - 20 ms, at most TIMEOUT + KSLACK.
# So the guest did not wait for the copy, and not less than the timeout
# either.
#   - fail: the write to B fails with ETIMEDOUT, fast; timeouts 1, copy
#     errors 1, first error timeout, state active, B still to copy, the
#     origin unchanged.  A snapshot read of B (it waits while the copy
#     still runs, so the copy has ended and is kept) gets the old data;
#     after a suspend the counters are consistent (copied + to copy = in
#     snapshot, one slot per copied chunk) and B still reads its old
#     data; with no timeout, the write is retried and succeeds, the
#     snapshot keeps the old data.  (A suspend while the timed-out copy
#     still runs throws it away: test_policy_06.)
#   - break: the write to B succeeds fast and lands; a suspend right
#     after it does not wait for the copy thrown away (it returns less
#     than DELAY after the write began, the copy's slot still in use),
#     whose slot is freed when it ends; state broken:timeout, a dm event,
#     every snapshot read fails with ENODATA.
#   - drop: with timeout 0 (none) a write to A waits for its copy (at
#     least DELAY; counted in waited and wait ms) and A is copied; with
#     'message timeout TIMEOUT' a write to B succeeds fast, B is dropped
#     (ENODATA), A (COW) and C (origin) read their old data, a dm event.
#     Then a write to D times out and the cbw device is removed at once:
#     the removal does not wait for the copy thrown away (the destructor
#     logs that the COW I/O is still in flight); the copy's I/O ends in the
#     background (the kernel log says so) and the COW device can be
#     removed then; the kernel log stays clean.

DESCRIPTION="COW slower than the copy timeout: each policy answers the guest within the timeout; suspend and remove do not wait for a copy thrown away, whose slot is freed when it ends"

CHUNKS=64
DELAY=4000	# ms, COW write delay; raised on a slow machine (test_main)
TIMEOUT=300	# ms, cbw copy timeout
SLACK=1000	# ms of wall time allowed on top of the timeout and BASE
BASE=0		# ms, a dd write that needs no copy (measured by setup)
KSLACK=1000	# ms of kernel-counted wait allowed on top of the timeout

requires() {
	_require_target delay dm-delay
}

# wait_slots DEV WANT: wait (up to twice DELAY) until DEV's slots are WANT.
wait_slots() {
	local i
	for ((i = 0; i < DELAY / 50; i++)); do
		[ "$(_cbw_field "$1" slots)" = "$2" ] && return 0
		sleep 0.1
	done
	_fail "$1: slots $(_cbw_field "$1" slots), expected $2"
}

fill_origin() {
	_pattern_write_all /dev/ram0 "0xa1 128k 64k" "0xb1 320k 64k" \
		"0xc1 576k 64k" "0xd1 768k 64k"
}

# setup NAME FEATURES...: a fresh snapshot NAME (and NAME-snap) on a
# freshly filled origin.
setup() {
	local name=$1
	shift
	fill_origin
	_dm_create "$name" "0 $SZ cbw /dev/ram0 /dev/mapper/p2cow 128 $# $*"
	_dm_create "$name-snap" "0 $SZ snapshot-access /dev/mapper/$name" --readonly
	# The same dd to the origin itself, in chunk 63 (not in the story,
	# never checked): no copy; the slower of two runs is BASE.
	_timed_write /dev/ram0 $((63 * 65536)) 4k
	BASE=$CBW_WRITE_MS
	_timed_write /dev/ram0 $((63 * 65536 + 4096)) 4k
	[ "$CBW_WRITE_MS" -le "$BASE" ] || BASE=$CBW_WRITE_MS
}

# check_fast WHAT WAITED WAIT_MS: the last timed write returned within the
# bounds; WAITED and WAIT_MS are the cbw counters before it, st (the
# caller's) holds them after it.
check_fast() {
	local w=$((st[wait_ms] - $3))

	_log "$1: ${CBW_WRITE_MS} ms wall, $w ms counted by the kernel (${CBW_WRITE_ERR:-ok})"
	if [ "$CBW_WRITE_MS" -ge "$DELAY" ] ||
	   [ "$CBW_WRITE_MS" -ge $((TIMEOUT + SLACK + BASE)) ]; then
		_fail "$1 took $CBW_WRITE_MS ms: not within the timeout of $TIMEOUT ms (+$SLACK, +$BASE for a write without copy)"
	fi
	_expect_eq "${st[waited]}" $(($2 + 1)) "$1: waited bios"
	if [ "$w" -lt $((TIMEOUT - 20)) ] || [ "$w" -gt $((TIMEOUT + KSLACK)) ]; then
		_fail "$1: the kernel counted a wait of $w ms, expected $TIMEOUT ms (+$KSLACK)"
	fi
}

policy_fail() {
	local -A st

	_log "policy fail"
	setup tf timeout $TIMEOUT on_error fail
	_timed_write /dev/mapper/tf $((320 * 1024)) 4096
	_cbw_status tf st
	check_fast "fail: write to B" 0 0
	_expect_eq "$CBW_WRITE_ERR" "Connection timed out" "fail: error of the timed-out write"
	_expect_eq "${st[state]} ${st[first_error]}" "active timeout" "tf state, first error"
	_expect_eq "${st[timeouts]} ${st[copy_errors]} ${st[copies]}" "1 1 1" \
		"tf timeouts, copy errors, copies"
	_expect_eq "${st[to_copy]} ${st[copied]} ${st[in_snapshot]}" "$CHUNKS 0 $CHUNKS" \
		"tf to copy, copied, in snapshot right after the timeout"
	_pattern_check_all /dev/ram0 "0xb1 320k 64k"
	_pattern_check_all /dev/mapper/tf-snap "0xb1 320k 64k" "0xa1 128k 64k"

	_log "fail: after the copy left running ended"
	_expect_ok "suspend tf" dmsetup suspend tf
	_expect_ok "resume tf" dmsetup resume tf
	_cbw_status tf st
	_log "tf after the background copy: copied ${st[copied]}, to copy ${st[to_copy]}, slots ${st[slots]}"
	_expect_eq "$((st[copied] + st[to_copy]))" "${st[in_snapshot]}" "tf copied + to copy"
	_expect_eq "${st[in_snapshot]} ${st[dropped]}" "$CHUNKS 0" "tf in snapshot, dropped"
	_expect_eq "${st[slots]}" "${st[copied]}/$CHUNKS" "tf slots (one per copied chunk)"
	_expect_eq "${st[state]} ${st[timeouts]}" "active 1" "tf state, timeouts"
	_pattern_check_all /dev/mapper/tf-snap "0xb1 320k 64k"
	_pattern_check_all /dev/mapper/tf "0xb1 320k 64k"

	_msg tf timeout 0
	_timed_write /dev/mapper/tf $((320 * 1024)) 4096
	_log "fail: retry with no timeout: ${CBW_WRITE_MS} ms (${CBW_WRITE_ERR:-ok})"
	_expect_eq "$CBW_WRITE_ERR" "" "fail: error of the retried write"
	_cbw_expect tf copied=1 to_copy=$((CHUNKS - 1)) slots=1/$CHUNKS timeouts=1 \
		timeout=0 state=active
	_pattern_check_all /dev/mapper/tf-snap "0xb1 320k 64k"
	_pattern_check_all /dev/mapper/tf "0 320k 4k" "0xb1 324k 60k"
	_dm_remove tf-snap
	_dm_remove tf
}

policy_break() {
	local ev0 ev1 t1
	local -A st

	_log "policy break"
	setup tb timeout $TIMEOUT on_error break
	ev0=$(_dm_events tb)
	_timed_write /dev/mapper/tb $((320 * 1024)) 4096
	_expect_ok "suspend tb" dmsetup suspend tb
	t1=$(_now_ms)
	_cbw_status tb st
	_expect_ok "resume tb" dmsetup resume tb
	check_fast "break: write to B" 0 0
	_expect_eq "$CBW_WRITE_ERR" "" "break: error of the write"
	_log "break: the suspend returned $((t1 - CBW_WRITE_T0)) ms after the write began"
	[ $((t1 - CBW_WRITE_T0)) -lt "$DELAY" ] ||
		_fail "break: the suspend waited for the copy thrown away"
	_expect_eq "${st[state]} ${st[first_error]}" "broken:timeout timeout" "tb state, first error"
	_expect_eq "${st[timeouts]} ${st[copy_errors]} ${st[copies]}" "1 1 1" \
		"tb timeouts, copy errors, copies"
	_expect_eq "${st[slots]}" "1/$CHUNKS" "tb slots while the copy thrown away runs"
	wait_slots tb "0/$CHUNKS"
	ev1=$(_dm_events tb)
	[ "$ev1" -gt "$ev0" ] || _fail "no dm event for the break (event number $ev0 -> $ev1)"
	_pattern_check_all /dev/ram0 "0 320k 4k" "0xb1 324k 60k"
	_read_nodata /dev/mapper/tb-snap "320k 4k" "128k 4k" "576k 4k"
	_access_expect tb-snap state=broken origin_reads=0 cow_reads=0
	_dm_remove tb-snap
	_dm_remove tb
}

policy_drop() {
	local ev0 ev1 t1 waited wait_ms mark i
	local -A st

	_log "policy drop"
	setup td timeout 0 on_error drop
	_timed_write /dev/mapper/td $((128 * 1024)) 4096
	_log "drop: write to A with no timeout: ${CBW_WRITE_MS} ms (${CBW_WRITE_ERR:-ok})"
	_expect_eq "$CBW_WRITE_ERR" "" "drop: error of the write to A"
	[ "$CBW_WRITE_MS" -ge "$DELAY" ] ||
		_fail "a write with no timeout took $CBW_WRITE_MS ms, less than the COW delay"
	_cbw_status td st
	_expect_eq "${st[copied]} ${st[timeouts]} ${st[waited]}" "1 0 1" \
		"td copied, timeouts, waited"
	[ "${st[wait_ms]}" -ge "$DELAY" ] ||
		_fail "td wait ms ${st[wait_ms]}, expected >= $DELAY"

	_msg td timeout $TIMEOUT
	_cbw_expect td timeout=$TIMEOUT
	ev0=$(_dm_events td)
	waited=${st[waited]} wait_ms=${st[wait_ms]}
	_timed_write /dev/mapper/td $((320 * 1024)) 4096
	_cbw_status td st
	check_fast "drop: write to B" "$waited" "$wait_ms"
	_expect_eq "$CBW_WRITE_ERR" "" "drop: error of the write to B"
	_expect_eq "${st[dropped]} ${st[in_snapshot]} ${st[copied]} ${st[to_copy]}" \
		"1 $((CHUNKS - 1)) 1 $((CHUNKS - 2))" "td dropped, in snapshot, copied, to copy"
	_expect_eq "${st[state]} ${st[first_error]} ${st[timeouts]}" "active timeout 1" \
		"td state, first error, timeouts"
	ev1=$(_dm_events td)
	[ "$ev1" -gt "$ev0" ] || _fail "no dm event for the drop (event number $ev0 -> $ev1)"
	_pattern_check_all /dev/ram0 "0 320k 4k" "0xb1 324k 60k"
	_read_nodata /dev/mapper/td-snap "320k 4k"
	_pattern_check_all /dev/mapper/td-snap "0xa1 128k 64k" "0xc1 576k 64k"
	_access_expect td-snap state=valid

	_log "drop: remove while a timed-out copy runs"
	waited=${st[waited]} wait_ms=${st[wait_ms]}
	_timed_write /dev/mapper/td $((768 * 1024)) 4096
	_cbw_status td st
	mark=cbw-policy02-$$
	echo "<7>$mark" >/dev/kmsg
	_expect_ok "remove td-snap and td" dmsetup remove td-snap td
	t1=$(_now_ms)
	_dm_forget td-snap
	_dm_forget td
	check_fast "drop: write to D" "$waited" "$wait_ms"
	_expect_eq "${st[dropped]} ${st[timeouts]}" "2 2" "td dropped, timeouts after D"
	_expect_eq "$CBW_WRITE_ERR" "" "drop: error of the write to D"
	# The proof that the removal did not wait is the kernel's: the
	# destructor logs "still in flight" (checked below) only when it
	# leaves the copy's I/O behind.  The wall time is for the log: on a
	# loaded debug kernel the status read and dmsetup's start alone took
	# longer than DELAY.
	_log "drop: the removal returned $((t1 - CBW_WRITE_T0)) ms after the write began (the copy's write takes $DELAY ms)"
	dmsetup info td >/dev/null 2>&1 && _fail "td still exists after its removal"
	_pattern_check_all /dev/ram0 "0 768k 4k" "0xd1 772k 60k"
	for ((i = 0; i < DELAY / 50; i++)); do
		dmesg | sed -n "/$mark/,\$p" | grep -q "COW I/O of a removed snapshot ended" &&
			break
		sleep 0.1
	done
	dmesg | sed -n "/$mark/,\$p" | grep -q "still in flight" ||
		_fail "drop: no log line about the COW I/O left in flight"
	dmesg | sed -n "/$mark/,\$p" | grep -q "COW I/O of a removed snapshot ended" ||
		_fail "drop: the copy thrown away did not end"
}

test_main() {
	_brd_setup 2 4
	SZ=$(_size_sectors /dev/ram0)
	_expect_eq "$SZ" $((CHUNKS * 128)) "origin size"
	# Every order of events the test relies on holds while a dd, the
	# timeout and the slack take far less than DELAY.  The debug kernel
	# under load takes seconds to start a dd: give DELAY three times that.
	_timed_write /dev/ram0 $((63 * 65536)) 4k
	if [ $((3 * (CBW_WRITE_MS + TIMEOUT + SLACK))) -gt "$DELAY" ]; then
		DELAY=$((3 * (CBW_WRITE_MS + TIMEOUT + SLACK)))
		_log "a dd takes $CBW_WRITE_MS ms here: COW delay raised to $DELAY ms"
	fi
	_dm_create p2cow "0 $SZ delay /dev/ram1 0 0 /dev/ram1 0 $DELAY"

	policy_fail
	policy_break
	policy_drop
	_dm_remove p2cow
}
