#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="seeded fuzzing of cbw and snapshot-access table lines and of cbw messages: each refusal names its cause, accepted lines work, the incremental set follows a model"

# Documentation/dm-cbw.rst, "Target interface".  Each case is one table
# line loaded with 'dmsetup load' into an empty device (fzself), or one
# 'dmsetup message' to a live cbw device: fzm (a full snapshot) or fzi (an
# incremental one, in set-up for most of its life).  The words come from a
# generator of our own (a 31-bit LCG in bash arithmetic, seeded per case
# from CBW_FUZZ_SEED and the case number), so that every case is
# reproducible on its own.  Before the random cases, a fixed list of
# regression cases runs (numbered R1, R2, ...).
#
# An oracle written from the documentation (not from the C code) says what
# each case must do:
#   - a table line is accepted, or refused with one ti->error text (the
#     first one in the order of the constructor's checks), which the kernel
#     logs as "device-mapper: table: <dev>: <target>: <error>"; a leading
#     '+' on a number may be taken or refused (both are tried);
#   - an accepted line makes a device that resumes, shows its status and
#     reads; it is removed again;
#   - a message is accepted, or fails with the errno the documentation
#     gives and leaves a "device-mapper: cbw: " line in the kernel log;
#   - the chunk set of fzi is kept as a sorted list of runs, changed only
#     by the add and remove messages that dmsetup accepted, and compared
#     with the device's "map" (every page, "more N") at the end of each
#     epoch, and with every "map" message's answer; then fzi is started,
#     written to, and a snapshot-access device on it must read the frozen
#     pattern in chunks of the set and fail with ENODATA outside it;
#   - no kernel warning, BUG or oops (checked after each batch of cases,
#     between per-case markers in the kernel log, so that the case is
#     named).
# A failure prints "seed S case N" and the exact dmsetup command.
#
# Environment:
#   CBW_FUZZ_CASES   random cases (default 1000: about 2 minutes under
#                    TCG; the table loads and messages go through one
#                    long-lived selftests/dm_batch.py, as each dmsetup run
#                    costs 0.1 to 0.3 s there)
#   CBW_FUZZ_SEED    the seed (default 1; scripts/fuzz draws one)
#   CBW_FUZZ_FIRST   the first case number (default 0): with
#                    CBW_FUZZ_CASES=1, runs case N alone (the same words;
#                    the devices' state may differ)
#   CBW_FUZZ_MAX_FAILS  stop after this many failures (default 20)

FZ_CASES=${CBW_FUZZ_CASES:-1000}
FZ_SEED=${CBW_FUZZ_SEED:-1}
FZ_FIRST=${CBW_FUZZ_FIRST:-0}
FZ_MAX_FAILS=${CBW_FUZZ_MAX_FAILS:-20}
FZ_BATCH=25
U64MAX=18446744073709551615
RAM_SECTORS=16384		# 8 MiB RAM disks
FZM_LEN=16376			# fzm: 1024 chunks of 16 sectors, the last one partial
FZM_CS=16
FZIO_LEN=$((1 << 31))		# fzi's origin: ram4, then zeroes, 1 TiB

requires() {
	_require_target cbw dm-cbw || return 1
	_require_target zero dm-zero || return 1
	command -v qemu-io >/dev/null || { _skip_reason "no qemu-io"; return 1; }
	command -v losetup >/dev/null || { _skip_reason "no losetup"; return 1; }
}

# ---- the generator ---------------------------------------------------------

FZ_RS=1 R=0 P=

# fz_seed N: the generator's state for case N.
fz_seed() {
	FZ_RS=$(((FZ_SEED * 2654435761 + $1 * 40503 + 977) & 0x7fffffff))
	fz_rnd 2
	fz_rnd 2
}

# fz_rnd N: R in [0, N), N up to 2^30.
fz_rnd() {
	local hi
	FZ_RS=$(((FZ_RS * 1103515245 + 12345) & 0x7fffffff))
	hi=$((FZ_RS >> 16))
	FZ_RS=$(((FZ_RS * 1103515245 + 12345) & 0x7fffffff))
	R=$((((hi << 15) | (FZ_RS >> 16)) % $1))
}

# fz_pick WORD...: one of the words in P.
fz_pick() {
	fz_rnd $#
	shift $R
	P=$1
}

# fz_case WORD: WORD in a random case, sometimes (names are case-blind).
fz_case() {
	fz_rnd 8
	case $R in
	0) P=${1^^} ;;
	1) P=${1^} ;;
	*) P=$1 ;;
	esac
}

# fz_wrap64 V: the decimal text of 2^64 + V (V < 10^9), which a parser that
# wraps reads as V.
fz_wrap64() {
	local lo=$((709551616 + $1))
	P=$((18446744073 + lo / 1000000000))$(printf '%09d' $((lo % 1000000000)))
}

LONG_DIGITS='' LONG_WORD='' LONG_ZEROS=''
fz_longs() {
	printf -v LONG_DIGITS '%4096s' ''
	LONG_ZEROS=${LONG_DIGITS// /0}7
	LONG_DIGITS=${LONG_DIGITS// /9}
	printf -v LONG_WORD '%4096s' ''
	LONG_WORD=${LONG_WORD// /x}
}

# fz_junk: a malformed word: not a decimal number, or one that overflows.
fz_junk() {
	fz_pick -1 -0 1e3 0x10 0X10 5x x 1.5 " " 18446744073709551616 \
		18446744073709551617 36893488147419103232 "$LONG_DIGITS" \
		"$LONG_WORD" 1,2 "1 2" ++1 +-1 "-" "" 4294967296
}

# fz_num MAX: a number word for a field of 0..MAX (MAX < 2^30): mostly
# valid, around MAX, wrapping, '+' or leading zeros, sometimes junk.
fz_num() {
	local max=$1
	fz_rnd 24
	case $R in
	[0-7]) fz_rnd $((max + 1)); P=$R ;;
	8) P=$max ;;
	9) P=$((max + 1)) ;;
	10) P=0 ;;
	11) fz_rnd $((max + 1)); fz_wrap64 $R ;;
	12) fz_rnd $((max + 1)); P=+$R ;;
	13) fz_rnd $((max + 1)); P=00$R ;;
	14) P=$LONG_ZEROS ;;
	15) P=$((max + 4294967296)) ;;
	*) fz_junk ;;
	esac
}

# ---- the oracle's number rules ---------------------------------------------

FZ_LENIENT=0 V=0

