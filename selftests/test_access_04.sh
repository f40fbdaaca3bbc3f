#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a snapshot discard whose COW pass-down is stuck holds up neither the discard, nor copies, nor their timeouts; the slots are freed when the COW discard ends"

# Documentation/dm-cbw.rst, "Snapshot discards".  The COW device (a loop
# device on a tmpfs file, which takes discards) is cut in two: its first
# MiB (slots 0-255) through dm-linear a4cowA, which the test suspends so
# that it answers nothing; the rest through dm-delay with a write delay
# of LATE ms.  4 KiB chunks, copy timeout TIMEOUT ms, policy fail.
#   1. A 1 MiB write at 0 copies 256 chunks into slots 0-255.
#   2. a4cowA is suspended; a discard of the snapshot's first MiB returns
#      within BOUND ms: the chunks left the snapshot (discarded 256), but
#      their slots stay in use until their COW discards end.
#   3. A 4 KiB write at 32 MiB copies to slot 256, which is late: the
#      copy times out, and the write fails with ETIMEDOUT within
#      TIMEOUT + SLACK + BASE ms (timeouts 1; BASE is the same dd to a
#      spare part of the COW file's device, which needs no copy).  Once the late copy ended, the
#      retried write succeeds (its chunk was copied: fail keeps a late
#      success).
#   4. a4cowA resumes: the COW discards end and their 256 slots are
#      freed; the snapshot reads ENODATA in the discarded MiB and 0x5a
#      elsewhere.
# Before the fix the discard ran synchronously in the worker: the discard
# and the write of step 3 stayed blocked until a4cowA came back.

SZ=$((64 * 2048))	# origin: 64 MiB
COW_SZ=$((16 * 2048))	# COW: 16 MiB
TIMEOUT=1000		# ms
LATE=4000		# ms, COW write delay beyond its first MiB
SLACK=2000		# ms, on top of TIMEOUT and BASE
BOUND=10000		# ms: far more than a discard takes under TCG (the
			# old code stayed blocked until the COW came back)
BASE=0			# ms, a dd write that needs no copy (measured)

test_main() {
	local loop pid t0 ms i
	local -A st
	_tmpdir
	_brd_setup 1 64
	_pattern_write /dev/ram0 0 64M 0x5a
	truncate -s 16M "$CBW_TMP/cow.img"
	loop=$(losetup -f --show "$CBW_TMP/cow.img") || _die "no loop device"
	_on_cleanup losetup -d "$loop"
	[ "$(cat /sys/block/"${loop#/dev/}"/queue/discard_max_bytes)" != 0 ] ||
		_die "the loop device takes no discards"
	_dm_create a4cowA "0 2048 linear $loop 0"
	_on_cleanup _resume_if_there a4cowA
	_dm_create a4cow "$(printf '0 2048 linear /dev/mapper/a4cowA 0\n2048 %d delay %s 2048 0 %s 2048 %d' \
		$((COW_SZ - 2048)) "$loop" "$loop" $LATE)"
	_dm_create a4 "0 $SZ cbw /dev/ram0 /dev/mapper/a4cow 8 2 timeout $TIMEOUT"
	_dm_create a4-snap "0 $SZ snapshot-access /dev/mapper/a4"

	# 1
	_expect_ok "1 MiB at 0" dd if=/dev/zero of=/dev/mapper/a4 bs=1M count=1 \
		oflag=direct status=none
	_cbw_expect a4 copied=256 slots=256/4096

	# 2
	_expect_ok "suspend a4cowA" dmsetup suspend a4cowA
	blkdiscard -f -o 0 -l 1M /dev/mapper/a4-snap 2>"$CBW_TMP/discard.err" &
	pid=$!
	t0=$(_now_ms)
	for ((i = 0; i < BOUND / 100; i++)); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $pid 2>/dev/null; then
		_fail "the snapshot discard still runs after $BOUND ms"
		dmsetup resume a4cowA
		wait $pid
		return
	fi
	wait $pid || _fail "the snapshot discard failed: $(<"$CBW_TMP/discard.err")"
	_log "the snapshot discard took $(($(_now_ms) - t0)) ms"
	_cbw_expect a4 discarded=256 copied=0 slots=256/4096 in_snapshot=$((16384 - 256))

	# 3
	_timed_write "$loop" $((15 << 20)) 4096
	BASE=$CBW_WRITE_MS
	_timed_write /dev/mapper/a4 $((32 << 20)) 4096
	_log "a write whose copy is late: ${CBW_WRITE_MS} ms (${CBW_WRITE_ERR:-ok})"
	_expect_eq "$CBW_WRITE_ERR" "Connection timed out" "error of the write whose copy is late"
	[ "$CBW_WRITE_MS" -le $((TIMEOUT + SLACK + BASE)) ] ||
		_fail "the write took $CBW_WRITE_MS ms, more than $TIMEOUT + $SLACK + $BASE"
	_cbw_expect a4 timeouts=1 state=active
	for ((i = 0; i < (LATE + SLACK) / 100; i++)); do
		[ "$(_cbw_field a4 copied)" = 1 ] && break
		sleep 0.1
	done
	_timed_write /dev/mapper/a4 $((32 << 20)) 4096
	_expect_eq "$CBW_WRITE_ERR $(_cbw_field a4 copied)" " 1" \
		"the write again once the late copy ended: error, copied"

	# 4
	_expect_ok "resume a4cowA" dmsetup resume a4cowA
	for ((i = 0; i < 50; i++)); do
		[ "$(_cbw_field a4 slots)" = 1/4096 ] && break
		sleep 0.1
	done
	_cbw_expect a4 slots=1/4096 discarded=256 copied=1
	_read_nodata /dev/mapper/a4-snap "0 4k" "1044480 4k"
	_pattern_check /dev/mapper/a4-snap 1M 63M 0x5a
	_pattern_check /dev/mapper/a4 32M 4k 0
	_dm_remove a4-snap
	_dm_remove a4
	_dm_remove a4cow
	_dm_remove a4cowA
}
