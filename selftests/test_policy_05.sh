#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="a snapshot read sent to the origin that is still in flight when the snapshot breaks fails with ENODATA, although a guest write let through by the break changed its chunk first; a read that ended before the break keeps its frozen data"

# Documentation/dm-cbw.rst, "Break".  The origin is a RAM disk whose
# first MiB is behind dm-delay (reads DELAY ms late, writes at once).  A
# 4 KiB O_DIRECT read of the snapshot at 64 KiB goes to the origin (its chunk
# is still to copy) and is held there.  Then the snapshot breaks, and a
# 4 KiB write of zeros to the same chunk of the cbw device goes straight
# to the RAM disk, before the read gets there.
#   - user: the break message; the COW device is a RAM disk.
#   - policy: the break policy, after a copy to an error target fails (a
#     write at 2 MiB, outside the delayed MiB).
# Each time the read must fail with ENODATA (the snapshot-access status
# counts it as a failed read); it must never return the zeros with
# success.  The write takes far less than DELAY: it does not wait for the
# read.  A read of another chunk that ended before the break read 0x5a.

SZ=$((16 * 2048))	# origin: 16 MiB
DELAY=8000		# ms, origin read delay over its first MiB

requires() {
	_require_target delay dm-delay
}

# one CASE: see above.
one() {
	local how=$1 pid rc f0 out cbw_args cow
	local -A st

	_log "case $how"
	_pattern_write /dev/ram0 0 16M 0x5a
	_dm_create p5o "$(printf '0 2048 delay /dev/ram0 0 %d /dev/ram0 0 0\n2048 %d linear /dev/ram0 2048' \
		$DELAY $((SZ - 2048)))"
	if [ "$how" = user ]; then
		cow=/dev/ram1
		cbw_args=""
	else
		_dm_create p5cow "0 $SZ error"
		cow=/dev/mapper/p5cow
		cbw_args=" 2 on_error break"
	fi
	_dm_create p5 "0 $SZ cbw /dev/mapper/p5o $cow 8$cbw_args"
	_dm_create p5-snap "0 $SZ snapshot-access /dev/mapper/p5" --readonly
	_pattern_check /dev/mapper/p5-snap 4M 64k 0x5a
	f0=$(_access_field p5-snap failed_reads)

	# dd, not qemu-io: qemu probes the alignment with reads at 0.
	dd if=/dev/mapper/p5-snap of="$CBW_TMP/read.out" bs=4k skip=16 count=1 \
		iflag=direct status=none 2>"$CBW_TMP/read.err" &
	pid=$!
	sleep 1
	if [ "$how" = user ]; then
		_msg p5 break
	else
		_timed_write /dev/mapper/p5 $((2 << 20)) 4096
		_expect_eq "$CBW_WRITE_ERR" "" "$how: the write whose copy fails"
	fi
	_expect_eq "$(_cbw_field p5 state)" "broken:$([ "$how" = user ] && echo user || echo io_error)" \
		"$how: state after the break"
	_timed_write /dev/mapper/p5 $((64 << 10)) 4096
	_log "$how: the write to the chunk under the read: ${CBW_WRITE_MS} ms (${CBW_WRITE_ERR:-ok})"
	_expect_eq "$CBW_WRITE_ERR" "" "$how: error of the write"
	[ "$CBW_WRITE_MS" -lt $((DELAY / 2)) ] ||
		_fail "$how: the write took $CBW_WRITE_MS ms: it waited for the read"
	kill -0 $pid 2>/dev/null ||
		_fail "$how: the snapshot read ended before the write (no race to test)"
	wait $pid
	rc=$?
	out=$(<"$CBW_TMP/read.err")
	_log "$how: the read in flight: exit $rc: $out"
	if [ $rc = 0 ]; then
		cmp -s "$CBW_TMP/read.out" <(head -c 4096 /dev/zero) &&
			_fail "$how: the read in flight returned the new data with success"
		_fail "$how: the read in flight succeeded, expected ENODATA"
	fi
	[[ $out == *"No data available"* ]] ||
		_fail "$how: the read in flight did not fail with ENODATA: $out"
	_expect_eq "$(_access_field p5-snap failed_reads)" $((f0 + 1)) \
		"$how: failed reads of the snapshot"
	_pattern_check /dev/mapper/p5 64k 4k 0
	_dm_remove p5-snap
	_dm_remove p5
	[ "$how" = user ] || _dm_remove p5cow
	_dm_remove p5o
}

test_main() {
	_tmpdir
	_brd_setup 2 16
	one user
	one policy
}
