#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_lib_01: the example agent of libcbw (dmtools/examples/backup-agent.c,
# on libcbw.h alone) backs up a mounted, busy volume.
#
# The agent is built here against the installed library alone: 'make
# install-lib' of the built tree into a scratch root, then cc with the
# flags of pkg-config's libcbw.pc there, and run with that root's libcbw.so.
#
# The volume "vol" is a dm-linear device over /dev/ram0 (64 MiB) with a
# mounted ext4 filesystem; the COW device is /dev/ram1.
#
# Scenario and expected results:
#   - Wrong use exits 2 with its usage line; a DMDEV that does not exist
#     exits 1 with libcbw's reason, and nothing is left behind.
#   - While a writer keeps adding whole files (each one copied then
#     renamed into place) to vol, 'backup-agent vol /dev/ram1 IMG' exits 0
#     and prints, in this order: the snapshot node /dev/mapper/vol-snap;
#     "progress: 10%" to "progress: 100%", each once, in order (the
#     progress callback); the backup line: 64 MiB read and 64 MiB
#     discarded (discard behind: every chunk read left the snapshot), no
#     chunk failed; the status line with every chunk discarded (1024 of
#     64 KiB); "released: vol".  Nothing on stderr.
#   - Afterwards vol's table is byte for byte the one before, vol-real and
#     vol-snap are gone, and vol is still mounted and takes writes.
#   - The image is the volume at the frozen point: e2fsck -fn is clean;
#     mounted read-only, the files made before have their checksums, and
#     the writer's files are exactly f.1 .. f.K, all whole, with K at least
#     the count before the agent ran and at most the count after it.

DESCRIPTION="libcbw's example agent: snapshot, backup with discard behind and progress, release, under a mounted busy volume"

DMTOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../dmtools" && pwd)
AGENT=''

requires() {
	local t
	if [ ! -e "$DMTOOLS/libcbw/libcbw.a" ]; then
		_skip_reason "libcbw not built (make -C dmtools)"
		return 1
	fi
	for t in dmsetup blockdev mkfs.ext4 e2fsck sha256sum make cc pkg-config; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
}

MNT='' IMGMNT='' WRITER_PID=''

# exists NAME: a device-mapper device NAME exists.
exists() { dmsetup info "$1" >/dev/null 2>&1; }

# The writer: whole files w/f.N, each a copy of $CBW_TMP/pattern made as
# w/tmp.N then renamed, until $CBW_TMP/stop exists or it has made
# WRITER_MAX (the COW device and the filesystem have room for them).
WRITER_MAX=400
writer() {
	local i=1
	while [ ! -e "$CBW_TMP/stop" ] && [ $i -le $WRITER_MAX ]; do
		cp "$CBW_TMP/pattern" "$MNT/w/tmp.$i" && mv "$MNT/w/tmp.$i" "$MNT/w/f.$i" ||
			{ echo "writer failed at $i" >"$CBW_TMP/writer.err"; return 1; }
		i=$((i + 1))
	done
}