# fz_dec WORD MAX: WORD is a decimal number from 0 to MAX (decimal text, up
# to 2^64 - 1); V is its value (-1 if beyond bash's numbers).  Leading
# zeros are fine; a leading '+' only when FZ_LENIENT=1.
fz_dec() {
	local w=$1 max=$2
	if [[ $w == +* ]]; then
		[ "$FZ_LENIENT" = 1 ] || return 1
		w=${w#+}
	fi
	[[ $w =~ ^[0-9]+$ ]] || return 1
	w=${w#"${w%%[!0]*}"}
	w=${w:-0}
	if [ ${#w} != ${#max} ]; then
		[ ${#w} -lt ${#max} ] || return 1
	elif [[ $w > $max ]]; then
		return 1
	fi
	if [ ${#w} -le 18 ]; then V=$((10#$w)); else V=-1; fi
	return 0
}

# fz_has_plus WORD...: some word starts with '+', so both rules apply.
fz_has_plus() {
	local w
	for w; do
		[[ $w == +* || $w == *-+* ]] && return 0
	done
	return 1
}

# ---- devices ---------------------------------------------------------------

# Per key: size in sectors, logical block size in sectors, whether
# dm_get_device() opens it, whether it is a cbw device (live, setup) and
# whether a cbw target has it as origin.
declare -A KSIZE KLBS KOPEN KCBW KORIG KCOW KDEVNO
DW=() DK=()	# device words and their keys
GOOD_ORIGIN=() GOOD_COW=() SA_WORDS=()
LOOPDEV='' DM_MAJOR=''

# fz_devno NAME: a dm device's major:minor in P, from sysfs (no process).
fz_devno() {
	local d n
	P=
	for d in /sys/block/dm-*; do
		read -r n <"$d/dm/name" || continue
		[ "$n" = "$1" ] && { read -r P <"$d/dev"; return 0; }
	done
	return 1
}

# fz_word KEY WORD: WORD names KEY.
fz_word() { DW+=("$2"); DK+=("$1"); }

# fz_devices: the device words of the current devices.
fz_devices() {
	local k p
	DW=() DK=()
	for k in 0 1 2 3 4 5; do
		read -r p <"/sys/block/ram$k/dev"
		KDEVNO[ram$k]=$p
		fz_word ram$k /dev/ram$k
		fz_word ram$k "$p"
		KSIZE[ram$k]=$RAM_SECTORS KLBS[ram$k]=1 KOPEN[ram$k]=1 KCBW[ram$k]=
	done
	KORIG[ram2]=1 KCOW[ram3]=1 KCOW[ram5]=1
	for k in fzio fzm fzi fztiny fzro fzself; do
		if [ $k = fzself ]; then P=$SELF_DEVNO; else fz_devno $k; fi
		KDEVNO[$k]=$P
		# No udev: the node of a device made without a table may be
		# missing, and then the path names nothing.
		if [ -b /dev/mapper/$k ]; then
			fz_word $k /dev/mapper/$k
		else
			fz_word none /dev/mapper/$k
		fi
		fz_word $k "$P"
		KLBS[$k]=1 KOPEN[$k]=1 KCBW[$k]=
	done
	DM_MAJOR=${KDEVNO[fzm]%:*}
	KSIZE[fzio]=$FZIO_LEN KORIG[fzio]=1
	KSIZE[fzm]=$FZM_LEN KCBW[fzm]=live
	KSIZE[fzi]=$I_LEN KCBW[fzi]=live
	((I_SETUP)) && KCBW[fzi]=setup
	KSIZE[fztiny]=1 KSIZE[fzro]=$RAM_SECTORS
	KSIZE[fzself]=0 KOPEN[fzself]=$SELF_OPENS
	read -r p <"/sys/block/${LOOPDEV#/dev/}/dev"
	KDEVNO[k4]=$p
	fz_word k4 "$LOOPDEV"
	fz_word k4 "$p"
	KSIZE[k4]=$RAM_SECTORS KLBS[k4]=8 KOPEN[k4]=1 KCBW[k4]=
	for k in none file dir nodev; do
		KOPEN[$k]=0 KSIZE[$k]=0 KLBS[$k]=1 KCBW[$k]=
	done
	fz_word none /dev/fz-none
	fz_word file /etc/hostname
	fz_word dir /tmp
	fz_word nodev 240:0
	fz_word nodev "$DM_MAJOR:999"
	GOOD_ORIGIN=(/dev/ram0 "${KDEVNO[ram0]}" "$LOOPDEV" /dev/mapper/fztiny
		/dev/mapper/fzro /dev/mapper/fzm /dev/ram3)
	GOOD_COW=(/dev/ram1 "${KDEVNO[ram1]}" "$LOOPDEV" /dev/mapper/fzro
		/dev/ram5 /dev/mapper/fztiny)
}

# fz_key WORD: the key of a device word in P (none for an unknown one).
fz_key() {
	local i
	for i in "${!DW[@]}"; do
		[ "${DW[$i]}" = "$1" ] && { P=${DK[$i]}; return 0; }
	done
	P=none
}

# fz_dm REQUEST...: one request to selftests/dm_batch.py, which does what
# dmsetup does for load, message, create, resume, status and remove in one
# long-lived process (each dmsetup start costs 0.1 to 0.3 s under TCG).
# Its input is in $CBW_TMP/dmb/in, its output (or dmsetup's error line) in
# $CBW_TMP/dmb/o; the status is 0 or the errno.
DMB_IN='' DMB_OUT=''
fz_dm() {
	local rc
	echo "$*" >&"$DMB_IN" || _die "dm_batch.py is gone ($*)"
	read -r rc <&"$DMB_OUT" || _die "dm_batch.py is gone ($*): $(<"$CBW_TMP/dmb.err")"
	return "$rc"
}

# fz_dm_start: the dm_batch.py process, stopped at the cleanup.
fz_dm_start() {
	mkdir -p "$CBW_TMP/dmb"
	coproc DMB { exec python3 "$CBW_ROOT/selftests/dm_batch.py" "$CBW_TMP/dmb" 2>"$CBW_TMP/dmb.err"; }
	exec {DMB_IN}>&"${DMB[1]}" {DMB_OUT}<&"${DMB[0]}"
	_on_cleanup kill "$DMB_PID"
}

# SELF_DEVNO: fzself's major:minor, as dm_batch.py's create says (after
# 5.10 a device without a table has no gendisk yet, so not from sysfs).
SELF_DEVNO=

# SELF_OPENS: 1 if the kernel opens a dm device that has no table yet (as
# 5.10 does: there the disk, of size 0, is added when the device is made;
# later kernels add it with the first table, and an open before that fails
# with ENXIO).  A constructor opens the devices it names the same way, so a
# table naming fzself itself meets a device of size 0 there.  Probed once
# by opening fzself's number, not inferred from the kernel's version.
SELF_OPENS=0

# fz_self_probe: SELF_OPENS, through a node of our own for fzself's number
# (in /dev: the guest's /tmp is mounted nodev, where every open of a node
# fails with EACCES).  Only ENXIO means "no such device"; anything else
# stops the test rather than teach the oracle a wrong answer.
fz_self_probe() {
	local node=/dev/cbw-fuzz-self out rc
	rm -f "$node"
	mknod "$node" b "${SELF_DEVNO%:*}" "${SELF_DEVNO#*:}" || _die "cannot make a node for fzself"
	out=$(blockdev --getsz "$node" 2>&1)
	rc=$?
	rm -f "$node"
	if ((rc == 0)); then
		[ "$out" = 0 ] || _die "fzself, without a table, has '$out' sectors"
		SELF_OPENS=1
	elif [[ $out != *"No such device or address"* ]]; then
		_die "opening fzself without a table: $out"
	fi
	_log "a dm device without a table can$( ((SELF_OPENS)) || echo not) be opened"
}

# fz_self_renew: fzself back to a device without a table.
fz_self_renew() {
	fz_dm remove fzself
	fz_dm create fzself || _die "cannot create fzself again: $(<"$CBW_TMP/dmb/o")"
	SELF_DEVNO=$(<"$CBW_TMP/dmb/o")
	if [ "$SELF_DEVNO" != "${KDEVNO[fzself]}" ]; then
		fz_devices
	fi
}

# ---- the chunk set model ---------------------------------------------------

# MS/ME: the runs of the set, sorted, apart (not even adjacent).
MS=() ME=()

# fz_union A B...: add the runs A-B (sorted by start) to the model.
fz_union() {
	local -a ls=() le=() os=() oe=()
	local i=0 j=0 m=${#MS[@]} k s e cs=-1 ce=-1
	while [ $# -gt 0 ]; do ls+=("$1"); le+=("$2"); shift 2; done
	k=${#ls[@]}
	while ((i < m || j < k)); do
		if ((j >= k || (i < m && MS[i] <= ls[j]))); then
			s=${MS[i]} e=${ME[i]}; i=$((i + 1))
		else
			s=${ls[j]} e=${le[j]}; j=$((j + 1))
		fi
		if ((cs < 0)); then
			cs=$s ce=$e
		elif ((s <= ce + 1)); then
			((e > ce)) && ce=$e
		else
			os+=("$cs") oe+=("$ce"); cs=$s ce=$e
		fi
	done
	((cs >= 0)) && { os+=("$cs"); oe+=("$ce"); }
	MS=("${os[@]}") ME=("${oe[@]}")
}

# fz_subtract A B...: take the runs A-B (sorted by start) out of the model.
fz_subtract() {
	local -a ls=() le=() os=() oe=()
	local i j=0 jj k cur m=${#MS[@]}
	while [ $# -gt 0 ]; do ls+=("$1"); le+=("$2"); shift 2; done
	k=${#ls[@]}
	for ((i = 0; i < m; i++)); do
		while ((j < k && le[j] < MS[i])); do j=$((j + 1)); done
		cur=${MS[i]}
		for ((jj = j; jj < k && ls[jj] <= ME[i]; jj++)); do
			((ls[jj] > cur)) && { os+=("$cur"); oe+=($((ls[jj] - 1))); }
			((le[jj] + 1 > cur)) && cur=$((le[jj] + 1))
		done
		((cur <= ME[i])) && { os+=("$cur"); oe+=("${ME[i]}"); }
	done
	MS=("${os[@]}") ME=("${oe[@]}")
}

# fz_model_count: the chunks in the model, in P.
fz_model_count() {
	local i
	P=0
	for i in "${!MS[@]}"; do P=$((P + ME[i] - MS[i] + 1)); done
}

# fz_in_model C: chunk C is in the set.
fz_in_model() {
	local lo=0 hi=$((${#MS[@]} - 1)) mid
	while ((lo <= hi)); do
		mid=$(((lo + hi) / 2))
		if (($1 < MS[mid])); then hi=$((mid - 1))
		elif (($1 > ME[mid])); then lo=$((mid + 1))
		else return 0; fi
	done
	return 1
}

# fz_map_compare DEV FROM TEXT: one "map FROM" answer against the model of
# DEV (fzm: every chunk; fzi: MS/ME): the runs it lists must be the
# model's from FROM on, then "end" or "more N" with N after the last run.
# Sets P to N for "more N", to "end" otherwise.  Returns 1 on a mismatch
# (FZ_WHY says where).
fz_map_compare() {
	local dev=$1 from=$2 i=0 n last=-1 want
	local -a w ms me
	read -ra w <<<"$3"
	if [ "$dev" = fzm ]; then ms=(0) me=($((M_CHUNKS - 1))); else ms=("${MS[@]}") me=("${ME[@]}"); fi
	while ((i < ${#ms[@]} && me[i] < from)); do i=$((i + 1)); done
	for ((n = 0; n < ${#w[@]}; n++)); do
		case ${w[n]} in
		end)
			((n == ${#w[@]} - 1)) || { FZ_WHY="'end' before the last word"; return 1; }
			((i == ${#ms[@]})) || { FZ_WHY="'end', but the model has ${ms[i]}-${me[i]} next"; return 1; }
			P=end
			return 0 ;;
		more)
			((n == ${#w[@]} - 2)) || { FZ_WHY="'more' not second last"; return 1; }
			((last >= 0)) || { FZ_WHY="'more' without a run"; return 1; }
			[ "${w[n + 1]}" = $((last + 1)) ] || { FZ_WHY="'more ${w[n + 1]}' after a run ending at $last"; return 1; }
			P=${w[n + 1]}
			return 0 ;;
		esac
		if ((i >= ${#ms[@]})); then
			FZ_WHY="run ${w[n]} not in the model"
			return 1
		fi
		want="$((ms[i] > from ? ms[i] : from))-${me[i]}"
		[ "${w[n]}" = "$want" ] || { FZ_WHY="run ${w[n]}, the model has $want"; return 1; }
		last=${me[i]}
		i=$((i + 1))
	done
	FZ_WHY="no 'end' or 'more'"
	return 1
}

# fz_map_all DEV WHAT: DEV's whole map, page by page, against the model.
fz_map_all() {
	local dev=$1 from=0 out pages=0
	while ((pages < 200)); do
		printf 'map %s' "$from" >"$CBW_TMP/dmb/in"
		if ! fz_dm message "$dev" 0; then
			_fail "$2: map $from of $dev: $(<"$CBW_TMP/dmb/o")"
			return 1
		fi
		read -r -d '' out <"$CBW_TMP/dmb/o"
		out=${out%$'\n'}
		pages=$((pages + 1))
		if ! fz_map_compare "$dev" "$from" "$out"; then
			_fail "$2: map $from of $dev (page $pages): $FZ_WHY (answer: ${out:0:200}...)"
			return 1
		fi
		[ "$P" = end ] && { FZ_PAGES=$pages; return 0; }
		from=$P
	done
	_fail "$2: map of $dev: more than 200 pages"
}

# ---- the live devices and their models --------------------------------------

# fzm: the full snapshot.
M_CHUNKS=$(((FZM_LEN + FZM_CS - 1) / FZM_CS))
M_BROKEN=0 M_TIMEOUT=0 M_POLICY=fail
# fzi: the incremental one, made anew each epoch.
I_LEN=0 I_CS=8 I_CHUNKS=0 I_SETUP=1 I_BROKEN=0 I_TIMEOUT=0 I_POLICY=fail
I_EPOCH=0 I_STARTED_AT=

fz_make_fzm() {
	dmsetup remove fzm >/dev/null 2>&1
	dmsetup create fzm --table "0 $FZM_LEN cbw /dev/ram2 /dev/ram3 $FZM_CS" >/dev/null ||
		_die "cannot create fzm"
	M_BROKEN=0 M_TIMEOUT=0 M_POLICY=fail
}

# fz_make_fzi: a new fzi over fzio with a geometry drawn for the epoch.
fz_make_fzi() {
	local f=
	fz_seed $((1000000 + I_EPOCH))
	fz_pick 8 8 16 128 1024
	I_CS=$P
	fz_rnd 4
	case $R in
	0) I_LEN=$RAM_SECTORS ;;
	1) fz_rnd 4096; I_LEN=$((RAM_SECTORS + R * 8)) ;;
	2) fz_rnd 1000000; I_LEN=$((RAM_SECTORS + R * 8)) ;;
	*) I_LEN=$FZIO_LEN ;;
	esac
	I_CHUNKS=$(((I_LEN + I_CS - 1) / I_CS))
	fz_rnd 3
	case $R in
	0) f="1 incremental" ;;
	1) f="3 incremental timeout 60000" ;;
	*) f="4 on_error drop incremental no_discard_passdown" ;;
	esac
	_expect_ok "pattern of epoch $I_EPOCH" qemu-io -f raw -n -c "write -P 0x5a 0 8M" /dev/ram4
	dmsetup create fzi --table "0 $I_LEN cbw /dev/mapper/fzio /dev/ram5 $I_CS $f" >/dev/null ||
		_die "cannot create fzi (0 $I_LEN cbw /dev/mapper/fzio /dev/ram5 $I_CS $f)"
	I_SETUP=1 I_BROKEN=0 I_TIMEOUT=0 I_POLICY=fail I_STARTED_AT=
	[[ $f == *timeout* ]] && I_TIMEOUT=60000
	[[ $f == *drop* ]] && I_POLICY=drop
	MS=() ME=()
	fz_devices
}

# ---- one case ---------------------------------------------------------------

# The case: C_KIND table|msg; for a table, C_START, C_LEN (words), C_FILLER
# (a zero target before it), C_TARGET, C_W (words); for a message, C_DEV,
# C_SECTOR, C_W.
C_KIND='' C_START=0 C_LEN=0 C_FILLER=0 C_TARGET='' C_DEV='' C_SECTOR=0 C_W=()
C_SORTED=0

# The batch: per case, its name, what dmsetup ran, and the kernel log text
# it must show ("" for none; alternatives separated by '|').
B_NAME=() B_CMD=() B_WANT=()
FZ_STATS_OK=0 FZ_STATS_REFUSED=0 FZ_STATS_MSG_OK=0 FZ_STATS_MSG_REFUSED=0
FZ_STATS_MAPS=0 FZ_STATS_MODEL=0 FZ_STATS_READS=0

# fz_gen_range [valid]: a range word for fzi's chunk count; with "valid",
# a well-formed one inside the device.
fz_gen_range() {
	local c=$I_CHUNKS a b
	fz_rnd 4
	case $R in
	0) a=0 ;;
	1) a=$((c - 1)) ;;
	*) fz_rnd "$((c < 1073741824 ? c : 1073741823))"; a=$R ;;
	esac
	fz_rnd 3
	case $R in
	0) b=$a ;;
	1) fz_rnd 64; b=$((a + R)) ;;
	*) fz_rnd "$((c < 1073741824 ? c : 1073741823))"; b=$R ;;
	esac
	if [ "${1:-}" = valid ]; then
		((a <= b)) && P=$a-$b || P=$b-$a
		fz_rnd 3
		((R == 0)) && P=$a
		return
	fi
	fz_rnd 26
	case $R in
	[0-9]) P=$a ;;
	1[0-7]) ((a <= b)) && P=$a-$b || P=$b-$a ;;
	18) P=$((a > b ? a : b))-$((a < b ? a : b)) ;;
	19) fz_pick "$c" "0-$c" "$a-" "-$a" "$a--$b" "$a-$b-$b" "$((c + 1))" ;;
	20) fz_wrap64 "$a"; fz_pick "$P" "0-$P" "$P-$P" ;;
	21) fz_pick "+$a" "+$a-$b" "00$a" "$LONG_ZEROS" ;;
	22) fz_pick 0x10 1e3 "$a,$b" "$a:$b" "$a-0x$b" "${a}x" x ;;
	23) fz_pick "$LONG_DIGITS" "18446744073709551615" "0-18446744073709551615" ;;
	*) fz_junk ;;
	esac
}

# fz_gen_ranges_huge: many sorted ranges, spread over the chunks (C_SORTED).
fz_gen_ranges_huge() {
	local n pos=0 gap
	fz_rnd 2000
	n=$((500 + R))
	gap=$((I_CHUNKS / n / 2))
	((gap < 2)) && gap=2
	while ((${#C_W[@]} < n + 1)); do
		fz_rnd "$gap"
		pos=$((pos + 1 + R))
		((pos < I_CHUNKS)) || break
		fz_rnd 4
		if ((R == 0 && pos + 3 < I_CHUNKS)); then
			C_W+=("$pos-$((pos + 3))")
			pos=$((pos + 3))
		else
			C_W+=("$pos")
		fi
		pos=$((pos + 1))
	done
	C_SORTED=1
}

# fz_gen_msg: a message case.
fz_gen_msg() {
	local verb n i
	C_KIND=msg C_W=() C_SORTED=0 C_SECTOR=0
	fz_pick fzi fzi fzi fzm
	C_DEV=$P
	fz_rnd 48
	case $R in
	[0-9]|1[0-9]) verb=add ;;
	2[0-7]) verb=remove ;;
	2[89]|3[0-2]) verb=map ;;
	3[3-5]) verb=timeout ;;
	3[67]) verb=on_error ;;
	38) verb=start ;;
	39) verb='break' ;;
	4[0-4]) fz_pick frobnicate adds mapx "add-1" stop unmap merge time_out \
		on-error "$LONG_WORD" 5 - "map;" "start," ; verb=$P ;;
	*) verb= ;;
	esac
	# break and start are rarer on fzi (they end the model's changes).
	[[ $verb == @(break|start) ]] && [ "$C_DEV" = fzi ] && { fz_rnd 3; ((R == 0)) || verb=map; }
	fz_case "$verb"
	[ -n "$verb" ] && C_W=("$P")
	case $verb in
	add|remove)
		fz_rnd 40
		if ((R == 0)) && [ "$C_DEV" = fzi ]; then
			fz_gen_ranges_huge
		else
			fz_rnd 10
			n=$((R < 6 ? 1 : R < 9 ? R - 4 : 12))
			fz_rnd 20; ((R == 0)) && n=0
			# Valid ranges, but one of them mutated in 1 message of 3.
			fz_rnd $((3 * n + 1))
			for ((i = 0; i < n; i++)); do
				if ((i == R)); then fz_gen_range; else fz_gen_range valid; fi
				C_W+=("$P")
			done
		fi ;;
	map)
		fz_rnd 3
		if ((R > 0)); then
			if [ "$C_DEV" = fzi ]; then
				fz_rnd 4
				if ((R == 0)) && ((${#MS[@]})); then
					fz_rnd ${#MS[@]}; P=${MS[R]}
				else
					fz_gen_range; P=${P%%-*}
				fi
			else
				fz_num $((M_CHUNKS + 1))
			fi
			C_W+=("$P")
		fi ;;
	timeout) fz_num 86400000; C_W+=("$P") ;;
	on_error) fz_pick fail break drop fail drop Fail DROP ignore "" "$LONG_WORD" break,drop; C_W+=("$P") ;;
	esac
	# Mutations: a word more, a word less, a long word.
	fz_rnd 12
	case $R in
	0) fz_pick 1 x fail 0 "$LONG_WORD"; C_W+=("$P") ;;
	1) ((${#C_W[@]})) && unset 'C_W[-1]' ;;
	2) ((${#C_W[@]} > 1)) && C_W[-1]=$LONG_DIGITS ;;
	esac
	# A message to another sector of the device (outside it, sometimes).
	fz_rnd 30
	if ((R == 0)); then
		fz_pick 1 7 "$FZM_LEN" 99999999999
		C_SECTOR=$P
	fi
}

# fz_gen_features: the feature group of a cbw line, appended to C_W.
fz_gen_features() {
	local -a f=() names=(timeout on_error incremental no_discard_passdown low_water)
	local n i k cnt
	fz_rnd 4
	n=$R
	for ((i = 0; i < n; i++)); do
		fz_rnd 12
		if ((R < 5)); then k=${names[R]}; else fz_pick timeout incremental low_water on_error; k=$P; fi
		fz_rnd 25
		((R == 0)) && { fz_pick frobnicate timeouts no_discard discard_passdown on-error "$LONG_WORD"; k=$P; }
		fz_case "$k"
		f+=("$P")
		case $k in
		timeout) fz_num 86400000; f+=("$P") ;;
		on_error) fz_pick fail break drop drop Break ignore; f+=("$P") ;;
		low_water) fz_rnd 6; if ((R == 0)); then fz_pick "$U64MAX" 18446744073709551616 0 -1 +3; else fz_num 2000; fi; f+=("$P") ;;
		esac
		# A value left out, now and then.
		fz_rnd 30
		((R == 0 && ${#f[@]} > 1)) && unset 'f[-1]'
	done
	cnt=${#f[@]}
	fz_rnd 6
	case $R in
	0) fz_rnd 5; cnt=$((cnt + R - 2)); ((cnt < 0)) && cnt=9 ;;
	1) fz_pick 9 8 "$((cnt + 4294967296))" "+$cnt" "0$cnt" x "" -1 18446744073709551617; cnt=$P ;;
	esac
	C_W+=("$cnt" "${f[@]}")
}

# fz_gen_table: a table line case: cbw (2 in 3) or snapshot-access.
fz_gen_table() {
	local o c key size lbs
	C_KIND=table C_W=() C_START=0 C_FILLER=0
	fz_rnd 20
	if ((R == 0)); then
		fz_rnd 4; C_START=$((8 * (R + 1)))
		fz_rnd 4; ((R)) && C_FILLER=1
	fi
	fz_rnd 3
	if ((R < 2)); then
		C_TARGET=cbw
		fz_rnd 10
		if ((R < 7)); then fz_pick "${GOOD_ORIGIN[@]}"; else fz_pick "${DW[@]}"; fi
		o=$P
		fz_rnd 10
		if ((R < 7)); then fz_pick "${GOOD_COW[@]}"; else fz_pick "${DW[@]}"; fi
		c=$P
		fz_rnd 25
		((R == 0)) && c=$o
		fz_rnd 40
		((R == 0)) && o=${KDEVNO[fzself]}
		C_W=("$o" "$c")
		fz_rnd 10
		if ((R < 6)); then
			fz_pick 8 8 16 64 128 1024 2048 2097152; C_W+=("$P")
		else
			fz_pick 0 4 12 24 7 4194304 1e3 0x10 -8 +8 08 16x "" \
				18446744073709551616 18446744073709551624 4294967304 \
				"$LONG_DIGITS" 1048576; C_W+=("$P")
		fi
		fz_rnd 5
		((R < 3)) && fz_gen_features
		fz_key "$o"
	else
		C_TARGET=snapshot-access
		fz_rnd 10
		if ((R < 4)); then
			fz_pick /dev/mapper/fzm "${KDEVNO[fzm]}" /dev/mapper/fzi "${KDEVNO[fzi]}"
		elif ((R < 7)); then
			fz_pick "${DW[@]}"
		else
			fz_pick "$((${KDEVNO[fzm]%:*} + 4294967296)):${KDEVNO[fzm]#*:}" \
				"${KDEVNO[fzm]%:*}:$((${KDEVNO[fzm]#*:} + 4294967296))" \
				"$DM_MAJOR:1048576" "4096:0" "$DM_MAJOR:" ":0" "+${KDEVNO[fzm]}" \
				"${KDEVNO[fzm]}x" "${KDEVNO[fzm]}:0" "$LONG_WORD" /dev/mapper/fzm/ \
				"/dev/mapper/../mapper/fzm" "${KDEVNO[fzself]}"
		fi
		C_W=("$P")
		fz_key "$P"
	fi
	key=$P
	size=${KSIZE[$key]:-0} lbs=${KLBS[$key]:-1}
	((size > 0)) || size=$RAM_SECTORS
	# The length: mostly the whole device or a multiple of its blocks.
	fz_rnd 16
	case $R in
	[0-5]) C_LEN=$size ;;
	[6-9]) fz_rnd $((size / lbs)); C_LEN=$(((R + 1) * lbs)) ;;
	10) C_LEN=$((size + lbs)) ;;
	11) fz_pick 0 1 7 9 $((size + 1)) $((size - 1)) ;  C_LEN=$P ;;
	12) fz_pick -1 18446744073709551616 $((1 << 40)) 9223372036854775807; C_LEN=$P ;;
	*) C_LEN=$size ;;
	esac
	# Words more or less.
	fz_rnd 14
	case $R in
	0) unset 'C_W[-1]' ;;
	1) C_W+=(frobnicate) ;;
	2) fz_pick 1 0 incremental "$LONG_WORD"; C_W+=("$P") ;;
	3) ((${#C_W[@]} > 1)) && C_W=("${C_W[@]:0:1}") ;;
	4) C_W=() ;;
	esac
}

# The expectation: X_ERR is "" (accepted) or the ti->error text the kernel
# must log (with X_CORE=1 when the device-mapper core, not the target,
# refuses: no "<target>: " before it).
X_ERR='' X_CORE=0

# fz_split: the words of C_W (a word may hold several), unglobbed, in FZ_W.
FZ_W=() FZ_LEN=0
fz_split() {
	local x
	local -a xs
	FZ_W=()
	set -f
	for x in "${C_W[@]}"; do
		[ -n "${x// /}" ] || continue
		read -r -d '' -a xs <<<"$x"
		FZ_W+=("${xs[@]}")
	done
	set +f
}

# fz_table_core: fz_split, then what the device-mapper core checks of a
# table line before the target's constructor: status 1 with X_ERR set if
# it refuses, else the length in FZ_LEN.
fz_table_core() {
	fz_split
	if [[ $C_LEN == -1 ]] || ! fz_dec "${C_LEN#+}" 9223372036854775807 || ((V < 0 || V + C_START > (1 << 54) - 1)); then
		X_ERR="too large device" X_CORE=1; return 1
	fi
	[ "$V" = 0 ] && { X_ERR="zero-length target" X_CORE=1; return 1; }
	FZ_LEN=$V
	if ((C_START > 0 && !C_FILLER)); then X_ERR="Gap in table"; return 1; fi
}

# fz_expect_cbw: the cbw constructor, from the documentation.
fz_expect_cbw() {
	local -a w=()
	local x n o c lbs i end name seen='' val
	X_CORE=0
	fz_table_core || return
	w=("${FZ_W[@]}")
	local len=$FZ_LEN
	n=${#w[@]}
	((n < 3)) && { X_ERR="Invalid argument count"; return; }
	((C_START > 0)) && { X_ERR="cbw target must start at sector 0"; return; }
	fz_key "${w[0]}"; o=$P
	[ "${KOPEN[$o]:-0}" = 1 ] || { X_ERR="Error opening origin device"; return; }
	fz_key "${w[1]}"; c=$P
	[ "${KOPEN[$c]:-0}" = 1 ] || { X_ERR="Error opening COW device"; return; }
	[ "$o" = "$c" ] && { X_ERR="COW device is the origin"; return; }
	lbs=$((KLBS[$o] > KLBS[$c] ? KLBS[$o] : KLBS[$c]))
	((len % lbs)) && { X_ERR="Length not a multiple of the logical block size"; return; }
	((len > KSIZE[$o])) && { X_ERR="Origin device too small"; return; }
	if ! fz_dec "${w[2]}" 2097152 || ((V < 8 || (V & (V - 1)) || V < lbs)); then
		X_ERR="Invalid chunk size"; return
	fi
	((KSIZE[$c] < V)) && { X_ERR="COW device smaller than one chunk"; return; }
	if ((n > 3)); then
		# The count is read by the device-mapper core, which takes no '+'.
		local lenient=$FZ_LENIENT
		FZ_LENIENT=0
		if ! fz_dec "${w[3]}" 8 || ((V > n - 4)); then
			FZ_LENIENT=$lenient
			X_ERR="Invalid number of feature arguments"; return
		fi
		FZ_LENIENT=$lenient
		end=$((4 + V))
		for ((i = 4; i < end; )); do
			name=${w[i],,}; i=$((i + 1))
			case $name in
			timeout|on_error|incremental|no_discard_passdown|low_water) ;;
			*) X_ERR="Unrecognised feature argument"; return ;;
			esac
			[[ " $seen " == *" $name "* ]] && { X_ERR="Duplicate feature argument"; return; }
			seen+=" $name"
			case $name in
			timeout|on_error|low_water)
				((i < end)) || { X_ERR="Feature argument needs a value"; return; }
				val=${w[i]}; i=$((i + 1)) ;;
			esac
			case $name in
			timeout) fz_dec "$val" 86400000 || { X_ERR="Invalid timeout"; return; } ;;
			on_error) [[ $val == @(fail|break|drop) ]] || { X_ERR="Invalid error policy"; return; } ;;
			low_water) if ! fz_dec "$val" $U64MAX || [ "$V" = 0 ]; then X_ERR="Invalid low water mark"; return; fi ;;
			esac
		done
		((end < n)) && { X_ERR="Invalid argument count"; return; }
	fi
	[ "${KORIG[$o]:-}" = 1 ] && { X_ERR="Origin already has a cbw target"; return; }
	[ "${KCOW[$c]:-}" = 1 ] && { X_ERR="COW device in use by another cbw target"; return; }
	X_ERR=
}

