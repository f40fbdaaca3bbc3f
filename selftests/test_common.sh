#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for the dm-cbw selftests, sourced by selftests/run before
# each test_<area>_<NN>.sh.  A test file defines:
#
#   DESCRIPTION="one line"
#   requires()   optional; return non-zero after _skip_reason "why" to skip
#   test_main()  prepare, act, check, report through the helpers below
#
# Helpers start with '_'.  _fail records a failure and goes on (like
# EXPECT_*); _die records one and ends the test (like ASSERT_*).  Device-
# mapper devices made with _dm_create are removed when the test ends, in
# reverse order, whatever happened, then what _on_cleanup registered.

CBW_TEST_FAILS=0
CBW_SKIP_REASON=
CBW_DM_DEVS=()
CBW_TMP=
CBW_CLEANUP=()

_log() { echo "# $*"; }

_fail() {
	echo "# FAIL: $*"
	CBW_TEST_FAILS=$((CBW_TEST_FAILS + 1))
	return 1
}

_die() {
	_fail "$@"
	exit 1
}

_skip_reason() { CBW_SKIP_REASON=$*; }

# _require_target TARGET MODULE: for a test's requires(): succeed if the
# device-mapper target TARGET is registered, loading MODULE first if it is
# not; otherwise set the skip reason and fail.
_require_target() {
	dmsetup targets | grep -q "^$1 " && return 0
	modprobe "$2" 2>/dev/null
	dmsetup targets | grep -q "^$1 " && return 0
	_skip_reason "$2 not available (no $1 target)"
	return 1
}

# _on_cleanup CMD...: run CMD when the test ends, after its dm devices are
# removed (for what _dm_create does not track: loop, null_blk devices).
_on_cleanup() { CBW_CLEANUP+=("$(printf '%q ' "$@")"); }

# _expect_eq ACTUAL EXPECTED WHAT
_expect_eq() {
	if [ "$1" != "$2" ]; then
		_fail "$3: got '$1', expected '$2'"
		return 1
	fi
}

# _expect_ok WHAT CMD...: CMD must succeed.
_expect_ok() {
	local what=$1 out
	shift
	if ! out=$("$@" 2>&1); then
		_fail "$what: '$*' failed: $out"
		return 1
	fi
}

# _expect_err WHAT PATTERN CMD...: CMD must fail and print PATTERN (ERE).
_expect_err() {
	local what=$1 pattern=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		_fail "$what: '$*' succeeded, expected an error"
		return 1
	fi
	if ! grep -Eq -- "$pattern" <<<"$out"; then
		_fail "$what: error '$out' does not match '$pattern'"
		return 1
	fi
}

# _tmpdir: make $CBW_TMP, a private scratch folder removed when the test
# ends.  Call it directly, not in $(...), which would lose the variable.
_tmpdir() {
	[ -n "$CBW_TMP" ] || CBW_TMP=$(mktemp -d /tmp/cbwtest.XXXXXX)
}

# _brd_setup COUNT SIZE_MIB: fresh RAM disks /dev/ram0 .. /dev/ram<COUNT-1>.
_brd_setup() {
	local count=$1 mib=$2 i
	if [ -e /sys/module/brd ]; then
		modprobe -r brd || _die "cannot unload brd (in use?)"
	fi
	modprobe brd rd_nr="$count" rd_size=$((mib * 1024)) max_part=0 ||
		_die "cannot load brd"
	for ((i = 0; i < count; i++)); do
		[ -b /dev/ram$i ] || _die "/dev/ram$i missing"
	done
}

# _dm_create NAME TABLE [dmsetup create options...]: create a device that
# the test's clean-up removes; prints nothing, fails the test on error.
_dm_create() {
	local name=$1 table=$2 out
	shift 2
	if ! out=$(dmsetup create "$name" "$@" --table "$table" 2>&1); then
		_die "dmsetup create $name '$table': $out"
	fi
	CBW_DM_DEVS+=("$name")
	dmsetup mknodes "$name" >/dev/null 2>&1 || true
}

# _dm_forget NAME: the test removed NAME itself.
_dm_forget() {
	local i
	for i in "${!CBW_DM_DEVS[@]}"; do
		[ "${CBW_DM_DEVS[$i]}" = "$1" ] && unset 'CBW_DM_DEVS[i]'
	done
	CBW_DM_DEVS=("${CBW_DM_DEVS[@]}")
}

