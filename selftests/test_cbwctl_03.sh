#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_03: cbwctl snapshot and release underneath a mounted volume
# that keeps changing, bad input, and the rollback of every step.
#
# The volume "vol" is a dm-linear device of two targets (the first 48 MiB
# of /dev/ram0 and 16 MiB of /dev/ram2) with a mounted ext4 filesystem;
# the COW device is cbwt-cow, 48 MiB of /dev/ram1 (smaller than vol);
# /dev/ram3 takes a copy of the snapshot.
#
# Scenario and expected results:
#   - Wrong use exits 2; a DMDEV that is not a device-mapper device exits
#     5; an unknown one 4; a missing path, a missing COW device, a COW
#     device that is vol, under vol or stacked on vol, a table that cannot
#     be moved, a read-only device exit 3; a device already under a
#     snapshot, one of cbwctl's, a suspended one, one with an inactive
#     table, a taken -real name exit 6; a name cbwctl cannot use exits 2.
#     release on a device not under a snapshot exits 4, on one made by
#     create it points to remove (4), and remove on vol under a snapshot
#     points to release (4).  Each error is one line on stderr.
#   - Each step of snapshot that fails (the test hook CBWCTL_FAIL_AT, and
#     the kernel refusing a COW device smaller than a chunk) exits 1 and
#     leaves vol's table byte for byte as it was, no vol-real or vol-snap,
#     and vol mounted and writable.
#   - With fio (random writes, verified) and a writer of whole files (each
#     one copied then renamed into place) running on vol, snapshot prints
#     /dev/mapper/vol-snap; vol's table is one cbw target over vol-real,
#     which has vol's old table; the devices have the documented uuids.
#   - The snapshot is the volume at the frozen point: e2fsck -fn is clean;
#     mounted read-only, the files made before have their checksums, and
#     the writer's files are exactly 1..K, all whole, with K at least the
#     count before the snapshot and at most the count after it; files
#     written later are not there.  A 'cbwctl backup' copy of it is clean
#     for e2fsck and stays equal to it while vol changes.
#   - release refuses while vol-snap is mounted (6) and changes nothing;
#     each failing step of release (the test hook) exits 1, keeps the
#     snapshot (vol-snap equal to the copy) and vol's cbw table.
#   - release ends it: vol's table is byte for byte the one before, vol-real
#     and vol-snap and their nodes are gone, vol is still mounted; fio saw
#     no error and verified its data; e2fsck of vol is clean at the end.
#   - snapshot by /dev/mapper path with --chunk, --timeout and --on-error
#     gives the table line with those features; with the snapshot node
#     removed by hand, release by /dev/dm-N does the rest.

DESCRIPTION="cbwctl snapshot/release under a mounted, busy ext4 volume; bad input; rollbacks"

requires() {
	local t
	for t in cbwctl qemu-io dmsetup blockdev fio jq mkfs.ext4 e2fsck sha256sum; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
	_require_target delay dm-delay || return 1
}

MNT='' SNAPMNT=''
WRITER_PID='' FIO_PID=''

# dm_create_lines NAME LINE...: a device whose table has these lines,
# removed by the clean-up.
dm_create_lines() {
	local name=$1 out
	shift
	out=$(printf '%s\n' "$@" | dmsetup create "$name" 2>&1) ||
		_die "dmsetup create $name: $out"
	CBW_DM_DEVS+=("$name")
}

# exists NAME: a device-mapper device NAME exists.
exists() { dmsetup info "$1" >/dev/null 2>&1; }

# check_untouched WHAT: vol has its table of before, vol-real and vol-snap
# do not exist, and the filesystem on vol takes a write.
check_untouched() {
	local what=$1 d
	_expect_eq "$(dmsetup table vol)" "$VOL_TABLE" "$what: table of vol"
	for d in vol-real vol-snap; do
		if exists $d; then
			_fail "$what: $d exists"
			dmsetup remove $d >/dev/null 2>&1
		fi
		[ ! -e /dev/mapper/$d ] || _fail "$what: /dev/mapper/$d exists"
	done
	_expect_eq "$(dmsetup info -c --noheadings -o attr vol)" "L--w" "$what: vol's state"
	echo "$what" >"$MNT/after-$RANDOM" && sync -f "$MNT" ||
		_fail "$what: vol no longer takes writes"
}

