#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_06: cbwctl backup looks at the snapshot once more at the end:
# a snapshot that breaks after the last read, while the image is synced,
# gives exit 1 and no image, as a break seen during the reads does.
#
# A 96 MiB origin (/dev/ram0) with 64 KiB chunks, the COW device /dev/ram1;
# the images go to an ext4 filesystem on /dev/ram2 under a dm-delay device
# b6img whose writes take 2 s, so that the sync of an image (fdatasync(),
# or fsync() before the rename) lasts long enough to break the snapshot
# in it.  The break is sent once the backup is seen in that system call
# (/proc/PID/syscall): by then every read of the backup has returned, so
# only a look at the state after them can notice it.
#
# Scenario and expected results:
#   - An ordinary backup on the slow filesystem exits 0 and its image is
#     the origin as it was at the snapshot, byte for byte (writes through
#     NAME after it copied 17 chunks).
#   - The snapshot breaks while the image is synced: exit 1, one line
#     "the snapshot of b6 broke (broken:user) during the backup", neither
#     the image nor its temporary file is left.
#   - The same with --discard-behind on 32 MiB of readable chunks (less
#     than one discard batch): nothing was discarded before the break, so
#     none is discarded after it either (discarded stays at the 1024
#     chunks taken out by hand), and no file is left.
#   - --discard-behind over all 96 MiB: the first 64 MiB are synced and
#     discarded during the backup; the break during the last sync gives
#     exit 1, the image is not renamed into place, and the partial
#     temporary image is kept and named in the error (it holds chunks that
#     left the snapshot); its first 64 MiB are the origin's data.
#   - The origin under a dm-linear device that is suspended before the
#     backup starts: the break comes while the only read of the backup (the
#     last 1 MiB, all else discarded by hand) is held there, and the origin
#     resumes after it.  The read fails with ENODATA (a read routed to the
#     origin that ends after a break); exit 1, the same message, and no
#     image.

DESCRIPTION="cbwctl backup: a snapshot that breaks after the last read gives exit 1 and no image"

requires() {
	local t
	for t in cbwctl qemu-io dmsetup blockdev mkfs.ext4 cmp; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	# The numbers of fsync and fdatasync below are x86-64's.
	if [ "$(uname -m)" != x86_64 ] || [ ! -r /proc/self/syscall ]; then
		_skip_reason "needs x86-64 and /proc/PID/syscall"
		return 1
	fi
	_require_target cbw dm-cbw || return 1
	_require_target delay dm-delay || return 1
}

N=b6			# the cbw device
K=64			# chunk size in KiB
SIZE=$((96 << 20))	# origin size in bytes
SYS_FSYNC=74
SYS_FDATASYNC=75
MNT=''
BG=''
SLOW_SUSPENDED=0

teardown() {
	# A read held in the suspended origin ends only once it resumes.
	[ "$SLOW_SUSPENDED" = 0 ] || dmsetup resume b6slow
	[ -z "$BG" ] || kill "$BG" 2>/dev/null
	[ -z "$BG" ] || wait "$BG" 2>/dev/null
	[ -z "$MNT" ] || umount "$MNT" 2>/dev/null
	MNT=''
	_cleanup
}

# create_b6 ORIGIN: cbwctl create $N on ORIGIN and the COW device /dev/ram1.
create_b6() {
	local out
	out=$(cbwctl create $N --origin "$1" --cow /dev/ram1 --chunk ${K}k 2>&1) ||
		_die "cbwctl create $N: $out"
	CBW_DM_DEVS+=("$N" "$N-snap")
}

remove_b6() {
	local out
	out=$(cbwctl remove $N 2>&1) || _fail "cbwctl remove $N: $out"
	_dm_forget "$N-snap"
	_dm_forget "$N"
}

# start_backup FILE ARG...: 'cbwctl backup $N --to FILE ARG...' in the
# background, its pid in $BG.
start_backup() {
	local to=$1
	shift
	cbwctl backup $N --to "$to" --no-progress "$@" >"$CBW_TMP/out" 2>"$CBW_TMP/err" &
	BG=$!
}

# running: the background backup has not ended yet.
running() {
	local st
	read -r _ _ st _ 2>/dev/null <"/proc/$BG/stat" && [ "$st" != Z ]
}

