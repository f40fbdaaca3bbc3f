#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""cbw_load.py - the seeded workload and the checker of test_fault_02.sh.

Usage:
  cbw_load.py patterns DIR BLOCKS SEED...
      Write DIR/SEED.img for each SEED: BLOCKS blocks of generation 0, the
      image the test copies to the origin before it takes a snapshot.
  cbw_load.py run OPTION...
      Run the workload, then wait for the test's go and check; see main().

Every 4 KiB block of data is one 32-byte header repeated 128 times: magic,
block number, generation, seed.  Generation 0 is the origin's content when
the case starts; a guest write stamps its blocks with a generation of its
own ((writer + 1) << 32 | sequence number), so that every write is told
apart from the frozen data, and a torn or misplaced block from any other.

The workload forks W writers (O_DIRECT writes of 1-4 blocks to the cbw
device), R readers (O_DIRECT reads of 1-8 blocks of the snapshot-access
device) and D discarders (BLKDISCARD of 1-4 whole chunks of it), each with
its own random.Random seeded from --seed, until --secs have passed.  Each
logs every operation before it starts ("S id kind dev offset blocks t0")
and when it ends ("E id result t1 generations..."), line-buffered, so an
operation that never ends stays visible.  Readers and discarders move to
the second snapshot-access device (--snap2) when a read or discard fails
with EIO and the test has made it (the file --snap2-flag exists): the cbw
table was reloaded.

Checks (failures print "FAIL: ...", the exit status is 1):
 (a) the origin, read at the end, holds in each block a generation that a
     register could hold: the last write that succeeded, or a write that
     may have come after it (not known to be over before it began), or a
     failed write when failed writes may land; generation 0 if no write
     to the block succeeded.  Under policy fail a failed write never
     lands (its copy failed, the write was not sent), except with an
     origin fault, which fails writes on the origin itself.
 (b) every snapshot read that succeeded returned the frozen data:
     generation 0 from the first snapshot; for the snapshot a reload took,
     a generation the origin could hold during the reload, the same one in
     every read of the block; a read that succeeded never covers a chunk
     that a discard had removed before it began.  Failed reads fail with
     the documented errors: ENODATA for a chunk discarded (or dropped, or
     a broken snapshot), EIO for a fault of the devices read or a
     replaced table; after a reload every read of the old device fails
     with EIO.  At the end each chunk of the live snapshot is read: the
     readable ones (message map) return the frozen data, the others
     ENODATA.
 (c) the status counters add up: in snapshot = copied + to copy, used
     slots >= copied, in snapshot + discarded + dropped = chunks, the map
     has in-snapshot chunks, the state and first error fit the fault and
     the policy, failed reads >= the ENODATA reads seen, guest write
     errors are the policy's error for the fault (none under break and
     drop), and the fault did fire.
 (d) no operation hung, and each ended within its bound: --slack-ms,
     plus the copy timeout, or the end of a suspend or reload it met plus
     the slack, or the end of an operation on the same chunks it may wait
     for plus the slack, or (where the documentation lets it wait for the
     fault) the lifting of the fault plus the slack.
 (e) with --track (a track table: a new history, so its first snapshot
     took every chunk): the changed set (track_map) holds every chunk of
     every write begun after the live snapshot's point in time (the
     reload's resume, else the start), failed or not, and no chunk that
     no write touched; the status has generation 2, pending:1 and every
     chunk still pending, whatever the fault and the policy did to the
     snapshot.  Then the backup is taken to have failed half-way: a
     partial commit of the lower half, and a track-only table in its
     place; its changed set must be exactly the upper half (merged back)
     and the changed set before, in generation 2 with no pending set.
