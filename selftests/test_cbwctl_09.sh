#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="incremental forever under a live workload: one full and five incremental qcow2 backups of a mounted ext4 volume with a writer running; each chain restored holds the files of its own point in time; the incrementals' sizes follow what changed"

# vol is dm-linear over RAM disk 0 (32 MiB, ext4, mounted); the COW device
# is RAM disk 1; the restores go to RAM disk 2.
#
# A writer adds whole files w/f.N all along (written as tmp.N, fsync'd,
# then renamed: a file is either whole or not there), with N counting up,
# each holding the bytes "N" repeated (so that its content is known from
# its name), and deletes f.(N - 40).  Round i (0 to 5): snapshot
# --incremental, backup --incremental over the image of round i - 1
# (none for round 0: the full one), release (the backup committed the
# set).  Between rounds the test writes more each time (round i: 2^i
# times 256 KiB, a file big.i), so the incrementals differ in size.
#
# Checks, for each round's image (its chain restored to RAM disk 2 with
# cbwctl restore, then mounted read-only):
#   - static files written before tracking have their checksums;
#   - the big files of the rounds before are there, whole;
#   - every writer file there is whole and right (its content from its
#     name), and the files are exactly f.(K-39)..f.K (or f.(K-40)..f.K:
#     the old one goes after the new one came), or f.1..f.K, for a K
#     between the writer's count before the snapshot and after it.
# And the incrementals' sizes: each is between half its changed bytes (the
# snapshot's set; some of it zeros) and its changed bytes plus 1 MiB of
# qcow2 metadata.

K=64
MNT=''

requires() {
	local t
	for t in cbwctl qemu-img qemu-nbd mkfs.ext4 jq; do
		command -v $t >/dev/null || { _skip_reason "$t not found"; return 1; }
	done
	_require_target cbw dm-cbw || return 1
}

jfield() {
	cbwctl status --json vol | jq -r ".cbw[0].$1"
}

writer() {
	local i=1
	while [ ! -e "$CBW_TMP/stop" ]; do
		# Not 'yes | head': yes dies of SIGPIPE, a failure under pipefail.
		head -c 12k <(yes "$i") >"$MNT/w/tmp.$i" && sync "$MNT/w/tmp.$i" &&
			mv "$MNT/w/tmp.$i" "$MNT/w/f.$i" ||
			{ echo "writer failed at $i" >"$CBW_TMP/writer.err"; return 1; }
		echo "$i" >"$CBW_TMP/count"
		[ "$i" -le 40 ] || rm -f "$MNT/w/f.$((i - 40))"
		i=$((i + 1))
	done
}

count() { cat "$CBW_TMP/count" 2>/dev/null || echo 0; }

teardown() {
	touch "$CBW_TMP/stop"
	wait
	umount "$CBW_TMP/img" 2>/dev/null
	_vol_teardown
}

