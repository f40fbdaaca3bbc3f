#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_01: cbwctl's command line, and create, status and remove on
# RAM disks.
#
# Scenario and expected results:
#   - --help of cbwctl and of each command prints its usage and the exit
#     codes; --version prints "cbwctl X.Y.Z".
#   - Wrong use (unknown command or option, missing or extra argument, bad
#     chunk size, bad NAME) exits 2; a missing device, a non-block device,
#     a COW smaller than one chunk or equal to the origin exits 3; an unknown NAME
#     or one that is not a cbw device (made by cbwctl) exits 4.  Every error
#     is exactly one line on stderr starting "cbwctl: ", and nothing
#     reaches stdout.
#   - A COW of 1 MiB under a 64 MiB origin works: 16 slots, one used
#     after a write, and the snapshot keeps the old data.
#   - create prints /dev/mapper/NAME and /dev/mapper/NAME-snap; both nodes
#     exist; the tables, uuids and read-only flag are the ones cbwctl
#     documents; status shows nothing copied, the state active and a
#     valid snapshot.
#   - A 64 KiB write through NAME copies one chunk (status and the kernel's
#     own status line agree), NAME reads the new data and NAME-snap still
#     reads the old.
#   - A table the kernel refuses (a second cbw on the same origin) exits 1,
#     points to dmesg, where the kernel's reason is, and leaves no device.
#   - After a break message status shows the state broken:user and the
#     snapshot broken.
#   - remove leaves no device and no node behind.
#   - The same again with a 1 MiB chunk and DM_DISABLE_UDEV unset (no udev
#     in the VM, so libdevmapper must notice and make the nodes itself).

DESCRIPTION="cbwctl: usage errors, bad devices, create/status/remove on RAM disks"

requires() {
	local t
	for t in cbwctl qemu-io dmsetup blockdev; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found (cbwctl: make -C dmtools)"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
}

# How the helpers below run cbwctl.
CBWCTL=(cbwctl)

# words TEXT: TEXT with each run of blanks made one space.
words() {
	# shellcheck disable=SC2086  # the splitting is the point
	echo $1
}

# The helpers below keep cbwctl's output in the test's scratch folder and
# check it with bash builtins: every fork costs in the emulated guest.

# cbwctl_help PATTERN ARG...: 'cbwctl ARG...' exits 0, prints a first line
# matching PATTERN (ERE) and the exit codes, and nothing on stderr.
cbwctl_help() {
	local pattern=$1 rc out
	shift
	cbwctl "$@" >"$CBW_TMP/out" 2>"$CBW_TMP/err"
	rc=$?
	_expect_eq "$rc" 0 "cbwctl $* exit status" || return 1
	mapfile -t out <"$CBW_TMP/out"
	if ! [[ ${out[0]:-} =~ $pattern ]]; then
		_fail "cbwctl $*: first line '${out[0]:-}' does not match '$pattern'"
	fi
	if ! [[ ${out[*]} == *"  4  NAME not found"* ]]; then
		_fail "cbwctl $*: the exit codes are not listed"
	fi
	[ ! -s "$CBW_TMP/err" ] || _fail "cbwctl $*: stderr '$(<"$CBW_TMP/err")'"
}

# cbwctl_create NAME ARG...: 'cbwctl create NAME ARG...' must succeed,
# print the two nodes and nothing on stderr; the test's clean-up removes
# what it made.
cbwctl_create() {
	local name=$1 out
	if ! out=$("${CBWCTL[@]}" create "$@" 2>"$CBW_TMP/err"); then
		_die "cbwctl create $*: $(<"$CBW_TMP/err")"
	fi
	# Removed in reverse order (the snapshot first) if the test stops.
	CBW_DM_DEVS+=("$name" "$name-snap")
	_expect_eq "$out" "$(printf '/dev/mapper/%s\n/dev/mapper/%s-snap' "$name" "$name")" \
		"cbwctl create $name output"
	[ ! -s "$CBW_TMP/err" ] || _fail "cbwctl create $name: stderr '$(<"$CBW_TMP/err")'"
}

# cbwctl_remove NAME: 'cbwctl remove NAME' must succeed silently and leave
# neither device nor node.
cbwctl_remove() {
	local name=$1 out d
	if ! out=$("${CBWCTL[@]}" remove "$name" 2>&1); then
		_fail "cbwctl remove $name: $out"
		return 1
	fi
	_dm_forget "$name-snap"
	_dm_forget "$name"
	_expect_eq "$out" "" "cbwctl remove $name output"
	for d in "$name" "$name-snap"; do
		if dmsetup info "$d" >/dev/null 2>&1; then
			_fail "$d still exists after cbwctl remove $name"
		fi
		if [ -e "/dev/mapper/$d" ]; then
			_fail "/dev/mapper/$d still exists after cbwctl remove $name"
		fi
	done
}

