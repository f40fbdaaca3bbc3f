#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="QEMU iotest 257 on a block device: the write groups, sync modes never/on-success/always x success/failed COW write/cancel; exact changed sets after each step, incremental images equal to the reference"

# 64 MiB origin, 64 KiB chunks: 1024 chunks.  A model of the changed set
# (like iotest 257's EmulatedBitmap) says what the kernel's must be after
# each step; the backups are made by hand through snapshot-access (dd per
# chunk), so this tests the kernel alone.
K=64
CHUNKS=1024

# The write groups of iotest 257: "BYTE OFFSET LENGTH", offsets in bytes.
GROUP0=("0x49 0x0000000 64k" "0x6c 0x0100000 64k" "0x6f 0x2000000 64k" "0x76 0x3ff0000 64k")
GROUP1=("0x65 0x0000000 64k" "0x77 0x00f8000 64k" "0x72 0x2008000 64k" "0x69 0x3fe0000 64k")
GROUP2=("0x74 0x0010000 64k" "0x69 0x00e8000 64k" "0x6e 0x2018000 64k" "0x67 0x3fe0000 128k")
GROUP3=("0xaa 0x0010000 192k" "0xbb 0x00d8000 64k" "0xcc 0x2028000 64k" "0xdd 0x3fc0000 64k")

# model_dirty GROUP_ARRAY: add the chunks the group's writes touch to the
# model (MODEL, an associative array of chunk numbers).
model_dirty() {
	local -n g=$1
	local p b o l first last c
	for p in "${g[@]}"; do
		read -r b o l <<<"$p"
		l=$((${l%k} * 1024))
		first=$((o / (K * 1024))) last=$(((o + l - 1) / (K * 1024)))
		for ((c = first; c <= last; c++)); do
			MODEL[$c]=1
		done
	done
}

# track_is GEN SET: the track group's generation, changed count and set
# word match; the changed set's runs match the model.
track_is() {
	local -a w
	read -ra w <<<"$(dmsetup status trk)"
	_expect_eq "${w[*]:22:3}" "$1 ${#MODEL[@]} $2" "$CASE: generation, changed chunks, set"
	_msg trk track_map && _expect_eq "$CBW_MSG_OUT" "$(_runs_of MODEL)" "$CASE: changed chunks"
}

# copy_dev DEV FILE: DEV's data, past the page cache (the writes through
# dm do not update /dev/ram0's).
copy_dev() {
	dd if="$1" of="$2" bs=1M iflag=direct status=none || _fail "copy of $1"
}

reload() {
	_expect_ok "suspend $1" dmsetup suspend "$1"
	_expect_ok "load $1" dmsetup load "$1" --table "$2"
	_expect_ok "resume $1" dmsetup resume "$1"
}

