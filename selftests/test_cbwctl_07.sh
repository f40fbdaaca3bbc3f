#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_cbwctl_07: cbwctl export over TCP needs TLS (or --insecure), and a
# Unix socket export is mode 0600, with real NBD clients (qemu-img) on
# the loopback interface.  An 8 MiB origin of random data, 64 KiB chunks;
# its copy is taken before create, then 1 MiB and a chunk are written
# through NAME (so the snapshot and the origin differ).
#
# Scenario and expected results:
#   - TLS-PSK (--tls-psk DIR, DIR/keys.psk with the user backup): cbwctl
#     prints nbds://127.0.0.1:PORT.  A client without TLS, a client with
#     the right user and a wrong key, and a user not in keys.psk are
#     refused; the client with the key reads an image equal byte for byte
#     to the copy of the origin before the writes.
#   - x509 (--tls-x509 DIR, certificates made with openssl: a CA, the
#     server's for 127.0.0.1, clients CN=backup and CN=other, both under
#     O=Example) with --tls-authz 'O=Example,CN=backup' (a ',' that cbwctl
#     doubles for qemu): the backup client reads the same image; the
#     other client (same CA), a client without a certificate and a client
#     without TLS are refused.
#   - Without TLS options a TCP export exits 2 with one line; with
#     --insecure it serves plain NBD (nbd://127.0.0.1:PORT), read equal to
#     the copy.  Bad combinations exit 2: --tls-x509 with --tls-psk, TLS
#     with --insecure, TLS or --insecure with a socket, --tls-authz with
#     --tls-psk or alone, a DIR that is missing or a file.
#   - A Unix socket export, cbwctl run under umask 022: the socket is mode
#     600 and a client reads through it.

DESCRIPTION="cbwctl export: TLS-PSK and x509 with authz over TCP, --insecure, a socket of mode 0600"

requires() {
	local t
	for t in cbwctl qemu-io qemu-img qemu-nbd dmsetup blockdev cmp ip openssl stat timeout; do
		if ! command -v $t >/dev/null; then
			_skip_reason "$t not found"
			return 1
		fi
	done
	for t in tls-creds-psk tls-creds-x509 authz-simple; do
		if ! qemu-nbd --object "$t,help" 2>&1 | grep -q "^$t options"; then
			_skip_reason "qemu-nbd has no $t objects"
			return 1
		fi
	done
	_require_target cbw dm-cbw || return 1
}

N=c7			# the cbw device
SNAP=/dev/mapper/$N-snap
PORT=$((20000 + RANDOM % 20000))
PID=			# the qemu-nbd this test runs

# stop_pid PID: the clean-up's stop of a qemu-nbd, if it still runs.
stop_pid() {
	kill "$1" 2>/dev/null
	return 0
}

# stop_server: stop the running qemu-nbd and wait until it is gone.
stop_server() {
	local i
	[ -n "$PID" ] || return 0
	kill "$PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PID" 2>/dev/null && _fail "qemu-nbd $PID did not stop"
	PID=
}

# serve URI ARG...: 'cbwctl export N ARG... --persistent' prints URI and
# nothing else; PID is its qemu-nbd.
serve() {
	local want=$1 out
	shift
	if ! out=$(cbwctl export $N "$@" --persistent --pid-file "$CBW_TMP/nbd.pid" 2>&1); then
		_fail "cbwctl export $N $*: $out"
		return 1
	fi
	PID=$(<"$CBW_TMP/nbd.pid")
	_on_cleanup stop_pid "$PID"
	_expect_eq "$out" "$want" "cbwctl export $N $* output"
}

# client_reads WHAT OUT QEMU-IMG-ARGS...: qemu-img convert to OUT
# succeeds, and OUT equals the copy of the origin before the writes.
client_reads() {
	local what=$1 img=$2 out
	shift 2
	rm -f "$img"
	if ! out=$(timeout 60 qemu-img convert -O raw "$@" "$img" 2>&1); then
		_fail "$what: qemu-img convert failed: $out"
		return 1
	fi
	out=$(cmp "$img" "$CBW_TMP/t0.img" 2>&1) || _fail "$what: the image is not the snapshot: $out"
	rm -f "$img"
}

# client_refused WHAT PATTERN QEMU-IMG-ARGS...: qemu-img info fails with
# an error matching PATTERN (ERE).
client_refused() {
	local what=$1 pattern=$2 out
	shift 2
	if out=$(timeout 60 qemu-img info "$@" 2>&1); then
		_fail "$what: the client was served: $out"
		return 1
	fi
	grep -Eq -- "$pattern" <<<"$out" || _fail "$what: error '$out' does not match '$pattern'"
}

