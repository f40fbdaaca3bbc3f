#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a break lets a guest write that waits on a copy stuck on the COW device go on; suspend and remove of the cbw device then complete while the COW device is stuck; that COW device takes no new snapshot, and cannot be removed, until the late write has ended; under fail with a timeout a suspend does not wait for the timed-out copy"

# Documentation/dm-cbw.rst, "Break" and "COW I/O after a break".  The COW
# device is dm-linear over a RAM disk, suspended after the snapshot is
# made: it queues every bio and answers none.  No copy timeout.
#   1. A 4 KiB write of zeros to a chunk to copy waits on its copy, whose
#      COW write is stuck.
#   2. The break message: the write ends, with success, within BOUND ms;
#      the state is broken:user; the snapshot reads fail (ENODATA).
#   3. Suspend and resume of the cbw device complete within BOUND ms, and
#      so do the removal of the snapshot-access and cbw devices: the
#      late copy no longer holds anything back (the kernel log says its
#      I/O is still out).
#   4. A cbw table on the same COW device is refused while the late COW
#      write is out ("COW device still has I/O of a replaced snapshot in
#      flight"): it would land in the new snapshot's slots.  The removed
#      snapshot holds the COW device open: it cannot be removed.
#   5. The COW device resumes: the late write ends, the old snapshot's
#      memory is freed ("ended" in the log), and a new snapshot on that
#      COW device works (a copy, frozen reads).
#   6. Policy fail, timeout TIMEOUT ms, the COW device stuck again: a
#      write fails with ETIMEDOUT; a suspend of the cbw device completes
#      within TIMEOUT + BOUND ms (the timed-out copy is thrown away, its
#      chunk stays to copy); after the resumes the chunk copies again.
# Before the fix the write of step 2 stayed blocked until the COW device
# came back.

SZ=$((16 * 2048))	# origin and COW: 16 MiB
BOUND=10000		# ms: far more than any of these takes under TCG; the
			# old code waited until the COW device came back
TIMEOUT=1000		# ms, step 6

# timed NAME CMD...: run CMD with a bound of 2 x BOUND; its wall time in
# CBW_T_MS.  The test fails if it fails or takes more than BOUND.
timed() {
	local name=$1 t0 rc
	shift
	t0=$(_now_ms)
	timeout $((BOUND * 2 / 1000)) "$@" >/dev/null 2>&1
	rc=$?
	CBW_T_MS=$(($(_now_ms) - t0))
	_log "$name: $CBW_T_MS ms, status $rc"
	[ $rc = 0 ] || _fail "$name failed (status $rc)"
	[ "$CBW_T_MS" -le $BOUND ] || _fail "$name took $CBW_T_MS ms, more than $BOUND"
	return $rc
}

