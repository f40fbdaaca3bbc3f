#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
DESCRIPTION="fault matrix: six device faults x three error policies under a seeded load of guest writes, snapshot reads and discards, with a suspend (and in some cases a reload) in the middle, some with change tracking: successful writes are on the origin, successful snapshot reads are frozen data, the counters add up, the changed set holds every write and a failed backup merges back, nothing hangs"

# Documentation/dm-cbw.rst: Guest writes, Snapshot reads, Snapshot
# discards, Copy timeouts, Error policies, Break, Errors, Status, Suspend
# and resume, Reload.  Runs on the normal kernels (test_fault_01 needs the
# debug kernel's failslab).
#
# The origin fo is dm over RAM disk 0 (4 MiB: 1024 blocks of 4 KiB, 512
# chunks of 8 KiB); the COW device fc is dm over RAM disk 1 (512 slots).
# Each case copies a fresh generation-0 image (selftests/cbw_load.py
# patterns) to the origin, makes cbw device fb (the case's policy, and its
# copy timeout) and the writable snapshot-access device fb-snap, and runs
# cbw_load.py: 2 writers, 2 readers and 1 discarder, with the case's seed,
# until the test stops it.  Meanwhile the test, each step GAP ms of
# workload after the previous one ended:
#   1. turns the fault on (below);
#   2. suspends fb, takes its status, resumes it;
#   3. (reload cases) suspends fb, takes its status, loads a new cbw table
#      and resumes: a new snapshot.  fb-snap is invalid from then on;
#      fb-snap2 is made and the readers and discarder move to it on their
#      next EIO;
#   4. lifts the fault;
#   5. stops the workload.
# Then it suspends and resumes fb once more (the copies left running end)
# and lets cbw_load.py check (its head comment has the checks (a)-(d)):
# the origin, every read, the counters, a read of every chunk of the live
# snapshot, and the time each operation took.
#
# The faults:
#   origin     fo's upper half becomes dm-flakey: reads fail (error_reads;
#              on a kernel without it, 6.1, writes fail there too);
#   cow_write  fc becomes dm-flakey with error_writes;
#   cow_read   fc's slots in use at that moment become dm-error, the rest
#              stays linear: reads of chunks copied before fail (and a
#              copy still on its way to those slots);
#   slow       fc becomes dm-delay, writes SLOW_DELAY ms late (they end
#              when the fault is lifted), copy timeout SLOW_TIMEOUT ms;
#   full       fc holds FULL_SLOTS slots from the start; the lift grows it
#              to 512 (the final suspend and resume add the slots);
#   stuck      fc is suspended (it answers nothing) until the lift; copy
#              timeout STUCK_TIMEOUT ms.
# Crossed with fail, break and drop: 18 cases; 6 of them, one per fault and
# two per policy, reload (origin/fail, cow_write/drop, cow_read/break,
# slow/fail, full/drop, stuck/break).
#
# Change tracking (Documentation/dm-cbw.rst: Change tracking): 6 other
# cases, one per fault and two per policy (origin/break, cow_write/fail,
# cow_read/drop, slow/break, full/fail, stuck/drop), run with the track
# feature, once as they are and once with the reload (a second track
# snapshot takes the set): 24 cases in all.  A new history counts every
# chunk as changed, so the snapshot is a whole one, as in the other cases,
# and cbw_load.py checks (e) the changed set of the next generation
# against the writes, then a failed backup's merge-back.
#
# CBW_FAULT_FULL=1 runs each case with and without a reload and with and
# without tracking, with steps of 2.5 s, 3 writers, 3 readers and 2
# discarders, plus the stuck cases without a copy timeout.  CBW_FAULT_SEED=N changes the seeds (default 1;
# each case prints its own).  CBW_FAULT_ONLY="cow_read/drop stuck/break/reload cow_read/drop/track"
# runs only those cases, with the seeds they have in the whole run.
# CBW_FAULT_DEBUG=1 logs when each step happened.  The guest does not see
# the host's environment: scripts/vm run -- env CBW_FAULT_FULL=1
# selftests/run test_fault_02.
#
# Bounds (d): each dmsetup suspend, resume, remove and table switch ends
# within BOUND ms (raised on a busy host, see calibrate).  Where the
# documentation lets the suspend wait for the fault (a stuck COW device
# holds the snapshot reads that suspend waits for; under fail, or without
# a timeout, the copies too), the fault is lifted after BOUND ms and the
# command must end within BOUND ms of that.  A reload's resume may fail
# with EBUSY while copies that a break, a drop or the suspend itself threw
# away still write the COW device (slow and stuck, any policy): the fault
# is then lifted and the resume retried.

