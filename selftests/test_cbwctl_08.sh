#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_08: incremental forever with cbwctl (issue 24): track a
# mounted volume, a full and two incremental backups as a qcow2 chain,
# untrack and track again with a state file, a new history after an
# unclean stop, and a restore of the chain.
#
# The volume "vol" is a dm-linear device over /dev/ram0 (64 MiB) with a
# mounted ext4 filesystem; the COW device is /dev/ram1; /dev/ram2 takes
# the restore.
#
# Scenario and expected results:
#   - track vol --state FILE: vol's table is 'cbw <vol-real> - 128 1 track'
#     over vol-real (vol's old table); a new history: generation 1, every
#     chunk changed; FILE is active.
#   - snapshot --incremental, backup --incremental (no --prev), release:
#     the image converts (qemu-img convert) to vol-snap byte for byte; the
#     set is committed: generation 2, the changed set only what was written
#     since.
#   - files written, snapshot --incremental, backup --incremental --prev
#     d0: d1 converts to vol-snap, qemu-img info --backing-chain shows two
#     images, d1 is much smaller than d0; release.  The same once more (d2)
#     with --sync never, then release --commit.
#   - A backup of a track snapshot without --incremental, a --prev of the
#     wrong generation, a plain snapshot of a tracked vol are refused.
#   - untrack --state FILE: vol has its old table, no vol-real; FILE is
#     clean.  track --state FILE: the same uuid and generation, the same
#     changed chunks; untrack without --state (an unclean stop for FILE),
#     track --state FILE: exit 9, a new uuid, every chunk changed.
#   - restore d2 to /dev/ram2: equal to qemu-img convert of d2.

DESCRIPTION="cbwctl track/untrack, snapshot --incremental, backup --incremental chain, restore"

requires() {
	local t
	for t in cbwctl dmsetup qemu-img qemu-nbd mkfs.ext4 jq cmp; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
}

MNT=''

# jfield FIELD: one field of 'cbwctl status --json vol'.
jfield() {
	cbwctl status --json vol | jq -r ".cbw[0].$1"
}

