#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_boot_01: change tracking across reboots (issue 24): a clean stop
# (umount, untrack --state, remove) keeps the history and its changed set
# for the next boot; an unclean one (the VM killed, the state file left
# active) gives a new history, every chunk changed, exit 9, a full backup
# next, and the old chain cannot be continued.
#
# Disks: /dev/vda (64 MiB, origin.img) holds the volume "vol", a
# dm-linear device over all of it with ext4; /dev/vdb (256 MiB, sys.img),
# ext4 mounted on /tmp/sys, holds the state file vol.state, the backups
# d0..d3.qcow2 and the records one boot leaves the next (rec/).  The COW
# device is /dev/ram0.  Each backup is taken with vol unmounted, after a
# copy of the whole of vol (frozen.raw): its restore (cbwctl restore of
# the chain into a raw file) must equal that copy byte for byte.
#
# Boots and expected results:
#   1 (clean stop): track vol --state (a new history, every chunk
#     changed), full backup d0 (snapshot --incremental, backup
#     --incremental, release: generation 2), files written, vol
#     unmounted; the changed set C1 read (track_map); untrack --state:
#     the file is clean and lists C1.
#   2 (killed): track --state: exit 0, the same uuid and generation, the
#     changed set exactly C1; every chunk where vol differs from d0 is in
#     C1.  snapshot --incremental: its set is C1; backup --incremental
#     --prev d0 -> d1 restores to vol's copy.  Files written and synced;
#     the host kills qemu (the state file stays active).
#   3 (clean stop): the state file is active; track --state: exit 9, a
#     warning that the next backup must be a FULL one, a new uuid,
#     generation 1, every chunk changed.  The files synced before the
#     kill are there.  The first snapshot's set is every chunk; backup
#     --incremental (no --prev) -> d2 has no backing file and restores
#     to vol's copy.  After more writes, backup --incremental --prev d1
#     (the old history) is refused (exit 2, another tracking history);
#     --prev d2 -> d3 restores to vol's copy.  untrack --state: clean,
#     the new uuid.

DESCRIPTION="change tracking across reboots: a clean stop keeps the history, a killed VM starts a new one"

requires() {
	local t
	for t in qemu-system-x86_64 cbwctl dmsetup qemu-img qemu-nbd mkfs.ext4 jq python3 truncate; do
		if ! command -v $t >/dev/null && [ ! -x "$CBW_ROOT/dmtools/$t" ]; then
			_skip_reason "$t not found"
			return 1
		fi
	done
}

host_main() {
	_boot_disk origin 64M
	_boot_disk sys 256M
	_boot 1 || return 1
	_boot_kill 2 || return 1
	_boot 3
}

# ---- the guest side

SYS=/tmp/sys
MNT=/tmp/vol
STATE=$SYS/vol.state
REC=$SYS/rec
CHUNKS=1024	# 64 MiB in 64 KiB chunks

# step WHAT: log the step, with the seconds since the boot's step began.
step() { _log "$* (at $SECONDS s)"; }

# jfield FIELD: one field of 'cbwctl status --json vol'.
jfield() {
	cbwctl status --json vol | jq -r ".cbw[0].$1"
}

# up: the system disk on $SYS, vol over /dev/vda, as after a boot.
up() {
	_expect_eq "$(blockdev --getsz /dev/vda)" 131072 "size of /dev/vda" || _die "disks"
	mkdir -p "$SYS" "$MNT"
	mount /dev/vdb "$SYS" || _die "mount the system disk"
	_dm_create vol "0 131072 linear /dev/vda 0"
	_tmpdir
	_brd_setup 1 64
}

# untrack: vol untracked, its state saved (clean) in $STATE.
untrack() {
	cbwctl untrack vol --state "$STATE" || _fail "untrack --state"
	grep -q '^state clean$' "$STATE" || _fail "the state file is not clean"
}

# down: the rest of the clean stop: vol removed, the system disk
# unmounted; nothing of device-mapper is left.
down() {
	_dm_remove vol
	umount "$SYS" || _fail "umount the system disk"
	_expect_eq "$(dmsetup ls | grep -v '^No devices')" "" "devices left"
}

