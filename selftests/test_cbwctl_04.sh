#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_04: cbwctl backup, discard and export on RAM disks: a 64 MiB
# origin with 64 KiB chunks (1024), its COW device a dm-linear over a
# second RAM disk (so that it can be swapped for dm-error).
#
# Scenario and expected results:
#   - --help of backup, discard and export prints the usage; each bad input
#     (missing --to or --nbd, bad sizes and addresses, unknown options, an
#     unknown NAME, an existing image without --force, an image that cannot
#     be written, --discard-behind into a pipe, an unaligned or too long
#     discard range, a read-only NAME-snap for discards, qemu-nbd missing
#     or failing) exits with its code and exactly one line on stderr.
#   - The origin has patterns, random data and zero areas; its copy is
#     taken before create.  After writes through NAME (33 chunks copied),
#     backup writes an image equal to that copy, sparse (its zero areas are
#     holes), also to standard output (a file and a pipe), and with
#     request sizes below and above the chunk size.
#   - discard of chunks 0 and 16-31: they leave the snapshot (discarded
#     17, their reads fail with ENODATA) and are holes in the next image,
#     the rest equal to the copy.
#   - export over a Unix socket: qemu-io reads the snapshot's data through
#     NBD, its discard of 1 MiB takes chunks 128-143 out of the snapshot,
#     writes fail; without --persistent qemu-nbd exits after its client.
#   - backup --discard-behind: the same image, then every chunk has left
#     the snapshot (in snapshot 0, no slot used), and a write through NAME
#     to a chunk never written copies nothing.
#   - With the COW device swapped for dm-error, backup exits 8: the image
#     has zeros in the copied chunks 3 and 10-12, the stderr names them
#     one range per line, and the rest of the image is right.
#   - A broken snapshot: backup exits 1 and leaves no file behind; so
#     does a backup during which the snapshot breaks, or that gets
#     SIGTERM (the origin a dm-delay device, to be slow).
#   - The throughput of a backup is logged (--progress summary line).

DESCRIPTION="cbwctl: backup (sparse, stream, partial, discard-behind), discard and export over NBD"

requires() {
	local t
	for t in cbwctl qemu-io qemu-nbd dmsetup blockdev cmp du; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found (cbwctl: make -C dmtools)"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
	_require_target delay dm-delay || return 1
}

N=b4			# the cbw device
SNAP=/dev/mapper/$N-snap
K=64			# chunk size in KiB
SIZE=$((64 << 20))	# origin size in bytes

# cbwctl_ok ARG...: 'cbwctl ARG...' succeeds silently.
cbwctl_ok() {
	if ! cbwctl "$@" >"$CBW_TMP/out" 2>"$CBW_TMP/err"; then
		_fail "cbwctl $*: exit status $?: $(<"$CBW_TMP/err")"
		return 1
	fi
	[ ! -s "$CBW_TMP/err" ] || _fail "cbwctl $*: stderr '$(<"$CBW_TMP/err")'"
	[ ! -s "$CBW_TMP/out" ] || _fail "cbwctl $*: stdout '$(<"$CBW_TMP/out")'"
}

# same FILE WANT WHAT: FILE has the bytes of WANT.
same() {
	local out
	out=$(cmp "$1" "$2" 2>&1) || _fail "$3: $1 differs from $2: $out"
}

# zero_chunks FILE CHUNK COUNT: zero COUNT chunks from CHUNK in FILE.
zero_chunks() {
	dd if=/dev/zero of="$1" bs=${K}k seek="$2" count="$3" conv=notrunc \
		status=none || _die "dd into $1"
}

# stop_pid PID: stop the qemu-nbd this test started, if it still runs.
stop_pid() {
	kill "$1" 2>/dev/null
	return 0
}

# kb FILE: the KiB a file takes on disk.
kb() { du -k "$1" | cut -f1; }

# no_leftovers: no image temporary file in $CBW_TMP.
no_leftovers() {
	local left
	left=$(find "$CBW_TMP" -maxdepth 1 -name '.*.img.*' | head -n 3)
	[ -z "$left" ] || _fail "temporary image files left behind: $left"
}