# check_devices NAME CHUNK_SECTORS: NAME and NAME-snap as cbwctl makes
# them on /dev/ram0 and /dev/ram1.
check_devices() {
	local name=$1 chunk=$2 sectors d
	sectors=$(_size_sectors /dev/ram0)
	for d in "$name" "$name-snap"; do
		[ -b "/dev/mapper/$d" ] || _fail "/dev/mapper/$d is missing"
	done
	_expect_eq "$(dmsetup table "$name")" \
		"0 $sectors cbw $(_devno /dev/ram0) $(_devno /dev/ram1) $chunk" "$name table"
	_expect_eq "$(dmsetup table "$name-snap")" \
		"0 $sectors snapshot-access $(_devno "/dev/mapper/$name")" "$name-snap table"
	_expect_eq "$(dmsetup info -c --noheadings -o uuid "$name")" "CBW-$name" "$name uuid"
	_expect_eq "$(dmsetup info -c --noheadings -o uuid "$name-snap")" "CBW-$name-snap" \
		"$name-snap uuid"
	_expect_eq "$(blockdev --getro "/dev/mapper/$name")" 0 "$name read-only flag"
	# Writable, so that it takes discards; the target refuses writes.
	_expect_eq "$(blockdev --getro "/dev/mapper/$name-snap")" 0 "$name-snap read-only flag"
}

# check_status NAME "CHUNK CHUNKS IN_SNAP COPIED TO_COPY SLOTS COPIES ERRORS
# STATE SNAPSHOT": cbwctl's row for NAME (WAITED aside), and its numbers
# and state equal the kernel's status line.
check_status() {
	local name=$1 want=$2 row kernel r k
	row=$("${CBWCTL[@]}" status --noheadings "$name") || { _fail "cbwctl status $name failed"; return 1; }
	read -ra r <<<"$row"
	_expect_eq "${#r[@]} ${r[*]:0:9} ${r[*]:10}" "12 $name $want" "cbwctl status $name"
	# Kernel fields: chunks, in snapshot, copied, to copy, slots, copies,
	# copy errors, waited, state.
	kernel=$(dmsetup status "$name")
	read -ra k <<<"$kernel"
	_expect_eq "${r[*]:2:9}" \
		"${k[4]} ${k[5]} ${k[6]} ${k[7]} ${k[10]} ${k[15]} ${k[16]} ${k[18]} ${k[11]}" \
		"cbwctl status $name against dmsetup status '$kernel'"
	_log "status: $(words "$row")"
}

