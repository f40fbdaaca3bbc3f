#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="concurrency: random writes on the origin while the snapshot is read, with a suspend/resume in the middle; the image matches the checksum taken at snapshot time"

requires() {
	command -v fio >/dev/null || { _skip_reason "fio not installed"; return 1; }
}

test_main() {
	local sz tmp before after copied fio_rc

	_brd_setup 2 32
	sz=$(_size_sectors /dev/ram0)
	_tmpdir
	tmp=$CBW_TMP

	dd if=/dev/urandom of=/dev/ram0 bs=1M count=32 oflag=direct status=none
	before=$(dd if=/dev/ram0 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)

	_dm_create conc "0 $sz cbw /dev/ram0 /dev/ram1 64"
	_dm_create conc-snap "0 $sz snapshot-access /dev/mapper/conc" --readonly

	fio --name=guest --filename=/dev/mapper/conc --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=8 --numjobs=2 \
		--time_based --runtime=8 --randrepeat=0 --output="$tmp/fio.out" &
	local fio_pid=$!

	sleep 1
	# Read the whole image twice with O_DIRECT in 64 KiB pieces, racing the
	# writes; suspend and resume the cbw device between the two passes.
	after=$(dd if=/dev/mapper/conc-snap bs=64k iflag=direct status=none | sha256sum | cut -d' ' -f1)
	_expect_eq "$after" "$before" "snapshot checksum, first pass"
	_expect_ok "suspend" dmsetup suspend conc
	sleep 0.5
	_expect_ok "resume" dmsetup resume conc
	after=$(dd if=/dev/mapper/conc-snap bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)
	_expect_eq "$after" "$before" "snapshot checksum, second pass"

	wait $fio_pid
	fio_rc=$?
	_expect_eq "$fio_rc" 0 "fio exit status"
	grep -q 'err= 0' "$tmp/fio.out" || _fail "fio saw errors: $(grep err= "$tmp/fio.out")"

	after=$(dd if=/dev/mapper/conc-snap bs=256k iflag=direct status=none | sha256sum | cut -d' ' -f1)
	_expect_eq "$after" "$before" "snapshot checksum after the writes"
	copied=$(_status_field conc 3)
	_log "chunks copied: $copied of $(_status_field conc 2), waited bios: $(_status_field conc 7)"
	[ "$copied" -gt 0 ] || _fail "no chunk was copied"
	_expect_eq "$(_status_field conc 6)" 0 "copy errors"
	if cmp -s <(dd if=/dev/ram0 bs=1M iflag=direct status=none) \
		  <(dd if=/dev/mapper/conc-snap bs=1M iflag=direct status=none); then
		_fail "origin and snapshot are equal: the writes did not land"
	fi

	_dm_remove conc-snap
	_dm_remove conc
}
