#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_02: cbwctl create with features and --bitmap, bitmap import
# from a real dm-era device, map, and bad bitmap files, on RAM disks.
#
# Scenario and expected results:
#   - create --timeout 500 --on-error drop --no-discard-passdown puts the
#     three features into the table (dmsetup table) and the status shows
#     policy drop and timeout 500; map lists the whole device.
#   - A COW of exactly one chunk is accepted (one slot); one byte less is
#     refused with exit 3.
#   - create --bitmap with a ranges file (comments, blank lines, a run, a
#     single chunk, the last chunk): the table has the incremental
#     feature, exactly those chunks are readable through NAME-snap (with
#     the origin's data), every other read fails with ENODATA; a write to
#     a chunk of the set is copied, one outside it is not.  map prints the
#     runs in bytes, --chunks in chunk numbers, --json the same in JSON;
#     the --chunks output read back by create --bitmap gives the same map.
#     A raw bitmap is detected and gives its chunks.
#   - dm-era over the origin with 64 KiB era blocks: blocks written in era
#     1, a checkpoint, blocks written in era 2 (one run, single blocks, the
#     last block), a metadata snapshot, era_invalidate --written-since 2.
#     On a cbw device made by dmsetup with the incremental feature and
#     4 KiB chunks, 'bitmap import --no-start' of a ranges file (standard
#     input) and then
#     'bitmap import' of the era_invalidate output (era blocks larger
#     than chunks) give exactly the union: the chunks of the blocks written
#     in era 2 and the listed chunk, not those of era 1.  The set-up has
#     ended, the written data reads back, the rest fails with ENODATA.
#     create --bitmap with the same output and 1 MiB chunks (era blocks
#     smaller than chunks) gives the chunks that hold a written block.
#   - Bad input: every syntax error exits 2 naming FILE:LINE, a range,
#     bit or era block outside the device exits 7, bad options exit 2, a
#     missing or foreign NAME exits 4, NAME not in set-up exits 6; each is
#     one line on stderr and nothing on stdout; no device is left behind
#     and a device in set-up keeps its (empty) set.

DESCRIPTION="cbwctl: create --timeout/--on-error/--bitmap, bitmap import from dm-era, map, bad bitmaps"

requires() {
	local t
	for t in cbwctl qemu-io dmsetup blockdev era_invalidate jq; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
	_require_target era dm-era || return 1
}

# words TEXT: TEXT with each run of blanks made one space.
words() {
	# shellcheck disable=SC2086  # the splitting is the point
	echo $1
}

# cbwctl_fails CODE PATTERN ARG...: _cbwctl_fails, and the NAMEs that
# failed creates use (cbwtc3, cbwtb4) must not exist afterwards.
cbwctl_fails() {
	local left
	_cbwctl_fails "$@"
	left=$(dmsetup ls | awk '$1 ~ /^(cbwtc3|cbwtb4)/ { print $1 }')
	[ -z "$left" ] || _fail "cbwctl ${*:3}: left $left behind"
}

# cbwctl_create NAME ARG...: 'cbwctl create NAME ARG...' must succeed,
# print the two nodes and nothing on stderr.
cbwctl_create() {
	local name=$1 out
	if ! out=$(cbwctl create "$@" 2>"$CBW_TMP/err"); then
		_die "cbwctl create $*: $(<"$CBW_TMP/err")"
	fi
	CBW_DM_DEVS+=("$name" "$name-snap")
	_expect_eq "$out" "$(printf '/dev/mapper/%s\n/dev/mapper/%s-snap' "$name" "$name")" \
		"cbwctl create $name output"
	[ ! -s "$CBW_TMP/err" ] || _fail "cbwctl create $name: stderr '$(<"$CBW_TMP/err")'"
}

# cbwctl_remove NAME: must succeed and leave neither device.
cbwctl_remove() {
	local out
	out=$(cbwctl remove "$1" 2>&1) || _fail "cbwctl remove $1: $out"
	_dm_forget "$1-snap"
	_dm_forget "$1"
}

# expect_out WHAT WANT ARG...: 'cbwctl ARG...' succeeds, prints WANT on
# stdout and nothing on stderr.
expect_out() {
	local what=$1 want=$2 out
	shift 2
	if ! out=$(cbwctl "$@" 2>"$CBW_TMP/err"); then
		_fail "$what: cbwctl $* failed: $(<"$CBW_TMP/err")"
		return 1
	fi
	_expect_eq "$out" "$want" "$what"
	[ ! -s "$CBW_TMP/err" ] || _fail "$what: stderr '$(<"$CBW_TMP/err")'"
}

