#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="tracking under faults: COW write errors, a stuck COW device and a full one, x fail/break/drop, with a suspend or a reload of the snapshot in the middle and a backup reading: when the backup fails, no change is lost (the changed set is exactly the snapshot's set and every write tried)"

# 4 MiB origin fo (dm-linear over RAM disk 0), 8 KiB chunks: 512 chunks.
# The COW device fc is dm-linear over RAM disk 1 (or 8 slots of it, for
# "full").  Each case: a track-only table trk on fo; writes to every third
# chunk (set 1); trk reloaded as a track snapshot (set 1 pending) with
# the case's policy; a backup (dd of the snapshot, in a loop) reads;
# batch A of writes; the fault on; batch B of writes in the background,
# while trk is suspended and resumed (or reloaded as a second track
# snapshot); the fault off after 1.5 s; batch C.  No commit: the backup
# failed.  Back to a track-only table, the changed set must be exactly set
# 1 and every chunk a write tried (also the writes that failed: a chunk is
# marked before its copy), in generation 1.
CHUNK=16	# sectors
NCHUNKS=512
SZ=$((NCHUNKS * CHUNK))

# plan SEED COUNT: COUNT 4 KiB writes at seeded random chunks, as qemu-io
# commands in ARGS; their chunks join MODEL.  (In the foreground: a
# background subshell's MODEL would be lost.)
plan() {
	local seed=$1 n=$2 i c
	RANDOM=$seed
	ARGS=()
	for ((i = 0; i < n; i++)); do
		c=$((RANDOM % NCHUNKS))
		MODEL[$c]=1
		ARGS+=(-c "aio_write -P 0x5a $((c * CHUNK * 512 + (RANDOM % 2) * 4096)) 4k")
	done
}

# writes: run the planned writes (aio, one qemu-io run).  Write errors are
# expected under some faults and ignored.
writes() {
	qemu-io -f raw -n "${ARGS[@]}" -c aio_flush /dev/mapper/trk >/dev/null 2>&1
	return 0
}

reload() {
	dmsetup suspend "$1" && dmsetup load "$1" --table "$2" &&
		dmsetup resume "$1"
}

fault_on() {
	case $1 in
	cow_write) reload fc "0 $COW_SZ error" ;;
	stuck) dmsetup suspend --nolockfs --noflush fc ;;
	full) : ;;	# fc is 8 slots from the start
	esac
}

fault_off() {
	case $1 in
	cow_write) reload fc "0 $COW_SZ linear /dev/ram1 0" ;;
	stuck) dmsetup resume fc ;;
	full) : ;;
	esac
}

# run_case FAULT POLICY MIDDLE: MIDDLE is suspend or reload.
run_case() {
	local fault=$1 policy=$2 middle=$3 c snap reader bpid mpid i
	local case="$fault/$policy/$middle" seed=$((${#CASES_DONE} + 7))
	_log "--- $case"
	MODEL=()
	COW_SZ=$SZ
	[ "$fault" = full ] && COW_SZ=$((8 * CHUNK))
	_dm_create fo "0 $SZ linear /dev/ram0 0"
	_dm_create fc "0 $COW_SZ linear /dev/ram1 0"
	_dm_create trk "0 $SZ cbw /dev/mapper/fo - $CHUNK 1 track"
	# A new history counts every chunk as changed: give it a known past
	# (as a restore does), with no chunk changed yet.
	_msg trk track_id 01234567-89ab-cdef-0123-456789abcdef 1
	local set1=()
	for ((c = 0; c < NCHUNKS; c += 3)); do
		set1+=("$c")
		MODEL[$c]=1
	done
	_msg trk track_add "${set1[@]}"

	snap="0 $SZ cbw /dev/mapper/fo /dev/mapper/fc $CHUNK 5 track on_error $policy timeout 500"
	reload trk "$snap" || _fail "$case: snapshot table"
	_dm_create trk-snap "0 $SZ snapshot-access /dev/mapper/trk" --readonly
	# The backup: reads the snapshot again and again until stopped.
	rm -f "$CBW_TMP/stop"
	(while [ ! -e "$CBW_TMP/stop" ]; do
		dd if=/dev/mapper/trk-snap of=/dev/null bs=64k iflag=direct status=none 2>/dev/null
	done) &
	reader=$!

	plan $seed 40
	writes
	fault_on "$fault" || _fail "$case: fault on"
	plan $((seed + 1)) 60
	writes &
	bpid=$!
	sleep 0.3
	# In the background: the suspend waits for the snapshot reads in
	# flight, which a stuck COW device holds until the fault is lifted.
	if [ "$middle" = reload ]; then
		# A second snapshot: the first one's set merges back first.
		# Discarded copies may still write the stuck COW device: the
		# resume is then refused (EBUSY) until they end, and retried.
		reload trk "$snap" >"$CBW_TMP/middle" 2>&1 &
	else
		(dmsetup suspend trk && dmsetup resume trk) >"$CBW_TMP/middle" 2>&1 &
	fi
	mpid=$!
	sleep 1.2
	fault_off "$fault" || _fail "$case: fault off"
	_wait_pid $mpid 60000 || _fail "$case: the $middle did not end after the fault"
	wait $mpid || _log "$case: $middle: $(head -c 200 "$CBW_TMP/middle")"
	for ((i = 0; i < 20; i++)); do
		dmsetup info trk | grep -q '^State: *ACTIVE' && break
		dmsetup resume trk 2>/dev/null && break
		sleep 0.5
	done
	_wait_pid $bpid 60000 || _fail "$case: batch B did not end"
	plan $((seed + 2)) 40
	writes
	touch "$CBW_TMP/stop"
	_wait_pid $reader 60000 || _fail "$case: the backup did not stop"
	_dm_remove trk-snap

	# No commit: the backup failed.  Everything merges back.
	reload trk "0 $SZ cbw /dev/mapper/fo - $CHUNK 1 track" || _fail "$case: track-only table"
	local -a w
	read -ra w <<<"$(dmsetup status trk)"
	_expect_eq "${w[*]:22:3}" "1 ${#MODEL[@]} -" "$case: generation, changed chunks, set"
	_msg trk track_map && _expect_eq "$CBW_MSG_OUT" "$(_runs_of MODEL)" "$case: changed chunks"
	_dm_remove trk
	_dm_remove fc
	_dm_remove fo
	CASES_DONE+=x
}

test_main() {
	local fault policy middle
	CASES_DONE=
	_tmpdir
	_brd_setup 2 4
	for fault in cow_write stuck full; do
		for policy in fail break drop; do
			# One reload per fault and policy pair, alternating.
			middle=suspend
			[ $(((${#CASES_DONE} % 2))) = 0 ] && middle=reload
			run_case $fault $policy $middle
		done
	done
}
