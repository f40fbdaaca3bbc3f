#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="low-water dm event once per crossing; a COW device grown under a live snapshot adds slots at the cbw device's next resume, data kept"

# 8 MiB origin, 64 KiB chunks (128); the COW device is a dm-linear of 8
# chunks, later 32.
K=64

test_main() {
	local sz ev

	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)
	# Chunks 0-63 hold 0x11, 64-127 hold 0x22.
	_pattern_write_all /dev/ram0 "0x11 0 4M" "0x22 4M 4M"

	_dm_create cowlin "0 $((8 * 128)) linear /dev/ram1 0"
	_dm_create lw "0 $sz cbw /dev/ram0 /dev/mapper/cowlin 128 2 low_water 4"
	_dm_create lw-snap "0 $sz snapshot-access /dev/mapper/lw" --readonly
	ev=$(_dm_events lw)

	_log "4 copies leave 4 free slots: no event"
	_pattern_write_all /dev/mapper/lw "0xa0 $((0 * K))k 64k" "0xa1 $((10 * K))k 64k" \
		"0xa2 $((20 * K))k 64k" "0xa3 $((70 * K))k 64k"
	_cbw_expect lw copied=4 slots=4/8 state=active
	_expect_eq "$(_dm_events lw)" "$ev" "event number with 4 of 8 slots free"

	_log "the 5th copy leaves 3 (below 4): one event"
	_pattern_write /dev/mapper/lw $((80 * K))k 64k 0xa4
	_cbw_expect lw copied=5 slots=5/8 state=active
	_expect_eq "$(_dm_events lw)" $((ev + 1)) "event number with 3 of 8 slots free"
	_expect_ok "dmsetup wait for the event" timeout 60 dmsetup wait lw "$ev"

	_log "a 6th copy: still below the mark, no second event"
	_pattern_write /dev/mapper/lw $((30 * K))k 64k 0xa5
	_cbw_expect lw copied=6 slots=6/8 copy_errors=0
	_expect_eq "$(_dm_events lw)" $((ev + 1)) "event number with 2 of 8 slots free"

	_log "grow the COW device to 32 slots, suspend and resume the cbw device"
	_expect_ok "load a longer cowlin" dmsetup load cowlin \
		--table "0 $((32 * 128)) linear /dev/ram1 0"
	_expect_ok "resume cowlin" dmsetup resume cowlin
	_log "slots before the cbw resume: $(_cbw_field lw slots)"
	_expect_ok "suspend lw" dmsetup suspend lw
	_expect_ok "resume lw" dmsetup resume lw
	_cbw_expect lw slots=6/32 copied=6 in_snapshot=128 state=active first_error=-
	_access_expect lw-snap state=valid
	_pattern_check_all /dev/mapper/lw-snap "0x11 $((0 * K))k 64k" "0x11 $((10 * K))k 64k" \
		"0x11 $((20 * K))k 64k" "0x11 $((30 * K))k 64k" "0x22 $((70 * K))k 64k" \
		"0x22 $((80 * K))k 64k" "0x11 $((1 * K))k 576k" "0x22 $((127 * K))k 64k"
	ev=$(_dm_events lw)

	_log "10 more copies (2 old slots were free): they land in the new space"
	_pattern_write /dev/mapper/lw $((90 * K))k 640k 0xb0
	_cbw_expect lw copied=16 slots=16/32 copy_errors=0 state=active
	_expect_eq "$(_dm_events lw)" "$ev" "event number with 16 of 32 slots free"
	_pattern_check_all /dev/mapper/lw-snap "0x22 $((90 * K))k 640k" "0x11 $((0 * K))k 64k" \
		"0x22 $((80 * K))k 64k"

	_log "13 more leave 3 of 32 free: the mark is crossed again, one event"
	_pattern_write /dev/mapper/lw $((100 * K))k $((13 * K))k 0xc0
	_cbw_expect lw copied=29 slots=29/32 copy_errors=0 state=active
	_expect_eq "$(_dm_events lw)" $((ev + 1)) "event number with 3 of 32 slots free"
	_pattern_check_all /dev/mapper/lw-snap "0x22 $((90 * K))k 640k" "0x22 $((100 * K))k $((13 * K))k" \
		"0x11 $((0 * K))k 64k" "0x11 $((30 * K))k 64k" "0x22 $((113 * K))k 960k"
	_pattern_check_all /dev/mapper/lw "0xa0 $((0 * K))k 64k" "0xb0 $((90 * K))k 640k" \
		"0xc0 $((100 * K))k $((13 * K))k"

	_dm_remove lw-snap
	_dm_remove lw
	_dm_remove cowlin
}