# _dm_remove NAME: remove NAME now (the test fails if that fails).
_dm_remove() {
	_expect_ok "remove $1" dmsetup remove "$1" && _dm_forget "$1"
}

# _status_field DEV N: the N-th word of the target's status (1-based,
# after the start, length and target name).
_status_field() {
	dmsetup status "$1" | awk -v n="$2" '{ print $(n + 3) }'
}

# _cbw_field DEV NAME: one field of a cbw target's status, by name (see
# Documentation/dm-cbw.rst, "Status").  "slots" is "<used>/<total>".
_cbw_field() {
	local n
	case $2 in
	chunk_sectors) n=1 ;;	chunks) n=2 ;;		in_snapshot) n=3 ;;
	copied) n=4 ;;		to_copy) n=5 ;;		dropped) n=6 ;;
	discarded) n=7 ;;	slots) n=8 ;;		state) n=9 ;;
	first_error) n=10 ;;	policy) n=11 ;;		timeout) n=12 ;;
	copies) n=13 ;;		copy_errors) n=14 ;;	timeouts) n=15 ;;
	waited) n=16 ;;		wait_ms) n=17 ;;	bytes) n=18 ;;
	*) _die "_cbw_field: unknown field '$2'" ;;
	esac
	_status_field "$1" "$n"
}

# _access_field DEV NAME: one field of a snapshot-access target's status.
_access_field() {
	local n
	case $2 in
	state) n=1 ;;	origin_reads) n=2 ;;	cow_reads) n=3 ;;	failed_reads) n=4 ;;
	*) _die "_access_field: unknown field '$2'" ;;
	esac
	_status_field "$1" "$n"
}

# _size_sectors DEV
_size_sectors() { blockdev --getsz "$1"; }

# Patterns through qemu-io, with O_DIRECT (-n) so that the page cache never
# answers for the device.  OFFSET and LENGTH take qemu-io's suffixes (64k).

# _pattern_write DEV OFFSET LENGTH BYTE
_pattern_write() {
	local out
	out=$(qemu-io -f raw -n -c "write -P $4 $2 $3" "$1" 2>&1) ||
		_fail "write of $4 at $2+$3 on $1 failed: $out"
}

# _pattern_check DEV OFFSET LENGTH BYTE: DEV must read BYTE there.
_pattern_check() {
	local out
	out=$(qemu-io -f raw -n -r -c "read -P $4 $2 $3" "$1" 2>&1) ||
		_fail "$1 at $2+$3: expected $4: $(head -n1 <<<"$out")"
}

# _read_fails DEV OFFSET LENGTH: reading there must fail.
_read_fails() {
	local out
	out=$(qemu-io -f raw -n -r -c "read $2 $3" "$1" 2>&1)
	if grep -Eq '^read [0-9]+/[0-9]+ bytes' <<<"$out"; then
		_fail "$1 at $2+$3: read succeeded, expected an error"
	elif ! grep -q 'read failed' <<<"$out"; then
		_fail "$1 at $2+$3: unexpected qemu-io output: $out"
	fi
}

