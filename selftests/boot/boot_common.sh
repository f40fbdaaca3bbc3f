#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the boot tests (selftests/boot/run), sourced after
# selftests/test_common.sh on the host (by the runner) and in each guest
# (by selftests/boot/guest): the host boots the VM, the guest's step
# function does one boot's work.  The host side's settings come from the
# runner:
#
#   CBW_BOOT_KERNEL  the short kernel name the VMs boot
#   CBW_BOOT_TEST    the test's name (test_boot_NN)
#   CBW_BOOT_DIR     the test's scratch folder on the host
#                    (build/boot/KERNEL/TEST), emptied before the test and
#                    removed after it passed: the disk files, and each
#                    boot's results folder vm-STEP with its console log
#                    vm-STEP.log

# Seconds a boot may take before scripts/vm kills it, and the marker file
# a guest step writes into its results folder when the host may kill it.
CBW_BOOT_TIMEOUT=${CBW_BOOT_TIMEOUT:-300}
CBW_BOOT_MARKER=ready-to-die
CBW_BOOT_DISKS=()

# Kernel reports that fail a killed boot, found on its console (warnings
# and worse reach it); scripts/vm scans the whole log of a boot that ends.
CBW_BOOT_PROBLEMS='BUG:|WARNING:|Oops|KASAN|UBSAN|general protection fault|possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|blocked for more than|Kernel panic'

# Host: _boot_disk NAME SIZE: a new sparse disk file NAME.img of SIZE
# (truncate's sizes) in the scratch folder, attached to every later boot
# in the order of the calls (/dev/vda, /dev/vdb ...).
_boot_disk() {
	local f=$CBW_BOOT_DIR/$1.img
	rm -f "$f"
	truncate -s "$2" "$f" || _die "cannot make $f"
	CBW_BOOT_DISKS+=(--disk "$f")
}

# Host: _boot_start STEP: boot the VM in the background to run the test's
# guest function boot_STEP (through selftests/boot/guest), its console to
# vm-STEP.log; sets CBW_BOOT_PID (scripts/vm's).
_boot_start() {
	local out=$CBW_BOOT_DIR/vm-$1
	rm -rf "$out" "$out.log"
	mkdir -p "$out"
	_log "boot $1 (kernel $CBW_BOOT_KERNEL)"
	CBW_VM_OUT=$out CBW_VM_BUILT=1 "$CBW_ROOT/scripts/vm" \
		--kernel "$CBW_BOOT_KERNEL" --timeout "$CBW_BOOT_TIMEOUT" \
		"${CBW_BOOT_DISKS[@]}" \
		run -- selftests/boot/guest "$CBW_BOOT_TEST" "$1" >"$out.log" 2>&1 &
	CBW_BOOT_PID=$!
}

# Host: _boot_end STEP WANT: wait for the boot of STEP, print its console
# log, and fail the test unless scripts/vm exited WANT.
_boot_end() {
	local rc=0
	wait "$CBW_BOOT_PID" || rc=$?
	sed 's/^/#   /' "$CBW_BOOT_DIR/vm-$1.log"
	_log "boot $1: scripts/vm exit status $rc ($((SECONDS - CBW_BOOT_T0)) s)"
	_expect_eq "$rc" "$2" "boot $1: exit status of scripts/vm"
}

# Host: _boot STEP: a boot of STEP that ends normally (status 0).
_boot() {
	CBW_BOOT_T0=$SECONDS
	_boot_start "$1"
	_boot_end "$1" 0
}

# Host: _boot_kill STEP: a boot of STEP killed like a power cut: once the
# guest wrote its marker (_boot_ready), qemu gets SIGKILL (no shutdown, no
# flush of the guest's page cache); scripts/vm must then exit 125 (the
# guest stopped without reporting a status).  The test fails if the
# marker does not come, or if the kernel reported a problem on the
# console (the guest leaves no kernel log for scripts/vm to scan).
_boot_kill() {
	local out=$CBW_BOOT_DIR/vm-$1 pid
	CBW_BOOT_T0=$SECONDS
	_boot_start "$1"
	while [ ! -e "$out/$CBW_BOOT_MARKER" ]; do
		if ! kill -0 "$CBW_BOOT_PID" 2>/dev/null; then
			_boot_end "$1" 125
			_fail "boot $1 ended before it was ready to be killed"
			return 1
		fi
		sleep 0.2
	done
	pid=$(cat "$out/.vm/qemu.pid" 2>/dev/null)
	if [ -n "$pid" ] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */qemu-system-* ]]; then
		_log "boot $1: the guest is ready, SIGKILL to qemu ($pid)"
		kill -KILL "$pid"
	else
		_fail "boot $1: no qemu process to kill (pid '$pid')"
		kill "$CBW_BOOT_PID" 2>/dev/null
	fi
	_boot_end "$1" 125
	if grep -Eq "$CBW_BOOT_PROBLEMS" "$out.log"; then
		_fail "boot $1: the kernel reported a problem on the console"
	fi
}

# Guest: _boot_ready: tell the host it may kill the VM now, and wait for
# it (as long as the boot's timeout: a host that does not kill fails the
# boot with scripts/vm's status 124).
_boot_ready() {
	sync
	echo ready >"$CBW_OUT/$CBW_BOOT_MARKER"
	sleep $((CBW_BOOT_TIMEOUT + 60))
}