# cow_table TABLE: load TABLE into the COW device b4cow, under the cbw
# device.
cow_table() {
	local out
	if ! out=$(dmsetup suspend b4cow 2>&1 && dmsetup load b4cow --table "$1" 2>&1 &&
		dmsetup resume b4cow 2>&1); then
		dmsetup resume b4cow >/dev/null 2>&1
		_die "cannot load '$1' into b4cow: $out"
	fi
}

# create_b4: cbwctl create on /dev/ram0 and the COW device b4cow.
create_b4() {
	local out
	out=$(cbwctl create $N --origin /dev/ram0 --cow /dev/mapper/b4cow --chunk ${K}k 2>&1) ||
		_die "cbwctl create $N: $out"
	CBW_DM_DEVS+=("$N" "$N-snap")
}

remove_b4() {
	local out
	out=$(cbwctl remove $N 2>&1) || _fail "cbwctl remove $N: $out"
	_dm_forget "$N-snap"
	_dm_forget "$N"
}

usage_errors() {
	local out
	_log "help and usage errors: exit 2"
	for c in backup discard export; do
		out=$(cbwctl $c --help 2>&1) || _fail "cbwctl $c --help failed"
		[[ $out == "Usage: cbwctl $c NAME "* ]] || _fail "cbwctl $c --help: '${out%%$'\n'*}'"
		[[ $out == *"  8  partial"* ]] || _fail "cbwctl $c --help lists no exit codes"
	done
	_cbwctl_fails 2 "--to FILE .* is required" backup $N
	_cbwctl_fails 2 "missing argument" backup --to "$CBW_TMP/x.img"
	_cbwctl_fails 2 "'--to' needs a value" backup $N --to
	_cbwctl_fails 2 "--to needs a FILE" backup $N --to ""
	_cbwctl_fails 2 "invalid I/O size '3k': not a power of two" backup $N --to "$CBW_TMP/x.img" --io-size 3k
	_cbwctl_fails 2 "invalid I/O size '128M': larger than 64MiB" backup $N --to "$CBW_TMP/x.img" --io-size 128M
	_cbwctl_fails 2 "invalid I/O size '2k': smaller than 4KiB" backup $N --to "$CBW_TMP/x.img" --io-size 2k
	_cbwctl_fails 2 "unknown .*option '--frobnicate'" backup $N --to "$CBW_TMP/x.img" --frobnicate
	_cbwctl_fails 2 "takes no value" backup $N --to "$CBW_TMP/x.img" --force=yes
	_cbwctl_fails 2 "unexpected argument 'extra'" backup $N extra --to "$CBW_TMP/x.img"
	_cbwctl_fails 2 "invalid NAME 'a/b'" backup a/b --to "$CBW_TMP/x.img"
	cbwctl backup $N --to - --discard-behind 2>"$CBW_TMP/err" | cat >/dev/null
	out="$(<"$CBW_TMP/err") rc=${PIPESTATUS[0]}"
	[[ $out == "cbwctl: backup: --discard-behind with --to - needs standard output redirected to a file"*" rc=2" ]] ||
		_fail "--discard-behind into a pipe: '$out'"
	_cbwctl_fails 2 "missing argument" discard $N 0
	_cbwctl_fails 2 "unexpected argument '3'" discard $N 0 64k 3
	_cbwctl_fails 2 "invalid OFFSET '1x'" discard $N 1x 64k
	_cbwctl_fails 2 "invalid LENGTH '64q'" discard $N 0 64q
	_cbwctl_fails 2 "unknown option '-q'" discard -q $N 0 64k
	_cbwctl_fails 2 "--nbd SOCKET or --nbd HOST:PORT is required" export $N
	_cbwctl_fails 2 "invalid --nbd 'nbd.sock': neither a socket path" export $N --nbd nbd.sock
	_cbwctl_fails 2 "invalid --nbd 'localhost:0'" export $N --nbd localhost:0
	_cbwctl_fails 2 "invalid --nbd ':10809': HOST is missing" export $N --nbd :10809
	_cbwctl_fails 2 "invalid --nbd '::1:10809': an IPv6 address needs brackets" export $N --nbd ::1:10809

	_log "unknown NAME: exit 4"
	_cbwctl_fails 4 "no device b4none" backup b4none --to "$CBW_TMP/x.img"
	_cbwctl_fails 4 "no device b4none" discard b4none 0 64k
	_cbwctl_fails 4 "no device b4none" export b4none --nbd "$CBW_TMP/x.sock"
	_cbwctl_fails 4 "b4cow is not a cbw device" backup b4cow --to "$CBW_TMP/x.img"
	[ ! -e "$CBW_TMP/x.img" ] || _fail "a failed backup left $CBW_TMP/x.img"
}