test_main() {
	local out mark fd d

	_tmpdir
	_brd_setup 2 64

	_log "help and version"
	cbwctl_help '^Usage: cbwctl \[-v\] COMMAND' --help
	cbwctl_help '^Usage: cbwctl create NAME --origin DEV --cow DEV \[--chunk SIZE\] \[OPTION\.\.\.\]$' create --help
	cbwctl_help '^Usage: cbwctl remove NAME$' remove --help
	cbwctl_help '^Usage: cbwctl status \[-o FIELDS\] .*\[--json\] \[NAME\]$' status --help
	cbwctl_help '^Usage: cbwctl create ' create -h
	out=$(cbwctl --version)
	[[ $out =~ ^cbwctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || _fail "--version printed '$out'"

	_log "usage errors: exit 2"
	_cbwctl_fails 2 "missing command"
	_cbwctl_fails 2 "unknown command 'frobnicate'" frobnicate
	_cbwctl_fails 2 "unknown .*option '--frobnicate'" --frobnicate
	_cbwctl_fails 2 "unknown .*option '--frobnicate'" status --frobnicate
	_cbwctl_fails 2 "unknown .*option '--frobnicate'" create cbwt1 --origin /dev/ram0 \
		--cow /dev/ram1 --frobnicate
	_cbwctl_fails 2 "unknown option '-q'" remove -q cbwt1
	_cbwctl_fails 2 "takes no value" status --noheadings=yes
	_cbwctl_fails 2 "missing argument" create
	_cbwctl_fails 2 "missing argument" create --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 2 "missing argument" remove
	_cbwctl_fails 2 "--origin DEV is required" create cbwt1 --cow /dev/ram1
	_cbwctl_fails 2 "--cow DEV is required" create cbwt1 --origin /dev/ram0
	_cbwctl_fails 2 "'--chunk' needs a value" create cbwt1 --origin /dev/ram0 --cow /dev/ram1 --chunk
	_cbwctl_fails 2 "unexpected argument 'cbwt2'" create cbwt1 cbwt2 --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 2 "unexpected argument 'cbwt2'" remove cbwt1 cbwt2
	_cbwctl_fails 2 "unexpected argument 'cbwt2'" status cbwt1 cbwt2
	for size in 3k 2k 4095 6K 64KB 1.5M -4k "" 64q 2T 99999999999999999999; do
		_cbwctl_fails 2 "invalid chunk size '$size'" create cbwt1 --origin /dev/ram0 \
			--cow /dev/ram1 --chunk "$size"
	done
	_cbwctl_fails 2 "invalid NAME 'a/b'" create a/b --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 2 "invalid NAME 'a b'" create "a b" --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 2 "invalid NAME 'v-snap': .*cbwctl's layers" create v-snap --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 2 "invalid NAME 'v-real': .*cbwctl's layers" create v-real --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 2 "invalid NAME" create "$(printf 'n%.0s' {1..120})" --origin /dev/ram0 \
		--cow /dev/ram1
	_cbwctl_fails 2 "invalid NAME 'a/b'" remove a/b
	_cbwctl_fails 2 "invalid NAME" status ""

	_log "bad devices: exit 3"
	touch "$CBW_TMP/file"
	_dm_create cbwtest-small "0 2048 linear /dev/ram1 0"
	_cbwctl_fails 3 "origin device /dev/nonexistent does not exist" create cbwt1 \
		--origin /dev/nonexistent --cow /dev/ram1
	_cbwctl_fails 3 "COW device $CBW_TMP/none does not exist" create cbwt1 \
		--origin /dev/ram0 --cow "$CBW_TMP/none"
	_cbwctl_fails 3 "origin device /dev/null is not a block device" create cbwt1 \
		--origin /dev/null --cow /dev/ram1
	_cbwctl_fails 3 "COW device $CBW_TMP/file is not a block device" create cbwt1 \
		--origin /dev/ram0 --cow "$CBW_TMP/file"
	_cbwctl_fails 3 "COW device /dev/ram0 is the origin" create cbwt1 \
		--origin /dev/ram0 --cow /dev/ram0
	_cbwctl_fails 3 "COW device /dev/mapper/cbwtest-small \(1MiB\) is smaller than one chunk \(2MiB\)" \
		create cbwt1 --origin /dev/ram0 --cow /dev/mapper/cbwtest-small --chunk 2M

	_log "unknown or foreign NAME: exit 4"
	_cbwctl_fails 4 "no device cbwtest-none" remove cbwtest-none
	_cbwctl_fails 4 "no device cbwtest-none" status cbwtest-none
	_cbwctl_fails 4 "cbwtest-small is not a cbw device" remove cbwtest-small
	_cbwctl_fails 4 "cbwtest-small is not a cbw device" status cbwtest-small
	if dmsetup info cbwt1 >/dev/null 2>&1; then
		_fail "a failed create left cbwt1 behind"
	fi

	_log "a COW smaller than the origin: 16 slots of 64KiB"
	cbwctl_create cbwt0 --origin /dev/ram0 --cow /dev/mapper/cbwtest-small
	check_status cbwt0 "64KiB 1024 1024 0 1024 0/16 0 0 active valid"
	_pattern_write /dev/mapper/cbwt0 4M 64k 0x44
	check_status cbwt0 "64KiB 1024 1024 1 1023 1/16 1 0 active valid"
	_pattern_check /dev/mapper/cbwt0-snap 4M 64k 0
	_pattern_check /dev/mapper/cbwt0 4M 64k 0x44
	cbwctl_remove cbwt0

	_log "create, write, status"
	_pattern_write /dev/ram0 0 1M 0x11
	cbwctl_create cbwt1 --origin /dev/ram0 --cow /dev/ram1
	check_devices cbwt1 128
	out=$(cbwctl status cbwt1 | head -n1)
	[[ $out =~ ^NAME\ +CHUNK\ +CHUNKS\ +IN_SNAP\ +COPIED\ +TO_COPY\ +SLOTS\ +COPIES\ +ERRORS\ +WAITED\ +STATE\ +SNAPSHOT$ ]] ||
		_fail "status heading '$out'"
	check_status cbwt1 "64KiB 1024 1024 0 1024 0/1024 0 0 active valid"
	_pattern_check /dev/mapper/cbwt1-snap 0 1M 0x11

	_pattern_write /dev/mapper/cbwt1 0 64k 0x22
	check_status cbwt1 "64KiB 1024 1024 1 1023 1/1024 1 0 active valid"
	_pattern_check /dev/mapper/cbwt1 0 64k 0x22
	_pattern_check /dev/ram0 0 64k 0x22
	_pattern_check /dev/mapper/cbwt1-snap 0 64k 0x11
	_pattern_check /dev/mapper/cbwt1-snap 64k 960k 0x11

	# Every cbw device and nothing else: not the linear one, not the snapshot.
	_expect_eq "$(cbwctl status --noheadings | awk '{ print $1 }')" "cbwt1" "devices in status"
	_dm_remove cbwtest-small

	_log "refusals: an existing NAME, a non-cbw NAME, a table the kernel refuses"
	_cbwctl_fails 6 "device cbwt1 already exists" create cbwt1 --origin /dev/ram0 --cow /dev/ram1
	_cbwctl_fails 4 "cbwt1-snap is not a cbw device" remove cbwt1-snap
	mark="cbwctl-selftest-$$-$RANDOM"
	echo "$mark" >/dev/kmsg
	_cbwctl_fails 1 "cannot create cbwt2: .*reload ioctl.*failed.*see dmesg" create cbwt2 \
		--origin /dev/ram0 --cow /dev/ram1
	if ! dmesg | sed -n "/$mark/,\$p" | grep -q "Origin already has a cbw target"; then
		_fail "the kernel's reason is not in dmesg"
	fi
	if dmsetup info cbwt2 >/dev/null 2>&1 || dmsetup info cbwt2-snap >/dev/null 2>&1; then
		_fail "the refused create left cbwt2 behind"
	fi
	check_status cbwt1 "64KiB 1024 1024 1 1023 1/1024 1 0 active valid"

	_log "remove refuses while NAME or NAME-snap is open, and keeps both"
	exec {fd}</dev/mapper/cbwt1
	_cbwctl_fails 6 "cbwt1 is in use \(open or mounted\); nothing was removed" remove cbwt1
	exec {fd}<&-
	exec {fd}</dev/mapper/cbwt1-snap
	_cbwctl_fails 6 "cannot remove cbwt1-snap: it is in use.*; nothing was removed" remove cbwt1
	exec {fd}<&-
	for d in cbwt1 cbwt1-snap; do
		dmsetup info "$d" >/dev/null 2>&1 || _fail "$d is gone after a refused remove"
	done
	_pattern_check /dev/mapper/cbwt1-snap 0 64k 0x11

	_log "a broken snapshot"
	_expect_ok "break" dmsetup message cbwt1 0 break
	check_status cbwt1 "64KiB 1024 1024 1 1023 1/1024 1 0 broken:user broken"

	_log "remove"
	cbwctl_remove cbwt1
	_cbwctl_fails 4 "no device cbwt1" remove cbwt1
	_expect_eq "$(cbwctl status --noheadings)" "" "status without cbw devices"

	_log "a cbw device not made by cbwctl"
	_dm_create cbwraw "0 $(_size_sectors /dev/ram0) cbw $(_devno /dev/ram0) $(_devno /dev/ram1) 8"
	_cbwctl_fails 4 "cbwraw is a cbw device not made by cbwctl" remove cbwraw
	check_status cbwraw "4KiB 16384 16384 0 16384 0/16384 0 0 active none"
	_dm_remove cbwraw

	_log "1MiB chunks, DM_DISABLE_UDEV unset"
	CBWCTL=(env -u DM_DISABLE_UDEV cbwctl)
	cbwctl_create cbwt3 --origin /dev/ram0 --cow /dev/ram1 --chunk 1MiB
	check_devices cbwt3 2048
	check_status cbwt3 "1MiB 64 64 0 64 0/64 0 0 active valid"
	_pattern_write /dev/mapper/cbwt3 2M 4k 0x33
	check_status cbwt3 "1MiB 64 64 1 63 1/64 1 0 active valid"
	_pattern_check /dev/mapper/cbwt3-snap 2M 1M 0
	_pattern_check /dev/mapper/cbwt3-snap 0 64k 0x22
	_pattern_check /dev/mapper/cbwt3 2M 4k 0x33
	cbwctl_remove cbwt3

	_expect_eq "$(dmsetup ls | awk '$1 ~ /^cbw(t|raw)/ { print $1 }')" "" \
		"devices left behind"
}
