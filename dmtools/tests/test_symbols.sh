#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_symbols.sh - libcbw's static and shared library make exactly the
# calls that libcbw.h marks CBW_API global, nothing of the library's
# insides (image_open, lib_error, cbwdm_* ...): the shared library hides
# them by -fvisibility=hidden, the static one by objcopy --localize-symbols
# over its one object (see the Makefile).  And cbwctl does not link libnbd
# (it loads it when first needed, commands/nbdlib.h): neither a NEEDED
# entry nor an undefined nbd_ call.  TAP output, run by make check.
#
#   tests/test_symbols.sh [DIR]	DIR: the dmtools folder (default .)
set -u

dir=${1:-.}
NM=${NM:-nm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

# The names of the calls libcbw.h declares CBW_API.
sed -n 's/^CBW_API[^(]*[ *]\(cbw_[a-z0-9_]*\)(.*/\1/p' \
	"$dir/libcbw/include/libcbw.h" | sort -u >"$tmp/api"

check() {	# WHAT FILE-OF-SYMBOLS
	n=$((n + 1))
	if [ -s "$tmp/api" ] && cmp -s "$tmp/api" "$2"; then
		echo "ok $n - $1: the $(wc -l <"$tmp/api") calls of libcbw.h, nothing else"
	else
		echo "not ok $n - $1"
		diff "$tmp/api" "$2" | sed 's/^/# /' | head -n 20
		failed=$((failed + 1))
	fi
}

echo "TAP version 13"
$NM -g --defined-only "$dir/libcbw/libcbw.a" 2>/dev/null |
	awk 'NF == 3 { print $3 }' | sort -u >"$tmp/static"
check "libcbw.a's global symbols" "$tmp/static"
$NM -D --defined-only "$dir/libcbw/libcbw.so" 2>/dev/null |
	awk 'NF == 3 { print $3 }' | sort -u >"$tmp/shared"
check "libcbw.so's dynamic symbols" "$tmp/shared"

n=$((n + 1))
linked=$({ ${READELF:-readelf} -d "$dir/cbwctl" 2>&1 | grep -i 'NEEDED.*libnbd'
	$NM -D --undefined-only "$dir/cbwctl" 2>&1 | grep -w 'nbd_[a-z_]*'; })
if [ -s "$dir/cbwctl" ] && [ -z "$linked" ]; then
	echo "ok $n - cbwctl does not link libnbd"
else
	echo "not ok $n - cbwctl links libnbd (or is missing)"
	echo "$linked" | sed 's/^/# /' | head -n 10
	failed=$((failed + 1))
fi
echo "1..$n"
[ $failed = 0 ]