# A backup of the untouched data, in every form.
full_backups() {
	local img=$CBW_TMP/full.img out line

	_log "backup: the image is the origin at snapshot time, sparse"
	cbwctl_ok backup $N --to "$img"
	same "$img" "$CBW_TMP/t0.img" "backup"
	_expect_eq "$(stat -c %s "$img")" $SIZE "image size"
	# 8 + 8 MiB of patterns, 1 of 0x33, 1 random: the rest is holes.
	if [ "$(kb "$img")" -ge $((24 * 1024)) ]; then
		_fail "the image is not sparse: $(kb "$img") KiB of $((SIZE >> 10)) on disk"
	fi
	_log "image: $(kb "$img") KiB on disk of $((SIZE >> 10)) KiB"
	no_leftovers

	_log "an existing image: exit 6 without --force, replaced with it"
	_cbwctl_fails 6 "the image $img exists \(--force replaces it\)" backup $N --to "$img"
	cbwctl_ok backup $N --to "$img" --force --no-progress
	same "$img" "$CBW_TMP/t0.img" "backup --force"

	_log "images that cannot be written: exit 1"
	_cbwctl_fails 1 "cannot create the image $CBW_TMP/none/x.img .*No such file" \
		backup $N --to "$CBW_TMP/none/x.img"
	_cbwctl_fails 1 "$CBW_TMP exists and is not a regular file" backup $N --to "$CBW_TMP" --force
	_cbwctl_fails 1 "cannot create the image /proc/x.img" backup $N --to /proc/x.img
	no_leftovers

	_log "standard output: a file and a pipe"
	if ! cbwctl backup $N --to - >"$CBW_TMP/stream.img" 2>"$CBW_TMP/err"; then
		_fail "backup --to - into a file: $(<"$CBW_TMP/err")"
	fi
	same "$CBW_TMP/stream.img" "$CBW_TMP/t0.img" "backup --to - > file"
	rm -f "$CBW_TMP/stream.img"
	cbwctl backup $N --to - 2>"$CBW_TMP/err" | cmp - "$CBW_TMP/t0.img" >"$CBW_TMP/out" 2>&1
	out="rc=${PIPESTATUS[0]}/${PIPESTATUS[1]} $(<"$CBW_TMP/err")$(<"$CBW_TMP/out")"
	_expect_eq "$out" "rc=0/0 " "backup --to - | cmp"

	_log "request sizes below and above the chunk size"
	cbwctl_ok backup $N --to "$CBW_TMP/io16k.img" --io-size 16k
	same "$CBW_TMP/io16k.img" "$CBW_TMP/t0.img" "backup --io-size 16k"
	cbwctl_ok backup $N --to "$CBW_TMP/io64m.img" --io-size 64M
	same "$CBW_TMP/io64m.img" "$CBW_TMP/t0.img" "backup --io-size 64M"
	rm -f "$CBW_TMP/io16k.img" "$CBW_TMP/io64m.img"

	_log "--progress: a summary line"
	cbwctl backup $N --to "$CBW_TMP/p.img" --progress 2>"$CBW_TMP/err" ||
		_fail "backup --progress: $(<"$CBW_TMP/err")"
	line=$(tr '\r' '\n' <"$CBW_TMP/err" | grep -v '^ *$' | tail -n 1)
	if ! [[ $line =~ ^backup\ $N:\ read\ 64\.0MiB\ in\ [0-9.]+s\ \(.*/s\),\ .*\ of\ it\ zero\;\ image\ 64\.0MiB\;\ 0\ chunks\ failed$ ]]; then
		_fail "backup --progress summary: '$line'"
	fi
	_log "$line"
	rm -f "$CBW_TMP/p.img"
	# For comparison: dd reading the same device into a full image.
	line=$(dd if=$SNAP of="$CBW_TMP/dd.img" bs=4M iflag=direct 2>&1 | tail -n 1)
	_log "dd bs=4M iflag=direct: $line"
	rm -f "$CBW_TMP/dd.img"
}