"""

import argparse
import errno
import fcntl
import mmap
import os
import random
import signal
import struct
import subprocess
import sys
import time

BS = 4096
MAGIC = 0x3230544C46574243  # b"CBWFLT02", little-endian
HDR = struct.Struct("<QQQQ")
BLKDISCARD = 0x1277
INF = float("inf")

FAULTS = ("origin", "cow_write", "cow_read", "slow", "full", "stuck")
# The guest write's error under policy fail, and the first errors a
# snapshot may record, per fault.
FAIL_ERRNO = {"origin": "EIO", "cow_write": "EIO", "cow_read": "EIO",
              "slow": "ETIMEDOUT", "full": "ENOSPC", "stuck": "ETIMEDOUT"}
REASONS = {"origin": {"io_error"}, "cow_write": {"io_error"},
           "cow_read": {"io_error"}, "slow": {"timeout"},
           "full": {"cow_full"}, "stuck": {"timeout"}}
CBW_FIELDS = ("chunk_sectors", "chunks", "in_snapshot", "copied", "to_copy",
              "dropped", "discarded", "slots", "state", "first_error",
              "policy", "timeout", "copies", "copy_errors", "timeouts",
              "waited", "wait_ms", "bytes")
# The fields a track table adds.
TRACK_FIELDS = ("uuid", "generation", "changed", "set", "set_chunks")


def block(seed, blk, gen):
    return HDR.pack(MAGIC, blk, gen, seed) * (BS // HDR.size)


def decode(seed, buf, first, n):
    """The generations of n blocks in buf, numbered from first; -1 for a
    block that is not a whole stamp of its own number and this seed."""
    gens = []
    for i in range(n):
        b = bytes(buf[i * BS:(i + 1) * BS])
        magic, blk, gen, s = HDR.unpack_from(b)
        if magic != MAGIC or blk != first + i or s != seed or \
                b != b[:HDR.size] * (BS // HDR.size):
            gens.append(-1)
        else:
            gens.append(gen)
    return gens


def ename(e):
    return errno.errorcode.get(e, str(e))


# --- patterns ---------------------------------------------------------------

def patterns(argv):
    d, blocks, seeds = argv[0], int(argv[1]), argv[2:]
    for s in seeds:
        with open(os.path.join(d, s + ".img"), "wb") as f:
            for b in range(blocks):
                f.write(block(int(s), b, 0))


# --- workload ---------------------------------------------------------------

class Log:
    def __init__(self, path):
        self.f = open(path, "w", buffering=1)
        self.n = 0

    def start(self, kind, dev, off, n):
        self.n += 1
        t0 = time.time()
        self.f.write("S %d %s %d %d %d %.6f\n" % (self.n, kind, dev, off, n, t0))
        return t0

    def end(self, res, data=()):
        self.f.write("E %d %s %.6f %s\n" % (self.n, res, time.time(),
                                            " ".join(map(str, data))))


def running(a, end):
    return time.time() < end and not os.path.exists(a.stop)


def worker(a, kind, idx, end):
    rng = random.Random("%d-%s-%d" % (a.seed, kind, idx))
    log = Log(os.path.join(a.dir, "%s%d.log" % (kind, idx)))
    blocks, cb = a.blocks, a.chunk_blocks
    chunks = blocks // cb
    buf = mmap.mmap(-1, 8 * BS)
    mv = memoryview(buf)
    dev = 1

    def open_dev():
        path = a.snap if dev == 1 else a.snap2
        if kind == "W":
            return os.open(a.cbw, os.O_RDWR | os.O_DIRECT)
        if kind == "R":
            return os.open(path, os.O_RDONLY | os.O_DIRECT)
        return os.open(path, os.O_WRONLY)

    fd = open_dev()
    seq = 0
    while running(a, end):
        if a.think:
            time.sleep(rng.uniform(0, 2 * a.think))
        res, data = "ok", ()
        if kind == "W":
            n = rng.choice((1, 1, 1, 2, 3, 4))
            off = rng.randrange(blocks - n + 1)
            seq += 1
            gen = (idx + 1) << 32 | seq
            for i in range(n):
                buf[i * BS:(i + 1) * BS] = block(a.seed, off + i, gen)
            log.start("W", 0, off, n)
            try:
                r = os.pwritev(fd, [mv[:n * BS]], off * BS)
                if r != n * BS:
                    res = "short%d" % r
            except OSError as e:
                res = ename(e.errno)
            log.end(res, (gen,))
        elif kind == "R":
            n = rng.randint(1, 8)
            off = rng.randrange(blocks - n + 1)
            log.start("R", dev, off, n)
            try:
                r = os.preadv(fd, [mv[:n * BS]], off * BS)
                if r != n * BS:
                    res = "short%d" % r
                else:
                    data = decode(a.seed, buf, off, n)
            except OSError as e:
                res = ename(e.errno)
            log.end(res, data)
        else:
            time.sleep(rng.uniform(0, 2 * a.discard_gap))
            # Only even groups of 16 chunks: half the snapshot stays.
            n = rng.randint(1, 4)
            ch = rng.randrange(0, chunks, 32) + rng.randrange(16 - n + 1)
            log.start("D", dev, ch * cb, n * cb)
            try:
                fcntl.ioctl(fd, BLKDISCARD,
                            struct.pack("QQ", ch * cb * BS, n * cb * BS))
            except OSError as e:
                res = ename(e.errno)
            log.end(res)
        if res == "EIO" and kind != "W" and dev == 1 and \
                os.path.exists(a.snap2_flag):
            os.close(fd)
            dev = 2
            fd = open_dev()
        elif res == "EIO" and kind != "W":
            time.sleep(0.005)
    os.close(fd)


def run_workload(a):
    """Fork the workers; return the ids of those still running past the
    grace time (killed)."""
    t0 = time.time()
    end = t0 + a.secs
    pids = {}
    for kind, count in (("W", a.writers), ("R", a.readers), ("D", a.discarders)):
        for i in range(count):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    worker(a, kind, i, end)
                except BaseException as e:  # pylint: disable=broad-except
                    print("FAIL: worker %s%d: %r" % (kind, i, e), flush=True)
                    code = 1
                os._exit(code)
            pids[pid] = "%s%d" % (kind, i)
    with open(os.path.join(a.dir, "started"), "w") as f:
        f.write("%.6f\n" % t0)
    bad = []
    stop_t = None
    while pids and time.time() < end + a.grace:
        if os.path.exists(a.stop) and not stop_t:
            stop_t = time.time()
        if stop_t and time.time() > stop_t + a.grace:
            break
        pid, st = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.05)
            continue
        if st != 0:
            bad.append(pids[pid] + " exit status %d" % st)
        del pids[pid]
    hung = list(pids.values())
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    with open(os.path.join(a.dir, "done"), "w") as f:
        f.write("%d\n" % len(hung))
    return hung, bad


# --- checks -----------------------------------------------------------------

class Op:
    __slots__ = ("w", "kind", "dev", "off", "n", "t0", "t1", "res", "data")

    def chunks(self, cb):
        return range(self.off // cb, (self.off + self.n - 1) // cb + 1)


def load_ops(d):
    ops = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        cur = {}
        with open(os.path.join(d, name)) as f:
            for line in f:
                p = line.split()
                if not p:
                    continue
                if p[0] == "S" and len(p) == 7:
                    o = Op()
                    o.w, o.kind, o.dev = name[:-4], p[2], int(p[3])
                    o.off, o.n, o.t0 = int(p[4]), int(p[5]), float(p[6])
                    o.t1, o.res, o.data = None, "hung", []
                    cur[p[1]] = o
                    ops.append(o)
                elif p[0] == "E" and len(p) >= 4 and p[1] in cur:
                    o = cur[p[1]]
                    o.res, o.t1 = p[2], float(p[3])
                    o.data = [int(x) for x in p[4:]]
    return ops


def dm(*args):
    r = subprocess.run(("dmsetup",) + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True,
                       check=False)
    return r.returncode, r.stdout.strip()


def all_status():
    """Every device's status words after the target name, by name."""
    rc, out = dm("status")
    got = {}
    for line in out.splitlines() if rc == 0 else ():
        name, _, rest = line.partition(": ")
        got[name] = rest.split()[3:]
    return got