# fz_expect_access: the snapshot-access constructor, from the
# documentation.
fz_expect_access() {
	local -a w=()
	local x k maj min
	X_CORE=0
	fz_table_core || return
	w=("${FZ_W[@]}")
	local len=$FZ_LEN
	((${#w[@]} == 1)) || { X_ERR="Invalid argument count"; return; }
	if [[ ${w[0]} =~ ^([0-9]+):([0-9]+)$ ]]; then
		maj=${BASH_REMATCH[1]} min=${BASH_REMATCH[2]}
		if ! fz_dec "$maj" 4095 || ! maj=$V || ! fz_dec "$min" 1048575; then
			X_ERR="Invalid cbw device"; return
		fi
		min=$V k=none
		for x in "${!KDEVNO[@]}"; do [ "${KDEVNO[$x]}" = "$maj:$min" ] && k=$x; done
		[ $k = none ] && { X_ERR="Cannot open cbw device"; return; }
	else
		case ${w[0]} in
		/dev/mapper/../mapper/fzm) k=fzm ;;
		*) fz_key "${w[0]}"; k=$P ;;
		esac
		[[ $k == @(none|file|dir) ]] && { X_ERR="Invalid cbw device"; return; }
	fi
	[ "${KOPEN[$k]:-0}" = 1 ] || { X_ERR="Cannot open cbw device"; return; }
	[ -n "${KCBW[$k]:-}" ] || { X_ERR="Not a live cbw device"; return; }
	[ "${KCBW[$k]:-}" = setup ] && { X_ERR="cbw device is in incremental set-up"; return; }
	((len > KSIZE[$k])) && { X_ERR="Snapshot longer than the cbw device"; return; }
	X_ERR=
	X_KEY=$k
}

# fz_expect_table: X_ERR for the strict rules, X_ERR2 for the lenient ones
# (the same when no word starts with '+').
X_ERR2='' X_CORE2=0 X_KEY=''
fz_expect_table() {
	local fn=fz_expect_cbw
	[ "$C_TARGET" = snapshot-access ] && fn=fz_expect_access
	FZ_LENIENT=1
	$fn
	X_ERR2=$X_ERR X_CORE2=$X_CORE
	FZ_LENIENT=0
	if fz_has_plus "${C_W[@]}" "$C_LEN"; then $fn; fi
}

# fz_case_name N: "seed S case N" for the messages.
fz_case_name() { P="seed $FZ_SEED case $1"; }

# fz_log_want ERR CORE: the kernel log text of a refused table line.
fz_log_want() {
	if [ "$2" = 1 ]; then P="$1"; else P="$C_TARGET: $1"; fi
}

# fz_check_works: fzself holds an accepted table: it must resume, show its
# status and read.
fz_check_works() {
	local out st bs=4096 k
	if ! fz_dm resume fzself; then
		_fail "$FZ_NAME: accepted, but the resume failed: $(<"$CBW_TMP/dmb/o") ($FZ_CMD)"
		return
	fi
	fz_dm status fzself
	read -r -a st <"$CBW_TMP/dmb/o"
	# After a zero target, the first status line is that one's.
	if ((C_FILLER)); then
		[ "${st[2]:-}" = zero ] || _fail "$FZ_NAME: status '${st[*]}' ($FZ_CMD)"
	elif [ "$C_TARGET" = cbw ]; then
		[[ ${st[11]:-} == @(active|setup) ]] ||
			_fail "$FZ_NAME: status '${st[*]}' ($FZ_CMD)"
		((C_LEN < 8)) && bs=512
		out=$(dd if=/dev/mapper/fzself of=/dev/null bs=$bs count=1 iflag=direct status=none 2>&1) ||
			_fail "$FZ_NAME: read of the new cbw device: $out ($FZ_CMD)"
	else
		k=$X_KEY
		local want=valid
		{ [ "$k" = fzm ] && [ "$M_BROKEN" = 1 ]; } && want=broken
		{ [ "$k" = fzi ] && [ "$I_BROKEN" = 1 ]; } && want=broken
		[ "${st[3]:-}" = $want ] || _fail "$FZ_NAME: status '${st[*]}', expected $want ($FZ_CMD)"
		if [ $want = valid ] && { [ "$k" = fzm ] || fz_in_model 0; }; then
			out=$(dd if=/dev/mapper/fzself of=/dev/null bs=4096 count=1 iflag=direct status=none 2>&1) ||
				_fail "$FZ_NAME: read of the new snapshot-access device: $out ($FZ_CMD)"
		fi
	fi
	FZ_STATS_READS=$((FZ_STATS_READS + 1))
}

# fz_run_table N: load the case's table into fzself and check the outcome.
fz_run_table() {
	local table="$C_START $C_LEN $C_TARGET ${C_W[*]}" out rc
	((C_FILLER)) && table="0 $C_START zero"$'\n'"$table"
	fz_expect_table
	FZ_CMD="dmsetup load fzself <<<'${table:0:300}'"
	((${#table} > 300)) && FZ_CMD+=" (${#table} characters)"
	echo "<7>cbw-fuzz-$FZ_SEED-$1" >/dev/kmsg
	printf '%s\n' "$table" >"$CBW_TMP/dmb/in"
	fz_dm load fzself
	rc=$?
	read -r -d '' out <"$CBW_TMP/dmb/o"
	fz_case_name "$1"; FZ_NAME=$P
	B_NAME+=("$FZ_NAME") B_CMD+=("$FZ_CMD")
	if [ $rc = 0 ]; then
		FZ_STATS_OK=$((FZ_STATS_OK + 1))
		B_WANT+=("")
		if [ -n "$X_ERR" ] && [ -n "$X_ERR2" ]; then
			_fail "$FZ_NAME: accepted, expected '$X_ERR' ($FZ_CMD)"
		else
			[ -n "$X_ERR" ] && X_KEY=${X_KEY}
			fz_check_works
		fi
		fz_self_renew
		return
	fi
	FZ_STATS_REFUSED=$((FZ_STATS_REFUSED + 1))
	if [ -z "$X_ERR" ] && [ -z "$X_ERR2" ]; then
		_fail "$FZ_NAME: refused, expected to be accepted: ${out//$'\n'/ } ($FZ_CMD)"
		B_WANT+=("")
		return
	fi
	local w1='' w2=''
	[ -n "$X_ERR" ] && { fz_log_want "$X_ERR" "$X_CORE"; w1=$P; }
	[ -n "$X_ERR2" ] && { fz_log_want "$X_ERR2" "$X_CORE2"; w2=$P; }
	B_WANT+=("table|$w1|$w2")
}

# fz_parse_range WORD: A and B of a range word, by the documented grammar.
fz_parse_range() {
	local word=$1 a b
	if [[ $word =~ ^([^-]+)-([^-]+)$ ]]; then
		a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
	else
		a=$word b=$word
	fi
	fz_dec "$a" "$((X_CHUNKS - 1))" || return 1
	A=$V
	fz_dec "$b" "$((X_CHUNKS - 1))" || return 1
	B=$V
	((A <= B))
}

# fz_expect_msg: the message's outcome: X_ERR (the errno text, "" if
# accepted), X_LOG (what the kernel must log on refusal), X_OP and X_RANGES
# (the effect).
X_LOG='' X_OP='' X_RANGES=() X_CHUNKS=0 A=0 B=0
fz_expect_msg() {
	local -a w=()
	local x verb setup broken len i
	fz_split
	w=("${FZ_W[@]}")
	X_OP='' X_RANGES=() X_ERR="Invalid argument"
	if [ "$C_DEV" = fzm ]; then
		X_CHUNKS=$M_CHUNKS setup=0 broken=$M_BROKEN len=$FZM_LEN
	else
		X_CHUNKS=$I_CHUNKS setup=$I_SETUP broken=$I_BROKEN len=$I_LEN
	fi
	# dm's ioctl looks at the words before it looks for the target.
	((${#w[@]})) || { X_LOG="Empty message received"; return; }
	if ((${#C_SECTOR} > 15 || C_SECTOR >= len)); then
		X_LOG="Target message sector outside device"; return
	fi
	verb=${w[0],,}
	X_LOG="device-mapper: cbw: "
	case $verb in
	timeout)
		((${#w[@]} == 2)) && fz_dec "${w[1]}" 86400000 && { X_ERR='' X_OP=timeout X_VAL=$V; } ;;
	on_error)
		((${#w[@]} == 2)) && [[ ${w[1]} == @(fail|break|drop) ]] && { X_ERR='' X_OP=on_error X_VAL=${w[1]}; } ;;
	break)
		((${#w[@]} == 1)) || return
		X_OP='break'
		if ((broken)); then X_ERR="Operation already in progress" X_LOG="device-mapper: cbw: "; else X_ERR=; fi ;;
	start)
		((${#w[@]} == 1 && setup)) && { X_ERR='' X_OP=start; } ;;
	add|remove)
		((${#w[@]} >= 2)) || return
		for ((i = 1; i < ${#w[@]}; i++)); do
			fz_parse_range "${w[i]}" || return
			X_RANGES+=("$A" "$B")
		done
		X_OP=$verb
		if ((setup)); then X_ERR=; else X_ERR="Device or resource busy"; fi ;;
	map)
		((${#w[@]} <= 2)) || return
		X_VAL=0
		if ((${#w[@]} == 2)); then fz_dec "${w[1]}" "$X_CHUNKS" || return; X_VAL=$V; fi
		X_ERR='' X_OP=map ;;
	*) ;;
	esac
}

# fz_apply_msg: an accepted message changes the model.
fz_apply_msg() {
	local i
	case $X_OP in
	timeout) if [ "$C_DEV" = fzm ]; then M_TIMEOUT=$X_VAL; else I_TIMEOUT=$X_VAL; fi ;;
	on_error) if [ "$C_DEV" = fzm ]; then M_POLICY=$X_VAL; else I_POLICY=$X_VAL; fi ;;
	break) if [ "$C_DEV" = fzm ]; then M_BROKEN=1; else I_BROKEN=1; fi ;;
	start) I_SETUP=0; KCBW[fzi]=live ;;
	add|remove)
		FZ_STATS_MODEL=$((FZ_STATS_MODEL + 1))
		# A mutation may have added a word to a sorted list.
		for ((i = 2; C_SORTED && i < ${#X_RANGES[@]}; i += 2)); do
			((X_RANGES[i] >= X_RANGES[i - 2])) || C_SORTED=0
		done
		if ((C_SORTED)); then
			[ $X_OP = add ] && fz_union "${X_RANGES[@]}" || fz_subtract "${X_RANGES[@]}"
		else
			for ((i = 0; i < ${#X_RANGES[@]}; i += 2)); do
				if [ $X_OP = add ]; then fz_union "${X_RANGES[i]}" "${X_RANGES[i + 1]}"
				else fz_subtract "${X_RANGES[i]}" "${X_RANGES[i + 1]}"; fi
			done
		fi ;;
	esac
}

# fz_run_msg N: send the case's message and check the outcome.
fz_run_msg() {
	local out rc err1 err2 log1 op1 lenient=0 s
	FZ_LENIENT=0
	fz_expect_msg
	err1=$X_ERR log1=$X_LOG op1=$X_OP
	if fz_has_plus "${C_W[@]}"; then
		FZ_LENIENT=1
		fz_expect_msg
		FZ_LENIENT=0
	fi
	err2=$X_ERR
	printf -v s "'%s' " "${C_W[@]}"
	FZ_CMD="dmsetup message $C_DEV $C_SECTOR ${s:0:300}"
	((${#s} > 300)) && FZ_CMD+=" (${#s} characters)"
	fz_case_name "$1"; FZ_NAME=$P
	echo "<7>cbw-fuzz-$FZ_SEED-$1" >/dev/kmsg
	# What dmsetup message sends: its words joined by one blank.
	printf '%s' "${C_W[*]}" >"$CBW_TMP/dmb/in"
	fz_dm message "$C_DEV" "$C_SECTOR"
	rc=$?
	out=
	read -r -d '' out <"$CBW_TMP/dmb/o"
	out=${out%$'\n'}
	B_NAME+=("$FZ_NAME") B_CMD+=("$FZ_CMD")
	if [ $rc = 0 ]; then
		FZ_STATS_MSG_OK=$((FZ_STATS_MSG_OK + 1))
		B_WANT+=("")
		if [ -n "$err1" ] && [ -n "$err2" ]; then
			_fail "$FZ_NAME: accepted, expected '$err1' ($FZ_CMD)"
			# The model no longer knows the device: make it anew.
			if [ "$C_DEV" = fzm ]; then FZ_TAINT_M=1; else FZ_TAINT_I=1; fi
			return
		fi
		# Accepted: the lenient reading, when the strict one refuses.
		[ -z "$err1" ] || lenient=1
		((lenient)) || { FZ_LENIENT=0; fz_expect_msg; }
		if [ "$X_OP" = map ]; then
			FZ_STATS_MAPS=$((FZ_STATS_MAPS + 1))
			fz_map_compare "$C_DEV" "$X_VAL" "$out" ||
				_fail "$FZ_NAME: map answer: $FZ_WHY (answer: ${out:0:200}) ($FZ_CMD)"
		elif [ -n "$out" ]; then
			_fail "$FZ_NAME: unexpected output '${out:0:200}' ($FZ_CMD)"
		fi
		fz_apply_msg
		return
	fi
	FZ_STATS_MSG_REFUSED=$((FZ_STATS_MSG_REFUSED + 1))
	if [ -z "$err1" ] && [ -z "$err2" ]; then
		_fail "$FZ_NAME: refused, expected to be accepted: ${out//$'\n'/ } ($FZ_CMD)"
		B_WANT+=("")
		return
	fi
	if [[ $out != *"failed: $err1"* && $out != *"failed: $err2"* ]]; then
		_fail "$FZ_NAME: '${out//$'\n'/ }', expected '${err1:-$err2}' ($FZ_CMD)"
	fi
	B_WANT+=("msg|$log1|$X_LOG")
}

# ---- batches: the kernel log of each case -----------------------------------

KMSG_FD=
# fz_kmsg: the kernel log records since the last call, one text per line.
fz_kmsg() {
	dd iflag=nonblock bs=64k status=none <&"$KMSG_FD" 2>/dev/null >"$CBW_TMP/k"
}

# fz_flush: check the kernel log of the batch's cases, then the status of
# fzm and fzi against their models.
fz_flush() {
	local line text n=-1 i want w1 w2 kind bad=()
	local -A log=()
	# A record stays unreadable until the next one is stored when its
	# text lost the newline (a line cut at printk's 1 KiB): store one.
	echo "<7>cbw-fuzz-$FZ_SEED-flush" >/dev/kmsg
	fz_kmsg
	while IFS= read -r line; do
		[[ $line == " "* ]] && continue
		text=${line#*;}
		if [[ $text == "cbw-fuzz-$FZ_SEED-"* ]]; then
			n=-1
			for i in "${!B_NAME[@]}"; do
				[ "${B_NAME[$i]}" = "seed $FZ_SEED case ${text#cbw-fuzz-$FZ_SEED-}" ] && n=$i
			done
			continue
		fi
		((n >= 0)) || continue
		log[$n]+="$text"$'\n'
		if [[ $text =~ $DMESG_BAD_RE ]]; then
			_fail "${B_NAME[n]}: kernel: $text (${B_CMD[n]})"
		fi
	done <"$CBW_TMP/k"
	for i in "${!B_NAME[@]}"; do
		want=${B_WANT[$i]}
		[ -n "$want" ] || continue
		IFS='|' read -r kind w1 w2 <<<"$want"
		[ "$w2" = "$w1" ] && w2=
		text=${log[$i]:-}
		if [[ $text == *"cbw: Unknown error"* || $text == *"snapshot-access: Unknown error"* ]]; then
			_fail "${B_NAME[i]}: generic error in the kernel log: $text (${B_CMD[i]})"
		elif [ "$kind" = table ]; then
			[[ ( -n $w1 && $text == *": $w1"* ) || ( -n $w2 && $text == *": $w2"* ) ]] ||
				_fail "${B_NAME[i]}: the kernel did not say '${w1:-$w2}'${w2:+${w1:+ or '$w2'}}: '${text//$'\n'/ | }' (${B_CMD[i]})"
		else
			[[ ( -n $w1 && $text == *"$w1"* ) || ( -n $w2 && $text == *"$w2"* ) ]] ||
				_fail "${B_NAME[i]}: no '${w1:-$w2}' line in the kernel log: '${text//$'\n'/ | }' (${B_CMD[i]})"
		fi
	done
	B_NAME=() B_CMD=() B_WANT=()
	if ((FZ_TAINT_M)); then
		_log "fzm made anew after a wrong acceptance"
		fz_make_fzm
		fz_devices
	fi
	if ((FZ_TAINT_I)); then
		_log "fzi made anew after a wrong acceptance"
		dmsetup remove fzi >/dev/null 2>&1 || _fail "cannot remove fzi"
		I_EPOCH=$((I_EPOCH + 1))
		fz_make_fzi
	fi
	FZ_TAINT_M=0 FZ_TAINT_I=0
	fz_check_settings fzm "after the batch"
	fz_check_settings fzi "after the batch"
}
FZ_TAINT_M=0 FZ_TAINT_I=0

DMESG_BAD_RE='BUG:|WARNING:|Oops|KASAN|UBSAN|general protection fault|possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|blocked for more than|sleeping function called|list_(add|del) corruption|refcount_t:'

# fz_check_settings DEV WHAT: state, policy and timeout as the model says.
fz_check_settings() {
	local state
	if [ "$1" = fzm ]; then
		state=active
		((M_BROKEN)) && state=broken:user
		_cbw_expect fzm state=$state policy=$M_POLICY timeout=$M_TIMEOUT chunks=$M_CHUNKS ||
			_log "($2, seed $FZ_SEED)"
	else
		state=active
		((I_SETUP)) && state=setup
		((I_BROKEN)) && state=broken:user
		fz_model_count
		_cbw_expect fzi state=$state policy=$I_POLICY timeout=$I_TIMEOUT \
			chunks=$I_CHUNKS in_snapshot="$P" ||
			_log "($2, seed $FZ_SEED, epoch $I_EPOCH)"
	fi
}

# fz_epoch_end: the whole map of fzi against the model; start; writes
# through fzi; a snapshot-access device must read the frozen data in the
# set's chunks and fail with ENODATA outside; then a new fzi.
fz_epoch_end() {
	local what="seed $FZ_SEED epoch $I_EPOCH (cases from $I_FIRST_CASE)"
	local -a w=() inset=() outset=()
	local i c b ram_chunks=$((RAM_SECTORS / I_CS)) cs_bytes=$((I_CS * 512))
	FZ_PAGES=0
	fz_map_all fzi "$what"
	_log "$what: ${#MS[@]} runs, map in $FZ_PAGES page(s)"
	fz_check_settings fzi "$what"
	if ((I_SETUP)); then
		_msg fzi start && I_SETUP=0
		KCBW[fzi]=live
	fi
	fz_map_all fzi "$what, after start"
	fz_seed $((2000000 + I_EPOCH))
	# Some writes through fzi, into the RAM part of the origin.
	for ((i = 0; i < 3; i++)); do
		fz_rnd "$ram_chunks"
		w+=("0xa5 $((R * cs_bytes)) 4k")
	done
	_pattern_write_all /dev/mapper/fzi "${w[@]}"
	# Sample chunks: in the set (in the RAM part: 0x5a; beyond: zeroes),
	# and outside it.
	if ((${#MS[@]})); then
		for ((i = 0; i < 6; i++)); do
			fz_rnd ${#MS[@]}
			b=$R
			fz_rnd "$((ME[b] - MS[b] + 1 < 1073741824 ? ME[b] - MS[b] + 1 : 1073741823))"
			c=$((MS[b] + R))
			if ((c < ram_chunks)); then inset+=("0x5a $((c * cs_bytes)) 4k")
			else inset+=("0 $((c * cs_bytes)) 4k"); fi
		done
	fi
	for ((i = 0; i < 12 && ${#outset[@]} < 4; i++)); do
		fz_rnd "$((I_CHUNKS < 1073741824 ? I_CHUNKS : 1073741823))"
		fz_in_model "$R" || outset+=("$((R * cs_bytes)) 4k")
	done
	_dm_create fzisnap "0 $I_LEN snapshot-access /dev/mapper/fzi" --readonly
	if ((I_BROKEN)); then
		for i in "${inset[@]}"; do outset+=("${i#* }"); done
		inset=()
	fi
	((${#inset[@]})) && _pattern_check_all /dev/mapper/fzisnap "${inset[@]}"
	((${#outset[@]})) && _read_nodata /dev/mapper/fzisnap "${outset[@]}"
	FZ_STATS_READS=$((FZ_STATS_READS + ${#inset[@]} + ${#outset[@]}))
	_dm_remove fzisnap
	dmsetup remove fzi >/dev/null 2>&1 || _fail "$what: cannot remove fzi"
	I_EPOCH=$((I_EPOCH + 1))
	fz_make_fzi
	if ((M_BROKEN)); then
		fz_make_fzm
		fz_devices
	fi
}

# ---- the regression cases ----------------------------------------------------

# fz_regressions: cases that found bugs once, run first every time.
fz_regressions() {
	local fzm=${KDEVNO[fzm]} n=0 s
	_log "regression cases"
	# A range number that overflows 64 bits is not taken modulo 2^64.
	for s in "add 18446744073709551617" "remove 0-18446744073709551616" \
		 "add 18446744073709551616-18446744073709551617" "add 1-18446744073709551617"; do
		read -ra C_W <<<"$s"
		n=$((n + 1)); C_KIND=msg C_DEV=fzi C_SECTOR=0 C_SORTED=0
		fz_run_msg R$n
	done
	# A major or minor that overflows 32 bits is not taken modulo 2^32.
	for s in "$((${fzm%:*} + 4294967296)):${fzm#*:}" "${fzm%:*}:$((${fzm#*:} + 4294967296))"; do
		C_W=("$s")
		n=$((n + 1)); C_KIND=table C_TARGET=snapshot-access C_START=0 C_LEN=8 C_FILLER=0
		fz_run_table R$n
	done
	# A feature count that overflows 32 bits is not taken modulo 2^32.
	C_W=(/dev/ram0 /dev/ram1 8 4294967297 incremental)
	n=$((n + 1)); C_KIND=table C_TARGET=cbw C_START=0 C_LEN=$RAM_SECTORS C_FILLER=0
	fz_run_table R$n
	# A second break is refused, with a line in the kernel log.
	for s in break break; do
		C_W=("$s")
		n=$((n + 1)); C_KIND=msg C_DEV=fzm C_SECTOR=0 C_SORTED=0
		fz_run_msg R$n
	done
	# An empty message to a sector outside the device: dm refuses it for
	# being empty (it splits the words before it looks for the target).
	C_W=()
	n=$((n + 1)); C_KIND=msg C_DEV=fzi C_SECTOR=99999999999 C_SORTED=0
	fz_run_msg R$n
	FZ_TAINT_M=1 FZ_TAINT_I=1
	fz_flush
	fz_regression_pages
}

# fz_regression_pages: a map too long for one answer comes in pages ("more
# N"), and the pages together are the set: 3000 runs of one chunk each on a
# device of its own (fzi's set is often too small to need a second page).
fz_regression_pages() {
	local -a ms=("${MS[@]}") me=("${ME[@]}") w=(add)
	local c
	_dm_create fzpz "0 2097152 zero"
	_dm_create fzpage "0 2097152 cbw /dev/mapper/fzpz /dev/ram1 8 1 incremental"
	MS=() ME=()
	for ((c = 0; c < 6000; c += 2)); do
		MS+=("$c") ME+=("$c") w+=("$c")
	done
	_msg fzpage "${w[@]}" || _fail "regression: add of 3000 runs to fzpage refused"
	FZ_PAGES=0
	fz_map_all fzpage "regression: map of 3000 runs"
	((FZ_PAGES > 1)) ||
		_fail "regression: map of 3000 runs in $FZ_PAGES page(s), expected several"
	_log "regression: 3000 runs, map in $FZ_PAGES page(s)"
	_dm_remove fzpage
	_dm_remove fzpz
	MS=("${ms[@]}") ME=("${me[@]}")
}

test_main() {
	local n last t0 t1 secs f ta tb tc t_gen=0 t_run=0 t_flush=0 t_epoch=0

	_brd_setup 8 8
	_tmpdir
	fz_longs
	dmesg -n 1 2>/dev/null	# the refusals would flood the console
	_on_cleanup dmesg -n 4
	truncate -s $((RAM_SECTORS * 512)) "$CBW_TMP/k4.img"
	LOOPDEV=$(losetup -f --show --sector-size 4096 "$CBW_TMP/k4.img") ||
		_die "cannot make a loop device with 4 KiB sectors"
	_on_cleanup losetup -d "$LOOPDEV"
	# ram0, ram1: free; ram2, ram3: fzm; ram4 (+ zeroes), ram5: fzi;
	# ram6: fzro; ram7: fztiny.
	fz_dm_start
	_dm_create fzio "0 $RAM_SECTORS linear /dev/ram4 0"$'\n'"$RAM_SECTORS $((FZIO_LEN - RAM_SECTORS)) zero"
	_dm_create fzro "0 $RAM_SECTORS linear /dev/ram6 0" --readonly
	_dm_create fztiny "0 1 linear /dev/ram7 0"
	fz_make_fzm
	CBW_DM_DEVS+=(fzm)
	fz_dm create fzself || _die "cannot create fzself: $(<"$CBW_TMP/dmb/o")"
	SELF_DEVNO=$(<"$CBW_TMP/dmb/o")
	CBW_DM_DEVS+=(fzself)
	fz_self_probe
	fz_make_fzi
	CBW_DM_DEVS+=(fzi)

	exec {KMSG_FD}</dev/kmsg
	fz_kmsg

	fz_regressions

	_log "seed $FZ_SEED, cases $FZ_FIRST to $((FZ_FIRST + FZ_CASES - 1))"
	t0=${EPOCHREALTIME/[.,]/}
	I_FIRST_CASE=$FZ_FIRST
	last=$((FZ_FIRST + FZ_CASES))
	for ((n = FZ_FIRST; n < last; n++)); do
		ta=${EPOCHREALTIME/[.,]/}
		fz_seed "$n"
		fz_rnd 100
		if ((R < 45)); then
			fz_gen_table
			tb=${EPOCHREALTIME/[.,]/}
			fz_run_table "$n"
		else
			fz_gen_msg
			tb=${EPOCHREALTIME/[.,]/}
			fz_run_msg "$n"
		fi
		tc=${EPOCHREALTIME/[.,]/}
		t_gen=$((t_gen + tb - ta)) t_run=$((t_run + tc - tb))
		if (((n + 1 - FZ_FIRST) % FZ_BATCH == 0 || n + 1 == last)); then
			fz_flush
			fz_seed $((3000000 + n))
			fz_rnd 4
			tb=${EPOCHREALTIME/[.,]/}
			t_flush=$((t_flush + tb - tc))
			if ((R == 0 || n + 1 == last)); then
				fz_epoch_end
				I_FIRST_CASE=$((n + 1))
			fi
			t_epoch=$((t_epoch + ${EPOCHREALTIME/[.,]/} - tb))
		fi
		if ((CBW_TEST_FAILS > FZ_MAX_FAILS)); then
			_die "more than $FZ_MAX_FAILS failures, stopping at case $n"
		fi
	done
	t1=${EPOCHREALTIME/[.,]/}
	secs=$(((t1 - t0) / 1000000))
	_log "$FZ_CASES cases in ${secs}s ($((FZ_CASES * 1000000 / (t1 - t0 + 1))).$(((FZ_CASES * 10000000 / (t1 - t0 + 1)) % 10)) cases/s), $I_EPOCH epochs"
	_log "table lines: $FZ_STATS_OK accepted, $FZ_STATS_REFUSED refused; messages: $FZ_STATS_MSG_OK accepted, $FZ_STATS_MSG_REFUSED refused"
	_log "time: generating ${t_gen:0:-6}s, running and checking cases ${t_run:0:-6}s, kernel log and status checks ${t_flush:0:-6}s, epoch checks ${t_epoch:0:-6}s"
	_log "model: $FZ_STATS_MODEL set changes, $FZ_STATS_MAPS map answers checked, $FZ_STATS_READS device reads"
	exec {KMSG_FD}<&-
	f=$CBW_TEST_FAILS
	((f == 0)) || _log "reproduce: CBW_FUZZ_SEED=$FZ_SEED CBW_FUZZ_FIRST=<case> CBW_FUZZ_CASES=1"
}