# changed_runs: vol's changed set, from its track_map, as "A-B ..." runs.
changed_runs() {
	local from=0 out r runs=()
	while :; do
		out=$(dmsetup message vol 0 track_map "$from") || { _fail "track_map"; return 1; }
		for r in $out; do
			[[ $r =~ ^[0-9]+-[0-9]+$ ]] && runs+=("$r")
		done
		[[ $out == *"more "* ]] || break
		from=${out##*more }
	done
	echo "${runs[*]}"
}

# state_runs: the ranges of the state file as "A-B ..." runs.
state_runs() {
	awk 'f && $0 == "end" { exit } f { print ($0 ~ /-/) ? $0 : $0 "-" $0 }
	     /^changed / { f = 1 }' "$STATE" | paste -sd' '
}

# mount_vol, umount_vol: vol on $MNT.
mount_vol() { mount /dev/mapper/vol "$MNT" || _die "mount vol"; }
umount_vol() { umount "$MNT" || _die "umount vol"; }

# write_files TAG N: N files of 512 KiB of random data on vol, synced;
# their sums go to $REC/sums.TAG (synced too).  (Few programs: each one
# started costs a tenth of a second or more under TCG.)
write_files() {
	mkdir -p "$MNT/$1" "$REC"
	split -b 512K -a 2 -d <(head -c $(($2 * 512))K /dev/urandom) "$MNT/$1/f." ||
		_fail "write the files $1"
	(cd "$MNT" && sha256sum "$1"/f.*) >"$REC/sums.$1"
	sync
}

# check_files TAG: the files of write_files TAG are on vol, unchanged.
check_files() {
	(cd "$MNT" && sha256sum --quiet -c "$REC/sums.$1") ||
		_fail "the files $1 differ or are missing"
}

# freeze: a copy of the whole of (unmounted) vol, $CBW_TMP/frozen.raw.
freeze() {
	dd if=/dev/mapper/vol of="$CBW_TMP/frozen.raw" bs=1M iflag=direct status=none ||
		_die "copy of vol"
}

# restores_to_frozen IMAGE: cbwctl restore of the chain of IMAGE gives
# vol's copy of the snapshot's moment.
restores_to_frozen() {
	rm -f "$CBW_TMP/restored.raw"
	cbwctl restore --no-progress "$1" "$CBW_TMP/restored.raw" ||
		{ _fail "restore $1"; return 1; }
	cmp -s "$CBW_TMP/restored.raw" "$CBW_TMP/frozen.raw" ||
		_fail "the restore of $1 is not vol at its snapshot"
	rm -f "$CBW_TMP/restored.raw"
}

# differing_chunks A B: the 64 KiB chunks where raw files A and B differ,
# as "A-B ..." runs.
differing_chunks() {
	python3 - "$1" "$2" <<-'PY'
	import sys
	runs, start, prev = [], None, None
	with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as b:
	    i = 0
	    while True:
	        x, y = a.read(65536), b.read(65536)
	        if not x and not y:
	            break
	        if x != y:
	            if start is None or i != prev + 1:
	                if start is not None:
	                    runs.append("%d-%d" % (start, prev))
	                start = i
	            prev = i
	        i += 1
	if start is not None:
	    runs.append("%d-%d" % (start, prev))
	print(" ".join(runs))
	PY
}

# in_runs RUNS_A RUNS_B: every chunk of runs A is in runs B.
in_runs() {
	python3 - "$1" "$2" <<-'PY'
	import sys
	def chunks(s):
	    out = set()
	    for r in s.split():
	        a, b = map(int, r.split("-"))
	        out.update(range(a, b + 1))
	    return out
	sys.exit(0 if chunks(sys.argv[1]) <= chunks(sys.argv[2]) else 1)
	PY
}

boot_1() {
	local uuid runs
	mkfs.ext4 -q -F /dev/vdb || _die "mkfs.ext4 of the system disk"
	up
	mkfs.ext4 -q /dev/mapper/vol || _die "mkfs.ext4 of vol"
	mount_vol
	write_files a 10

	step "track, full backup d0"
	cbwctl track vol --state "$STATE" --chunk-size 64k || _die "track vol"
	_expect_eq "$(jfield changed)" $CHUNKS "a new history: every chunk changed"
	grep -q '^state active$' "$STATE" || _fail "the state file is not active"
	uuid=$(jfield track_uuid)
	umount_vol
	freeze
	cbwctl snapshot --incremental vol --cow /dev/ram0 >/dev/null || _die "snapshot d0"
	mount_vol
	step "backup d0"
	cbwctl backup vol --incremental --to "$SYS/d0.qcow2" --no-progress ||
		_fail "backup d0"
	cbwctl release vol || _fail "release d0"
	_expect_eq "$(jfield generation)" 2 "generation after d0"
	step "restore d0"
	restores_to_frozen "$SYS/d0.qcow2"

	step "writes after d0, clean stop"
	write_files b 4
	umount_vol
	runs=$(changed_runs)
	[ -n "$runs" ] || _fail "nothing changed after d0"
	echo "$runs" >"$REC/changed.1"
	echo "$uuid" >"$REC/uuid.1"
	jfield changed >"$REC/count.1"
	untrack
	_expect_eq "$(grep '^uuid ' "$STATE")" "uuid $uuid" "uuid in the state file"
	_expect_eq "$(grep '^generation ' "$STATE")" "generation 2" "generation in the state file"
	_expect_eq "$(state_runs)" "$runs" "the changed set in the state file"
	_log "changed after d0: $(cat "$REC/count.1") chunks: $runs"
	down
}

boot_2() {
	local runs diff
	up
	grep -q '^state clean$' "$STATE" || _fail "the state file is not clean after boot 1"
	step "track --state after a clean stop"
	cbwctl track vol --state "$STATE" || _fail "track --state (clean): exit status $?"
	_expect_eq "$(jfield track_uuid)" "$(cat "$REC/uuid.1")" "the history goes on"
	_expect_eq "$(jfield generation)" 2 "the generation goes on"
	_expect_eq "$(jfield changed)" "$(cat "$REC/count.1")" "changed chunks restored"
	runs=$(changed_runs)
	_expect_eq "$runs" "$(cat "$REC/changed.1")" "the changed set restored"
	grep -q '^state active$' "$STATE" || _fail "the state file is not active"

	step "vol against d0: what differs was in the changed set"
	freeze
	qemu-img convert -O raw "$SYS/d0.qcow2" "$CBW_TMP/d0.raw" || _die "convert d0"
	diff=$(differing_chunks "$CBW_TMP/d0.raw" "$CBW_TMP/frozen.raw")
	rm -f "$CBW_TMP/d0.raw"
	[ -n "$diff" ] || _fail "vol does not differ from d0"
	in_runs "$diff" "$runs" || _fail "chunks differing from d0 ($diff) not in the changed set ($runs)"

	step "incremental backup d1 over d0"
	cbwctl snapshot --incremental vol --cow /dev/ram0 >/dev/null || _die "snapshot d1"
	_expect_eq "$(jfield set_chunks)" "$(cat "$REC/count.1")" "the set of d1"
	cbwctl backup vol --incremental --prev "$SYS/d0.qcow2" --to "$SYS/d1.qcow2" \
		--no-progress || _fail "backup d1"
	cbwctl release vol || _fail "release d1"
	_expect_eq "$(jfield generation)" 3 "generation after d1"
	_expect_eq "$(qemu-img info --backing-chain "$SYS/d1.qcow2" | grep -c '^image:')" 2 \
		"images in d1's chain"
	restores_to_frozen "$SYS/d1.qcow2"

	step "writes after d1, then the host kills the VM"
	mount_vol
	check_files a
	check_files b
	write_files c 4
	grep -q '^state active$' "$STATE" || _fail "the state file is not active"
	_boot_ready
}

boot_3() {
	local old out rc uuid
	up
	old=$(cat "$REC/uuid.1")
	grep -q '^state active$' "$STATE" || _fail "the state file is not active after the kill"
	step "track --state after an unclean stop"
	out=$(cbwctl track vol --state "$STATE" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/# /'
	_expect_eq "$rc" 9 "exit status of track --state after an unclean stop"
	grep -q 'FULL' <<<"$out" || _fail "no warning of a full backup"
	uuid=$(jfield track_uuid)
	if [ -z "$uuid" ] || [ "$uuid" = null ]; then _die "no track_uuid"; fi
	[ "$uuid" != "$old" ] || _fail "the uuid did not change ($uuid)"
	_expect_eq "$(jfield generation)" 1 "generation of the new history"
	_expect_eq "$(jfield changed)" $CHUNKS "a new history: every chunk changed"
	_expect_eq "$(grep '^uuid ' "$STATE")" "uuid $uuid" "the new uuid in the state file"
	grep -q '^state active$' "$STATE" || _fail "the state file is not active"

	step "the files synced before the kill"
	mount_vol
	check_files a
	check_files b
	check_files c
	umount_vol

	step "full backup d2"
	freeze
	cbwctl snapshot --incremental vol --cow /dev/ram0 >/dev/null || _die "snapshot d2"
	_expect_eq "$(jfield set_chunks)" $CHUNKS "the set of d2: every chunk"
	cbwctl backup vol --incremental --to "$SYS/d2.qcow2" --no-progress ||
		_fail "backup d2"
	cbwctl release vol || _fail "release d2"
	qemu-img info "$SYS/d2.qcow2" | grep -q '^backing file:' &&
		_fail "d2 has a backing file"
	restores_to_frozen "$SYS/d2.qcow2"

	step "the old chain cannot go on; d3 over d2"
	mount_vol
	write_files d 2
	umount_vol
	freeze
	cbwctl snapshot --incremental vol --cow /dev/ram0 >/dev/null || _die "snapshot d3"
	_cbwctl_fails 2 "another tracking history" \
		backup vol --incremental --prev "$SYS/d1.qcow2" --to "$SYS/x.qcow2"
	[ -e "$SYS/x.qcow2" ] && _fail "a refused backup left its image"
	cbwctl backup vol --incremental --prev "$SYS/d2.qcow2" --to "$SYS/d3.qcow2" \
		--no-progress || _fail "backup d3"
	cbwctl release vol || _fail "release d3"
	restores_to_frozen "$SYS/d3.qcow2"

	step "clean stop"
	untrack
	_expect_eq "$(grep '^uuid ' "$STATE")" "uuid $uuid" "the new uuid in the state file"
	down
}