# backup_chunks IMAGE LIMIT [AFTER_CMD AT]: copy the snapshot's chunks
# (its map) one by one from trk-snap into IMAGE, at most LIMIT of them;
# after AT chunks run AFTER_CMD.  Sets DONE (chunks read) and FAILED.
backup_chunks() {
	local img=$1 limit=$2 after=${3:-} at=${4:--1} runs r c n=0
	DONE=() FAILED=()
	_msg trk map || return 1
	runs=${CBW_MSG_OUT% end}
	for r in $runs; do
		for ((c = ${r%-*}; c <= ${r#*-}; c++)); do
			[ "$n" = "$at" ] && $after
			if [ "$n" -ge "$limit" ]; then
				return 0
			fi
			n=$((n + 1))
			if dd if=/dev/mapper/trk-snap of="$img" bs=${K}k count=1 skip="$c" \
				seek="$c" iflag=direct conv=notrunc status=none 2>/dev/null; then
				DONE+=("$c")
			else
				FAILED+=("$c")
			fi
		done
	done
	[ "$n" = "$at" ] && $after
	return 0
}

write_group2() {
	if [ "$OUTCOME" = failure ]; then
		reload cowdev "0 $((16 * 2048)) error"
	fi
	_pattern_write_all /dev/mapper/trk "${GROUP2[@]}"
}

# run_case MODE OUTCOME: one cell of the matrix.
run_case() {
	local mode=$1 outcome=$2 sz=$((CHUNKS * K * 2)) c ok
	local -A BACKED
	CASE="$mode/$outcome" OUTCOME=$outcome
	_log "--- $CASE"
	MODEL=()

	# The origin as after group 0 (made once, in test_main).
	dd if="$CBW_TMP/full0" of=/dev/ram0 bs=1M oflag=direct status=none ||
		_die "origin"
	_dm_create cowdev "0 $((16 * 2048)) linear /dev/ram1 0"
	_dm_create trk "0 $sz cbw /dev/ram0 - 128 1 track"
	# A new history: every chunk counts as changed, so its first backup
	# is the full one (iotest 257's reference backup before the bitmap).
	for ((c = 0; c < CHUNKS; c++)); do MODEL[$c]=1; done
	track_is 1 -
	reload trk "0 $sz cbw /dev/ram0 /dev/mapper/cowdev 128 1 track"
	_cbw_expect trk in_snapshot=$CHUNKS
	# The full backup, read once (the first case): the same in each.
	if [ ! -e "$CBW_TMP/img0" ]; then
		_dm_create trk-snap "0 $sz snapshot-access /dev/mapper/trk" --readonly
		_expect_ok "$CASE: full backup" dd if=/dev/mapper/trk-snap \
			of="$CBW_TMP/img0" bs=1M iflag=direct status=none
		_expect_ok "$CASE: the full image" cmp "$CBW_TMP/img0" "$CBW_TMP/full0"
		_dm_remove trk-snap
	fi
	_msg trk commit
	reload trk "0 $sz cbw /dev/ram0 - 128 1 track"
	MODEL=()
	track_is 2 -

	_pattern_write_all /dev/mapper/trk "${GROUP1[@]}"
	model_dirty GROUP1
	track_is 2 -
	copy_dev /dev/ram0 "$CBW_TMP/ref1"

	# Backup 1: incremental on top of the full image, with group 2 written
	# half-way through it.
	reload trk "0 $sz cbw /dev/ram0 /dev/mapper/cowdev 128 3 track on_error drop"
	local -A SET1
	for c in "${!MODEL[@]}"; do SET1[$c]=1; done
	_dm_create trk-snap "0 $sz snapshot-access /dev/mapper/trk" --readonly
	cp "$CBW_TMP/img0" "$CBW_TMP/img1"
	case $outcome in
	cancel) backup_chunks "$CBW_TMP/img1" 3 write_group2 3 ;;
	*) backup_chunks "$CBW_TMP/img1" $CHUNKS write_group2 3 ;;
	esac
	_log "$CASE: backup 1 read ${#DONE[@]} chunks, ${#FAILED[@]} failed (${FAILED[*]})"
	for c in "${DONE[@]}"; do BACKED[$c]=1; done
	MODEL=()
	model_dirty GROUP2
	track_is 3 pending:2
	case $outcome in
	success)
		_expect_eq "${#FAILED[@]}" 0 "$CASE: failed reads"
		_expect_ok "$CASE: image 1 is the point in time" cmp "$CBW_TMP/img1" "$CBW_TMP/ref1"
		;;
	failure)
		# Chunks 513 and 1022, copied for group 2 after the COW failed,
		# were dropped before the backup read them (15 was read before).
		_expect_eq "${FAILED[*]}" "513 1022" "$CASE: failed reads"
		_cbw_expect trk dropped=3
		;;
	cancel)
		_expect_eq "${DONE[*]}" "0 15 16" "$CASE: chunks read before the cancel"
		;;
	esac
	for c in "${DONE[@]}"; do
		_expect_ok "$CASE: chunk $c of image 1" cmp -n $((K * 1024)) \
			-i $((c * K * 1024)) "$CBW_TMP/img1" "$CBW_TMP/ref1"
	done

	# The sync mode decides what is committed.
	ok=$([ "$outcome" = success ] && echo y)
	case $mode in
	on-success) [ -n "$ok" ] && _msg trk commit ;;
	always)
		if [ -n "$ok" ]; then
			_msg trk commit
		elif [ "${#DONE[@]}" -gt 0 ]; then
			_msg trk commit "${DONE[@]}"
		fi
		;;
	esac
	_dm_remove trk-snap
	reload trk "0 $sz cbw /dev/ram0 - 128 1 track"
	reload cowdev "0 $((16 * 2048)) linear /dev/ram1 0"
	# Model: what was not committed merges back.
	local gen=3 base=img0
	if [ "$mode" = never ] || { [ "$mode" = on-success ] && [ -z "$ok" ]; }; then
		for c in "${!SET1[@]}"; do MODEL[$c]=1; done
		gen=2
	elif [ -z "$ok" ]; then
		for c in "${!SET1[@]}"; do [ -n "${BACKED[$c]:-}" ] || MODEL[$c]=1; done
	fi
	# Backup 2 builds on image 1 whenever its chunks were committed.
	[ "$gen" = 3 ] && base=img1
	track_is $gen -

	_pattern_write_all /dev/mapper/trk "${GROUP3[@]}"
	model_dirty GROUP3
	track_is $gen -
	copy_dev /dev/ram0 "$CBW_TMP/ref2"

	# Backup 2: always succeeds; the chain gives the point in time.
	reload trk "0 $sz cbw /dev/ram0 /dev/mapper/cowdev 128 3 track on_error drop"
	_dm_create trk-snap "0 $sz snapshot-access /dev/mapper/trk" --readonly
	cp "$CBW_TMP/$base" "$CBW_TMP/img2"
	backup_chunks "$CBW_TMP/img2" $CHUNKS
	_expect_eq "${#FAILED[@]}" 0 "$CASE: failed reads of backup 2"
	_expect_eq "${#DONE[@]}" "${#MODEL[@]}" "$CASE: chunks read by backup 2"
	_expect_ok "$CASE: image 2 on $base is the point in time" cmp "$CBW_TMP/img2" "$CBW_TMP/ref2"
	[ "$mode" = never ] || _msg trk commit
	_dm_remove trk-snap
	reload trk "0 $sz cbw /dev/ram0 - 128 1 track"
	if [ "$mode" = never ]; then
		track_is $gen -
	else
		MODEL=()
		track_is $((gen + 1)) -
	fi
	_dm_remove trk
	_dm_remove cowdev
}

test_main() {
	local mode outcome

	_brd_setup 2 64
	_tmpdir
	_pattern_write_all /dev/ram0 "${GROUP0[@]}"
	copy_dev /dev/ram0 "$CBW_TMP/full0"
	for mode in never on-success always; do
		for outcome in success failure cancel; do
			run_case $mode $outcome
		done
	done
}
