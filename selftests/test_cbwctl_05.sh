#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_05: cbwctl status as a report (-o, -O, --separator, --json)
# and cbwctl set.
#
# Scenario and expected results:
#   - Two cbw devices made by cbwctl.  'status -o name,copies' shows just
#     those columns; -o +policy adds one to the default ones; -O -name
#     sorts backwards; --separator gives unaligned fields; -o help lists
#     the fields; an unknown field exits 2.
#   - --json is one JSON object that jq parses: {"cbw": [...]} with one
#     object per device whose values equal the kernel's status fields.
#   - 'set NAME --timeout 250 --on-error drop' changes the kernel's
#     timeout and policy fields; every bad value, a missing setting and an
#     unknown NAME exit with their codes and change nothing.

DESCRIPTION="cbwctl: status fields, sorting, JSON; set timeout and policy"

requires() {
	local t
	for t in cbwctl jq dmsetup; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
}

create() {
	cbwctl create "$@" >/dev/null || _die "cbwctl create $*"
	CBW_DM_DEVS+=("$1" "$1-snap")
}

test_main() {
	local out json

	_tmpdir
	_brd_setup 4 16
	create cbwa --origin /dev/ram0 --cow /dev/ram1
	create cbwb --origin /dev/ram2 --cow /dev/ram3 --chunk 4k
	_pattern_write /dev/mapper/cbwb 0 12k 0x5a

	_log "status -o, -O, --separator, -o help"
	_expect_eq "$(cbwctl status -o name,copies --noheadings | tr -s ' ')" \
		"$(printf 'cbwa 0\ncbwb 1')" "status -o name,copies"
	_expect_eq "$(cbwctl status -o name,copied -O -name --noheadings --separator :)" \
		"$(printf 'cbwb:3\ncbwa:0')" "status -O -name --separator :"
	out=$(cbwctl status -o +policy,timeout_ms cbwa | head -n1)
	[[ $out =~ ^NAME\ .*SNAPSHOT\ +POLICY\ +TIMEOUT_MS$ ]] || _fail "status -o + heading '$out'"
	cbwctl status -o help | grep -q '^  tracking_bytes ' || _fail "status -o help lacks tracking_bytes"
	_cbwctl_fails 2 "invalid field list" status -o name,frobs
	_cbwctl_fails 2 "--json goes with neither" status --json --noheadings

	_log "status --json"
	json=$(cbwctl status --json) || _fail "status --json failed"
	_expect_eq "$(jq -r '.cbw | length' <<<"$json")" 2 "JSON rows"
	_expect_eq "$(jq -r '.cbw[] | select(.name == "cbwb") | .copied' <<<"$json")" \
		"$(_cbw_field cbwb copied)" "JSON copied of cbwb"
	_expect_eq "$(jq -r '.cbw[] | select(.name == "cbwb") | .chunks' <<<"$json")" \
		"$(_cbw_field cbwb chunks)" "JSON chunks of cbwb"
	_expect_eq "$(jq -r '.cbw[] | select(.name == "cbwa") | .snapshot' <<<"$json")" \
		"valid" "JSON snapshot of cbwa"
	json=$(cbwctl status --json -o name,tracking_bytes cbwa)
	_expect_eq "$(jq -r '.cbw[0] | keys | join(",")' <<<"$json")" "name,tracking_bytes" \
		"JSON with -o"
	_expect_eq "$(jq -r '.cbw[0].tracking_bytes' <<<"$json")" "$(_cbw_field cbwa bytes)" \
		"JSON tracking_bytes"

	_log "set"
	_expect_ok "set" cbwctl set cbwa --timeout 250 --on-error drop
	_expect_eq "$(_cbw_field cbwa timeout) $(_cbw_field cbwa policy)" "250 drop" "after set"
	_expect_eq "$(cbwctl status -o timeout_ms,policy --noheadings --separator ' ' cbwa)" \
		"250 drop" "status after set"
	_expect_ok "set back" cbwctl set cbwa --timeout 0 --on-error fail
	_expect_eq "$(_cbw_field cbwa timeout) $(_cbw_field cbwa policy)" "0 fail" "after set back"
	_cbwctl_fails 2 "nothing to set" set cbwa
	_cbwctl_fails 2 "invalid timeout '-1'" set cbwa --timeout -1
	_cbwctl_fails 2 "invalid timeout '86400001'" set cbwa --timeout 86400001
	_cbwctl_fails 2 "invalid timeout '5ms'" set cbwa --timeout 5ms
	_cbwctl_fails 2 "invalid error policy 'ignore'" set cbwa --on-error ignore
	_cbwctl_fails 2 "needs a value" set cbwa --timeout
	_cbwctl_fails 4 "no device cbwnone" set cbwnone --timeout 5
	_cbwctl_fails 4 "cbwa-snap is not a cbw device" set cbwa-snap --timeout 5
	_expect_eq "$(_cbw_field cbwa timeout) $(_cbw_field cbwa policy)" "0 fail" "after refusals"
	cbwctl remove cbwb && _dm_forget cbwb-snap && _dm_forget cbwb
	cbwctl remove cbwa && _dm_forget cbwa-snap && _dm_forget cbwa
}
