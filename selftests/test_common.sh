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