BLOCKS=1024		# origin blocks of 4 KiB
CHUNK=16		# sectors: 8 KiB chunks
SZ=$((BLOCKS * 8))	# sectors
COW_SZ=$SZ		# 512 slots: every chunk fits
FULL_SLOTS=24
SLOW_DELAY=30000	# ms: the delayed copies end when the fault is lifted
SLOW_TIMEOUT=300	# ms
STUCK_TIMEOUT=500	# ms
SLACK0=2500		# ms an operation may take beyond its documented wait (TCG)
BOUND0=4000		# ms for a dmsetup command
SLACK=$SLACK0 BOUND=$BOUND0 CAL=0	# see calibrate

FULL=${CBW_FAULT_FULL:-0}
ONLY=${CBW_FAULT_ONLY:-}	# "FAULT/POLICY[/reload]...": only these cases
SEED=${CBW_FAULT_SEED:-1}
if [ "$FULL" = 1 ]; then
	GAP=2500 LOAD=(--writers 3 --readers 3 --discarders 2)
else
	GAP=600 LOAD=(--writers 2 --readers 2 --discarders 1)
fi

FLAKEY_READS=	# flakey's features that fail reads and not writes, if any
FC_TABLE=	# fc's current table
FO_TABLE=
FAULT='' POLICY='' LIFTED=1 CASE_T0=0 CASE_S=0 DIR=''

requires() {
	_require_target flakey dm-flakey && _require_target delay dm-delay
}

# calibrate: set BOUND and SLACK for this case.  A busy host (other VMs
# under TCG) slows every process in the guest down; a dmsetup call that
# takes CAL ms here raises both to 20 x CAL if that is more.
calibrate() {
	local t0 cal
	t0=$(_now_ms)
	dmsetup version >/dev/null
	cal=$(($(_now_ms) - t0))
	BOUND=$BOUND0 SLACK=$SLACK0
	[ $((20 * cal)) -le $BOUND ] || BOUND=$((20 * cal))
	[ $((20 * cal)) -le $SLACK ] || SLACK=$((20 * cal))
	CAL=$cal
}

# ev NAME: note the time of NAME for the checker.
ev() { echo "$1 ${EPOCHREALTIME/,/.}" >>"$DIR/events"; }

# dbg WHAT: with CBW_FAULT_DEBUG=1, log when WHAT happened in the case.
dbg() {
	[ "${CBW_FAULT_DEBUG:-0}" != 1 ] || _log "debug: $* at $(($(_now_ms) - CASE_S)) ms"
}

# gap: let the workload run GAP ms.
gap() { sleep "$(printf '%d.%03d' $((GAP / 1000)) $((GAP % 1000)))"; }

# bounded WHAT STALL CMD...: run CMD, which must end within BOUND ms; with
# STALL=1 it may wait for the fault: it is lifted after BOUND ms, and CMD
# must end within BOUND ms of that.  With STALL=0 a CMD that overruns is a
# failure, and the fault is lifted so that the test goes on; STALL=-1 (a
# table switch of fo or fc, which the fault does not hold) lifts nothing.
# CMD's output in BOUNDED_OUT; its status.  Each call has an output file
# of its own: the lift may run a bounded command while CMD still runs.
BOUNDED_OUT=
BOUNDED_N=0
bounded() {
	local what=$1 stall=$2 pid t0 rc out
	shift 2
	t0=$(_now_ms)
	BOUNDED_N=$((BOUNDED_N + 1))
	out=$DIR/cmd.$BOUNDED_N.out
	"$@" >"$out" 2>&1 &
	pid=$!
	if ! _wait_pid $pid $BOUND; then
		_log "$what: $BOUND ms, kernel stack: $(tr '\n' ' ' </proc/$pid/stack 2>/dev/null)"
		if [ "$stall" = 1 ] && [ $LIFTED = 0 ]; then
			_log "$what waits for the fault (documented): lifting it"
		else
			_fail "$FAULT/$POLICY: $what still runs after $BOUND ms"
		fi
		[ "$stall" = -1 ] || lift
		if ! _wait_pid $pid $BOUND; then
			_fail "$FAULT/$POLICY: $what still runs $BOUND ms after the fault was lifted"
			_wait_pid $pid 60000 || _die "$what hangs"
		fi
	fi
	wait $pid
	rc=$?
	BOUNDED_OUT=$(<"$out")
	rm -f "$out"
	[ $(($(_now_ms) - t0)) -le $BOUND ] ||
		_log "$what took $(($(_now_ms) - t0)) ms"
	return $rc
}

