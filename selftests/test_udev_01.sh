#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_udev_01: cbwctl with udev running, and cbwctl's udev rules.
#
# The guest has no udev; this test starts systemd-udevd with the host's
# rules plus udev/12-dm-cbw.rules, installed by 'make install-udev' into
# a scratch folder (to learn the name it gets here) and copied to
# /run/udev/rules.d (the guest's root is read-only; /run is a tmpfs).
# cbwctl and dmsetup run with udev synchronisation (DM_DISABLE_UDEV
# unset).  udevd is stopped and /run/udev removed at the end, so that the
# tests after this one see no udev.
#
# Scenario and expected results:
#   - The rules file is installed as 57-dm-cbw.rules where the dm rules
#     have Debian's names (55-dm.rules), else as 12-dm-cbw.rules.
#   - cbwctl create on an ext4 origin: /dev/mapper/NAME and NAME-snap are
#     udev's links; NAME has the filesystem's properties; NAME-snap has
#     none (no blkid: DM_UDEV_DISABLE_DISK_RULES_FLAG), SYSTEMD_READY=0,
#     UDISKS_IGNORE=1, the link /dev/disk/by-cbw/NAME, and no
#     /dev/disk/by-uuid or by-label link points to it.
#   - cbwctl snapshot under a mounted dm-linear volume vol: vol-real has no
#     filesystem properties, the flags of a hidden layer and only its
#     /dev/mapper link; vol-snap as NAME-snap above, with by-cbw/vol; vol
#     still has its properties and its by-uuid link.  The same after
#     'udevadm trigger' (events without cbwctl's flags: the rules alone).
#   - release and remove: every node and link is gone, vol's table is the
#     one before.
#   - After each command 'udevadm settle' returns at once: nothing pending.
#   - cbwctl create and remove with DM_DISABLE_UDEV=1 (libdevmapper makes
#     the nodes itself) work too and leave nothing.

DESCRIPTION="cbwctl create/snapshot/release/remove with udev running; cbwctl's udev rules"

UDEVD=/lib/systemd/systemd-udevd

requires() {
	local t
	for t in cbwctl dmsetup udevadm mkfs.ext4 blockdev make; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	if [ ! -x $UDEVD ]; then
		_skip_reason "$UDEVD not found (Debian: apt-get install udev)"
		return 1
	fi
	if [ -e /run/udev/control ]; then
		_skip_reason "udev is already running"
		return 1
	fi
	if ! dmsetup targets | grep -q '^cbw '; then
		_skip_reason "the cbw target is not loaded"
		return 1
	fi
}

# settle WHAT: udev has nothing left to do, at once.
settle() {
	udevadm settle --timeout=20 || _fail "$1: udevadm settle timed out"
}

# props DEV: udev's properties of DEV, one NAME=VALUE a line.
props() { udevadm info --query=property --name="$1" 2>&1; }

# expect_prop DEV NAME VALUE: DEV has the udev property NAME=VALUE
# (VALUE empty: no property NAME).
expect_prop() {
	local got
	got=$(props "$1" | sed -n "s/^$2=//p")
	_expect_eq "$got" "$3" "udev property $2 of $1"
}

# no_fs_props DEV: udev found no filesystem on DEV (no blkid run).
no_fs_props() {
	local p
	p=$(props "$1" | grep -E '^ID_FS_|^ID_PART_')
	[ -z "$p" ] || _fail "$1 has filesystem properties: ${p//$'\n'/ }"
}