# The map of NAME in chunk numbers, from --json (checks that the JSON
# agrees with --chunks and the byte form).
check_map() {
	local name=$1 chunks=$2 bytes=$3 json
	expect_out "$name map --chunks" "$chunks" map --chunks "$name"
	expect_out "$name map" "$bytes" map "$name"
	json=$(cbwctl map --json "$name") || { _fail "cbwctl map --json $name failed"; return 1; }
	_expect_eq "$(jq -r '.runs[] | "\(.first_chunk)-\(.last_chunk)"' <<<"$json")" "$chunks" \
		"$name map --json runs"
	_expect_eq "$(jq -r '.runs[] | "\(.start) \(.length)"' <<<"$json")" "$bytes" \
		"$name map --json bytes"
}

test_features() {
	local S=$1 out
	_log "create --timeout --on-error --no-discard-passdown"
	cbwctl_create cbwtc1 --origin /dev/ram0 --cow /dev/ram1 --timeout 500 \
		--on-error drop --no-discard-passdown
	_expect_eq "$(dmsetup table cbwtc1)" \
		"0 $S cbw $(_devno /dev/ram0) $(_devno /dev/ram1) 128 5 timeout 500 on_error drop no_discard_passdown" \
		"cbwtc1 table"
	_cbw_expect cbwtc1 policy=drop timeout=500 state=active in_snapshot=1024
	out=$(cbwctl status --noheadings cbwtc1)
	[[ $out =~ ^cbwtc1\ .*\ active\ +valid\ *$ ]] || _fail "cbwctl status cbwtc1: '$out'"
	check_map cbwtc1 "0-1023" "0 67108864"
	_msg cbwtc1 on_error break
	_msg cbwtc1 timeout 0
	_cbw_expect cbwtc1 policy=break timeout=0
	cbwctl_remove cbwtc1

	cbwctl_create cbwtc2 --origin /dev/ram0 --cow /dev/ram1 --on-error break --timeout 0
	_expect_eq "$(dmsetup table cbwtc2)" \
		"0 $S cbw $(_devno /dev/ram0) $(_devno /dev/ram1) 128 2 on_error break" \
		"cbwtc2 table (timeout 0 is the default)"
	cbwctl_remove cbwtc2

	_log "a COW of one chunk works; one sector less is refused"
	_dm_create cbwtest-cow1 "0 128 linear /dev/ram3 0"
	_dm_create cbwtest-cow0 "0 120 linear /dev/ram3 1024"
	cbwctl_create cbwtc3 --origin /dev/ram0 --cow /dev/mapper/cbwtest-cow1
	_cbw_expect cbwtc3 slots=0/1
	cbwctl_remove cbwtc3
	cbwctl_fails 3 "COW device /dev/mapper/cbwtest-cow0 \(60KiB\) is smaller than one chunk \(64KiB\)" \
		create cbwtc3 --origin /dev/ram0 --cow /dev/mapper/cbwtest-cow0
	_dm_remove cbwtest-cow0
	_dm_remove cbwtest-cow1
}