# snapshot_ok OUTPUT ARG...: 'cbwctl snapshot ARG...' succeeds and prints
# OUTPUT, nothing on stderr.
snapshot_ok() {
	local want=$1 out
	shift
	if ! out=$(cbwctl snapshot "$@" 2>"$CBW_TMP/err"); then
		_die "cbwctl snapshot $*: $(<"$CBW_TMP/err")"
	fi
	_expect_eq "$out" "$want" "cbwctl snapshot $* output"
	[ ! -s "$CBW_TMP/err" ] || _fail "cbwctl snapshot $*: stderr '$(<"$CBW_TMP/err")'"
}

# release_ok ARG: 'cbwctl release ARG' succeeds silently and vol is back.
release_ok() {
	local out
	if ! out=$(cbwctl release "$1" 2>&1); then
		_fail "cbwctl release $1: $out"
		return 1
	fi
	_expect_eq "$out" "" "cbwctl release $1 output"
	check_untouched "after release $1"
}

# The writer: whole files w/f.N, each a copy of $CBW_TMP/pattern (32 KiB)
# made as w/tmp.N then renamed, until $CBW_TMP/stop
# exists or it has made WRITER_MAX (the COW device and the filesystem
# have room for them).
WRITER_MAX=500
writer() {
	local i=1
	while [ ! -e "$CBW_TMP/stop" ] && [ $i -le $WRITER_MAX ]; do
		cp "$CBW_TMP/pattern" "$MNT/w/tmp.$i" && mv "$MNT/w/tmp.$i" "$MNT/w/f.$i" ||
			{ echo "writer failed at $i" >"$CBW_TMP/writer.err"; return 1; }
		i=$((i + 1))
	done
}