discards() {
	local img=$CBW_TMP/disc.img want=$CBW_TMP/want.img full

	_log "discard: bad ranges exit 7"
	_cbwctl_fails 7 "OFFSET is not a multiple of the chunk size" discard $N 4k 64k
	_cbwctl_fails 7 "LENGTH is not a multiple of the chunk size" discard $N 0 32k
	_cbwctl_fails 7 "LENGTH is 0" discard $N 0 0
	_cbwctl_fails 7 "the range goes past the end of the device" discard $N 63M 2M
	_cbwctl_fails 7 "OFFSET is at or past the end" discard $N 64M 64k
	_cbw_expect $N discarded=0 in_snapshot=1024

	_log "discard chunk 0 (copied) and chunks 16-31"
	cbwctl_ok discard $N 0 64k
	cbwctl_ok discard $N 1M 1M
	_cbw_expect $N discarded=17 in_snapshot=1007 copied=32 slots=32/1024
	_read_nodata "$SNAP" "0 64k" "1M 64k" "$((2048 - K))k 64k"
	_pattern_check "$SNAP" 64k 64k 0x11

	_log "backup: the discarded chunks are holes, the rest is right"
	cp "$CBW_TMP/t0.img" "$want"
	zero_chunks "$want" 0 1
	zero_chunks "$want" 16 16
	cbwctl_ok backup $N --to "$img"
	same "$img" "$want" "backup after discards"
	full=$(kb "$CBW_TMP/full.img")
	if [ $((full - $(kb "$img"))) -lt $((1024 + K)) ]; then
		_fail "the discarded chunks are not holes: $(kb "$img") KiB on disk, $full before"
	fi
}

exports() {
	local sock=$CBW_TMP/nbd.sock pidf=$CBW_TMP/nbd.pid out pid i disc

	_log "export: qemu-nbd missing or failing: exit 1"
	out=$(PATH=/nonexistent "$(command -v cbwctl)" export $N --nbd "$sock" 2>&1; echo "rc=$?")
	[[ $out == "cbwctl: qemu-nbd not found in PATH"*"rc=1" ]] || _fail "no qemu-nbd: '$out'"
	_cbwctl_fails 1 "qemu-nbd failed to serve $N: .*" export $N --nbd "$CBW_TMP/none/nbd.sock"

	_log "export over a Unix socket, --persistent"
	out=$(cbwctl export $N --nbd "$sock" --persistent --pid-file "$pidf" 2>&1) ||
		_die "cbwctl export: $out"
	_expect_eq "$out" "nbd+unix:///?socket=$sock" "export output"
	pid=$(<"$pidf")
	_on_cleanup stop_pid "$pid"
	_pattern_check_all "nbd+unix:///?socket=$sock" "0x22 16M 8M" "0x11 64k 960k" \
		"0 40M 4k"
	disc=$(_cbw_field $N discarded)
	out=$(qemu-io -f raw -c "discard 8M 1M" "nbd+unix:///?socket=$sock" 2>&1)
	[[ $out == *"discard 1048576/1048576 bytes"* ]] || _fail "NBD discard: $out"
	_cbw_expect $N discarded=$((disc + 16))
	_read_nodata "$SNAP" "8M 64k" "$((9 * 1024 - K))k 64k"
	out=$(qemu-io -f raw -c "read 8M 64k" "nbd+unix:///?socket=$sock" 2>&1)
	[[ $out == *"read failed"* ]] || _fail "NBD read of a discarded chunk: $out"
	out=$(qemu-io -f raw -c "write -P 0x99 20M 64k" "nbd+unix:///?socket=$sock" 2>&1)
	[[ $out == *"write failed"* ]] || _fail "NBD write: $out"
	_pattern_check "$SNAP" 20M 64k 0x22
	_cbwctl_fails 6 "in use" remove $N
	kill "$pid"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && _fail "qemu-nbd $pid did not stop"

	_log "export without --persistent ends after its client"
	out=$(cbwctl export $N --nbd "$sock" --pid-file "$pidf" 2>&1) || _die "cbwctl export: $out"
	pid=$(<"$pidf")
	_on_cleanup stop_pid "$pid"
	_pattern_check "nbd+unix:///?socket=$sock" 17M 1M 0x22
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && _fail "qemu-nbd $pid still runs after its client left"
}

