#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="change tracking in the kernel: a new history is all changed; a track-only table marks written chunks; a track snapshot takes the changed set; commit, partial commit and merge-back set the next generation; saved identity; table errors"

# 8 MiB origin (a loop device), 64 KiB chunks: 128 chunks.

# track_expect DEV GEN CHANGED SET SETCHUNKS [UUID]: the track group of
# DEV's status (fields 19-23).
track_expect() {
	local dev=$1 line
	local -a w
	line=$(dmsetup status "$dev") || { _fail "status $dev"; return 1; }
	read -ra w <<<"$line"
	[ "${#w[@]}" = 26 ] || { _fail "$dev: ${#w[@]} words of status, expected 26: $line"; return 1; }
	[[ ${w[21]} =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
		_fail "$dev: uuid '${w[21]}' malformed"
	_expect_eq "${w[*]:22:4}" "$2 $3 $4 $5" "$dev: generation, changed, set, set chunks"
	[ -z "${6:-}" ] || _expect_eq "${w[21]}" "$6" "$dev: uuid"
	TRACK_UUID=${w[21]}
}

# changed_map DEV EXPECTED: the track_map of DEV.
changed_map() {
	_msg "$1" track_map && _expect_eq "$CBW_MSG_OUT" "$2" "track_map of $1"
}

# reload DEV TABLE: load TABLE into DEV and resume it.
reload() {
	_expect_ok "suspend $1" dmsetup suspend "$1"
	_expect_ok "load $1 '$2'" dmsetup load "$1" --table "$2"
	_expect_ok "resume $1" dmsetup resume "$1"
}

test_main() {
	local sz uuid uuid2 out O

	_brd_setup 4 8
	# The origin takes discards (brd before 6.2 does not): a loop device.
	_tmpdir
	truncate -s 8M "$CBW_TMP/origin" || _die "no origin file"
	O=$(losetup -f --show "$CBW_TMP/origin") || _die "no loop device"
	_on_cleanup losetup -d "$O"
	sz=$(_size_sectors "$O")
	_pattern_write_all $O "0x11 0 8M"

	_log "a new history counts every chunk as changed: its first snapshot is a full one"
	_dm_create trk "0 $sz cbw $O - 128 1 track"
	_cbw_expect trk chunks=128 in_snapshot=0 to_copy=0 slots=0/0 state=none
	track_expect trk 1 128 - 0
	uuid=$TRACK_UUID
	changed_map trk "0-127 end"
	_pattern_write /dev/mapper/trk 0 4k 0x11
	track_expect trk 1 128 - 0 "$uuid"
	reload trk "0 $sz cbw $O /dev/ram1 128 1 track"
	_cbw_expect trk in_snapshot=128 to_copy=128
	track_expect trk 2 0 pending:1 128 "$uuid"
	_msg trk commit
	reload trk "0 $sz cbw $O - 128 1 track"
	track_expect trk 2 0 - 0 "$uuid"

	_log "a track-only table marks writes, write-zeroes and discards, not reads"
	_pattern_write_all /dev/mapper/trk "0x22 196k 4k" "0x22 640k 192k"
	_expect_ok "discard chunk 20" blkdiscard -f -o 1280k -l 64k /dev/mapper/trk
	_expect_ok "zero chunk 30" blkdiscard -f -z -o 1920k -l 64k /dev/mapper/trk
	_pattern_check /dev/mapper/trk 0 64k 0x11
	_expect_ok "read all" dd if=/dev/mapper/trk of=/dev/null bs=1M iflag=direct status=none
	track_expect trk 2 6 - 0 "$uuid"
	changed_map trk "3-3 10-12 20-20 30-30 end"
	# A write again to marked chunks changes nothing.
	_pattern_write /dev/mapper/trk 640k 4k 0x23
	track_expect trk 2 6 - 0 "$uuid"

	_log "messages of a track-only table"
	_expect_err "map" "Invalid argument" dmsetup message trk 0 map
	_expect_err "break" "Invalid argument" dmsetup message trk 0 break
	_expect_err "commit" "Invalid argument" dmsetup message trk 0 commit
	_expect_err "track_add bad" "Invalid argument" dmsetup message trk 0 track_add 5 128
	_expect_err "track_id short" "Invalid argument" dmsetup message trk 0 track_id "$uuid"
	_expect_err "track_id upper" "Invalid argument" dmsetup message trk 0 \
		track_id "${uuid^^}" 2
	_expect_err "track_id 0" "Invalid argument" dmsetup message trk 0 track_id "$uuid" 0
	track_expect trk 2 6 - 0 "$uuid"

	_log "a track snapshot takes the changed set; tracking goes on into generation 3"
	reload trk "0 $sz cbw $O /dev/ram1 128 1 track"
	_cbw_expect trk in_snapshot=6 to_copy=6 copied=0 state=active
	track_expect trk 3 0 pending:2 6 "$uuid"
	_msg trk map
	_expect_eq "$CBW_MSG_OUT" "3-3 10-12 20-20 30-30 end" "map of the snapshot"
	_expect_err "track_id after a snapshot" "Device or resource busy" \
		dmsetup message trk 0 track_id "$uuid" 9
	_dm_create trk-snap "0 $sz snapshot-access /dev/mapper/trk" --readonly
	_pattern_write /dev/mapper/trk 192k 64k 0x33	# chunk 3: copied first
	_pattern_write /dev/mapper/trk 320k 4k 0x33	# chunk 5: not in the set
	_cbw_expect trk copied=1 to_copy=5
	_pattern_check /dev/mapper/trk-snap 192k 4k 0x11
	_pattern_check /dev/mapper/trk-snap 196k 4k 0x22
	_pattern_check /dev/mapper/trk-snap 640k 4k 0x23
	_read_fails /dev/mapper/trk-snap 320k 4k
	track_expect trk 3 2 pending:2 6 "$uuid"
	changed_map trk "3-3 5-5 end"
	_dm_remove trk-snap

	_log "no commit: the set merges back and the generation goes back to 2"
	reload trk "0 $sz cbw $O - 128 1 track"
	track_expect trk 2 7 - 0 "$uuid"
	changed_map trk "3-3 5-5 10-12 20-20 30-30 end"

	_log "commit: the set is done; generation 3 holds only the writes since"
	reload trk "0 $sz cbw $O /dev/ram1 128 1 track"
	track_expect trk 3 0 pending:2 7 "$uuid"
	_pattern_write /dev/mapper/trk 2560k 4k 0x44	# chunk 40
	_msg trk commit
	track_expect trk 3 1 committed:2 0 "$uuid"
	_expect_err "commit twice" "Invalid argument" dmsetup message trk 0 commit
	_expect_err "commit a range after all" "Invalid argument" dmsetup message trk 0 commit 3
	reload trk "0 $sz cbw $O - 128 1 track"
	track_expect trk 3 1 - 0 "$uuid"
	changed_map trk "40-40 end"

	_log "a partial commit: the rest merges back, the generation goes on"
	_pattern_write /dev/mapper/trk 3200k 384k 0x55	# chunks 50-55
	reload trk "0 $sz cbw $O /dev/ram1 128 1 track"
	track_expect trk 4 0 pending:3 7 "$uuid"
	_expect_err "commit a bad range" "Invalid argument" dmsetup message trk 0 commit 50 128
	track_expect trk 4 0 pending:3 7 "$uuid"
	_msg trk commit 50-52 40
	track_expect trk 4 0 committed:3 3 "$uuid"
	_pattern_write /dev/mapper/trk 6400k 4k 0x66	# chunk 100
	reload trk "0 $sz cbw $O - 128 1 track"
	track_expect trk 4 4 - 0 "$uuid"
	changed_map trk "53-55 100-100 end"

	_log "a snapshot replaced by a snapshot: the first one's set merges first"
	reload trk "0 $sz cbw $O /dev/ram1 128 1 track"
	track_expect trk 5 0 pending:4 4 "$uuid"
	_pattern_write /dev/mapper/trk 0 4k 0x77	# chunk 0
	reload trk "0 $sz cbw $O /dev/ram1 128 1 track"
	track_expect trk 5 0 pending:4 5 "$uuid"
	_msg trk map
	_expect_eq "$CBW_MSG_OUT" "0-0 53-55 100-100 end" "map of the second snapshot"

	_log "suspend and resume of the same table change nothing"
	_expect_ok "suspend" dmsetup suspend trk
	_expect_ok "resume" dmsetup resume trk
	track_expect trk 5 0 pending:4 5 "$uuid"

	_log "table errors"
	_expect_refused bad "0 $sz cbw /dev/ram2 - 128" "Missing COW device needs the track feature"
	_expect_refused bad "0 $sz cbw /dev/ram2 - 128 3 track timeout 5" \
		"Snapshot feature without a COW device"
	_expect_refused bad "0 $sz cbw /dev/ram2 - 128 2 incremental track" \
		"Snapshot feature without a COW device"
	_expect_refused bad "0 $sz cbw /dev/ram2 /dev/ram3 128 2 track incremental" \
		"Features track and incremental are exclusive"
	_expect_refused bad "0 $sz cbw $O - 128 1 track" "Origin already has a cbw target"
	_expect_refused bad "0 $sz cbw $O /dev/ram3 128" "Origin already has a cbw target"
	_expect_ok "suspend" dmsetup suspend trk
	out=$(dmsetup load trk --table "0 $sz cbw $O - 256 1 track" 2>&1) &&
		_fail "a reload with another chunk size was accepted"
	dmesg | tail -n 5 | grep -q "Table does not match the live table's tracking" ||
		_fail "reload with another chunk size: no 'does not match' in the log: $out"
	_expect_ok "resume" dmsetup resume trk
	track_expect trk 5 0 pending:4 5 "$uuid"

	_log "a table without track ends the history; a new one has a new identity"
	reload trk "0 $sz linear $O 0"
	reload trk "0 $sz cbw $O - 128 1 track"
	track_expect trk 1 128 - 0
	[ "$TRACK_UUID" != "$uuid" ] || _fail "the new history kept the uuid $uuid"

	_log "a saved history given back: track_add, then track_id (only the chunks marked count from then on), once"
	uuid2=01234567-89ab-cdef-0123-456789abcdef
	_msg trk track_add 1-3 7 120-127
	_msg trk track_id $uuid2 9
	track_expect trk 9 12 - 0 $uuid2
	_expect_err "track_id twice" "Device or resource busy" \
		dmsetup message trk 0 track_id $uuid2 10
	changed_map trk "1-3 7-7 120-127 end"

	_log "writes from four writers at once to scattered chunks are all marked"
	reload trk "0 $sz linear $O 0"
	reload trk "0 $sz cbw $O - 16 1 track"	# 8 KiB chunks: 1024
	_msg trk track_id $uuid2 1	# a known past: no chunk changed yet
	track_expect trk 1 0 - 0 $uuid2
	local k args
	for k in 0 1 2 3; do
		args=()
		for ((c = k; c < 1024; c += 8)); do
			args+=(-c "aio_write -P 0x$((k + 1))$((k + 1)) $((c * 8))k 4k")
		done
		qemu-io -f raw -n "${args[@]}" -c aio_flush /dev/mapper/trk >/dev/null 2>&1 &
	done
	wait
	track_expect trk 1 512 - 0 $uuid2
	_msg trk track_map
	out=$CBW_MSG_OUT
	# Chunks 0-3, 8-11, ...: 128 runs, then "end".
	_expect_eq "$(wc -w <<<"$out")" 129 "words of the scattered marks' map"
	[[ $out == "0-3 8-11 16-19 "*" 1016-1019 end" ]] ||
		_fail "track_map of the scattered marks: '${out:0:40}...${out: -40}'"
}