# writer_files DIR: how many f.N files DIR has.
writer_files() {
	local f=("$1"/w/f.*)
	[ -e "${f[0]}" ] && echo ${#f[@]} || echo 0
}

# check_writer_files DIR MIN MAX WHAT: DIR/w has f.1 .. f.K and no other
# f.N, K in [MIN, MAX], each with the pattern's checksum.
check_writer_files() {
	local dir=$1 min=$2 max=$3 what=$4 k sums bad
	k=$(writer_files "$dir")
	if [ "$k" -lt "$min" ] || [ "$k" -gt "$max" ]; then
		_fail "$what: $k writer files, expected $min to $max"
	fi
	if [ "$k" -gt 0 ] && [ ! -e "$dir/w/f.$k" ]; then
		_fail "$what: the writer files are not 1..$k: $(ls "$dir/w" | sort -t. -k2 -n | tail -n 3 | tr '\n' ' ')"
	fi
	sums=$(cd "$dir/w" && sha256sum f.* 2>/dev/null | awk '{ print $1 }' | sort | uniq -c)
	bad=$(awk -v p="$PATTERN_SUM" '$2 != p' <<<"$sums")
	[ -z "$bad" ] || _fail "$what: writer files with other contents: $bad"
	WRITER_K=$k
}

# Stop the background work and take vol apart, whatever state it is in.
teardown() {
	touch "$CBW_TMP/stop" 2>/dev/null
	[ -z "$FIO_PID" ] || kill -INT "$FIO_PID" 2>/dev/null
	[ -z "$WRITER_PID" ] || wait "$WRITER_PID" 2>/dev/null
	[ -z "$FIO_PID" ] || wait "$FIO_PID" 2>/dev/null
	FIO_PID='' WRITER_PID=''
	[ -z "$SNAPMNT" ] || umount "$SNAPMNT" 2>/dev/null
	[ -z "$MNT" ] || umount "$MNT" 2>/dev/null
	SNAPMNT='' MNT=''
	local d
	for d in vol-snap vol vol-real; do
		exists $d && dmsetup remove --retry $d >/dev/null 2>&1
		_dm_forget $d
	done
	_cleanup
}

test_main() {
	local size out k0 k1 k2 step dmn rc i mark long

	_tmpdir
	trap teardown EXIT
	_brd_setup 4 64
	size=131072

	_log "vol: two linear targets, ext4, mounted"
	dm_create_lines vol "0 98304 linear $(_devno /dev/ram0) 0" \
		"98304 32768 linear $(_devno /dev/ram2) 2048"
	VOL_TABLE=$(dmsetup table vol)
	_expect_eq "$(blockdev --getsz /dev/mapper/vol)" $size "size of vol"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol ||
		_die "mkfs.ext4 failed"
	# A mounted vol cannot have a device stacked on it: this one first.
	_dm_create cbwt-above "0 2048 linear /dev/mapper/vol 0"
	_cbwctl_fails 3 "COW device /dev/mapper/cbwt-above is built on vol" snapshot vol \
		--cow /dev/mapper/cbwt-above
	_dm_remove cbwt-above
	MNT=$CBW_TMP/mnt
	SNAPMNT=
	mkdir -p "$MNT" "$CBW_TMP/snapmnt"
	mount /dev/mapper/vol "$MNT" || _die "cannot mount vol"
	mkdir "$MNT/static" "$MNT/w"
	for i in $(seq 1 12); do
		head -c $((i * 20000)) /dev/urandom >"$MNT/static/s.$i"
	done
	(cd "$MNT/static" && sha256sum s.*) >"$CBW_TMP/static.sums"
	head -c 32768 /dev/urandom >"$CBW_TMP/pattern"
	PATTERN_SUM=$(sha256sum <"$CBW_TMP/pattern" | awk '{ print $1 }')
	sync -f "$MNT"

	_log "usage errors: exit 2"
	_cbwctl_fails 2 "missing argument" snapshot
	_cbwctl_fails 2 "--cow DEV is required" snapshot vol
	_cbwctl_fails 2 "invalid chunk size '3k'" snapshot vol --cow /dev/ram1 --chunk 3k
	_cbwctl_fails 2 "invalid timeout 'x'" snapshot vol --cow /dev/ram1 --timeout x
	_cbwctl_fails 2 "invalid timeout '86400001'" snapshot vol --cow /dev/ram1 --timeout 86400001
	_cbwctl_fails 2 "invalid timeout '-1'" snapshot vol --cow /dev/ram1 --timeout -1
	_cbwctl_fails 2 "invalid policy 'Drop'" snapshot vol --cow /dev/ram1 --on-error Drop
	_cbwctl_fails 2 "'--on-error' needs a value" snapshot vol --cow /dev/ram1 --on-error
	_cbwctl_fails 2 "unexpected argument 'x'" snapshot vol x --cow /dev/ram1
	_cbwctl_fails 2 "missing argument" release
	_cbwctl_fails 2 "unexpected argument 'x'" release vol x
	_cbwctl_fails 2 "unknown option '-q'" release -q vol
	out=$(cbwctl snapshot --help) || _fail "snapshot --help failed"
	[[ $out == "Usage: cbwctl snapshot DMDEV --cow DEV [--chunk SIZE] [--timeout MS] [--on-error POLICY]"* ]] ||
		_fail "snapshot --help: '${out%%$'\n'*}'"
	out=$(cbwctl release --help) || _fail "release --help failed"
	[[ $out == "Usage: cbwctl release DMDEV [--commit]"$'\n'* ]] || _fail "release --help: '${out%%$'\n'*}'"
	out=$(cbwctl --help)
	[[ $out == *"  snapshot DMDEV --cow DEV"* && $out == *"  release DMDEV"* ]] ||
		_fail "cbwctl --help does not list snapshot and release"

	_log "not a device-mapper device: exit 5; unknown: 4; missing path: 3"
	_cbwctl_fails 5 "/dev/ram2 is not a device-mapper device" snapshot /dev/ram2 --cow /dev/ram1
	_cbwctl_fails 5 "/dev/ram2 is not a device-mapper device" snapshot ram2 --cow /dev/ram1
	_cbwctl_fails 5 "/dev/null is not a device-mapper device \(not a block device\)" \
		snapshot /dev/null --cow /dev/ram1
	_cbwctl_fails 5 "/dev/ram2 is not a device-mapper device" release /dev/ram2
	_cbwctl_fails 4 "no device-mapper device cbwt-none" snapshot cbwt-none --cow /dev/ram1
	_cbwctl_fails 4 "no device-mapper device cbwt-none" release cbwt-none
	_cbwctl_fails 3 "/dev/mapper/cbwt-none does not exist" snapshot /dev/mapper/cbwt-none \
		--cow /dev/ram1

	_log "bad COW devices and tables: exit 3"
	_cbwctl_fails 3 "COW device $CBW_TMP/none does not exist" snapshot vol --cow "$CBW_TMP/none"
	_cbwctl_fails 3 "COW device /dev/null is not a block device" snapshot vol --cow /dev/null
	_cbwctl_fails 3 "COW device /dev/mapper/vol is vol" snapshot vol --cow /dev/mapper/vol
	_cbwctl_fails 3 "COW device /dev/ram0 is under vol" snapshot vol --cow /dev/ram0
	_cbwctl_fails 3 "COW device /dev/ram2 is under vol" snapshot /dev/mapper/vol --cow /dev/ram2
	_dm_create cbwt-delay "0 2048 delay /dev/ram3 0 0"
	_cbwctl_fails 3 "cbwt-delay has a delay target" snapshot cbwt-delay --cow /dev/ram1
	_dm_remove cbwt-delay
	_dm_create cbwt-ro "0 2048 linear /dev/ram3 0" --readonly
	_cbwctl_fails 3 "cbwt-ro is read-only" snapshot cbwt-ro --cow /dev/ram1
	_dm_remove cbwt-ro
	check_untouched "after the refusals"

	_log "busy, taken, cbwctl's own: exit 6; a name too long: exit 2"
	cbwctl create cbwt-made --origin /dev/ram3 --cow /dev/ram1 >/dev/null ||
		_die "cbwctl create cbwt-made failed"
	CBW_DM_DEVS+=(cbwt-made cbwt-made-snap)
	_cbwctl_fails 6 "cbwt-made is one of cbwctl's devices" snapshot cbwt-made --cow /dev/ram2
	_cbwctl_fails 6 "cbwt-made-snap is one of cbwctl's devices" snapshot cbwt-made-snap \
		--cow /dev/ram2
	_cbwctl_fails 4 "cbwt-made was made by 'cbwctl create': use 'cbwctl remove cbwt-made'" \
		release cbwt-made
	_cbwctl_fails 4 "cbwt-made-snap is part of a snapshot of cbwctl's" release cbwt-made-snap
	cbwctl remove cbwt-made || _fail "cbwctl remove cbwt-made failed"
	_dm_forget cbwt-made-snap
	_dm_forget cbwt-made
	_cbwctl_fails 4 "vol is not under a snapshot" release vol
	_dm_create vol-real "0 8 zero"
	_cbwctl_fails 6 "device vol-real already exists" snapshot vol --cow /dev/ram1
	_dm_remove vol-real
	_dm_create cbwt-susp "0 2048 linear /dev/ram3 0"
	dmsetup suspend cbwt-susp
	_cbwctl_fails 6 "cbwt-susp is suspended" snapshot cbwt-susp --cow /dev/ram1
	dmsetup resume cbwt-susp
	dmsetup load cbwt-susp --table "0 2048 linear /dev/ram3 2048"
	_cbwctl_fails 6 "cbwt-susp has a table loaded in its inactive slot" snapshot cbwt-susp \
		--cow /dev/ram1
	_dm_remove cbwt-susp
	long=$(printf 'n%.0s' {1..120})
	_dm_create "$long" "0 2048 linear /dev/ram3 0"
	_cbwctl_fails 2 "the name of $long cannot be used.*longer than 119" snapshot "$long" \
		--cow /dev/ram1
	_dm_remove "$long"
	check_untouched "after the busy refusals"

	_log "rollback of each step of snapshot"
	for step in real load suspend resume snap; do
		CBWCTL_FAIL_AT=snapshot:$step _cbwctl_fails 1 \
			"test hook CBWCTL_FAIL_AT=snapshot:$step; vol was left as it was$" \
			snapshot vol --cow /dev/ram1
		check_untouched "failed step $step"
	done
	_dm_create cbwt-small "0 8 linear /dev/ram3 0"
	mark="cbwctl-selftest-$$-$RANDOM"
	echo "$mark" >/dev/kmsg
	_cbwctl_fails 1 "cannot load the cbw table into vol: .*see dmesg.*; vol was left as it was$" \
		snapshot vol --cow /dev/mapper/cbwt-small
	if ! dmesg | sed -n "/$mark/,\$p" | grep -q "COW device smaller than one chunk"; then
		_fail "the kernel's reason is not in dmesg"
	fi
	check_untouched "COW smaller than a chunk"
	_dm_remove cbwt-small

	_log "snapshot under the busy volume"
	_dm_create cbwt-cow "0 98304 linear /dev/ram1 0"
	rm -f "$CBW_TMP/stop"
	writer &
	WRITER_PID=$!
	fio --name=busy --filename="$MNT/fio.dat" --size=8m --rw=randwrite --bs=4k \
		--direct=1 --ioengine=psync --rate_iops=200 --verify=crc32c --verify_backlog=256 \
		--verify_fatal=1 --verify_state_save=0 --time_based --runtime=900 \
		--output-format=json \
		--output="$CBW_TMP/fio.json" >"$CBW_TMP/fio.out" 2>&1 &
	FIO_PID=$!
	# Until fio writes and the writer has made some files.
	for i in $(seq 1 300); do
		[ -s "$MNT/fio.dat" ] && [ "$(writer_files "$MNT")" -ge 5 ] && break
		sleep 0.1
	done
	sleep 1
	k0=$(writer_files "$MNT")
	snapshot_ok /dev/mapper/vol-snap vol --cow /dev/mapper/cbwt-cow
	k1=$(writer_files "$MNT")
	_log "writer files: $k0 before the snapshot, $k1 after"
	kill -0 "$FIO_PID" 2>/dev/null || _fail "fio ended before the snapshot was made"
	exists vol-snap && CBW_DM_DEVS+=(vol-real vol-snap)

	_expect_eq "$(dmsetup table vol)" \
		"0 $size cbw $(_devno /dev/mapper/vol-real) $(_devno /dev/mapper/cbwt-cow) 128" \
		"vol's cbw table"
	_expect_eq "$(dmsetup table vol-real)" "$VOL_TABLE" "vol-real's table"
	_expect_eq "$(dmsetup table vol-snap)" "0 $size snapshot-access $(_devno /dev/mapper/vol)" \
		"vol-snap's table"
	_expect_eq "$(dmsetup info -c --noheadings -o uuid vol-real)" "CBW-vol-real" "vol-real uuid"
	_expect_eq "$(dmsetup info -c --noheadings -o uuid vol-snap)" "CBW-vol-snap" "vol-snap uuid"
	_expect_eq "$(dmsetup info -c --noheadings -o uuid vol)" "" "vol uuid"
	_expect_eq "$(blockdev --getro /dev/mapper/vol-snap)" 0 "vol-snap writable (for discards)"
	out=$(cbwctl status --noheadings vol) || _fail "cbwctl status vol failed"
	[[ $out =~ ^vol\ .*\ active\ +valid\ *$ ]] || _fail "cbwctl status vol: '$out'"

	_log "refusals while vol is under the snapshot"
	_cbwctl_fails 6 "vol is already under a snapshot" snapshot vol --cow /dev/ram3
	_cbwctl_fails 6 "vol is already under a snapshot" snapshot /dev/mapper/vol --cow /dev/ram3
	_cbwctl_fails 6 "vol-real is one of cbwctl's devices" snapshot vol-real --cow /dev/ram3
	_cbwctl_fails 4 "vol-real is part of a snapshot of cbwctl's" release vol-real
	_cbwctl_fails 4 "vol is a live device under a snapshot of 'cbwctl snapshot': use 'cbwctl release vol'" \
		remove vol

	_log "the snapshot is vol at the frozen point"
	_expect_ok "e2fsck -fn of vol-snap" e2fsck -fn /dev/mapper/vol-snap
	SNAPMNT=$CBW_TMP/snapmnt
	mount -o ro,noload /dev/mapper/vol-snap "$SNAPMNT" || _fail "cannot mount vol-snap"
	_expect_ok "static files on the snapshot" \
		sh -c "cd '$SNAPMNT/static' && sha256sum --quiet -c '$CBW_TMP/static.sums'"
	check_writer_files "$SNAPMNT" "$k0" "$k1" "snapshot"
	_log "writer files in the snapshot: $WRITER_K"

	_log "a copy of the snapshot, while vol changes"
	cbwctl backup vol --to - >/dev/ram3 || _fail "cbwctl backup vol failed"
	_expect_ok "e2fsck -fn of the copy" e2fsck -fn /dev/ram3
	sleep 2
	_expect_ok "vol-snap still equals its copy" cmp -n $((size * 512)) /dev/mapper/vol-snap /dev/ram3

	_log "release refuses while vol-snap is mounted"
	_cbwctl_fails 6 "vol-snap is in use \(open or mounted\); nothing was changed" release vol
	umount "$SNAPMNT" || _fail "cannot unmount vol-snap"
	SNAPMNT=

	_log "rollback of each step of release"
	for step in load snap suspend resume; do
		CBWCTL_FAIL_AT=release:$step _cbwctl_fails 1 \
			"test hook CBWCTL_FAIL_AT=release:$step; the snapshot of vol goes on$" \
			release vol
		[[ $(dmsetup table vol) == "0 $size cbw "* ]] || _fail "release:$step: vol lost its cbw table"
		_expect_eq "$(dmsetup info -c --noheadings -o attr vol)" "L--w" "release:$step: vol's state"
		_expect_eq "$(dmsetup table vol-real)" "$VOL_TABLE" "release:$step: vol-real's table"
		_expect_ok "release:$step: vol-snap equals its copy" \
			cmp -n $((size * 512)) /dev/mapper/vol-snap /dev/ram3
	done
	out=$(cbwctl status --noheadings vol)
	[[ $out =~ ^vol\ .*\ active\ +valid\ *$ ]] || _fail "cbwctl status vol after the rollbacks: '$out'"

	_log "release"
	k2=$(writer_files "$MNT")
	release_ok vol
	_dm_forget vol-snap
	_dm_forget vol-real
	_dm_remove cbwt-cow
	[ "$k2" -gt "$WRITER_K" ] || _fail "the writer made no file after the snapshot ($k2)"
	[ "$k2" -lt $WRITER_MAX ] || _log "the writer stopped at $WRITER_MAX files before the release"

	_log "stop fio and the writer"
	sleep 1
	touch "$CBW_TMP/stop"
	wait "$WRITER_PID"
	rc=$?
	WRITER_PID=
	_expect_eq "$rc $(cat "$CBW_TMP/writer.err" 2>/dev/null)" "0 " "writer"
	kill -INT "$FIO_PID"
	wait "$FIO_PID"
	rc=$?
	FIO_PID=
	[ $rc = 0 ] || [ $rc = 128 ] || _fail "fio exit status $rc: $(head -c 300 "$CBW_TMP/fio.out")"
	# fio may put a line or two before the JSON.
	out=$(sed -n '/^{/,$p' "$CBW_TMP/fio.json" |
		jq -r '.jobs[0] | "\(.error) \(.write.io_bytes > 0) \(.read.io_bytes > 0)"' 2>&1)
	_expect_eq "$out" "0 true true" "fio: error, bytes written, bytes verified"
	if grep -qiE 'verify|error' "$CBW_TMP/fio.out"; then
		_fail "fio: $(grep -iE -m3 'verify|error' "$CBW_TMP/fio.out")"
	fi
	check_writer_files "$MNT" "$k2" 1000000 "vol at the end"
	_expect_ok "static files on vol" \
		sh -c "cd '$MNT/static' && sha256sum --quiet -c '$CBW_TMP/static.sums'"

	_log "features on the table line; DMDEV by path and by /dev/dm-N"
	snapshot_ok /dev/mapper/vol-snap /dev/mapper/vol --cow /dev/ram1 --chunk 4k \
		--timeout 500 --on-error break
	CBW_DM_DEVS+=(vol-real vol-snap)
	_expect_eq "$(dmsetup table vol)" \
		"0 $size cbw $(_devno /dev/mapper/vol-real) $(_devno /dev/ram1) 8 4 timeout 500 on_error break" \
		"vol's cbw table with features"
	# A snapshot node removed by hand: release does the rest.
	_dm_remove vol-snap
	dmn=/dev/dm-$(($(dmsetup info -c --noheadings -o minor vol)))
	[ -b "$dmn" ] || _fail "$dmn is missing"
	release_ok "$dmn"
	_dm_forget vol-snap
	_dm_forget vol-real

	_log "unmount and check vol"
	umount "$MNT" || _fail "cannot unmount vol"
	MNT=
	_expect_ok "e2fsck -fn of vol" e2fsck -fn /dev/mapper/vol
	_expect_eq "$(dmsetup table vol)" "$VOL_TABLE" "vol's table at the end"
	_expect_eq "$(dmsetup ls | awk '$1 ~ /^(vol-|cbwt)/ { print $1 }')" "" "devices left behind"
}
