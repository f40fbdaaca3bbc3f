#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="dmsetup create loads dm-cbw by itself once it is installed: cbw by the module's name, snapshot-access by its alias"

# The guest's /lib/modules is the kernel's read-only folder, without
# dm-cbw, unless the run installed it there (scripts/dkms-check).  Without
# it, the test installs $CBW_KO into a module tree of its own, put over
# /lib/modules for the test: <release>/kernel links to the kernel's modules,
# dm-cbw.ko goes in extra/, and depmod indexes dm-cbw and dm-mod only (the
# kernel's whole index takes two minutes under TCG).  The module is
# unloaded first (no dm-cbw device may be open) and loaded again at the end
# whatever happened, for the tests after this one.

requires() {
	[ -n "${CBW_KO:-}" ] && [ -f "$CBW_KO" ] || { _skip_reason "CBW_KO not set"; return 1; }
	command -v depmod >/dev/null || { _skip_reason "no depmod"; return 1; }
}

loaded() { [ -e /sys/module/dm_cbw ]; }

reload() { loaded || insmod "$CBW_KO"; }

# The name modprobe resolves NAME to, or nothing.
resolves() { modprobe -R "$1" 2>/dev/null; }

unload() {
	loaded || return 0
	rmmod dm-cbw || _die "cannot unload dm-cbw (a dm-cbw device still open?)"
}

# A module tree with dm-cbw in extra/ over /lib/modules (see the top).
install_tree() {
	local rel=$1 tree dmmod files
	tree=$CBW_TMP/tree/lib/modules/$rel
	# dm-mod's file, where it is a module; nothing where it is built in.
	dmmod=$(modprobe --show-depends dm-mod 2>/dev/null | awk '$1 == "insmod" { f = $2 } END { print f }')
	mkdir -p "$CBW_TMP/orig" "$tree/extra"
	mount --bind /lib/modules "$CBW_TMP/orig" || _die "cannot bind /lib/modules"
	_on_cleanup umount -l "$CBW_TMP/orig"
	ln -s "$CBW_TMP/orig/$rel/kernel" "$tree/kernel"
	cp "$CBW_TMP/orig/$rel"/modules.builtin* "$CBW_TMP/orig/$rel/modules.order" "$tree/"
	cp "$CBW_KO" "$tree/extra/"
	files=("$tree/extra/$(basename "$CBW_KO")")
	[ -z "$dmmod" ] || files+=("$tree/${dmmod#/lib/modules/"$rel"/}")
	_expect_ok "depmod" depmod -b "$CBW_TMP/tree" "$rel" "${files[@]}" || _die "no module index"
	mount --bind "$CBW_TMP/tree/lib/modules" /lib/modules || _die "cannot bind the module tree"
	_on_cleanup umount -l /lib/modules
}

test_main() {
	local rel sz

	rel=$(uname -r)
	_tmpdir
	_on_cleanup reload
	unload
	_brd_setup 2 8
	sz=$(_size_sectors /dev/ram0)

	if [ -z "$(resolves dm-cbw)" ]; then
		# The control: with nothing installed, nothing loads.
		_expect_refused nocbw "0 $sz cbw /dev/ram0 /dev/ram1 128" "unknown target type"
		loaded && _fail "dm-cbw loaded though not installed"
		install_tree "$rel"
	else
		_log "dm-cbw is installed in /lib/modules/$rel already: testing that one"
	fi
	_expect_eq "$(resolves dm-cbw)" dm_cbw "modprobe's name for dm-cbw"
	_expect_eq "$(resolves dm-snapshot-access)" dm_cbw "modprobe's name for dm-snapshot-access"

	# snapshot-access alone: the module loads and its constructor runs
	# (which refuses a device that is not a cbw device).
	_expect_refused autosa "0 $sz snapshot-access /dev/ram0" "Not a live cbw device"
	loaded || _fail "snapshot-access did not load dm-cbw"
	unload

	# cbw alone, then snapshot-access over it.
	_dm_create autocbw "0 $sz cbw /dev/ram0 /dev/ram1 128"
	loaded || _fail "cbw did not load dm-cbw"
	lsmod | grep -q '^dm_cbw ' || _fail "lsmod does not show dm_cbw"
	_dm_create autosnap "0 $sz snapshot-access /dev/mapper/autocbw"
	_expect_eq "$(_access_field autosnap state)" valid "snapshot-access state"
	_dm_remove autosnap
	_dm_remove autocbw
}