# writer_files DIR: how many f.N files DIR/w has.
writer_files() {
	local f=("$1"/w/f.*)
	[ -e "${f[0]}" ] && echo ${#f[@]} || echo 0
}

# Stop the writer and take vol apart, whatever state it is in.
teardown() {
	touch "$CBW_TMP/stop" 2>/dev/null
	[ -z "$WRITER_PID" ] || wait "$WRITER_PID" 2>/dev/null
	WRITER_PID=''
	[ -z "$IMGMNT" ] || umount "$IMGMNT" 2>/dev/null
	[ -z "$MNT" ] || umount "$MNT" 2>/dev/null
	IMGMNT='' MNT=''
	local d
	for d in vol-snap vol vol-real; do
		exists $d && dmsetup remove --retry $d >/dev/null 2>&1
		_dm_forget $d
	done
	_cleanup
}

# Install libcbw into $CBW_TMP/root (PREFIX=/usr) and build the example
# agent there with the flags of that root's libcbw.pc alone.
build_agent() {
	local root=$CBW_TMP/root flags
	make -s -C "$DMTOOLS" install-lib DESTDIR="$root" PREFIX=/usr \
		>"$CBW_TMP/build.log" 2>&1 ||
		_die "make install-lib failed: $(<"$CBW_TMP/build.log")"
	flags=$(PKG_CONFIG_PATH=$root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root \
		pkg-config --cflags --libs libcbw) || _die "pkg-config does not know libcbw"
	_log "pkg-config --cflags --libs libcbw: $flags"
	# shellcheck disable=SC2086 # the flags are words
	cc -o "$CBW_TMP/backup-agent" "$DMTOOLS/examples/backup-agent.c" $flags \
		>"$CBW_TMP/build.log" 2>&1 ||
		_die "the agent does not build against the installed libcbw: $(<"$CBW_TMP/build.log")"
	AGENT=$CBW_TMP/backup-agent
	export LD_LIBRARY_PATH=$root/usr/lib
	ldd "$AGENT" | grep -q "=> $root/usr/lib/libcbw.so.0 " ||
		_fail "the agent does not run with the installed libcbw.so.0: $(ldd "$AGENT")"
}

# agent_fails CODE PATTERN ARG...: the agent exits CODE, prints nothing on
# stdout and one line on stderr matching PATTERN (ERE).
agent_fails() {
	local code=$1 re=$2 rc err
	shift 2
	"$AGENT" "$@" >"$CBW_TMP/out" 2>"$CBW_TMP/err"
	rc=$?
	mapfile -t err <"$CBW_TMP/err"
	_expect_eq "$rc" "$code" "backup-agent $* exit status (stderr: ${err[*]})"
	[ ! -s "$CBW_TMP/out" ] || _fail "backup-agent $*: output '$(<"$CBW_TMP/out")'"
	[ ${#err[@]} -eq 1 ] || _fail "backup-agent $*: stderr '${err[*]}', expected one line"
	grep -Eq -- "$re" <<<"${err[0]:-}" ||
		_fail "backup-agent $*: error '${err[0]:-}' does not match '$re'"
}

test_main() {
	local vol_table k0 k1 k out want i

	_tmpdir
	trap teardown EXIT
	_brd_setup 2 64

	_log "the agent, built against libcbw installed in a scratch root"
	build_agent

	_log "vol: dm-linear over /dev/ram0, ext4, mounted, files with checksums"
	_dm_create vol "0 131072 linear $(_devno /dev/ram0) 0"
	vol_table=$(dmsetup table vol)
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol ||
		_die "mkfs.ext4 failed"
	MNT=$CBW_TMP/mnt
	IMGMNT=
	mkdir -p "$MNT" "$CBW_TMP/imgmnt"
	mount /dev/mapper/vol "$MNT" || _die "cannot mount vol"
	mkdir "$MNT/static" "$MNT/w"
	for i in $(seq 1 12); do
		head -c $((i * 20000)) /dev/urandom >"$MNT/static/s.$i"
	done
	(cd "$MNT/static" && sha256sum s.*) >"$CBW_TMP/static.sums"
	head -c 32768 /dev/urandom >"$CBW_TMP/pattern"
	sync -f "$MNT"

	_log "wrong use: exit 2; a DMDEV that does not exist: exit 1"
	agent_fails 2 "^usage: backup-agent DMDEV COW IMAGE$" vol /dev/ram1
	agent_fails 1 "^backup-agent: snapshot: .*no-such-vol" no-such-vol /dev/ram1 \
		"$CBW_TMP/none.img"
	[ ! -e "$CBW_TMP/none.img" ] || _fail "a failed snapshot left an image"
	_expect_eq "$(dmsetup table vol)" "$vol_table" "vol's table after the failures"

	_log "the agent under a busy vol"
	writer &
	WRITER_PID=$!
	sleep 0.5
	k0=$(writer_files "$MNT")
	"$AGENT" vol /dev/ram1 "$CBW_TMP/vol.img" >"$CBW_TMP/out" 2>"$CBW_TMP/err"
	_expect_eq "$?" 0 "exit status of the agent (stderr: $(<"$CBW_TMP/err"))"
	k1=$(writer_files "$MNT")
	touch "$CBW_TMP/stop"
	wait "$WRITER_PID" || _fail "the writer failed: $(cat "$CBW_TMP/writer.err" 2>/dev/null)"
	WRITER_PID=''
	_log "writer files: $k0 before the agent, $k1 after it"

	want="snapshot: /dev/mapper/vol-snap"
	for i in $(seq 10 10 100); do
		want+=$'\n'"progress: $i%"
	done
	out=$(<"$CBW_TMP/out")
	_expect_eq "$(head -n 11 <<<"$out")" "$want" "the agent's output up to the backup line"
	grep -Eq '^backup: 67108864 bytes read, [0-9]+ zero, 67108864 discarded, 0 chunks failed$' \
		<<<"$out" || _fail "backup line: '$out'"
	grep -Eq '^status: [0-9]+ chunks copied, 1024 discarded, [0-9]+ of 1024 COW slots used$' \
		<<<"$out" || _fail "status line: '$out'"
	_expect_eq "$(tail -n 1 <<<"$out")" "released: vol" "the agent's last line"
	[ ! -s "$CBW_TMP/err" ] || _fail "the agent wrote on stderr: '$(<"$CBW_TMP/err")'"

	_log "vol has its table back and is still mounted"
	_expect_eq "$(dmsetup table vol)" "$vol_table" "vol's table after the release"
	for i in vol-real vol-snap; do
		! exists $i || _fail "$i still exists"
	done
	echo after >"$MNT/after" && sync -f "$MNT" || _fail "vol no longer takes writes"

	_log "the image is vol at the frozen point"
	_expect_eq "$(stat -c %s "$CBW_TMP/vol.img")" 67108864 "the image's size"
	out=$(e2fsck -fn "$CBW_TMP/vol.img" 2>&1) || _fail "e2fsck -fn of the image: $out"
	mount -o ro,loop,noload "$CBW_TMP/vol.img" "$CBW_TMP/imgmnt" ||
		_die "cannot mount the image"
	IMGMNT=$CBW_TMP/imgmnt
	(cd "$IMGMNT/static" && sha256sum -c --quiet "$CBW_TMP/static.sums") ||
		_fail "files of before the snapshot changed in the image"
	k=$(writer_files "$IMGMNT")
	[ "$k" -ge "$k0" ] && [ "$k" -le "$k1" ] ||
		_fail "the image has $k writer files, expected $k0 to $k1"
	for i in $(seq 1 "$k"); do
		cmp -s "$CBW_TMP/pattern" "$IMGMNT/w/f.$i" ||
			{ _fail "w/f.$i in the image is not whole"; break; }
	done
	[ ! -e "$IMGMNT/after" ] || _fail "a file written after the release is in the image"
	umount "$IMGMNT" || _fail "cannot unmount the image"
	IMGMNT=

	umount "$MNT" || _fail "cannot unmount vol"
	MNT=
	out=$(e2fsck -fn /dev/mapper/vol 2>&1) || _fail "e2fsck -fn of vol: $out"
}
