#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/selftests/test_run.sh - host test of the selftest runner
# (selftests/run), TAP: a test file the runner cannot read to the end, or
# one without test_main, fails; _fail fails, _skip_reason with requires()
# skips, and a clean test passes.  Runs on the host: the runner's dmesg
# and dmsetup calls find nothing there, which is what a clean run sees.
set -uo pipefail

RUN=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../selftests" && pwd)/run
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

# case NAME WANT BODY: a test file test_NAME_01.sh holding BODY gives the
# runner's line WANT ("ok", "not ok" or "ok # SKIP").
case_() {
	local name=$1 want=$2 body=$3 line got
	n=$((n + 1))
	printf '%s\n' "$body" >"$tmp/test_${name}_01.sh"
	line=$(bash "$RUN" "$tmp/test_${name}_01.sh" 2>/dev/null |
		grep -E '^(not )?ok 1 ')
	case $line in
	"not ok 1 "*) got="not ok" ;;
	*"# SKIP") got="ok # SKIP" ;;
	"ok 1 "*) got=ok ;;
	*) got="no result" ;;
	esac
	if [ "$got" = "$want" ]; then
		echo "ok $n - $name: $want"
	else
		echo "not ok $n - $name: '$line', want $want"
		failed=$((failed + 1))
	fi
}

echo "TAP version 13"
echo "1..7"
case_ pass ok 'test_main() { :; }'
case_ fail "not ok" 'test_main() { _fail "wrong"; }'
case_ skip "ok # SKIP" 'requires() { _skip_reason "no"; return 1; }
test_main() { :; }'
case_ eof "not ok" 'test_main() { echo "unterminated; }'
case_ middle "not ok" 'helper() { :; }
if then fi
test_main() { :; }'
case_ nomain "not ok" 'main() { :; }'

# A glob runs every test it matches, each once, and no test_common.sh.
n=$((n + 1))
rm -f "$tmp"/test_*.sh
for t in ga gb; do echo 'test_main() { :; }' >"$tmp/test_${t}_01.sh"; done
echo 'test_main() { _fail "not a test"; }' >"$tmp/test_common.sh"
out=$(bash "$RUN" "$tmp/test_g*" "$tmp/test_ga_01.sh" 2>/dev/null)
if grep -qx '1\.\.2' <<<"$out" && grep -q '^# Totals: pass:2 fail:0' <<<"$out"; then
	echo "ok $n - a glob: both tests, once each"
else
	echo "not ok $n - a glob: $(grep -E '^(1\.\.|# Totals)' <<<"$out" | tr '\n' ' ')"
	failed=$((failed + 1))
fi
[ $failed = 0 ]