def status_file(d, what):
    try:
        with open(os.path.join(d, "status_" + what)) as f:
            return cbw_status(f.read())
    except OSError:
        return None


def cbw_status(line):
    w = line.split()[3:]
    if len(w) not in (len(CBW_FIELDS), len(CBW_FIELDS) + len(TRACK_FIELDS)):
        return None
    return dict(zip(CBW_FIELDS + TRACK_FIELDS, w))


def chunk_runs(name, msg="map"):
    """The chunks that message msg (map, track_map) of device name lists,
    or None if it fails."""
    got, start = set(), 0
    while True:
        rc, out = dm("message", name, "0", msg, str(start))
        if rc != 0:
            return None
        w = out.split()
        for run in w:
            if "-" in run:
                lo, hi = run.split("-")
                got.update(range(int(lo), int(hi) + 1))
        if len(w) >= 2 and w[-2] == "more":
            start = int(w[-1])
            continue
        return got


class Checker:
    def __init__(self, a, ops):
        self.a = a
        self.ops = ops
        self.fails = 0
        self.cb = a.chunk_blocks
        self.ev = {}
        with open(os.path.join(a.dir, "events")) as f:
            for line in f:
                p = line.split()
                if len(p) == 2:
                    self.ev.setdefault(p[0], float(p[1]))
        self.holds = []
        for k in self.ev:
            if k.endswith("_start") and k[:-6] + "_end" in self.ev:
                self.holds.append((self.ev[k], self.ev[k[:-6] + "_end"]))
        self.fault_on = self.ev.get("fault_start", INF)
        self.lift = self.ev.get("lift_end", INF)
        self.reload0 = self.ev.get("reload_start", INF)
        self.reload1 = self.ev.get("reload_end", INF)
        self.writes = {}
        for o in ops:
            if o.kind == "W":
                for b in range(o.off, o.off + o.n):
                    self.writes.setdefault(b, []).append(o)
        # Under fail the write of a failed copy is never sent.
        self.strict = a.policy == "fail" and a.fault != "origin"

    def fail(self, msg):
        self.fails += 1
        if self.fails <= 25:
            print("FAIL: %s: %s" % (self.a.case, msg), flush=True)

    def cands(self, b, lo, hi):
        """Generations block b may hold at a moment in [lo, hi]."""
        ws = self.writes.get(b, [])
        ok = [w for w in ws if w.res == "ok"]
        out = set()
        if not any(w.t1 < lo for w in ok):
            out.add(0)
        for w in ws:
            if w.res != "ok" and self.strict:
                continue
            if w.t0 >= hi:
                continue
            t1 = INF if w.t1 is None else w.t1
            if any(x.t0 > t1 and x.t1 < lo for x in ok):
                continue
            out.add(w.data[0] if w.data else -2)
        return out

    # (d)
    def bound(self, o):
        a = self.a
        slack = a.slack_ms / 1000.0
        t1 = INF if o.t1 is None else o.t1
        end = o.t0 + slack + a.timeout_ms / 1000.0
        for lo, hi in self.holds:
            if o.t0 < hi and t1 > lo:
                end = max(end, hi + slack)
        waits_fault = a.fault in ("slow", "stuck") and \
            (a.policy == "fail" or a.timeout_ms == 0)
        # Snapshot reads of copied chunks go to the stuck COW device;
        # discards wait for them.
        if a.fault == "stuck" and o.kind in "RD":
            waits_fault = True
        if waits_fault and o.t0 < self.lift and t1 > self.fault_on:
            end = max(end, self.lift + slack)
        if o.t1 is not None and o.t1 <= end:
            return end
        mine = set(o.chunks(self.cb))
        for x in self.ops:
            if x is o or x.w == o.w or x.t0 >= t1:
                continue
            if x.kind == "R" and o.kind == "W" and a.fault == "stuck":
                continue  # a write waits only for reads of the origin
            xt1 = INF if x.t1 is None else x.t1
            if xt1 <= o.t0 or not mine.intersection(x.chunks(self.cb)):
                continue
            end = max(end, xt1 + slack)
        return end

    def check_bounds(self):
        worst = {}
        for o in self.ops:
            if o.t1 is None:
                self.fail("%s %s dev %d blocks %d+%d hung (started %.3f s in)" %
                          (o.w, o.kind, o.dev, o.off, o.n, o.t0 - self.t_start))
                continue
            ms = (o.t1 - o.t0) * 1000
            worst[o.kind] = max(worst.get(o.kind, 0), ms)
            b = self.bound(o)
            if o.t1 > b:
                self.fail("%s %s blocks %d+%d took %d ms (%s), beyond its bound by %d ms" %
                          (o.w, o.kind, o.off, o.n, ms, o.res, (o.t1 - b) * 1000))
        return worst

    # (e)
    def check_track(self):
        a = self.a
        chunks = a.blocks // self.cb
        take = self.ev.get("reload_end", 0)
        written, after = set(), set()
        for o in self.ops:
            if o.kind == "W":
                written.update(o.chunks(self.cb))
                if o.t0 > take:
                    after.update(o.chunks(self.cb))
        got = chunk_runs(a.cbw_name, "track_map")
        if got is None:
            self.fail("track_map failed")
            return
        if after - got:
            self.fail("%d chunks written after the point in time are not in the "
                      "changed set: %s" % (len(after - got), sorted(after - got)[:8]))
        if got - written:
            self.fail("changed set has %d chunks that no write touched: %s" %
                      (len(got - written), sorted(got - written)[:8]))
        want = {"generation": "2", "changed": str(len(got)),
                "set": "pending:1", "set_chunks": str(chunks)}
        self.track_status("track snapshot", want)
        # The backup failed after it had written the lower half.
        half = chunks // 2
        rc, out = dm("message", a.cbw_name, "0", "commit", "0-%d" % (half - 1))
        if rc != 0:
            self.fail("commit 0-%d: %s" % (half - 1, out))
        want.update({"set": "committed:1", "set_chunks": str(chunks - half)})
        self.track_status("after the partial commit", want)
        rc, table = dm("table", a.cbw_name)
        w = table.split()
        if rc != 0 or len(w) < 6 or w[2] != "cbw":
            self.fail("table of %s: %s" % (a.cbw_name, table))
            return
        w[4:] = ["-", w[5], "1", "track"]
        for cmd in (("suspend", a.cbw_name),
                    ("load", a.cbw_name, "--table", " ".join(w)),
                    ("resume", a.cbw_name)):
            rc, out = dm(*cmd)
            if rc != 0:
                self.fail("%s: %s" % (" ".join(cmd), out))
                return
        merged = got | set(range(half, chunks))
        got2 = chunk_runs(a.cbw_name, "track_map")
        if got2 != merged:
            self.fail("after the merge-back: changed set of %s chunks, expected %d "
                      "(missing %s, extra %s)" %
                      (got2 and len(got2), len(merged),
                       got2 is not None and sorted(merged - got2)[:8],
                       got2 is not None and sorted(got2 - merged)[:8]))
        self.track_status("track-only table after the merge-back",
                          {"generation": "2", "changed": str(len(merged)),
                           "set": "-", "set_chunks": "0"})
        print("%s: tracking: %d chunks changed after the point in time, "
              "%d merged back" % (a.case, len(got), len(merged)), flush=True)

    def track_status(self, label, want):
        rc, out = dm("status", self.a.cbw_name)
        st = cbw_status(out) if rc == 0 else None
        if not st or "uuid" not in st:
            self.fail("%s: status %s" % (label, out))
            return
        bad = {k: st[k] for k in want if st[k] != want[k]}
        if bad:
            self.fail("%s: status %s, expected %s" %
                      (label, bad, {k: want[k] for k in bad}))

    # (a)
    def check_origin(self):
        a = self.a
        fd = os.open(a.origin, os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, 256 * BS)
        bad = 0
        for first in range(0, a.blocks, 256):
            n = min(256, a.blocks - first)
            os.preadv(fd, [memoryview(buf)[:n * BS]], first * BS)
            for i, g in enumerate(decode(a.seed, buf, first, n)):
                c = self.cands(first + i, INF, INF)
                if g not in c:
                    bad += 1
                    if bad <= 5:
                        self.fail("origin block %d holds generation %#x, expected one of %s" %
                                  (first + i, g, sorted(hex(x) for x in c)[:6]))
        os.close(fd)
        if bad > 5:
            self.fail("origin: %d blocks wrong in all" % bad)

    # (b)
    def check_reads(self, broke, dropped):
        a = self.a
        cb = self.cb
        by_chunk = {}
        for d in self.ops:
            if d.kind == "D":
                for ch in d.chunks(cb):
                    by_chunk.setdefault(ch, []).append(d)
        seen2 = {}
        nodata = {1: 0, 2: 0}
        for o in self.ops:
            if o.kind == "D":
                if o.res == "ok" or o.res == "hung":
                    continue
                if not (o.res == "EIO" and o.dev == 1 and
                        (o.t1 or INF) > self.reload0):
                    self.fail("%s discard of blocks %d+%d failed: %s" %
                              (o.w, o.off, o.n, o.res))
                continue
            if o.kind != "R" or o.res == "hung":
                continue
            if o.dev == 1 and o.t0 > self.reload1 and o.res != "EIO":
                self.fail("%s read of the replaced snapshot at %.3f s: %s, expected EIO" %
                          (o.w, o.t0 - self.t_start, o.res))
            near = [d for ch in o.chunks(cb) for d in by_chunk.get(ch, ())
                    if d.dev == o.dev]
            if o.res == "ok":
                for d in near:
                    if d.res == "ok" and d.t1 < o.t0:
                        self.fail("%s read of blocks %d+%d succeeded after a discard of chunks %d+%d" %
                                  (o.w, o.off, o.n, d.off // cb, d.n // cb))
                        break
                for i, g in enumerate(o.data):
                    b = o.off + i
                    if o.dev == 1:
                        if g != 0:
                            self.fail("%s read of snapshot 1 block %d: generation %#x, expected 0" %
                                      (o.w, b, g))
                            break
                    else:
                        c = self.cands(b, self.reload0, self.reload1)
                        if g not in c:
                            self.fail("%s read of snapshot 2 block %d: generation %#x, expected one of %s" %
                                      (o.w, b, g, sorted(hex(x) for x in c)[:6]))
                            break
                        if seen2.setdefault(b, g) != g:
                            self.fail("snapshot 2 block %d read as %#x and as %#x" %
                                      (b, seen2[b], g))
                            break
            elif o.res == "ENODATA":
                nodata[o.dev] += 1
                if broke.get(o.dev) or dropped.get(o.dev):
                    continue
                if not any(d.t0 < o.t1 for d in near):
                    self.fail("%s read of blocks %d+%d of snapshot %d: ENODATA, but no discard, drop or break explains it" %
                              (o.w, o.off, o.n, o.dev))
            elif o.res == "EIO":
                if o.dev == 1 and o.t1 > self.reload0:
                    continue
                if a.fault in ("origin", "cow_read") and \
                        o.t1 > self.fault_on and o.t0 < self.lift:
                    continue
                self.fail("%s read of blocks %d+%d of snapshot %d: EIO outside a read fault" %
                          (o.w, o.off, o.n, o.dev))
            else:
                self.fail("%s read of blocks %d+%d: %s" % (o.w, o.off, o.n, o.res))
        return seen2, nodata

    def scan(self, path, dev, readable, broken, seen2):
        """Read every chunk of the live snapshot."""
        a = self.a
        cb = self.cb
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, cb * BS)
        bad = 0
        for ch in range(a.blocks // cb):
            try:
                os.preadv(fd, [buf], ch * cb * BS)
                res = "ok"
            except OSError as e:
                res = ename(e.errno)
            want = "ENODATA" if broken or ch not in readable else "ok"
            if res != want:
                bad += 1
                if bad <= 5:
                    self.fail("final read of chunk %d of snapshot %d: %s, expected %s" %
                              (ch, dev, res, want))
                continue
            if res != "ok":
                continue
            for i, g in enumerate(decode(a.seed, buf, ch * cb, cb)):
                b = ch * cb + i
                if dev == 1:
                    ok = g == 0
                else:
                    ok = g in self.cands(b, self.reload0, self.reload1) and \
                        seen2.setdefault(b, g) == g
                if not ok:
                    bad += 1
                    if bad <= 5:
                        self.fail("final read of snapshot %d block %d: generation %#x" %
                                  (dev, b, g))
        os.close(fd)
        if bad > 5:
            self.fail("final reads of snapshot %d: %d wrong in all" % (dev, bad))

    # (c)
    def check_status(self, st, label, fired):
        a = self.a
        if st is None:
            self.fail("%s: no cbw status" % label)
            return
        try:
            n = {k: int(st[k]) for k in ("chunks", "in_snapshot", "copied", "to_copy",
                                         "dropped", "discarded", "copy_errors",
                                         "timeouts", "timeout")}
            used, total = (int(x) for x in st["slots"].split("/"))
        except ValueError:
            self.fail("%s: status not numeric: %s" % (label, st))
            return
        state, first = st["state"], st["first_error"]
        if n["in_snapshot"] != n["copied"] + n["to_copy"]:
            self.fail("%s: in snapshot %d != copied %d + to copy %d" %
                      (label, n["in_snapshot"], n["copied"], n["to_copy"]))
        if n["in_snapshot"] + n["discarded"] + n["dropped"] != n["chunks"]:
            self.fail("%s: in snapshot %d + discarded %d + dropped %d != chunks %d" %
                      (label, n["in_snapshot"], n["discarded"], n["dropped"], n["chunks"]))
        if not n["copied"] <= used <= total:
            self.fail("%s: slots %d/%d for %d copied chunks" % (label, used, total, n["copied"]))
        if st["policy"] != a.policy or n["timeout"] != a.timeout_ms:
            self.fail("%s: policy %s timeout %d, expected %s %d" %
                      (label, st["policy"], n["timeout"], a.policy, a.timeout_ms))
        if first != "-" and first not in REASONS[a.fault]:
            self.fail("%s: first error %s under fault %s" % (label, first, a.fault))
        if (first == "-") != (n["copy_errors"] == 0):
            self.fail("%s: first error %s with %d copy errors" % (label, first, n["copy_errors"]))
        if n["timeouts"] and a.fault not in ("slow", "stuck"):
            self.fail("%s: %d timeouts under fault %s" % (label, n["timeouts"], a.fault))
        if n["dropped"] and a.policy != "drop":
            self.fail("%s: %d chunks dropped under policy %s" % (label, n["dropped"], a.policy))
        if a.policy == "break":
            want = "broken:" + first if n["copy_errors"] else "active"
            if state != want:
                self.fail("%s: state %s with %d copy errors (first %s), expected %s" %
                          (label, state, n["copy_errors"], first, want))
        elif a.policy == "drop":
            if state not in ("active", "broken:no_memory"):
                self.fail("%s: state %s under policy drop" % (label, state))
            if n["dropped"] and first == "-":
                self.fail("%s: %d dropped and no first error" % (label, n["dropped"]))
        elif state != "active":
            self.fail("%s: state %s under policy fail" % (label, state))
        fired[0] += n["copy_errors"]

    def discarded_chunks(self, dev, lo):
        got = set()
        for d in self.ops:
            if d.kind == "D" and d.dev == dev and d.res == "ok" and d.t0 >= lo:
                got.update(d.chunks(self.cb))
        return got


T_DBG = [time.time()]


def dbg(what):
    if os.environ.get("CBW_FAULT_DEBUG") == "1":
        now = time.time()
        print("debug: %s: %d ms" % (what, (now - T_DBG[0]) * 1000), flush=True)
        T_DBG[0] = now


def check(a, hung, bad, t_start):
    dbg("go")
    ops = load_ops(a.dir)
    c = Checker(a, ops)
    c.t_start = t_start
    for h in hung:
        c.fail("worker %s still running %d s after the end: killed" % (h, a.grace))
    for b in bad:
        c.fail("worker " + b)
    reload = "reload_end" in c.ev
    live = 2 if reload else 1
    live_snap = a.snap2 if reload else a.snap

    # The statuses, before the final reads count theirs.
    fired = [0]
    pre = None
    c.check_status(status_file(a.dir, "mid"), "snapshot 1 while suspended", fired)
    if reload:
        pre = status_file(a.dir, "pre")
        c.check_status(pre, "snapshot 1 before the reload", fired)
    st = status_file(a.dir, "final")
    c.check_status(st, "snapshot %d" % live, fired)
    every = all_status()
    acc = {1: every.get(a.snap_name)}
    if reload:
        acc[2] = every.get(a.snap2_name)
    readable = chunk_runs(a.cbw_name)
    dbg("status and map")

    broke = {}
    dropped = {}
    if pre:
        broke[1] = pre["state"].startswith("broken")
        dropped[1] = pre["dropped"] != "0"
    if st:
        broke[live] = st["state"].startswith("broken")
        dropped[live] = st["dropped"] != "0"
    seen2, nodata = c.check_reads(broke, dropped)
    dbg("reads")
    for dev, w in acc.items():
        if not w or len(w) != 4:
            c.fail("snapshot-access %d status: %s" % (dev, w))
            continue
        want = "invalid" if dev == 1 and reload else \
            ("broken" if broke.get(dev) else "valid")
        if w[0] != want:
            c.fail("snapshot-access %d state %s, expected %s" % (dev, w[0], want))
        if int(w[3]) < nodata[dev]:
            c.fail("snapshot-access %d failed reads %s < %d reads that failed with ENODATA" %
                   (dev, w[3], nodata[dev]))
    if st and readable is not None:
        if len(readable) != int(st["in_snapshot"]):
            c.fail("map has %d chunks, status in snapshot %s" % (len(readable), st["in_snapshot"]))
        gone = c.discarded_chunks(live, c.reload1 if reload else 0)
        # A broken snapshot's map stays as it was; its discards do nothing.
        if gone & readable and not broke.get(live):
            c.fail("discarded chunks still in the map: %s" % sorted(gone & readable)[:8])
        if a.policy == "fail" and int(st["discarded"]) != len(gone):
            c.fail("discarded %s, the workload discarded %d distinct chunks" %
                   (st["discarded"], len(gone)))
        if int(st["discarded"]) > len(gone):
            c.fail("discarded %s > %d chunks the workload discarded" %
                   (st["discarded"], len(gone)))
        c.scan(live_snap, live, readable, broke.get(live), seen2)
        dbg("scan")
    elif readable is None:
        c.fail("map message of %s failed" % a.cbw_name)

    # Guest writes: the policy's error for the fault, none under break
    # and drop (the origin fault's writes fail on the origin itself).
    werr = {}
    for o in ops:
        if o.kind == "W" and o.res not in ("ok", "hung"):
            werr[o.res] = werr.get(o.res, 0) + 1
    allowed = {FAIL_ERRNO[a.fault]} if a.policy == "fail" else set()
    if a.fault == "origin":
        allowed.add("EIO")
    for e, k in werr.items():
        if e not in allowed:
            c.fail("%d guest writes failed with %s under fault %s, policy %s" %
                   (k, e, a.fault, a.policy))

    eio_reads = sum(1 for o in ops if o.kind == "R" and o.res == "EIO" and
                    o.t1 < c.reload0)
    if a.fault == "stuck" and a.timeout_ms == 0:
        pass    # no timeout: the writes wait, nothing fails
    elif a.fault == "cow_read":
        if not eio_reads and not fired[0]:
            c.fail("the fault never fired (no EIO read, no copy error)")
    elif not fired[0]:
        c.fail("the fault never fired (no copy error)")

    c.check_origin()
    dbg("origin")
    worst = c.check_bounds()
    dbg("bounds")
    if a.track:
        c.check_track()
        dbg("track")

    def count(kind, pred=lambda o: True):
        return sum(1 for o in ops if o.kind == kind and pred(o))
    r_err = {}
    for o in ops:
        if o.kind == "R" and o.res != "ok":
            r_err[o.res] = r_err.get(o.res, 0) + 1
    print("%s: writes %d ok %d failed %s, reads %d ok %s, discards %d ok %d failed; "
          "worst ms W %d R %d D %d; state %s; copied %s to_copy %s dropped %s discarded %s "
          "slots %s copies %s copy_errors %s timeouts %s%s" %
          (a.case, count("W", lambda o: o.res == "ok"), sum(werr.values()),
           ",".join("%s:%d" % kv for kv in sorted(werr.items())) or "-",
           count("R", lambda o: o.res == "ok"),
           ",".join("%s:%d" % kv for kv in sorted(r_err.items())) or "0 failed",
           count("D", lambda o: o.res == "ok"), count("D", lambda o: o.res != "ok"),
           worst.get("W", 0), worst.get("R", 0), worst.get("D", 0),
           st and st["state"], st and st["copied"], st and st["to_copy"],
           st and st["dropped"], st and st["discarded"], st and st["slots"],
           st and st["copies"], st and st["copy_errors"], st and st["timeouts"],
           "; before the reload: state %s copy_errors %s dropped %s" %
           (pre["state"], pre["copy_errors"], pre["dropped"]) if pre else ""),
          flush=True)
    return c.fails


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "patterns":
        patterns(sys.argv[2:])
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=("run",))
    p.add_argument("--case", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--secs", type=float, default=600,
                   help="the longest run; it ends when --stop exists")
    p.add_argument("--stop", required=True)
    p.add_argument("--think", type=float, default=0.01,
                   help="mean pause in s between two operations of a worker")
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--discarders", type=int, default=1)
    p.add_argument("--discard-gap", type=float, default=0.04)
    p.add_argument("--blocks", type=int, required=True)
    p.add_argument("--chunk-blocks", type=int, required=True)
    p.add_argument("--cbw", required=True)
    p.add_argument("--snap", required=True)
    p.add_argument("--snap2", required=True)
    p.add_argument("--snap2-flag", required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--cbw-name", required=True)
    p.add_argument("--snap-name", required=True)
    p.add_argument("--snap2-name", required=True)
    p.add_argument("--fault", choices=FAULTS, required=True)
    p.add_argument("--policy", choices=("fail", "break", "drop"), required=True)
    p.add_argument("--timeout-ms", type=int, default=0)
    p.add_argument("--slack-ms", type=int, default=2500)
    p.add_argument("--track", action="store_true",
                   help="the cbw table tracks changes: check (e)")
    p.add_argument("--grace", type=float, default=30)
    p.add_argument("--go-wait", type=float, default=180)
    a = p.parse_args()

    t0 = time.time()
    hung, bad = run_workload(a)
    go = os.path.join(a.dir, "go")
    while not os.path.exists(go):
        if time.time() > t0 + a.secs + a.grace + a.go_wait:
            print("FAIL: %s: no go from the test" % a.case)
            return 1
        time.sleep(0.05)
    return 1 if check(a, hung, bad, t0) else 0


if __name__ == "__main__":
    sys.exit(main())