# no_disk_links DEV: no /dev/disk/by-uuid, by-label or by-id link points
# to DEV.
no_disk_links() {
	local node l
	node=$(readlink -f "$1")
	for l in /dev/disk/by-uuid/* /dev/disk/by-label/* /dev/disk/by-id/*; do
		[ -L "$l" ] || continue
		[ "$(readlink -f "$l")" != "$node" ] || _fail "$l points to $1"
	done
}

# link_to LINK DEV: LINK is a symlink to DEV's node.
link_to() {
	if [ ! -L "$1" ]; then
		_fail "$1 is not a link"
	elif [ "$(readlink -f "$1")" != "$(readlink -f "$2")" ]; then
		_fail "$1 points to $(readlink -f "$1"), not to $2 ($(readlink -f "$2"))"
	fi
}

# gone NAME...: no device, /dev/mapper entry or by-cbw link is left.
gone() {
	local d
	for d; do
		dmsetup info "$d" >/dev/null 2>&1 && _fail "$d still exists"
		[ ! -e "/dev/mapper/$d" ] && [ ! -L "/dev/mapper/$d" ] ||
			_fail "/dev/mapper/$d is left"
		[ ! -L "/dev/disk/by-cbw/${d%-snap}" ] ||
			_fail "/dev/disk/by-cbw/${d%-snap} is left"
	done
}

start_udev() {
	local rules=$CBW_TMP/inst/usr/lib/udev/rules.d want out
	out=$(make -s -C "${CBW_ROOT:-$PWD}/dmtools" install-udev \
		DESTDIR="$CBW_TMP/inst" PREFIX=/usr 2>&1) || _die "make install-udev: $out"
	want=12-dm-cbw.rules
	[ -e /lib/udev/rules.d/55-dm.rules ] && want=57-dm-cbw.rules
	_expect_eq "$(ls "$rules")" "$want" "installed rules file"
	[ -d /run/udev ] || _on_cleanup rm -rf /run/udev
	mkdir -p /run/udev/rules.d
	cp "$rules"/* /run/udev/rules.d/ || _die "cannot copy the rules"
	SYSTEMD_LOG_LEVEL=warning $UDEVD --daemon || _die "systemd-udevd did not start"
	_on_cleanup udevadm control --exit
	udevadm control --ping --timeout=20 || _die "udevd does not answer"
	settle "start"
}

test_main() {
	local out uuid snapnode

	_tmpdir
	_brd_setup 3 32
	mkfs.ext4 -q -F -L cbwlabel /dev/ram0 || _die "mkfs.ext4 failed"
	uuid=$(blkid -o value -s UUID /dev/ram0) || _die "no uuid on /dev/ram0"
	start_udev
	unset DM_DISABLE_UDEV

	_log "create with udev"
	out=$(cbwctl create cbwu --origin /dev/ram0 --cow /dev/ram1 2>&1) ||
		_die "cbwctl create: $out"
	CBW_DM_DEVS+=(cbwu cbwu-snap)
	_expect_eq "$out" $'/dev/mapper/cbwu\n/dev/mapper/cbwu-snap' "create output"
	settle "create"
	link_to /dev/mapper/cbwu "/dev/dm-$(($(dmsetup info -c --noheadings -o minor cbwu)))"
	link_to /dev/mapper/cbwu-snap \
		"/dev/dm-$(($(dmsetup info -c --noheadings -o minor cbwu-snap)))"
	expect_prop /dev/mapper/cbwu ID_FS_TYPE ext4
	expect_prop /dev/mapper/cbwu DM_UDEV_DISABLE_DISK_RULES_FLAG ""
	no_fs_props /dev/mapper/cbwu-snap
	expect_prop /dev/mapper/cbwu-snap DM_UDEV_DISABLE_DISK_RULES_FLAG 1
	expect_prop /dev/mapper/cbwu-snap DM_UDEV_DISABLE_OTHER_RULES_FLAG 1
	expect_prop /dev/mapper/cbwu-snap SYSTEMD_READY 0
	expect_prop /dev/mapper/cbwu-snap UDISKS_IGNORE 1
	expect_prop /dev/mapper/cbwu-snap CBW_NAME cbwu
	link_to /dev/disk/by-cbw/cbwu /dev/mapper/cbwu-snap
	link_to "/dev/disk/by-uuid/$uuid" /dev/mapper/cbwu
	link_to /dev/disk/by-label/cbwlabel /dev/mapper/cbwu
	no_disk_links /dev/mapper/cbwu-snap

	_log "remove with udev"
	out=$(cbwctl remove cbwu 2>&1) || _fail "cbwctl remove: $out"
	_dm_forget cbwu-snap
	_dm_forget cbwu
	settle "remove"
	gone cbwu cbwu-snap
	[ ! -L "/dev/disk/by-uuid/$uuid" ] || _fail "by-uuid/$uuid is left"

	_log "snapshot under a mounted volume with udev"
	_dm_create vol "0 $(_size_sectors /dev/ram0) linear $(_devno /dev/ram0) 0"
	settle "vol"
	local table
	table=$(dmsetup table vol)
	mkdir "$CBW_TMP/mnt"
	mount /dev/mapper/vol "$CBW_TMP/mnt" || _die "cannot mount vol"
	_on_cleanup sh -c "! mountpoint -q '$CBW_TMP/mnt' || umount '$CBW_TMP/mnt'"
	out=$(cbwctl snapshot vol --cow /dev/ram1 2>&1) || _die "cbwctl snapshot: $out"
	CBW_DM_DEVS+=(vol-real vol-snap)
	_expect_eq "$out" /dev/mapper/vol-snap "snapshot output"
	settle "snapshot"

	local pass
	for pass in "cbwctl's events" "udevadm trigger"; do
		_log "properties after $pass"
		link_to /dev/mapper/vol-real \
			"/dev/dm-$(($(dmsetup info -c --noheadings -o minor vol-real)))"
		no_fs_props /dev/mapper/vol-real
		expect_prop /dev/mapper/vol-real DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG 1
		expect_prop /dev/mapper/vol-real DM_UDEV_DISABLE_DISK_RULES_FLAG 1
		expect_prop /dev/mapper/vol-real DM_UDEV_DISABLE_OTHER_RULES_FLAG 1
		expect_prop /dev/mapper/vol-real SYSTEMD_READY 0
		expect_prop /dev/mapper/vol-real DEVLINKS /dev/mapper/vol-real
		no_disk_links /dev/mapper/vol-real
		no_fs_props /dev/mapper/vol-snap
		expect_prop /dev/mapper/vol-snap DM_UDEV_DISABLE_DISK_RULES_FLAG 1
		expect_prop /dev/mapper/vol-snap SYSTEMD_READY 0
		expect_prop /dev/mapper/vol-snap CBW_NAME vol
		link_to /dev/disk/by-cbw/vol /dev/mapper/vol-snap
		no_disk_links /dev/mapper/vol-snap
		expect_prop /dev/mapper/vol ID_FS_TYPE ext4
		link_to "/dev/disk/by-uuid/$uuid" /dev/mapper/vol
		[ "$pass" = "udevadm trigger" ] && break
		udevadm trigger --action=change /dev/mapper/vol /dev/mapper/vol-real \
			/dev/mapper/vol-snap || _fail "udevadm trigger failed"
		settle "trigger"
	done

	_log "release with udev"
	snapnode=$(readlink -f /dev/mapper/vol-snap)
	out=$(cbwctl release vol 2>&1) || _fail "cbwctl release: $out"
	_dm_forget vol-snap
	_dm_forget vol-real
	settle "release"
	gone vol-real vol-snap
	[ ! -e "$snapnode" ] || _fail "$snapnode is left"
	_expect_eq "$(dmsetup table vol)" "$table" "vol's table after release"
	expect_prop /dev/mapper/vol ID_FS_TYPE ext4
	link_to "/dev/disk/by-uuid/$uuid" /dev/mapper/vol
	umount "$CBW_TMP/mnt" || _fail "cannot unmount vol"
	_dm_remove vol
	settle "vol removed"

	_log "create and remove with DM_DISABLE_UDEV=1"
	out=$(DM_DISABLE_UDEV=1 cbwctl create cbwn --origin /dev/ram0 --cow /dev/ram1 2>&1) ||
		_die "cbwctl create without udev: $out"
	CBW_DM_DEVS+=(cbwn cbwn-snap)
	_expect_eq "$out" $'/dev/mapper/cbwn\n/dev/mapper/cbwn-snap' "create output without udev"
	[ -b /dev/mapper/cbwn ] && [ -b /dev/mapper/cbwn-snap ] ||
		_fail "no nodes after a create without udev"
	out=$(DM_DISABLE_UDEV=1 cbwctl remove cbwn 2>&1) || _fail "cbwctl remove without udev: $out"
	_dm_forget cbwn-snap
	_dm_forget cbwn
	settle "without udev"
	gone cbwn cbwn-snap

	_expect_eq "$(ls /dev/mapper)" control "/dev/mapper at the end"
	_expect_eq "$(ls /dev/disk/by-cbw 2>/dev/null)" "" "/dev/disk/by-cbw at the end"
}
