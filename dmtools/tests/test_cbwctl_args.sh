#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/test_cbwctl_args.sh - the command lines of change tracking
# (issue 24) on the host, TAP: --help of track, untrack, snapshot
# --incremental, release --commit and status --track; bad options,
# missing and extra arguments exit 2 with a message, before any device is
# looked at (the host has no device-mapper: a lookup would exit 1).
#
# Usage: tests/test_cbwctl_args.sh DMTOOLS_DIR
set -uo pipefail

CBWCTL=${1:-.}/cbwctl
n=0 failed=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# help CMD REGEX: 'cbwctl CMD --help' exits 0, its first line matches.
help() {
	local out rc
	out=$("$CBWCTL" "$1" --help 2>&1)
	rc=$?
	[[ $rc == 0 && ${out%%$'\n'*} =~ $2 ]]
	ok $? "$1 --help: ${out%%$'\n'*}"
}

# usage WANT_TEXT ARGS...: exits 2, stderr says WANT_TEXT, stdout empty.
usage() {
	local want=$1 out err rc
	shift
	err=$("$CBWCTL" "$@" 2>&1 >/dev/null)
	rc=$?
	out=$("$CBWCTL" "$@" 2>/dev/null)
	[[ $rc == 2 && $err == *"$want"* && -z $out ]]
	ok $? "cbwctl $* exits 2: $err"
}

echo "TAP version 13"
help track '^Usage: cbwctl track DMDEV \[--chunk-size SIZE\] \[--state FILE\]$'
help untrack '^Usage: cbwctl untrack DMDEV \[--state FILE\]$'
help snapshot '^Usage: cbwctl snapshot DMDEV --cow DEV .*\[--incremental\]$'
help release '^Usage: cbwctl release DMDEV \[--commit\]$'
help status '^Usage: cbwctl status .*\[--track\] \[--json\] \[NAME\]$'
help backup '^Usage: cbwctl backup .*\[--incremental \[--prev IMAGE\] \[--sync MODE\]\]$'
help restore '^Usage: cbwctl restore IMAGE TARGET \[--force\] \[--progress\|--no-progress\]$'

usage "missing argument" track
usage "unexpected argument 'b'" track a b
usage "unknown or ambiguous option '--bogus'" track --bogus a
usage "--state needs a file name" track --state "" a
usage "invalid chunk size '3k'" track --chunk-size 3k a
usage "invalid chunk size '2G'" track --chunk 2G a
usage "DMDEV is empty" track ""
usage "missing argument" untrack
usage "unexpected argument 'b'" untrack a b
usage "--state needs a file name" untrack --state "" a
usage "unknown or ambiguous option '--chunk-size'" untrack --chunk-size 64k a
usage "DMDEV is empty" untrack ""
usage "--cow DEV is required" snapshot --incremental a
usage "not --chunk" snapshot --incremental a --cow /dev/null --chunk 64k
usage "--commit takes DMDEV as a device-mapper name" release --commit /dev/vg/x
usage "option '--commit=x' takes no value" release --commit=x a
usage "--track and -o do not go together" status --track -o name
usage "--prev and --sync go with --incremental" backup v --to x.img --prev a.qcow2
usage "--prev and --sync go with --incremental" backup v --to x.img --sync never
usage "invalid --sync 'sometimes'" backup v --to x.qcow2 --incremental --sync sometimes
usage "--prev needs an image file" backup v --to x.qcow2 --incremental --prev ""
usage "not standard output" backup v --to - --incremental
usage "does not discard behind" backup v --to x.qcow2 --incremental --discard-behind
usage "missing argument" restore img
usage "unexpected argument 'c'" restore a b c
usage "must not be empty" restore "" t
usage "unknown or ambiguous option '--sync'" restore --sync never a b

# restore of a qcow2 chain to a raw file: what qemu-img convert gives.
if command -v qemu-img >/dev/null && command -v qemu-nbd >/dev/null &&
	command -v qemu-io >/dev/null; then
	tmp=$(mktemp -d)
	head -c 3M /dev/urandom >"$tmp/base.raw"
	truncate -s 4M "$tmp/base.raw"
	qemu-img convert -O qcow2 "$tmp/base.raw" "$tmp/base.qcow2"
	qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "$tmp/top.qcow2"
	qemu-io -c "write -P 0x55 1M 64k" -c "write -z 0 64k" "$tmp/top.qcow2" >/dev/null
	qemu-img convert -O raw "$tmp/top.qcow2" "$tmp/ref.raw"
	"$CBWCTL" restore --no-progress "$tmp/top.qcow2" "$tmp/out.raw" &&
		cmp -s "$tmp/out.raw" "$tmp/ref.raw"
	ok $? "restore of a chain of two qcow2 images gives qemu-img convert's bytes"
	"$CBWCTL" restore --no-progress "$tmp/top.qcow2" "$tmp/out.raw" 2>/dev/null
	[ $? = 6 ]
	ok $? "restore onto an existing file without --force: exit 6"
	"$CBWCTL" restore --no-progress --force "$tmp/base.qcow2" "$tmp/out.raw" &&
		cmp -s "$tmp/out.raw" "$tmp/base.raw"
	ok $? "restore --force of the base image alone gives its bytes"
	"$CBWCTL" restore "$tmp/none.qcow2" "$tmp/x.raw" 2>/dev/null
	[ $? = 2 ] && [ ! -e "$tmp/x.raw" ]
	ok $? "restore of a missing image: exit 2, no target made"
	rm -rf "$tmp"
else
	n=$((n + 1))
	echo "ok $n # SKIP qemu-img, qemu-nbd or qemu-io not found (qemu-utils)"
fi
echo "1..$n"
exit $((failed > 0))
