#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="add messages from several processes at once in the incremental set-up, and a start among them: every add is applied whole or refused with EBUSY"

# Documentation/dm-cbw.rst, "Messages": the device-mapper core runs
# messages to one target concurrently.  WORKERS processes each send PER
# single-chunk add messages; the chunks lie far apart on a 1 TiB zero
# origin with 4 KiB chunks, so that each add grows the radix bitmap by
# nodes of its own (the node reserve is what concurrent adds would
# contend for).
#  1. Adds only: every message succeeds and the set is exactly their
#     chunks.
#  2. A start while the adds run: each add either succeeded or failed
#     with EBUSY, and the set is exactly the chunks of the ones that
#     succeeded (none lands after the end of the set-up).
# Before the set-up lock, an add checked the set-up under the spinlock,
# dropped it and applied the change: one that start overtook in that
# window landed after guest writes went on.  The window is a few
# instructions wide and this test does not hit it (it passes on that code
# too, tried once); it checks the contract the lock gives.

WORKERS=8
PER=24

# adder DEV OUT CHUNK...: one 'add CHUNK' message per chunk, one line per
# message to OUT: "ok CHUNK", "busy CHUNK" (EBUSY) or "error CHUNK TEXT".
adder() {
	local dev=$1 out=$2 c r
	shift 2
	for c; do
		if r=$(dmsetup message "$dev" 0 add "$c" 2>&1); then
			echo "ok $c"
		elif [[ $r == *"Device or resource busy"* ]]; then
			echo "busy $c"
		else
			echo "error $c $r"
		fi
	done >"$out"
}

# chunks_of W: the chunks of worker W, far apart (800011 chunks = 3 GiB).
chunks_of() {
	local j
	for ((j = 0; j < PER; j++)); do
		echo $(((($1 * PER + j) * 800011) + 7))
	done
}

# run_adders DEV [START_AFTER]: the workers in parallel; with START_AFTER
# (seconds), a start message that long after they began.  Results in
# $CBW_TMP/add.W.
run_adders() {
	local dev=$1 w pids=()
	for ((w = 0; w < WORKERS; w++)); do
		# shellcheck disable=SC2046
		adder "$dev" "$CBW_TMP/add.$w" $(chunks_of $w) &
		pids+=($!)
	done
	if [ -n "${2:-}" ]; then
		sleep "$2"
		_msg "$dev" start
	fi
	wait "${pids[@]}"
}

# expected_map KIND: the map text of the chunks whose add reported KIND.
expected_map() {
	local runs
	runs=$(cat "$CBW_TMP"/add.* | awk -v k="$1" '$1 == k { print $2 }' |
		sort -n | awk '{ printf "%s%s-%s", (NR > 1 ? " " : ""), $1, $1 }')
	echo "${runs:+$runs }end"
}

test_main() {
	local big=$((1 << 31)) ok busy errs

	_brd_setup 1 8
	_tmpdir
	_dm_create m2zero "0 $big zero"

	_log "1. $WORKERS x $PER add messages at once"
	_dm_create m2 "0 $big cbw /dev/mapper/m2zero /dev/ram0 8 1 incremental"
	run_adders m2
	errs=$(cat "$CBW_TMP"/add.* | grep -v '^ok ')
	[ -z "$errs" ] || _fail "adds that did not succeed: $(head -3 <<<"$errs")"
	_msg m2 map
	_expect_eq "$CBW_MSG_OUT" "$(expected_map ok)" "map after the concurrent adds"
	_cbw_expect m2 state=setup in_snapshot=$((WORKERS * PER))
	_msg m2 start
	_cbw_expect m2 state=active in_snapshot=$((WORKERS * PER)) to_copy=$((WORKERS * PER))
	_dm_remove m2

	_log "2. a start while the adds run"
	_dm_create m2 "0 $big cbw /dev/mapper/m2zero /dev/ram0 8 1 incremental"
	run_adders m2 1.5
	errs=$(cat "$CBW_TMP"/add.* | grep -v '^ok \|^busy ')
	[ -z "$errs" ] || _fail "adds that failed other than with EBUSY: $(head -3 <<<"$errs")"
	ok=$(cat "$CBW_TMP"/add.* | grep -c '^ok ')
	busy=$(cat "$CBW_TMP"/add.* | grep -c '^busy ')
	_log "$ok adds before the start, $busy refused after it"
	_expect_eq $((ok + busy)) $((WORKERS * PER)) "adds answered"
	_msg m2 map
	_expect_eq "$CBW_MSG_OUT" "$(expected_map ok)" "map after the start"
	_cbw_expect m2 state=active in_snapshot="$ok"
	_dm_remove m2
}
