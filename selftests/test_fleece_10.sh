#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="first writes at queue depth 32 on devices that complete later (null_blk timers) land, and a snapshot read racing them returns the frozen data"

# Documentation/dm-cbw.rst, "Guest writes": with copies in flight a first
# write goes to the worker, queued on another CPU, which issues the copies
# of each of its runs under one plug; a one-chunk copy starts in the map
# function only while no copy is in flight.  Origin and COW are 64 MiB
# memory-backed blk-mq null_blk devices whose requests complete 50 us
# later from a timer, as NVMe does.  The origin holds a random file.  fio
# writes 4,096 distinct random 4 KiB blocks (chunks of 4 KiB, so each is a
# first write) at queue depth 32 through the cbw device, each block with
# a checksum, while dd reads the whole snapshot-access device with
# O_DIRECT.  Then:
# - fio reads every block back through the cbw device and checks it: every
#   write landed on the origin, none was lost or torn by a copy;
# - what dd read during the writes, and a second read of the snapshot
#   after them, equal the random file: no snapshot read returned data that
#   was not frozen;
# - the status counts 4,096 chunks copied, no copy error, and writes that
#   waited for copies.

NR=4096			# first writes
QD=32

requires() {
	_require_nullb || return 1
	command -v fio >/dev/null || { _skip_reason "fio not found"; return 1; }
}

# An async null_blk device of 64 MiB: NAME.
async_nullb() {
	local dev
	dev=$(_nullb_make "$1" size=64 memory_backed=1 queue_mode=2 \
		irqmode=2 completion_nsec=50000) || return 1
	echo none >"/sys/block/${dev#/dev/}/queue/scheduler" || return 1
	echo "$dev"
}

test_main() {
	local origin cow sz pid waited

	_tmpdir
	_on_cleanup _nullb_remove cbwaorig
	_on_cleanup _nullb_remove cbwacow
	origin=$(async_nullb cbwaorig) || _die "cannot make the origin null_blk device"
	cow=$(async_nullb cbwacow) || _die "cannot make the COW null_blk device"

	head -c 64M /dev/urandom >"$CBW_TMP/frozen" || _die "no random file"
	dd if="$CBW_TMP/frozen" of="$origin" bs=1M oflag=direct status=none ||
		_die "cannot fill the origin"
	sz=$(_size_sectors "$origin")
	_dm_create f10 "0 $sz cbw $origin $cow 8"
	_dm_create f10-snap "0 $sz snapshot-access /dev/mapper/f10"

	# 4 KiB reads: the reader spans the writes.
	dd if=/dev/mapper/f10-snap of="$CBW_TMP/during" bs=4k iflag=direct \
		status=none &
	pid=$!
	fio --name=first-writes --filename=/dev/mapper/f10 --direct=1 \
		--ioengine=libaio --rw=randwrite --bs=4k --iodepth=$QD \
		--size=64M --number_ios=$NR --randrepeat=0 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--output="$CBW_TMP/fio.out" >/dev/null 2>&1 ||
		_fail "fio: writes or their checks failed: $(tail -5 "$CBW_TMP/fio.out")"
	wait "$pid" || _fail "the snapshot read during the writes failed"

	cmp -s "$CBW_TMP/during" "$CBW_TMP/frozen" ||
		_fail "the snapshot read during the writes differs from the frozen data"
	cmp -s /dev/mapper/f10-snap "$CBW_TMP/frozen" ||
		_fail "the snapshot read after the writes differs from the frozen data"

	_cbw_expect f10 copied=$NR copy_errors=0 state=active
	waited=$(_cbw_field f10 waited)
	_log "writes that waited for a copy: $waited of $NR"
	[ "$waited" -gt 0 ] || _fail "no write waited for a copy"
}