# check_image ROUND BEFORE AFTER: restore round ROUND's chain and check
# its files (see the top).
check_image() {
	local r=$1 lo=$2 hi=$3 img=$CBW_TMP/d$1.qcow2 f n files=() first last j
	_expect_ok "restore d$r" cbwctl restore --no-progress "$img" /dev/ram2 || return 1
	mount -o ro,noload /dev/ram2 "$CBW_TMP/img" || { _fail "d$r: does not mount"; return 1; }
	(cd "$CBW_TMP/img" && sha256sum --quiet -c "$CBW_TMP/sums") ||
		_fail "d$r: the static files differ"
	for ((j = 0; j < r; j++)); do
		cmp -s "$CBW_TMP/img/big.$j" "$CBW_TMP/big.$j" || _fail "d$r: big.$j differs"
	done
	for f in "$CBW_TMP"/img/w/f.*; do
		[ -e "$f" ] || continue
		n=${f##*.}
		files+=("$n")
		cmp -s "$f" <(head -c 12k <(yes "$n")) || _fail "d$r: w/f.$n is not whole"
	done
	ls "$CBW_TMP"/img/w/tmp.* >/dev/null 2>&1 &&
		_log "d$r: a tmp file of the writer is there (written, not yet renamed)"
	if [ ${#files[@]} = 0 ]; then
		# The writer had made no file yet (f.1 is renamed before its
		# count is written).
		[ "$lo" = 0 ] || _fail "d$r: no writer file, the writer's count was $lo before the snapshot"
		_log "d$r: no writer file yet, writer count $lo..$hi"
		umount "$CBW_TMP/img"
		return
	fi
	mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -n)
	last=${files[-1]:-0}
	first=${files[0]:-0}
	_log "d$r: writer files f.$first..f.$last (${#files[@]}), writer count $lo..$hi"
	# f.N is renamed before its count is written: the snapshot may hold
	# the file after the count read last.
	[ "$last" -ge "$lo" ] && [ "$last" -le $((hi + 1)) ] ||
		_fail "d$r: the last writer file f.$last is not between $lo and $((hi + 1))"
	[ "${#files[@]}" = $((last - first + 1)) ] || _fail "d$r: writer files missing"
	# f.(N - 40) goes after f.N came: both may be there.
	[ "$first" = $((last > 40 ? last - 39 : 1)) ] ||
		[ "$first" = $((last > 40 ? last - 40 : 1)) ] ||
		_fail "d$r: first writer file f.$first (last f.$last)"
	umount "$CBW_TMP/img"
}

test_main() {
	local r lo hi prev=() sizes=() changed=() size i

	_tmpdir
	trap teardown EXIT
	_brd_setup 3 32
	_dm_create vol "0 65536 linear /dev/ram0 0"
	mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol || _die "mkfs.ext4"
	MNT=$CBW_TMP/mnt
	mkdir -p "$MNT" "$CBW_TMP/img"
	mount /dev/mapper/vol "$MNT" || _die "mount vol"
	mkdir "$MNT/w"
	for i in 1 2 3; do
		head -c 1M /dev/urandom >"$MNT/static.$i"
	done
	(cd "$MNT" && sha256sum static.*) >"$CBW_TMP/sums"
	sync

	_expect_ok "track vol" cbwctl track vol --chunk-size ${K}k || return 1
	writer &
	# The full backup holds writer files too: wait for the first one.
	for ((i = 0; i < 300; i++)); do
		[ "$(count)" -ge 1 ] && break
		sleep 0.1
	done

	for ((r = 0; r <= 5; r++)); do
		lo=$(count)
		_expect_ok "round $r: snapshot" cbwctl snapshot --incremental vol --cow /dev/ram1 || return 1
		hi=$(count)
		changed+=("$(jfield set_chunks)")
		_expect_ok "round $r: backup" cbwctl backup vol --incremental "${prev[@]}" \
			--to "$CBW_TMP/d$r.qcow2" --no-progress
		_expect_ok "round $r: release" cbwctl release vol
		prev=(--prev "$CBW_TMP/d$r.qcow2")
		size=$(stat -c %s "$CBW_TMP/d$r.qcow2")
		sizes+=("$size")
		_log "round $r: ${changed[-1]} chunks changed, image $size bytes, writer $lo..$hi"
		check_image "$r" "$lo" "$hi"
		# More for the next round: 2^r times 256 KiB.
		for ((i = 0; i < (1 << r); i++)); do
			head -c 256k /dev/urandom
		done >"$CBW_TMP/big.$r"
		cp "$CBW_TMP/big.$r" "$MNT/big.$r" && sync
	done
	touch "$CBW_TMP/stop"
	wait
	[ ! -e "$CBW_TMP/writer.err" ] || _fail "$(cat "$CBW_TMP/writer.err")"

	_expect_eq "$(qemu-img info --backing-chain "$CBW_TMP/d5.qcow2" | grep -c '^image:')" 6 \
		"images in d5's chain"
	for ((r = 1; r <= 5; r++)); do
		[ "${sizes[r]}" -le $((changed[r] * K * 1024 + 1048576)) ] ||
			_fail "d$r: ${sizes[r]} bytes for ${changed[r]} changed chunks"
		[ "${sizes[r]}" -ge $((changed[r] * K * 1024 / 2)) ] ||
			_fail "d$r: ${sizes[r]} bytes for ${changed[r]} changed chunks (less than half)"
	done
	# The big files double each round: so do the last rounds' sets.
	[ "${changed[5]}" -gt "${changed[2]}" ] ||
		_fail "the set of round 5 (${changed[5]}) is not larger than round 2's (${changed[2]})"
	cbwctl untrack vol || _fail "untrack"
}