# same_as_snap IMAGE: the image converts to the point in time of
# vol-snap.  An incremental snapshot reads only its set (the chunks
# changed since the last commit), so the reference is the previous point
# in time ($CBW_TMP/prev.raw, checked the same way before; none for the
# first, full one) with vol-snap's chunks read over it, chunk run by run
# from the snapshot's map.  And the files that were on vol when the
# snapshot was taken (their sums in $CBW_TMP/sums) are in the image.
same_as_snap() {
	local from=0 out runs r
	qemu-img convert -O raw "$1" "$CBW_TMP/conv.raw" ||
		{ _fail "qemu-img convert $1"; return 1; }
	if [ -e "$CBW_TMP/prev.raw" ]; then
		cp "$CBW_TMP/prev.raw" "$CBW_TMP/ref.raw"
	else
		truncate -s $((131072 * 512)) "$CBW_TMP/ref.raw"
	fi
	while :; do
		out=$(dmsetup message vol 0 map $from) || { _fail "map of vol"; return 1; }
		runs=${out% end}
		runs=${runs%more *}
		for r in $runs; do
			dd if=/dev/mapper/vol-snap of="$CBW_TMP/ref.raw" bs=64k \
				skip=${r%-*} seek=${r%-*} count=$((${r#*-} - ${r%-*} + 1)) \
				iflag=direct conv=notrunc status=none ||
				_fail "read of chunks $r of vol-snap"
		done
		[[ $out == *"more "* ]] || break
		from=${out##*more }
	done
	cmp -s "$CBW_TMP/conv.raw" "$CBW_TMP/ref.raw" ||
		_fail "$1 is not vol-snap's point in time"
	mkdir -p "$CBW_TMP/img"
	if mount -o ro,noload,loop "$CBW_TMP/conv.raw" "$CBW_TMP/img"; then
		(cd "$CBW_TMP/img" && sha256sum --quiet -c "$CBW_TMP/sums") ||
			_fail "$1: the files of the point in time differ"
		umount "$CBW_TMP/img"
	else
		_fail "$1: its image does not mount"
	fi
	mv "$CBW_TMP/conv.raw" "$CBW_TMP/prev.raw"
	rm -f "$CBW_TMP/ref.raw"
}

# sums: the checksums of vol's files, before a snapshot (nothing writes
# files between this and the snapshot).
sums() {
	(cd "$MNT" && sha256sum f.*) >"$CBW_TMP/sums" || _fail "sums"
}

# write_files N: N files of 256 KiB of random data on vol, synced.
write_files() {
	local i
	for ((i = 0; i < $1; i++)); do
		head -c 256K /dev/urandom >"$MNT/f.$RANDOM.$i"
	done
	sync
}


test_main() {
	local state out uuid gen rc size0 size1 table

	_tmpdir
	trap _vol_teardown EXIT
	_brd_setup 3 64
	state=$CBW_TMP/vol.state
	_dm_create vol "0 131072 linear /dev/ram0 0"
	mkfs.ext4 -q /dev/mapper/vol || _die "mkfs.ext4"
	MNT=$CBW_TMP/mnt
	mkdir -p "$MNT"
	mount /dev/mapper/vol "$MNT" || _die "mount vol"
	write_files 40
	table=$(dmsetup table vol)

	_log "track"
	cbwctl track vol --state "$state" --chunk-size 64k >/dev/null ||
		_die "cbwctl track vol"
	[[ $(dmsetup table vol) =~ ^0\ 131072\ cbw\ [0-9]+:[0-9]+\ -\ 128\ 1\ track$ ]] ||
		_fail "vol's table: $(dmsetup table vol)"
	_expect_eq "$(dmsetup table vol-real)" "$table" "vol-real's table"
	_expect_eq "$(jfield generation)" 1 "generation of a new history"
	_expect_eq "$(jfield changed)" 1024 "a new history: every chunk changed"
	_expect_eq "$(jfield state)" none "state of the track-only table"
	grep -q '^state active$' "$state" || _fail "the state file is not active"
	uuid=$(jfield track_uuid)

	_log "refusals"
	_cbwctl_fails 6 "snapshot --incremental" snapshot vol --cow /dev/ram1
	_cbwctl_fails 4 "untrack" release vol

	_log "full backup"
	sums
	cbwctl snapshot --incremental vol --cow /dev/ram1 >/dev/null ||
		_die "snapshot --incremental (first)"
	_expect_eq "$(jfield track_set)" "pending:1" "the first set"
	_expect_eq "$(jfield set_chunks)" 1024 "the first set holds every chunk"
	cbwctl backup vol --incremental --to "$CBW_TMP/d0.qcow2" --no-progress ||
		_fail "backup --incremental d0"
	same_as_snap "$CBW_TMP/d0.qcow2"
	_expect_eq "$(jfield track_set)" "committed:1" "d0 committed"
	cbwctl release vol || _fail "release after d0"
	_expect_eq "$(jfield generation)" 2 "generation after d0"

	_log "first incremental"
	write_files 8
	sums
	cbwctl snapshot --incremental vol --cow /dev/ram1 >/dev/null ||
		_die "snapshot --incremental (second)"
	_cbwctl_fails 2 "--incremental" backup vol --to "$CBW_TMP/plain.img"
	_cbwctl_fails 2 "--prev" backup vol --incremental --to "$CBW_TMP/x.qcow2"
	cbwctl backup vol --incremental --prev "$CBW_TMP/d0.qcow2" \
		--to "$CBW_TMP/d1.qcow2" --no-progress || _fail "backup d1"
	same_as_snap "$CBW_TMP/d1.qcow2"
	_expect_eq "$(qemu-img info --backing-chain "$CBW_TMP/d1.qcow2" | grep -c '^image:')" 2 \
		"images in d1's chain"
	size0=$(stat -c %s "$CBW_TMP/d0.qcow2")
	size1=$(stat -c %s "$CBW_TMP/d1.qcow2")
	[ "$size1" -lt $((size0 / 2)) ] || _fail "d1 ($size1) not much smaller than d0 ($size0)"
	cbwctl release vol || _fail "release after d1"

	_log "second incremental, --sync never, release --commit"
	write_files 4
	sums
	cbwctl snapshot --incremental vol --cow /dev/ram1 >/dev/null ||
		_die "snapshot --incremental (third)"
	_cbwctl_fails 2 "missing from the chain|later generation" \
		backup vol --incremental --prev "$CBW_TMP/d0.qcow2" --to "$CBW_TMP/x.qcow2"
	cbwctl backup vol --incremental --prev "$CBW_TMP/d1.qcow2" \
		--to "$CBW_TMP/d2.qcow2" --sync never --no-progress || _fail "backup d2"
	same_as_snap "$CBW_TMP/d2.qcow2"
	[[ $(jfield track_set) == pending:* ]] || _fail "--sync never committed"
	cbwctl release --commit vol || _fail "release --commit"
	gen=$(jfield generation)

	_log "untrack --state, track --state"
	cbwctl untrack vol --state "$state" || _fail "untrack --state"
	_expect_eq "$(dmsetup table vol)" "$table" "vol's own table"
	dmsetup info vol-real >/dev/null 2>&1 && _fail "vol-real is left"
	grep -q '^state clean$' "$state" || _fail "the state file is not clean"
	cbwctl track vol --state "$state" >/dev/null || _fail "track --state (clean)"
	_expect_eq "$(jfield track_uuid)" "$uuid" "the history goes on"
	_expect_eq "$(jfield generation)" "$gen" "the generation goes on"

	_log "an unclean stop"
	cbwctl untrack vol || _fail "untrack without --state"
	out=$(cbwctl track vol --state "$state" 2>&1)
	rc=$?
	_expect_eq "$rc" 9 "track --state after an unclean stop"
	grep -q "FULL" <<<"$out" || _fail "no warning of a full backup: $out"
	[ "$(jfield track_uuid)" != "$uuid" ] || _fail "the uuid did not change"
	_expect_eq "$(jfield changed)" 1024 "a new history: every chunk changed"
	cbwctl untrack vol || _fail "untrack at the end"

	_log "restore"
	cbwctl restore --no-progress "$CBW_TMP/d2.qcow2" /dev/ram2 ||
		_fail "restore d2"
	qemu-img convert -O raw "$CBW_TMP/d2.qcow2" "$CBW_TMP/conv.raw"
	cmp -s -n $((131072 * 512)) "$CBW_TMP/conv.raw" /dev/ram2 ||
		_fail "the restored device is not d2's image"
}