_cleanup() {
	local i
	for ((i = ${#CBW_DM_DEVS[@]} - 1; i >= 0; i--)); do
		dmsetup remove --retry "${CBW_DM_DEVS[$i]}" >/dev/null 2>&1 ||
			echo "# clean-up: cannot remove ${CBW_DM_DEVS[$i]}"
	done
	for ((i = ${#CBW_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${CBW_CLEANUP[$i]}" >/dev/null 2>&1 ||
			echo "# clean-up: '${CBW_CLEANUP[$i]}' failed"
	done
	[ -z "$CBW_TMP" ] || rm -rf "$CBW_TMP"
}

# _expect_refused NAME TABLE MESSAGE: creating NAME with TABLE (one line
# per target) must fail,
# leave no device behind, and the kernel must have said MESSAGE (the
# target's ti->error, which device-mapper logs).
_expect_refused() {
	local name=$1 table=$2 msg=$3 mark=cbw-refused-$RANDOM$RANDOM
	echo "<7>$mark" >/dev/kmsg
	if printf '%s\n' "$table" | dmsetup create "$name" >/dev/null 2>&1; then
		CBW_DM_DEVS+=("$name")
		_fail "'$table' was accepted, expected '$msg'"
		return 1
	fi
	if dmsetup info "$name" >/dev/null 2>&1; then
		dmsetup remove "$name" >/dev/null 2>&1
		_fail "'$table': refused, but left device $name behind"
	fi
	if ! dmesg | sed -n "/$mark/,\$p" | grep -qF -- "$msg"; then
		_fail "'$table': kernel did not say '$msg': $(dmesg | sed -n "/$mark/,\$p" | tail -n 2)"
		return 1
	fi
}

# The names of the cbw status fields, in order (see _cbw_field).
CBW_FIELDS=(chunk_sectors chunks in_snapshot copied to_copy dropped discarded
	slots state first_error policy timeout copies copy_errors timeouts
	waited wait_ms bytes)
ACCESS_FIELDS=(state origin_reads cow_reads failed_reads)

# _fields_expect DEV WHAT NAMES_ARRAY NAME=VALUE...: the status fields of
# DEV must have these values; one dmsetup call for all of them.
_fields_expect() {
	local dev=$1 what=$2 line f name want i n ok=0
	local -n names=$3
	local -a w
	shift 3
	line=$(dmsetup status "$dev" 2>&1) || { _fail "dmsetup status $dev: $line"; return 1; }
	read -ra w <<<"$line"
	for f; do
		name=${f%%=*} want=${f#*=} n=
		for i in "${!names[@]}"; do
			[ "${names[$i]}" = "$name" ] && n=$((i + 3))
		done
		[ -n "$n" ] || _die "$what: unknown field '$name'"
		if [ "${w[$n]:-}" != "$want" ]; then
			_fail "$dev $what $name: got '${w[$n]:-}', expected '$want' (status: ${w[*]:3})"
			ok=1
		fi
	done
	return $ok
}

# _cbw_expect DEV NAME=VALUE...: fields of a cbw device's status, by the
# names of _cbw_field, must have these values.
_cbw_expect() {
	local dev=$1
	shift
	_fields_expect "$dev" status CBW_FIELDS "$@"
}

# _access_expect DEV NAME=VALUE...: the same for a snapshot-access device.
_access_expect() {
	local dev=$1
	shift
	_fields_expect "$dev" status ACCESS_FIELDS "$@"
}

# _dm_events DEV: DEV's event number (nothing if DEV does not exist).
_dm_events() {
	local n
	n=$(dmsetup info -c --noheadings -o events "$1") && echo $((n))
}

# _pattern_write_all DEV "BYTE OFFSET LENGTH"...: the writes of
# _pattern_write, in one qemu-io run.
_pattern_write_all() {
	local dev=$1 p b o l out args=()
	shift
	for p; do
		read -r b o l <<<"$p"
		args+=(-c "write -P $b $o $l")
	done
	if ! out=$(qemu-io -f raw -n "${args[@]}" "$dev" 2>&1) || [[ $out == *failed* ]]; then
		_fail "$dev: writes of '$*': $(grep -m3 failed <<<"$out")"
	fi
}

# _pattern_check_all DEV "BYTE OFFSET LENGTH"...: the checks of
# _pattern_check, in one qemu-io run.
_pattern_check_all() {
	local dev=$1 p b o l out args=()
	shift
	for p; do
		read -r b o l <<<"$p"
		args+=(-c "read -P $b $o $l")
	done
	if ! out=$(qemu-io -f raw -n -r "${args[@]}" "$dev" 2>&1) || [[ $out == *failed* ]]; then
		_fail "$dev: pattern checks of '$*': $(grep -m3 failed <<<"$out")"
	fi
}

# _read_errno DEV TEXT "OFFSET LENGTH"...: each O_DIRECT read there must
# fail with the error whose text is TEXT (qemu-io prints "read failed:
# TEXT"; ENODATA is "No data available").  One qemu-io run.
_read_errno() {
	local dev=$1 text=$2 p out args=() n=0 line
	shift 2
	for p; do
		args+=(-c "read $p")
	done
	out=$(qemu-io -f raw -n -r "${args[@]}" "$dev" 2>&1)
	while IFS= read -r line; do
		[ "$line" = "read failed: $text" ] && n=$((n + 1))
	done <<<"$out"
	if [ "$n" != "$#" ]; then
		_fail "$dev: reads of '$*': expected $# times 'read failed: $text', got: ${out//$'\n'/ | }"
		return 1
	fi
}

# _read_nodata DEV "OFFSET LENGTH"...: each read there fails with ENODATA
# (a chunk outside the snapshot, or a broken snapshot).
_read_nodata() {
	local dev=$1
	shift
	_read_errno "$dev" "No data available" "$@"
}

# _msg DEV WORD...: 'dmsetup message DEV 0 WORD...' must succeed; its
# result text (if any) is left in $CBW_MSG_OUT.  Call it directly, not in
# $(...), so that a failure counts.
CBW_MSG_OUT=
_msg() {
	local dev=$1
	shift
	if ! CBW_MSG_OUT=$(dmsetup message "$dev" 0 "$@" 2>&1); then
		_fail "message '$*' to $dev failed: $CBW_MSG_OUT"
		return 1
	fi
}

# _write_errno DEV TEXT "BYTE OFFSET LENGTH"...: each O_DIRECT write of
# BYTE there must fail with the error whose text is TEXT (qemu-io prints
# "write failed: TEXT": "Input/output error" for EIO, "No space left on
# device" for ENOSPC, "Connection timed out" for ETIMEDOUT).  One qemu-io
# run.
_write_errno() {
	local dev=$1 text=$2 p b o l out args=() n=0 line
	shift 2
	for p; do
		read -r b o l <<<"$p"
		args+=(-c "write -P $b $o $l")
	done
	out=$(qemu-io -f raw -n "${args[@]}" "$dev" 2>&1)
	while IFS= read -r line; do
		[ "$line" = "write failed: $text" ] && n=$((n + 1))
	done <<<"$out"
	if [ "$n" != "$#" ]; then
		_fail "$dev: writes of '$*': expected $# times 'write failed: $text', got: $(echo $out)"
		return 1
	fi
}

# _cbw_status DEV ARRAY: fill the associative array ARRAY (declare -A
# first) with DEV's cbw status fields, by the names of _cbw_field; one
# dmsetup call, for numeric checks or several looks at one moment.
_cbw_status() {
	local -n _cbw_st=$2
	local line i
	local -a w
	line=$(dmsetup status "$1" 2>&1) || { _fail "dmsetup status $1: $line"; return 1; }
	read -ra w <<<"$line"
	_cbw_st=()
	for i in "${!CBW_FIELDS[@]}"; do
		_cbw_st[${CBW_FIELDS[$i]}]=${w[$((i + 3))]:-}
	done
}

# _now_ms: wall-clock milliseconds, without a fork.
_now_ms() {
	local us=${EPOCHREALTIME/[.,]/}
	echo $((us / 1000))
}

# _timed_write DEV OFFSET LENGTH: one O_DIRECT write of LENGTH zero bytes
# at OFFSET (both in bytes) with dd.  Sets CBW_WRITE_T0 (its start, as
# _now_ms), CBW_WRITE_MS (how long it took, the start of dd included) and
# CBW_WRITE_ERR (the error text, as "Connection timed out"; empty if the
# write succeeded).  Call it directly, not in $(...).
CBW_WRITE_T0=0 CBW_WRITE_MS=0 CBW_WRITE_ERR=
_timed_write() {
	local t0 t1 out rc
	t0=${EPOCHREALTIME/[.,]/}
	out=$(dd if=/dev/zero of="$1" bs="$3" count=1 seek="$2" \
		oflag=direct,seek_bytes conv=notrunc status=none 2>&1)
	rc=$?
	t1=${EPOCHREALTIME/[.,]/}
	CBW_WRITE_T0=$((t0 / 1000))
	CBW_WRITE_MS=$(((t1 - t0) / 1000))
	CBW_WRITE_ERR=
	if [ $rc != 0 ]; then
		out=${out%%$'\n'*}
		CBW_WRITE_ERR=${out##*: }
		[ -n "$CBW_WRITE_ERR" ] || CBW_WRITE_ERR="dd exit status $rc"
	fi
}

# _devno DEV: DEV's device number as major:minor.
_devno() {
	printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"
}

# _cbwctl_fails CODE PATTERN ARG...: 'cbwctl ARG...' exits CODE, prints
# nothing on stdout and one line on stderr: "cbwctl: " then text matching
# PATTERN (ERE).  Needs _tmpdir.
_cbwctl_fails() {
	local code=$1 re="^cbwctl: .*($2)" rc err
	shift 2
	cbwctl "$@" >"$CBW_TMP/out" 2>"$CBW_TMP/err"
	rc=$?
	mapfile -t err <"$CBW_TMP/err"
	if [ "$rc" != "$code" ]; then
		_fail "cbwctl $*: exit status $rc, expected $code (stderr: ${err[*]})"
		return 1
	fi
	if [ -s "$CBW_TMP/out" ]; then
		_fail "cbwctl $*: unexpected output '$(<"$CBW_TMP/out")'"
	fi
	if [ ${#err[@]} -ne 1 ]; then
		_fail "cbwctl $*: expected one line on stderr, got '${err[*]}'"
	elif ! [[ ${err[0]} =~ $re ]]; then
		_fail "cbwctl $*: error '${err[0]}' does not match '$re'"
	fi
}

# _require_nullb: for requires(): null_blk is loaded and has its configfs
# (mounted here if it is not yet).
_require_nullb() {
	[ -e /sys/module/null_blk ] || { _skip_reason "null_blk not loaded"; return 1; }
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config ||
		{ _skip_reason "no configfs"; return 1; }
	[ -d /sys/kernel/config/nullb ] || { _skip_reason "null_blk has no configfs"; return 1; }
}

# _nullb_make NAME ATTR=VALUE...: a null_blk device made through configfs
# (/sys/kernel/config/nullb/NAME), its attributes set in the order given,
# then powered on; prints its node.  Status 1 if a step failed
# (_nullb_remove cleans up after that too).
_nullb_make() {
	local item=/sys/kernel/config/nullb/$1 a
	shift
	mkdir "$item" || return 1
	for a; do
		echo "${a#*=}" >"$item/${a%%=*}" || return 1
	done
	echo 1 >"$item/power" || return 1
	_nullb_node "$item"
}

# _nullb_remove NAME: power the null_blk device off and remove it.
_nullb_remove() {
	local item=/sys/kernel/config/nullb/$1
	[ -d "$item" ] || return 0
	echo 0 >"$item/power"
	rmdir "$item"
}

# _nullb_node ITEM: the node of the powered-on null_blk device whose
# configfs item is ITEM (/sys/kernel/config/nullb/NAME): /dev/NAME where the
# disk is named after the item (5.18 and later), else /dev/nullb<index>.
_nullb_node() {
	local name=${1##*/}
	if [ -b "/dev/$name" ]; then
		echo "/dev/$name"
	else
		echo "/dev/nullb$(cat "$1/index")"
	fi
}

# _resume_if_there DEV: resume DEV unless it is gone (a clean-up step for
# a device the test suspends and may remove itself).
_resume_if_there() {
	! dmsetup info "$1" >/dev/null 2>&1 || dmsetup resume "$1"
}

# _wait_pid PID MS: wait up to MS ms (wall time) for PID to end; status 1
# if it still runs.
_wait_pid() {
	local end=$(($(_now_ms) + $2))
	while kill -0 "$1" 2>/dev/null; do
		[ "$(_now_ms)" -lt $end ] || return 1
		sleep 0.05
	done
}

# _runs_of ARRAY: the keys of the associative array ARRAY (chunk numbers)
# as the runs of a map reply: "0-1 4-4 end".
_runs_of() {
	local -n _runs_set=$1
	local c s=-1 prev=-2 out=()
	for c in $(printf '%s\n' "${!_runs_set[@]}" | sort -n); do
		if [ "$c" != $((prev + 1)) ]; then
			[ "$s" -ge 0 ] && out+=("$s-$prev")
			s=$c
		fi
		prev=$c
	done
	[ "$s" -ge 0 ] && out+=("$s-$prev")
	out+=(end)
	echo "${out[*]}"
}

# _vol_teardown: take apart a volume "vol" that a cbwctl test tracked or
# snapshotted (mounted on $MNT, if set), whatever state it is in, then the
# usual clean-up.
_vol_teardown() {
	local d
	[ -z "${MNT:-}" ] || umount "$MNT" 2>/dev/null
	MNT=''
	cbwctl release vol >/dev/null 2>&1
	cbwctl untrack vol >/dev/null 2>&1
	for d in vol-snap vol vol-real; do
		dmsetup info "$d" >/dev/null 2>&1 &&
			dmsetup remove --retry "$d" >/dev/null 2>&1
		_dm_forget "$d"
	done
	_cleanup
}