test_bitmap_ranges() {
	local f=$CBW_TMP/set.txt chunks bytes
	_log "create --bitmap with a ranges file"
	_pattern_write_all /dev/ram0 "0x11 0 8M" "0x11 63M 1M"
	printf '# chunks of 64KiB\n\n0-1\n  16\t# one\n100-103\n1023\n101\n' >"$f"
	cbwctl_create cbwtb1 --origin /dev/ram0 --cow /dev/ram1 --bitmap "$f"
	_expect_eq "$(dmsetup table cbwtb1)" \
		"0 $(_size_sectors /dev/ram0) cbw $(_devno /dev/ram0) $(_devno /dev/ram1) 128 1 incremental" \
		"cbwtb1 table"
	_cbw_expect cbwtb1 state=active in_snapshot=8 to_copy=8 copied=0
	chunks=$'0-1\n16-16\n100-103\n1023-1023'
	bytes=$'0 131072\n1048576 65536\n6553600 262144\n67043328 65536'
	check_map cbwtb1 "$chunks" "$bytes"
	_pattern_check_all /dev/mapper/cbwtb1-snap "0x11 0 128k" "0x11 1M 64k" \
		"0x11 6400k 256k" "0x11 65472k 64k"
	_read_nodata /dev/mapper/cbwtb1-snap "128k 64k" "960k 64k" "1088k 4k" \
		"6336k 64k" "6656k 64k" "65408k 64k" "32M 4k"

	_log "writes: copied inside the set, not outside it"
	_pattern_write_all /dev/mapper/cbwtb1 "0x22 1M 4k" "0x22 2M 4k"
	_cbw_expect cbwtb1 copied=1 to_copy=7 in_snapshot=8 slots=1/1024
	_pattern_check_all /dev/mapper/cbwtb1-snap "0x11 1M 64k"
	_pattern_check_all /dev/mapper/cbwtb1 "0x22 1M 4k" "0x22 2M 4k"
	_read_nodata /dev/mapper/cbwtb1-snap "2M 4k"

	_log "the map read back"
	cbwctl map --chunks cbwtb1 >"$CBW_TMP/map.txt"
	cbwctl_remove cbwtb1
	cbwctl_create cbwtb1 --origin /dev/ram0 --cow /dev/ram1 --bitmap "$CBW_TMP/map.txt" \
		--bitmap-format ranges
	check_map cbwtb1 "$chunks" "$bytes"
	cbwctl_remove cbwtb1

	_log "a raw bitmap, detected"
	printf '\x03\x00\x01' >"$CBW_TMP/set.raw"
	cbwctl_create cbwtb1 --origin /dev/ram0 --cow /dev/ram1 --bitmap "$CBW_TMP/set.raw"
	check_map cbwtb1 $'0-1\n16-16' $'0 131072\n1048576 65536'
	cbwctl_remove cbwtb1

	_log "an empty set"
	: >"$CBW_TMP/empty"
	cbwctl_create cbwtb1 --origin /dev/ram0 --cow /dev/ram1 --bitmap "$CBW_TMP/empty"
	_cbw_expect cbwtb1 state=active in_snapshot=0
	check_map cbwtb1 "" ""
	_read_nodata /dev/mapper/cbwtb1-snap "0 4k"
	cbwctl_remove cbwtb1
}

# era_setup: dm-era over /dev/ram0 with 64 KiB blocks (metadata on
# /dev/ram2), writes in era 1 and 2, then era_invalidate --written-since 2
# into $CBW_TMP/era.xml.
era_setup() {
	local S=$1 out
	_dm_create cbwtera "0 $S era /dev/ram2 /dev/ram0 128"
	_pattern_write_all /dev/mapper/cbwtera "0x44 320k 4k" "0x44 40M 64k"
	_msg cbwtera checkpoint
	_pattern_write_all /dev/mapper/cbwtera "0x33 0 64k" "0x33 1M 4k" "0x33 3M 128k" \
		"0x33 67104768 4096"
	_msg cbwtera take_metadata_snap
	if ! out=$(era_invalidate --metadata-snapshot --written-since 2 /dev/ram2 2>&1); then
		_die "era_invalidate: $out"
	fi
	_msg cbwtera drop_metadata_snap
	printf '%s\n' "$out" >"$CBW_TMP/era.xml"
	_log "era_invalidate: $(words "$out")"
	# Blocks 0, 16, 48-49 and 1023: the writes of era 2, not those of era 1.
	[[ $(words "$out") == *'<block block="0"/> <block block="16"/> <range begin="48" end'*'"50"/> <block block="1023"/>'* ]] ||
		_fail "era_invalidate output: $out"
}

test_era() {
	local S=$1 era_dev out
	_log "dm-era: blocks written since era 2"
	era_setup "$S"
	era_dev=$(_devno /dev/mapper/cbwtera)

	_log "bitmap import on a cbw device in incremental set-up (4KiB chunks)"
	_dm_create cbwtb2 "0 $S cbw $era_dev $(_devno /dev/ram1) 8 1 incremental"
	_cbw_expect cbwtb2 state=setup in_snapshot=0
	echo 5000 >"$CBW_TMP/one.txt"
	expect_out "bitmap import - --no-start" "" bitmap cbwtb2 import - --no-start \
		<"$CBW_TMP/one.txt"
	_cbw_expect cbwtb2 state=setup in_snapshot=1
	expect_out "bitmap import era" "" bitmap cbwtb2 import "$CBW_TMP/era.xml" \
		--era-block-size 128
	_cbw_expect cbwtb2 state=active in_snapshot=81 to_copy=81
	check_map cbwtb2 $'0-15\n256-271\n768-799\n5000-5000\n16368-16383' \
		$'0 65536\n1048576 65536\n3145728 131072\n20480000 4096\n67043328 65536'
	_dm_create cbwtb2-snap "0 $S snapshot-access $(_devno /dev/mapper/cbwtb2)" --readonly
	_pattern_check_all /dev/mapper/cbwtb2-snap "0x33 0 64k" "0x33 1M 4k" "0x33 3M 128k" \
		"0x33 67104768 4096" "0x11 1028k 60k" "0 20480000 4096"
	_read_nodata /dev/mapper/cbwtb2-snap "320k 4k" "40M 4k" "64k 4k" "1088k 4k" \
		"3141632 4096" "20484096 4096"
	_dm_remove cbwtb2-snap
	_dm_remove cbwtb2

	_log "create --bitmap with era_invalidate output, 1MiB chunks"
	cbwctl_create cbwtb3 --origin /dev/mapper/cbwtera --cow /dev/ram1 --chunk 1M \
		--bitmap "$CBW_TMP/era.xml" --era-block-size 128
	check_map cbwtb3 $'0-1\n3-3\n63-63' $'0 2097152\n3145728 1048576\n66060288 1048576'
	_pattern_check_all /dev/mapper/cbwtb3-snap "0x33 0 64k" "0x11 64k 256k" "0x44 320k 4k" \
		"0x11 324k 700k" "0x33 3M 128k"
	_read_nodata /dev/mapper/cbwtb3-snap "2M 4k" "40M 4k"
	cbwctl_remove cbwtb3
	_dm_remove cbwtera
}