# wait_syscall WHAT NR...: wait until the background backup is in one of
# the system calls NR.
wait_syscall() {
	local what=$1 i nr s
	shift
	for ((i = 0; i < 600; i++)); do
		running || break
		read -r s _ 2>/dev/null <"/proc/$BG/syscall"
		for nr; do
			[ "$s" = "$nr" ] && return 0
		done
		sleep 0.05
	done
	_fail "$what: the backup was never seen in system call $* ($(running && echo running || echo ended))"
}

# wait_field WHAT DEV FIELD MIN: wait while the running backup has not
# brought the cbw or snapshot-access FIELD of DEV to at least MIN.
wait_field() {
	local what=$1 dev=$2 field=$3 min=$4 i v
	for ((i = 0; i < 600; i++)); do
		if [ "$dev" = "$N-snap" ]; then
			v=$(_access_field "$dev" "$field")
		else
			v=$(_cbw_field "$dev" "$field")
		fi
		[ "${v:-0}" -ge "$min" ] && return 0
		running || break
		sleep 0.05
	done
	_fail "$what: $dev $field is ${v:-?}, not $min or more"
	return 1
}

# backup_fails CODE PATTERN WHAT: the background backup exits CODE with one
# line on stderr matching "cbwctl: PATTERN" (ERE), nothing on stdout.
backup_fails() {
	local rc err
	wait "$BG"
	rc=$?
	BG=''
	mapfile -t err <"$CBW_TMP/err"
	_expect_eq "$rc" "$1" "$3: exit status (stderr: ${err[*]})"
	if [ ${#err[@]} != 1 ] || ! [[ ${err[0]} =~ ^cbwctl:\ $2 ]]; then
		_fail "$3: stderr '${err[*]}', expected 'cbwctl: $2'"
	fi
	[ ! -s "$CBW_TMP/out" ] || _fail "$3: stdout '$(<"$CBW_TMP/out")'"
}

# no_image FILE WHAT: neither FILE nor a temporary file of it exists.
no_image() {
	local left
	[ ! -e "$1" ] || _fail "$2: $1 exists"
	left=$(find "$(dirname "$1")" -maxdepth 1 -name ".$(basename "$1").*" | head -n 3)
	[ -z "$left" ] || _fail "$2: temporary image files left behind: $left"
}

ordinary() {
	local img=$MNT/ok.img rc

	_log "an ordinary backup on the slow filesystem: exit 0, the exact image"
	start_backup "$img"
	wait "$BG"
	rc=$?
	BG=''
	_expect_eq "$rc $(<"$CBW_TMP/err")" "0 " "ordinary backup: exit status and stderr"
	_expect_ok "ordinary backup: the image is the snapshot" cmp "$img" "$CBW_TMP/t0.img"
	_expect_ok "ordinary backup: the snapshot is still readable" \
		cmp -n $SIZE /dev/mapper/$N-snap "$CBW_TMP/t0.img"
	rm -f "$img"
}

break_at_sync() {
	local img=$MNT/sync.img

	_log "the snapshot breaks while the image is synced: exit 1, no image"
	start_backup "$img"
	wait_syscall "break at the sync" $SYS_FDATASYNC $SYS_FSYNC
	_msg $N break
	backup_fails 1 "the snapshot of $N broke \(broken:user\) during the backup$" \
		"break at the sync"
	no_image "$img" "break at the sync"
	_cbw_expect $N state=broken:user
}

break_discard_behind_small() {
	local img=$MNT/db.img

	_log "--discard-behind, less than a batch: the break at the end discards nothing"
	_expect_ok "discard of the first 64 MiB" cbwctl discard $N 0 64M
	_cbw_expect $N discarded=1024 in_snapshot=512
	start_backup "$img" --discard-behind
	wait_syscall "--discard-behind, one batch" $SYS_FDATASYNC $SYS_FSYNC
	_msg $N break
	backup_fails 1 "the snapshot of $N broke \(broken:user\) during the backup$" \
		"--discard-behind, one batch"
	no_image "$img" "--discard-behind, one batch"
	_cbw_expect $N discarded=1024
}

break_discard_behind_kept() {
	local img=$MNT/kept.img kept

	_log "--discard-behind after a batch was discarded: exit 1, the partial image is kept"
	start_backup "$img" --discard-behind
	# The batch: its sync, then its discards; then the last sync.
	wait_field "--discard-behind, two batches" $N discarded 1024 || return
	wait_syscall "--discard-behind, two batches" $SYS_FDATASYNC $SYS_FSYNC
	_msg $N break
	backup_fails 1 "the snapshot of $N broke \(broken:user\) during the backup; the partial image $MNT/\.kept\.img\.[A-Za-z0-9]{6} is kept: it holds chunks already discarded from the snapshot$" \
		"--discard-behind, two batches"
	_cbw_expect $N discarded=1024
	[ ! -e "$img" ] || _fail "--discard-behind, two batches: $img exists"
	kept=$(find "$MNT" -maxdepth 1 -name '.kept.img.*')
	if [ -z "$kept" ] || [ ! -f "$kept" ]; then
		_fail "--discard-behind, two batches: no partial image kept"
		return
	fi
	_expect_ok "the kept image holds the discarded chunks" \
		cmp -n $((64 << 20)) "$kept" "$CBW_TMP/t0.img"
	rm -f "$kept"
}

break_in_read() {
	local img=$CBW_TMP/slow.img sz=$((SIZE >> 9)) reads

	# The origin is a dm-linear suspended before the backup starts: its
	# last read waits there until after the break, however slow the
	# guest (a dm-delay of 2 s was not enough on the debug kernel).
	_log "the snapshot breaks while the last read is held by a suspended origin: exit 1, no image"
	_dm_create b6slow "0 $sz linear /dev/ram0 0"
	create_b6 /dev/mapper/b6slow
	_expect_ok "discard of all but the last 1 MiB" cbwctl discard $N 0 95M
	reads=$(_access_field $N-snap origin_reads)
	dmsetup suspend b6slow || _die "cannot suspend b6slow"
	SLOW_SUSPENDED=1
	start_backup "$img"
	wait_field "break in the read" $N-snap origin_reads $((reads + 1))
	_msg $N break
	dmsetup resume b6slow || _die "cannot resume b6slow"
	SLOW_SUSPENDED=0
	backup_fails 1 "the snapshot of $N broke \(broken:user\) during the backup$" \
		"break in the read"
	no_image "$img" "break in the read"
	remove_b6
	_dm_remove b6slow
}

test_main() {
	local sz

	_tmpdir
	trap teardown EXIT
	_brd_setup 3 96

	_log "the image filesystem: ext4 on b6img, then its writes take 2 s"
	sz=$(_size_sectors /dev/ram2)
	_dm_create b6img "0 $sz delay /dev/ram2 0 0"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/b6img ||
		_die "mkfs.ext4 failed"
	mkdir -p "$CBW_TMP/mnt"
	mount /dev/mapper/b6img "$CBW_TMP/mnt" || _die "cannot mount b6img"
	MNT=$CBW_TMP/mnt
	if ! dmsetup suspend b6img ||
		! dmsetup load b6img --table "0 $sz delay /dev/ram2 0 0 /dev/ram2 0 2000" ||
		! dmsetup resume b6img; then
		dmsetup resume b6img >/dev/null 2>&1
		_die "cannot slow down b6img's writes"
	fi

	_log "origin: patterns, random data, zero areas; its copy"
	_pattern_write_all /dev/ram0 "0x61 0 1M" "0x62 80M 1M" "0x63 95M 1M"
	dd if=/dev/urandom of=/dev/ram0 bs=1M seek=40 count=1 oflag=direct status=none ||
		_die "random data"
	dd if=/dev/ram0 of="$CBW_TMP/t0.img" bs=1M iflag=direct status=none ||
		_die "copy of the origin"

	create_b6 /dev/ram0
	_pattern_write_all /dev/mapper/$N "0x71 0 1M" "0x72 70M 4k"
	_cbw_expect $N copied=17 in_snapshot=1536
	ordinary
	break_at_sync
	remove_b6
	# The origin as at the start again, for the snapshots below.
	dd if="$CBW_TMP/t0.img" of=/dev/ram0 bs=1M oflag=direct status=none ||
		_die "cannot restore the origin"

	create_b6 /dev/ram0
	break_discard_behind_small
	remove_b6

	create_b6 /dev/ram0
	break_discard_behind_kept
	remove_b6

	break_in_read

	umount "$MNT" || _fail "cannot unmount b6img"
	MNT=''
}
