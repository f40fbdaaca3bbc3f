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
help track '^Usage: cbwctl track DMDEV \[--chunk-size SIZE\] \[--state FILE\] \[--empty\]$'
help untrack '^Usage: cbwctl untrack DMDEV \[--state FILE\]$'
help snapshot '^Usage: cbwctl snapshot DMDEV --cow DEV .*\[--incremental\]$'
help release '^Usage: cbwctl release DMDEV \[--commit\]$'
help status '^Usage: cbwctl status .*\[--track\] \[--json\] \[NAME\]$'
help backup '^Usage: cbwctl backup '

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
echo "1..$n"
exit $((failed > 0))