# hexkey: 32 random bytes in hex.
hexkey() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# nbd_opts CREDS: the --image-opts of our export with TLS object CREDS.
nbd_opts() { echo "driver=nbd,host=127.0.0.1,port=$PORT${1:+,tls-creds=$1}"; }

test_psk() {
	local d=$CBW_TMP/psk key
	_log "TLS-PSK: only the user with the key reads the snapshot"
	mkdir -p "$d/server" "$d/client" "$d/wrong" "$d/stranger"
	key=$(hexkey)
	echo "backup:$key" >"$d/server/keys.psk"
	chmod 600 "$d/server/keys.psk"
	echo "backup:$key" >"$d/client/keys.psk"
	echo "backup:$(hexkey)" >"$d/wrong/keys.psk"
	echo "stranger:$key" >"$d/stranger/keys.psk"
	serve "nbds://127.0.0.1:$PORT" --nbd 127.0.0.1:$PORT --tls-psk "$d/server" || return

	client_refused "psk: a client without TLS" "TLS" "nbd://127.0.0.1:$PORT"
	client_refused "psk: a wrong key" "TLS handshake failed" \
		--object "tls-creds-psk,id=tls0,endpoint=client,dir=$d/wrong,username=backup" \
		--image-opts "$(nbd_opts tls0)"
	client_refused "psk: a user not in keys.psk" "TLS handshake failed" \
		--object "tls-creds-psk,id=tls0,endpoint=client,dir=$d/stranger,username=stranger" \
		--image-opts "$(nbd_opts tls0)"
	client_reads "psk: the client with the key" "$CBW_TMP/psk.img" \
		--object "tls-creds-psk,id=tls0,endpoint=client,dir=$d/client,username=backup" \
		--image-opts "$(nbd_opts tls0)"
	stop_server
}

# cert NAME SUBJECT EXT DIR FILE: an EC key DIR/FILE-key.pem and its
# certificate DIR/FILE-cert.pem signed by the test CA, with extensions EXT.
cert() {
	local d=$CBW_TMP/x509 out
	mkdir -p "$4"
	printf '%b' "$3" >"$d/$1.ext"
	if ! out=$(openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$4/$5-key.pem" -out "$d/$1.csr" -subj "$2" 2>&1 &&
		   openssl x509 -req -in "$d/$1.csr" -CA "$d/ca-cert.pem" -CAkey "$d/ca-key.pem" \
			-CAcreateserial -out "$4/$5-cert.pem" -days 2 -extfile "$d/$1.ext" 2>&1); then
		_die "openssl: certificate $2: $out"
	fi
	cp "$d/ca-cert.pem" "$4/"
}

test_x509() {
	local d=$CBW_TMP/x509 out
	_log "x509: verify-peer and --tls-authz: only CN=backup reads the snapshot"
	mkdir -p "$d/none"
	if ! out=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$d/ca-key.pem" -out "$d/ca-cert.pem" -days 2 \
			-subj "/CN=cbw test CA" 2>&1); then
		_die "openssl: the CA: $out"
	fi
	cert server /CN=127.0.0.1 \
		'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' \
		"$d/server" server
	cert backup /O=Example/CN=backup 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' \
		"$d/backup" client
	cert other /O=Example/CN=other 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' \
		"$d/other" client
	cp "$d/ca-cert.pem" "$d/none/"
	serve "nbds://127.0.0.1:$PORT" --nbd 127.0.0.1:$PORT --tls-x509 "$d/server" \
		--tls-authz "O=Example,CN=backup" || return

	client_refused "x509: a client without TLS" "TLS" "nbd://127.0.0.1:$PORT"
	client_refused "x509: a client without a certificate" "TLS" \
		--object "tls-creds-x509,id=tls0,endpoint=client,dir=$d/none" \
		--image-opts "$(nbd_opts tls0)"
	client_refused "x509: CN=other, not authorised" "TLS" \
		--object "tls-creds-x509,id=tls0,endpoint=client,dir=$d/other" \
		--image-opts "$(nbd_opts tls0)"
	client_reads "x509: CN=backup" "$CBW_TMP/x509.img" \
		--object "tls-creds-x509,id=tls0,endpoint=client,dir=$d/backup" \
		--image-opts "$(nbd_opts tls0)"
	stop_server
}