discard_behind() {
	local img=$CBW_TMP/db.img want=$CBW_TMP/want.img copies

	_log "backup --discard-behind"
	zero_chunks "$want" 128 16	# discarded over NBD
	cbwctl_ok backup $N --to "$img" --discard-behind
	same "$img" "$want" "backup --discard-behind"
	_cbw_expect $N in_snapshot=0 copied=0 to_copy=0 discarded=1024 slots=0/1024
	_read_nodata "$SNAP" "0 64k" "40M 64k" "$((SIZE - (K << 10))) 64k"
	copies=$(_cbw_field $N copies)
	_pattern_write /dev/mapper/$N 60M 1M 0x77
	_cbw_expect $N copies="$copies" copied=0 slots=0/1024
	_pattern_check /dev/ram0 60M 1M 0x77
}

read_only_snap() {
	local sz
	_log "discards need a writable NAME-snap: exit 3"
	sz=$(_size_sectors /dev/ram0)
	_dm_create b4ro "0 $sz cbw /dev/ram0 /dev/mapper/b4cow 128" --uuid CBW-b4ro
	_dm_create b4ro-snap "0 $sz snapshot-access /dev/mapper/b4ro" --uuid CBW-b4ro-snap --readonly
	_cbwctl_fails 3 "b4ro-snap is read-only: discards need a writable snapshot device" \
		discard b4ro 0 64k
	_cbwctl_fails 3 "b4ro-snap is read-only" backup b4ro --to "$CBW_TMP/ro.img" --discard-behind
	cbwctl_ok backup b4ro --to "$CBW_TMP/ro.img"
	rm -f "$CBW_TMP/ro.img"
	_dm_remove b4ro-snap
	_dm_remove b4ro
}

partial() {
	local img=$CBW_TMP/part.img want=$CBW_TMP/want1.img sz rc err

	_log "COW reads fail: backup exits 8 and names the chunks"
	create_b4
	dd if=/dev/ram0 of="$CBW_TMP/t1.img" bs=1M iflag=direct status=none || _die "copy of the origin"
	_pattern_write_all /dev/mapper/$N "0x81 $((3 * K))k 4k" "0x82 $((10 * K))k 192k"
	_cbw_expect $N copied=4
	sz=$(_size_sectors /dev/ram1)
	cow_table "0 $sz error"
	cbwctl backup $N --to "$img" >"$CBW_TMP/out" 2>"$CBW_TMP/err"
	rc=$?
	mapfile -t err <"$CBW_TMP/err"
	_expect_eq "$rc" 8 "backup exit status with COW errors (stderr: ${err[*]})"
	_expect_eq "${#err[@]}" 3 "lines on stderr"
	_expect_eq "${err[0]:-}" "cbwctl: chunks 3-3 (bytes 196608-262143) could not be read: Input/output error" \
		"first failed range"
	_expect_eq "${err[1]:-}" "cbwctl: chunks 10-12 (bytes 655360-851967) could not be read: Input/output error" \
		"second failed range"
	_expect_eq "${err[2]:-}" "cbwctl: the backup of $N is partial: 4 chunks could not be read and are zero in the image" \
		"partial summary"
	cp "$CBW_TMP/t1.img" "$want"
	zero_chunks "$want" 3 1
	zero_chunks "$want" 10 3
	same "$img" "$want" "partial image"

	_log "the same with requests smaller than a chunk"
	cbwctl backup $N --to "$img" --force --io-size 16k >"$CBW_TMP/out" 2>"$CBW_TMP/err"
	rc=$?
	_expect_eq "$rc" 8 "backup --io-size 16k exit status with COW errors"
	grep -q "chunks 10-12 (bytes" "$CBW_TMP/err" || _fail "--io-size 16k: $(<"$CBW_TMP/err")"
	same "$img" "$want" "partial image, 16k requests"

	cow_table "0 $sz linear /dev/ram1 0"

	_log "a broken snapshot: exit 1, no image"
	_msg $N break
	_cbwctl_fails 1 "the snapshot of $N is broken \(broken:user\)" backup $N --to "$CBW_TMP/broken.img"
	[ ! -e "$CBW_TMP/broken.img" ] || _fail "a failed backup left an image"
	no_leftovers
	remove_b4
}