test_main() {
	local pid t0 ms mark out i
	_tmpdir
	_brd_setup 2 16
	_pattern_write /dev/ram0 0 16M 0x5a
	_dm_create p6cow "0 $SZ linear /dev/ram1 0"
	_on_cleanup _resume_if_there p6cow
	_dm_create p6 "0 $SZ cbw /dev/ram0 /dev/mapper/p6cow 8"
	_dm_create p6-snap "0 $SZ snapshot-access /dev/mapper/p6" --readonly
	_expect_ok "suspend the COW device" dmsetup suspend p6cow

	# 1: a write waits on its stuck copy.
	dd if=/dev/zero of=/dev/mapper/p6 bs=4k seek=256 count=1 oflag=direct \
		status=none 2>"$CBW_TMP/dd.err" &
	pid=$!
	sleep 1
	if ! kill -0 $pid 2>/dev/null; then
		_fail "the write did not wait on its copy"
	fi
	_expect_eq "$(_cbw_field p6 copies)" 1 "copy jobs issued"

	# 2: the break lets it go.
	mark="cbw-policy06-$$"
	echo "<7>$mark" >/dev/kmsg
	t0=$(_now_ms)
	_msg p6 break
	if ! _wait_pid $pid $BOUND; then
		_fail "the write still waits $BOUND ms after the break"
		dmsetup resume p6cow
		wait $pid
		return
	fi
	ms=$(($(_now_ms) - t0))
	wait $pid
	_expect_eq "$? $(cat "$CBW_TMP/dd.err")" "0 " "the write after the break: status, error"
	_log "the waiting write ended ${ms} ms after the break"
	_expect_eq "$(_cbw_field p6 state)" broken:user "state"
	_read_nodata /dev/mapper/p6-snap "0 4k" "1M 4k"

	# 3: suspend, resume and removal do not wait for the stuck copy.
	timed "suspend of the cbw device" dmsetup suspend p6
	timed "resume of the cbw device" dmsetup resume p6
	timed "removal of the snapshot-access device" dmsetup remove p6-snap &&
		_dm_forget p6-snap
	timed "removal of the cbw device" dmsetup remove p6 && _dm_forget p6
	out=$(dmesg | sed -n "/$mark/,\$p")
	grep -q "COW I/O of the removed snapshot still in flight" <<<"$out" ||
		_fail "no log line about the COW I/O still in flight"

	# 4: the COW device takes no new snapshot meanwhile.
	_expect_refused p6 "0 $SZ cbw /dev/ram0 /dev/mapper/p6cow 8" \
		"COW device still has I/O of a replaced snapshot in flight"
	_expect_err "remove the COW device in use" "busy" dmsetup remove p6cow

	# 5: the late write ends; the COW device is free again.
	_expect_ok "resume the COW device" dmsetup resume p6cow
	for ((i = 0; i < 50; i++)); do
		dmesg | sed -n "/$mark/,\$p" | grep -q "COW I/O of a removed snapshot ended" && break
		sleep 0.1
	done
	dmesg | sed -n "/$mark/,\$p" | grep -q "COW I/O of a removed snapshot ended" ||
		_fail "the removed snapshot was not freed after its COW write ended"
	_pattern_check /dev/ram0 1M 4k 0
	_pattern_check /dev/ram0 0 1M 0x5a
	_pattern_check /dev/ram0 $((1052672)) $((16777216 - 1052672)) 0x5a

	_dm_create p6 "0 $SZ cbw /dev/ram0 /dev/mapper/p6cow 8"
	_dm_create p6-snap "0 $SZ snapshot-access /dev/mapper/p6" --readonly
	_timed_write /dev/mapper/p6 0 65536
	_expect_eq "$CBW_WRITE_ERR $(_cbw_field p6 copied)" " 16" \
		"new snapshot: write error, chunks copied"
	_pattern_check /dev/mapper/p6-snap 0 1M 0x5a
	_pattern_check /dev/mapper/p6-snap 1M 4k 0
	_dm_remove p6-snap
	_dm_remove p6

	# 6
	_pattern_write /dev/ram0 0 16M 0x5a
	_dm_create p6 "0 $SZ cbw /dev/ram0 /dev/mapper/p6cow 8 2 timeout $TIMEOUT"
	_dm_create p6-snap "0 $SZ snapshot-access /dev/mapper/p6" --readonly
	_expect_ok "suspend the COW device" dmsetup suspend p6cow
	_timed_write /dev/mapper/p6 $((2 << 20)) 4096
	_log "fail: a write on a stuck copy: ${CBW_WRITE_MS} ms (${CBW_WRITE_ERR:-ok})"
	_expect_eq "$CBW_WRITE_ERR" "Connection timed out" "fail: error of the write"
	timed "fail: suspend of the cbw device" dmsetup suspend p6
	timed "fail: resume of the cbw device" dmsetup resume p6
	_expect_ok "resume the COW device" dmsetup resume p6cow
	for ((i = 0; i < 50; i++)); do
		[ "$(_cbw_field p6 slots)" = 0/4096 ] && break
		sleep 0.1
	done
	_cbw_expect p6 state=active copied=0 to_copy=4096 slots=0/4096 timeouts=1
	_timed_write /dev/mapper/p6 $((2 << 20)) 4096
	_expect_eq "$CBW_WRITE_ERR $(_cbw_field p6 copied)" " 1" \
		"fail: the write again: error, chunks copied"
	_pattern_check /dev/mapper/p6-snap 0 16M 0x5a
	_dm_remove p6-snap
	_dm_remove p6
	_dm_remove p6cow
}