test_plain() {
	local d=$CBW_TMP/psk tcp=127.0.0.1:$PORT sock=$CBW_TMP/nbd.sock
	_log "TCP without TLS: exit 2 unless --insecure; bad combinations: exit 2"
	_cbwctl_fails 2 "a TCP export needs TLS \(--tls-x509 DIR or --tls-psk DIR\), or --insecure" \
		export $N --nbd $tcp
	_cbwctl_fails 2 "a TCP export needs TLS" export $N --nbd "[::1]:$PORT" --persistent
	_cbwctl_fails 2 "--tls-psk and --tls-x509 do not go together" \
		export $N --nbd $tcp --tls-psk "$d/server" --tls-x509 "$CBW_TMP/x509/server"
	_cbwctl_fails 2 "--tls-psk and --insecure do not go together" \
		export $N --nbd $tcp --tls-psk "$d/server" --insecure
	_cbwctl_fails 2 "--insecure is for TCP: a Unix socket export needs no TLS" \
		export $N --nbd "$sock" --insecure
	_cbwctl_fails 2 "--tls-psk is for TCP" export $N --nbd "$sock" --tls-psk "$d/server"
	_cbwctl_fails 2 "--tls-authz needs --tls-x509 DIR" \
		export $N --nbd $tcp --tls-psk "$d/server" --tls-authz backup
	_cbwctl_fails 2 "--tls-authz needs --tls-x509 DIR" export $N --nbd $tcp --tls-authz x
	_cbwctl_fails 2 "cannot use --tls-x509 '$CBW_TMP/none': No such file or directory" \
		export $N --nbd $tcp --tls-x509 "$CBW_TMP/none"
	_cbwctl_fails 2 "invalid --tls-psk '$d/server/keys.psk': not a folder" \
		export $N --nbd $tcp --tls-psk "$d/server/keys.psk"
	_cbwctl_fails 2 "--tls-authz needs an IDENTITY" \
		export $N --nbd $tcp --tls-x509 "$CBW_TMP/x509/server" --tls-authz ""
	[ -e "$sock" ] && _fail "a refused export left $sock"

	_log "--insecure: plain NBD"
	serve "nbd://127.0.0.1:$PORT" --nbd $tcp --insecure || return
	client_reads "--insecure: a plain client" "$CBW_TMP/plain.img" "nbd://127.0.0.1:$PORT"
	stop_server
}

test_socket() {
	local sock=$CBW_TMP/nbd.sock out mode
	_log "a Unix socket export is mode 0600"
	if ! out=$(umask 022 && cbwctl export $N --nbd "$sock" --persistent \
			--pid-file "$CBW_TMP/nbd.pid" 2>&1); then
		_fail "cbwctl export $N --nbd $sock: $out"
		return
	fi
	PID=$(<"$CBW_TMP/nbd.pid")
	_on_cleanup stop_pid "$PID"
	_expect_eq "$out" "nbd+unix:///?socket=$sock" "socket export output"
	mode=$(stat -c %a "$sock")
	_expect_eq "$mode" 600 "mode of $sock (made under umask 022)"
	client_reads "socket" "$CBW_TMP/sock.img" "nbd+unix:///?socket=$sock"
	stop_server
}

test_main() {
	local out

	_tmpdir
	_brd_setup 2 8
	ip link set lo up || _die "cannot bring lo up"

	_log "help"
	out=$(cbwctl export --help) || _fail "cbwctl export --help failed"
	for o in --tls-x509 --tls-psk --tls-authz --insecure; do
		[[ $out == *"  $o "* ]] || _fail "cbwctl export --help lacks $o"
	done

	_log "the origin, its copy, the snapshot, then writes through $N"
	dd if=/dev/urandom of=/dev/ram0 bs=1M count=8 oflag=direct status=none ||
		_die "cannot fill /dev/ram0"
	dd if=/dev/ram0 of="$CBW_TMP/t0.img" bs=1M iflag=direct status=none ||
		_die "cannot copy /dev/ram0"
	out=$(cbwctl create $N --origin /dev/ram0 --cow /dev/ram1 --chunk 64k 2>&1) ||
		_die "cbwctl create $N: $out"
	CBW_DM_DEVS+=("$N" "$N-snap")
	_pattern_write_all /dev/mapper/$N "0x55 0 1M" "0x66 5M 64k"
	_pattern_check /dev/ram0 5M 64k 0x66
	_cbw_expect $N copied=17

	test_psk
	test_x509
	test_plain
	test_socket

	out=$(cmp "$SNAP" "$CBW_TMP/t0.img" 2>&1) || _fail "$SNAP after the exports: $out"
	_cbw_expect $N state=active copied=17
	out=$(cbwctl remove $N 2>&1) || _fail "cbwctl remove $N: $out"
	_dm_forget "$N-snap"
	_dm_forget "$N"
}