# switch DEV TABLE: give DEV this table (load, then resume), within bounds.
switch() {
	_expect_ok "load $1" dmsetup load "$1" --table "$2" &&
		{ bounded "resume of $1" -1 dmsetup resume "$1" ||
			_fail "resume of $1: $BOUNDED_OUT"; }
}

fo_set() {
	[ "$FO_TABLE" = "$1" ] || { switch fo "$1" && FO_TABLE=$1; }
}

fc_set() {
	[ "$FC_TABLE" = "$1" ] || { switch fc "$1" && FC_TABLE=$1; }
}

FO_LINEAR="0 $SZ linear /dev/ram0 0"
FC_LINEAR="0 $COW_SZ linear /dev/ram1 0"

fault_on() {
	local used half=$((SZ / 2))
	ev fault_start
	LIFTED=0
	case $FAULT in
	origin)
		fo_set "$(printf '0 %d linear /dev/ram0 0\n%d %d flakey /dev/ram0 %d 0 1 %s' \
			$half $half $half $half "$FLAKEY_READS")" ;;
	cow_write)
		fc_set "0 $COW_SZ flakey /dev/ram1 0 0 1 1 error_writes" ;;
	cow_read)
		used=$(_cbw_field fb slots)
		used=${used%/*}
		[ "$used" -gt 0 ] 2>/dev/null || used=1
		used=$((used * CHUNK))
		if [ $used -ge $COW_SZ ]; then
			fc_set "0 $COW_SZ error"
		else
			fc_set "$(printf '0 %d error\n%d %d linear /dev/ram1 %d' \
				$used $used $((COW_SZ - used)) $used)"
		fi ;;
	slow)
		fc_set "0 $COW_SZ delay /dev/ram1 0 0 /dev/ram1 0 $SLOW_DELAY" ;;
	full) ;;	# from the start
	stuck)
		bounded "suspend of fc" -1 dmsetup suspend fc ||
			_fail "suspend of fc: $BOUNDED_OUT" ;;
	esac
	ev fault_end
}

lift() {
	[ $LIFTED = 0 ] || return 0
	LIFTED=1
	ev lift_start
	case $FAULT in
	origin) fo_set "$FO_LINEAR" ;;
	stuck)
		bounded "resume of fc" -1 dmsetup resume fc ||
			_fail "resume of fc: $BOUNDED_OUT" ;;
	*) fc_set "$FC_LINEAR" ;;
	esac
	ev lift_end
}

# suspend_fb WHAT STALL: suspend fb within bounds, its status to
# $DIR/status_WHAT.
suspend_fb() {
	bounded "suspend of fb ($1)" "$2" dmsetup suspend fb ||
		_fail "suspend of fb ($1): $BOUNDED_OUT"
	dmsetup status fb >"$DIR/status_$1"
}

# one FAULT POLICY RELOAD TIMEOUT SEED TRACK
one() {
	local reload=$3 tmo=$4 seed=$5 track=$6 stall=0 ebusy=0 pid rc i table line label
	local features="4 on_error $2 timeout $4"
	FAULT=$1 POLICY=$2 DIR=$CBW_TMP/case$seed CASE_S=$(_now_ms)
	mkdir -p "$DIR"
	: >"$DIR/events"
	# The documented waits for the fault (see the head comment).
	if [ "$FAULT" = stuck ] || { [ "$FAULT" = slow ] &&
		{ [ "$POLICY" = fail ] || [ "$tmo" = 0 ]; }; }; then
		stall=1
	fi
	# A suspend throws away the copies no write waits on (any policy).
	if [[ $FAULT == @(slow|stuck) ]]; then
		ebusy=1
	fi

	fo_set "$FO_LINEAR"
	if [ "$FAULT" = full ]; then
		fc_set "0 $((FULL_SLOTS * CHUNK)) linear /dev/ram1 0"
	else
		fc_set "$FC_LINEAR"
	fi
	dd if="$CBW_TMP/pat/$seed.img" of=/dev/ram0 bs=1M oflag=direct status=none ||
		_die "cannot fill the origin"
	calibrate
	dbg "origin filled; a dmsetup call takes $CAL ms: bounds $BOUND ms, slack $SLACK ms"
	[ -z "$track" ] || features="5 on_error $POLICY timeout $tmo track"
	table="0 $SZ cbw /dev/mapper/fo /dev/mapper/fc $CHUNK $features"
	_dm_create fb "$table"
	_dm_create fb-snap "0 $SZ snapshot-access /dev/mapper/fb"

	label=$FAULT/$POLICY${reload:+/reload}${track:+/track}
	[ "$FAULT" != stuck ] || [ "$tmo" != 0 ] || label+=/notimeout
	python3 "$CBW_ROOT/selftests/cbw_load.py" run --case "$label" \
		--dir "$DIR" --seed "$seed" --stop "$DIR/stop" \
		"${LOAD[@]}" --blocks $BLOCKS --chunk-blocks $((CHUNK / 8)) \
		--cbw /dev/mapper/fb --snap /dev/mapper/fb-snap \
		--snap2 /dev/mapper/fb-snap2 --snap2-flag "$DIR/snap2" \
		--origin /dev/ram0 --cbw-name fb --snap-name fb-snap --snap2-name fb-snap2 \
		--fault "$FAULT" --policy "$POLICY" --timeout-ms "$tmo" --slack-ms $SLACK \
		--grace 30 ${track:+--track} >"$DIR/out" 2>&1 &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		[ -e "$DIR/started" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$DIR/started" ] || { cat "$DIR/out"; _die "the workload did not start"; }
	CASE_T0=$(_now_ms)
	dbg "workload started"

	gap
	fault_on
	gap
	ev susp_start
	suspend_fb mid $stall
	bounded "resume of fb" 0 dmsetup resume fb || _fail "resume of fb: $BOUNDED_OUT"
	ev susp_end
	if [ -n "$reload" ]; then
		gap
		ev reload_start
		suspend_fb pre $stall
		_expect_ok "load a new cbw table" dmsetup load fb --table "$table"
		for ((i = 0; ; i++)); do
			# It waits (up to 5 s) for COW I/O of copies thrown away.
			bounded "resume of fb (reload)" "$ebusy" dmsetup resume fb && break
			if [ $ebusy = 1 ] && [[ $BOUNDED_OUT == *busy* ]] && [ $i -lt 20 ]; then
				[ $i -gt 0 ] || _log "the reload's resume: EBUSY (copies thrown away still out, documented); lifting the fault"
				lift
				sleep 0.2
				continue
			fi
			_fail "$FAULT/$POLICY: the reload's resume: $BOUNDED_OUT"
			break
		done
		ev reload_end
		_dm_create fb-snap2 "0 $SZ snapshot-access /dev/mapper/fb"
		touch "$DIR/snap2"
	fi
	gap
	lift
	gap
	touch "$DIR/stop"
	for ((i = 0; i < 35 * 20; i++)); do
		[ -e "$DIR/done" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	dbg "workload done"
	suspend_fb final 0
	bounded "resume of fb (final)" 0 dmsetup resume fb || _fail "resume of fb: $BOUNDED_OUT"
	touch "$DIR/go"
	_wait_pid $pid 120000 || { kill $pid; _fail "the checker hangs"; }
	wait $pid
	rc=$?
	dbg "checked"
	while IFS= read -r line; do _log "$line"; done <"$DIR/out"
	if [ "${CBW_FAULT_DEBUG:-0}" = 1 ]; then
		_log "events (ms after the start, $(_now_ms) now): $(awk -v t="$CASE_T0" '{ printf "%s %d, ", $1, $2 * 1000 - t }' "$DIR/events")"
	fi
	[ $rc = 0 ] || _fail "$label: the checks failed (seed $seed)"

	for i in fb-snap2 fb-snap fb; do
		[ $i != fb-snap2 ] || [ -n "$reload" ] || continue
		if bounded "removal of $i" 0 dmsetup remove $i; then
			_dm_forget $i
		else
			_fail "removal of $i: $BOUNDED_OUT"
		fi
	done
	dbg "removed"
}

resume_if_suspended() {
	dmsetup info fc 2>/dev/null | grep -q SUSPENDED && dmsetup resume fc
	return 0
}

test_main() {
	local faults=(origin cow_write cow_read slow full stuck) policies=(fail break drop)
	local i j f p r t sd tmo t0 reloads tracks c cases=() seeds=()
	_tmpdir
	_brd_setup 2 4
	_dm_create fo "$FO_LINEAR"
	FO_TABLE=$FO_LINEAR
	_dm_create fc "$FC_LINEAR"
	FC_TABLE=$FC_LINEAR
	_on_cleanup resume_if_suspended
	if dmsetup create fbprobe --table "0 8 flakey /dev/ram0 0 0 1 1 error_reads" >/dev/null 2>&1; then
		dmsetup remove fbprobe
		FLAKEY_READS="1 error_reads"
		_log "origin fault: dm-flakey error_reads (reads fail, writes go through)"
	else
		FLAKEY_READS=0
		_log "origin fault: this dm-flakey has no error_reads: reads and writes fail"
	fi

	# The cases, "FAULT POLICY RELOAD TIMEOUT SEED TRACK" ('-' for no); the
	# seed follows from the case, whatever CBW_FAULT_ONLY picks.
	for i in "${!faults[@]}"; do
		f=${faults[$i]}
		tmo=0
		[ "$f" = slow ] && tmo=$SLOW_TIMEOUT
		[ "$f" = stuck ] && tmo=$STUCK_TIMEOUT
		for j in "${!policies[@]}"; do
			p=${policies[$j]}
			if [ "$FULL" = 1 ]; then
				reloads=(- 1) tracks=(- 1)
			elif [ $(((i + j) % 3)) = 0 ]; then
				reloads=(1) tracks=(-)
			elif [ $(((i + j) % 3)) = 1 ]; then
				reloads=(- 1) tracks=(1)
			else
				reloads=(-) tracks=(-)
			fi
			for t in "${tracks[@]}"; do
				for r in "${reloads[@]}"; do
					c=$f/$p
					[ "$r" = - ] || c+=/reload
					[ "$t" = - ] || c+=/track
					[ -z "$ONLY" ] || [[ " $ONLY " == *" $c "* ]] || continue
					sd=$((SEED * 1000 + i * 100 + j * 10 + ${r/#-/0} + 4 * ${t/#-/0}))
					cases+=("$f $p $r $tmo $sd $t")
					if [ "$FULL" = 1 ] && [ "$f" = stuck ] && [ "$r" = - ]; then
						cases+=("$f $p - 0 $((sd + 2)) $t")
					fi
				done
			done
		done
	done
	[ ${#cases[@]} -gt 0 ] || _die "no case matches CBW_FAULT_ONLY='$ONLY'"
	for c in "${cases[@]}"; do
		read -r _ _ _ _ i _ <<<"$c"
		seeds+=("$i")
	done
	mkdir -p "$CBW_TMP/pat"
	python3 "$CBW_ROOT/selftests/cbw_load.py" patterns "$CBW_TMP/pat" $BLOCKS "${seeds[@]}" ||
		_die "cannot make the patterns"

	for c in "${cases[@]}"; do
		read -r f p r tmo i t <<<"$c"
		[ "$r" = - ] && r=
		[ "$t" = - ] && t=
		t0=$(_now_ms)
		one "$f" "$p" "$r" "$tmo" "$i" "$t"
		rm -f "$CBW_TMP/pat/$i.img"
		_log "case $f/$p${r:+/reload}${t:+/track} timeout $tmo: seed $i, $(($(_now_ms) - t0)) ms"
	done
	_dm_remove fc
	_dm_remove fo
}