# slow_backup: start 'cbwctl backup' of NAME on the slow origin in the
# background (pid in $BG), and return once it writes its image.
BG=
slow_backup() {
	local i
	cbwctl backup $N --to "$CBW_TMP/slow.img" --io-size 64k --no-progress \
		>"$CBW_TMP/out" 2>"$CBW_TMP/err" &
	BG=$!
	for ((i = 0; i < 100; i++)); do
		[ -n "$(find "$CBW_TMP" -maxdepth 1 -name '.slow.img.*')" ] && return 0
		sleep 0.1
	done
	_fail "backup on the slow origin did not start"
}

# bg_fails CODE PATTERN: the background backup exits CODE with one line on
# stderr matching PATTERN, and leaves no file.
bg_fails() {
	local rc err
	wait "$BG"
	rc=$?
	mapfile -t err <"$CBW_TMP/err"
	_expect_eq "$rc" "$1" "exit status of the interrupted backup (stderr: ${err[*]})"
	if [ ${#err[@]} != 1 ] || ! [[ ${err[0]} =~ ^cbwctl:\ $2 ]]; then
		_fail "interrupted backup: stderr '${err[*]}', expected '$2'"
	fi
	[ ! -e "$CBW_TMP/slow.img" ] || _fail "the interrupted backup left an image"
	no_leftovers
}

interrupted() {
	local sz out
	_log "the snapshot breaks during a backup: exit 1, no image"
	sz=$(_size_sectors /dev/ram0)
	_dm_create b4slow "0 $sz delay /dev/ram0 0 50"
	out=$(cbwctl create $N --origin /dev/mapper/b4slow --cow /dev/mapper/b4cow 2>&1) ||
		_die "cbwctl create $N on b4slow: $out"
	CBW_DM_DEVS+=("$N" "$N-snap")
	slow_backup
	_msg $N break
	bg_fails 1 "the snapshot of $N broke \(broken:user\) during the backup$"
	remove_b4

	_log "SIGTERM during a backup: exit 1, no image"
	out=$(cbwctl create $N --origin /dev/mapper/b4slow --cow /dev/mapper/b4cow 2>&1) ||
		_die "cbwctl create $N on b4slow: $out"
	CBW_DM_DEVS+=("$N" "$N-snap")
	slow_backup
	kill -TERM "$BG"
	bg_fails 1 "interrupted by signal 15$"
	remove_b4
	_dm_remove b4slow
}

test_main() {
	_tmpdir
	_brd_setup 2 64
	_dm_create b4cow "0 $(_size_sectors /dev/ram1) linear /dev/ram1 0"

	usage_errors

	_log "origin: patterns, random data, zero areas"
	_pattern_write_all /dev/ram0 "0x11 0 8M" "0x22 16M 8M" "0x33 $((40 * 1024 + 4))k 1020k"
	dd if=/dev/urandom of=/dev/ram0 bs=1M seek=30 count=1 oflag=direct status=none ||
		_die "random data"
	dd if=/dev/ram0 of="$CBW_TMP/t0.img" bs=1M iflag=direct status=none || _die "copy of the origin"

	create_b4
	_expect_eq "$(blockdev --getro $SNAP)" 0 "$N-snap read-only flag (writable for discards)"
	_write_errno "$SNAP" "Input/output error" "0x99 0 64k"
	_pattern_write_all /dev/mapper/$N "0x44 0 1M" "0x55 20M 1M" "0x66 $((50 * 1024))k 4k"
	_cbw_expect $N copied=33 in_snapshot=1024

	full_backups
	discards
	exports
	discard_behind
	remove_b4

	read_only_snap
	partial
	interrupted
}