test_bad_input() {
	local S=$1 f=$CBW_TMP/bad create=(create cbwtb4 --origin /dev/ram0 --cow /dev/ram1)

	_log "bad bitmap files for create: exit 2 (syntax) or 7 (outside)"
	cbwctl_fails 2 "cannot open $CBW_TMP/none: No such file or directory" \
		"${create[@]}" --bitmap "$CBW_TMP/none"
	printf '1\n# fine\nabc\n' >"$f"
	cbwctl_fails 2 "$f:3: invalid range 'abc': not a number" "${create[@]}" --bitmap "$f"
	printf '5-3\n' >"$f"
	cbwctl_fails 2 "$f:1: invalid range '5-3': it ends before it starts" "${create[@]}" --bitmap "$f"
	cbwctl_fails 2 "\(standard input\):1: invalid range '5-3'" "${create[@]}" --bitmap - <"$f"
	printf '1023\n1024\n' >"$f"
	cbwctl_fails 7 "$f:2: range '1024' is outside the device: its last chunk is 1023" \
		"${create[@]}" --bitmap "$f"
	printf '0-1023\n' >"$f"
	cbwctl_fails 7 "$f:1: range '0-1023' is outside the device: its last chunk is 63" \
		"${create[@]}" --bitmap "$f" --chunk 1M
	{ head -c 128 /dev/zero; printf '\x01'; } >"$f"
	cbwctl_fails 7 "$f: bit 0 of byte 128 is set: chunk 1024 is outside the device, which has 1024 chunks" \
		"${create[@]}" --bitmap "$f"
	# Text read as raw: '1' is 0x31, chunks 0, 4 and 5; 64M chunks: one chunk.
	printf '1\n' >"$f"
	cbwctl_fails 7 "$f: bit 4 of byte 0 is set: chunk 4 is outside the device, which has 1 chunks" \
		"${create[@]}" --bitmap "$f" --bitmap-format raw --chunk 64M
	cbwctl_fails 2 "$CBW_TMP/era.xml is era_invalidate output: the era block size is needed" \
		"${create[@]}" --bitmap "$CBW_TMP/era.xml"
	cbwctl_fails 7 "$CBW_TMP/era.xml:5: era block 1023 is outside the device \(1024 chunks of 128 sectors, era blocks of 256 sectors\)" \
		"${create[@]}" --bitmap "$CBW_TMP/era.xml" --era-block-size 256
	printf '<blocks>\n<range begin="3"/>\n</blocks>\n' >"$f"
	cbwctl_fails 2 "$f:2: <range> without the attribute 'end'" \
		"${create[@]}" --bitmap "$f" --era-block-size 128
	printf '<blocks>\n<block block="1">\n</blocks>\n' >"$f"
	cbwctl_fails 2 "$f:3: mismatched tag" "${create[@]}" --bitmap "$f" --era-block-size 128
	cbwctl_fails 2 "$f:1: invalid range '<blocks>': not a number" \
		"${create[@]}" --bitmap "$f" --bitmap-format ranges

	_log "bad options: exit 2"
	cbwctl_fails 2 "invalid --bitmap-format 'xml': want ranges, raw or era" \
		"${create[@]}" --bitmap "$f" --bitmap-format xml
	cbwctl_fails 2 "--bitmap-format needs --bitmap FILE" "${create[@]}" --bitmap-format raw
	cbwctl_fails 2 "--era-block-size needs --bitmap FILE" "${create[@]}" --era-block-size 8
	cbwctl_fails 2 "invalid --era-block-size '0': it is 0" "${create[@]}" --bitmap "$f" \
		--era-block-size 0
	cbwctl_fails 2 "invalid --era-block-size '4294967296': too large" "${create[@]}" \
		--bitmap "$f" --era-block-size 4294967296
	cbwctl_fails 2 "invalid --timeout '86400001': too large" "${create[@]}" --timeout 86400001
	cbwctl_fails 2 "invalid --timeout '5s': not a number" "${create[@]}" --timeout 5s
	cbwctl_fails 2 "invalid --on-error 'explode': want fail, break or drop" "${create[@]}" \
		--on-error explode
	cbwctl_fails 2 "invalid --on-error 'DROP'" "${create[@]}" --on-error DROP
	cbwctl_fails 2 "'--bitmap' needs a value" "${create[@]}" --bitmap

	_log "bitmap: bad use, wrong devices, bad files"
	_dm_create cbwtb5 "0 $S cbw $(_devno /dev/ram0) $(_devno /dev/ram1) 128 1 incremental"
	cbwctl_fails 2 "unknown action 'export': want import or start" bitmap cbwtb5 export "$f"
	cbwctl_fails 2 "import needs a FILE" bitmap cbwtb5 import
	cbwctl_fails 2 "missing argument" bitmap cbwtb5
	cbwctl_fails 2 "--no-start is an option of import, not start" bitmap cbwtb5 start --no-start
	cbwctl_fails 2 "unexpected argument 'x'" bitmap cbwtb5 start x
	cbwctl_fails 2 "invalid --format 'bits'" bitmap cbwtb5 import "$f" --format bits
	cbwctl_fails 4 "no device cbwtb-none" bitmap cbwtb-none import "$f"
	printf '1024\n' >"$f"
	cbwctl_fails 7 "$f:1: range '1024' is outside the device: its last chunk is 1023" \
		bitmap cbwtb5 import "$f"
	printf '7\n8-x\n' >"$f"
	cbwctl_fails 2 "$f:2: invalid range '8-x': not a number" bitmap cbwtb5 import "$f"
	cbwctl_fails 2 "cannot open $CBW_TMP/none" bitmap cbwtb5 import "$CBW_TMP/none"
	_cbw_expect cbwtb5 state=setup in_snapshot=0
	expect_out "bitmap start" "" bitmap cbwtb5 start
	_cbw_expect cbwtb5 state=active in_snapshot=0
	printf '7\n' >"$f"
	cbwctl_fails 6 "cbwtb5 is not in incremental set-up \(its state is active\)" \
		bitmap cbwtb5 import "$f"
	cbwctl_fails 6 "cbwtb5 is not in incremental set-up" bitmap cbwtb5 start
	_cbw_expect cbwtb5 in_snapshot=0
	_dm_remove cbwtb5
	_dm_create cbwtest-lin "0 128 linear /dev/ram3 0"
	cbwctl_fails 4 "cbwtest-lin is not a cbw device" bitmap cbwtest-lin import "$f"
	cbwctl_fails 4 "cbwtest-lin is not a cbw device" map cbwtest-lin

	_log "map: bad use"
	cbwctl_fails 4 "no device cbwtb-none" map cbwtb-none
	cbwctl_fails 2 "--chunks and --json do not go together" map --chunks --json cbwtest-lin
	cbwctl_fails 2 "missing argument" map
	_dm_remove cbwtest-lin
}

test_main() {
	local S

	_tmpdir
	_brd_setup 4 64
	S=$(_size_sectors /dev/ram0)

	_log "help"
	expect_out "create --help" "$(cbwctl create --help)" create -h
	[[ $(cbwctl map --help | head -n1) == "Usage: cbwctl map [--chunks | --json] NAME" ]] ||
		_fail "map --help"
	[[ $(cbwctl bitmap --help | head -n1) == "Usage: cbwctl bitmap NAME import FILE [OPTION...] | NAME start" ]] ||
		_fail "bitmap --help"
	cbwctl create --help | grep -q -- '--bitmap-format' || _fail "create --help lacks --bitmap-format"

	test_features "$S"
	test_bitmap_ranges
	test_era "$S"
	test_bad_input "$S"

	_expect_eq "$(dmsetup ls | awk '$1 ~ /^cbwt/ { print $1 }')" "" "devices left behind"
}
