#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""dm_batch.py - dmsetup's load, message, create, resume, status and remove
as one long-lived process, for test_fuzz_01.sh.

Usage (as a bash coprocess): dm_batch.py DIR

Under TCG every program start costs 0.1 to 0.3 s (dmsetup loads six
libraries), more than the fuzzer's own work per case.  This process loads
libdevmapper once, through ctypes, and then does what dmsetup would for
each request, with the same library calls and the same parsing:

  load NAME            the table in DIR/in, parsed as 'dmsetup load' parses
                       a table file: per line, blanks trimmed, empty and
                       '#' lines skipped, sscanf("%llu %llu %s %n") for
                       start, length and type, the rest up to a '#' the
                       parameters
  message NAME SECTOR  the text in DIR/in (dmsetup joins its words with
                       one blank); the answer goes to DIR/o
  create NAME          an empty device (dmsetup create --notable);
                       DIR/o gets "MAJOR:MINOR"
  resume NAME
  status NAME          DIR/o gets what 'dmsetup status' prints
  remove NAME

A request is one line on stdin; the reply is one line on stdout: 0, or
the errno of the failed ioctl (EINVAL when the request itself is bad), and
then DIR/o holds the text dmsetup would print on stderr
("device-mapper: message ioctl on NAME  failed: Invalid argument").
Nodes under /dev/mapper are made by libdevmapper itself, as the guest has
no udev (DM_DISABLE_UDEV=1, set by scripts/vm.d/stage2).
"""

import ctypes
import errno
import os
import sys

DM_DEVICE_CREATE = 0
DM_DEVICE_RELOAD = 1
DM_DEVICE_REMOVE = 2
DM_DEVICE_RESUME = 5
DM_DEVICE_STATUS = 10
DM_DEVICE_TARGET_MSG = 17

# The ioctl names libdevmapper puts in its error lines.
IOCTL_NAME = {
    DM_DEVICE_CREATE: "create",
    DM_DEVICE_RELOAD: "reload",
    DM_DEVICE_REMOVE: "remove",
    DM_DEVICE_RESUME: "resume",
    DM_DEVICE_STATUS: "status",
    DM_DEVICE_TARGET_MSG: "message",
}

dm = ctypes.CDLL("libdevmapper.so.1.02.1", use_errno=True)
libc = ctypes.CDLL(None, use_errno=True)

dm.dm_task_create.restype = ctypes.c_void_p
dm.dm_task_create.argtypes = [ctypes.c_int]
dm.dm_task_destroy.argtypes = [ctypes.c_void_p]
dm.dm_task_set_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
dm.dm_task_add_target.argtypes = [ctypes.c_void_p, ctypes.c_uint64,
                                  ctypes.c_uint64, ctypes.c_char_p,
                                  ctypes.c_char_p]
dm.dm_task_run.argtypes = [ctypes.c_void_p]
dm.dm_task_get_errno.argtypes = [ctypes.c_void_p]
dm.dm_task_set_sector.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
dm.dm_task_set_message.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
dm.dm_task_get_message_response.restype = ctypes.c_char_p
dm.dm_task_get_message_response.argtypes = [ctypes.c_void_p]
dm.dm_task_get_info.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
dm.dm_get_next_target.restype = ctypes.c_void_p
dm.dm_get_next_target.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_uint64),
                                  ctypes.POINTER(ctypes.c_uint64),
                                  ctypes.POINTER(ctypes.c_char_p),
                                  ctypes.POINTER(ctypes.c_char_p)]
dm.dm_log_with_errno_init.argtypes = [ctypes.c_void_p]
dm.dm_task_update_nodes.argtypes = []
libc.sscanf.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_void_p, ctypes.c_void_p,
                        ctypes.c_void_p, ctypes.c_void_p]

# libdevmapper's own error lines would go to our stderr: the replies say it.
LOGFN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                         ctypes.c_int, ctypes.c_char_p)


def _quiet(level, file, line, dm_errno, fmt):
    pass


_QUIET = LOGFN(_quiet)
dm.dm_log_with_errno_init(ctypes.cast(_QUIET, ctypes.c_void_p))


class Failed(Exception):
    def __init__(self, err, text):
        super().__init__(text)
        self.err = err
        self.text = text


def parse_table(data):
    """The targets of a table file, as dmsetup's _parse_line reads it."""
    targets = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        line = raw.strip(b" \t\n\v\f\r")
        if not line or line.startswith(b"#"):
            continue
        start = ctypes.c_uint64()
        size = ctypes.c_uint64()
        ttype = ctypes.create_string_buffer(len(line) + 1)
        n = ctypes.c_int(0)
        got = libc.sscanf(line, b"%llu %llu %s %n", ctypes.byref(start),
                          ctypes.byref(size), ttype, ctypes.byref(n))
        if got < 3:
            raise Failed(errno.EINVAL,
                         "Invalid format on line %d of table" % lineno)
        params = line[n.value:].split(b"#", 1)[0]
        targets.append((start.value, size.value, ttype.value, params))
    return targets


def run(kind, name, prepare=None):
    """One dm task; returns it for reading (the caller destroys it)."""
    dmt = dm.dm_task_create(kind)
    if not dmt:
        raise Failed(errno.ENOMEM, "dm_task_create failed")
    ok = dm.dm_task_set_name(dmt, name)
    if ok and prepare:
        ok = prepare(dmt)
    if not ok:
        dm.dm_task_destroy(dmt)
        raise Failed(errno.EINVAL, "cannot prepare the %s task"
                     % IOCTL_NAME[kind])
    if not dm.dm_task_run(dmt):
        err = dm.dm_task_get_errno(dmt) or errno.EIO
        dm.dm_task_destroy(dmt)
        dm.dm_task_update_nodes()
        raise Failed(err, "device-mapper: %s ioctl on %s  failed: %s"
                     % (IOCTL_NAME[kind], name.decode(), os.strerror(err)))
    return dmt


def op_load(name, data):
    targets = parse_table(data)

    def prepare(dmt):
        for start, size, ttype, params in targets:
            if not dm.dm_task_add_target(dmt, start, size, ttype, params):
                return 0
        return 1
    dm.dm_task_destroy(run(DM_DEVICE_RELOAD, name, prepare))
    return b""


def op_message(name, sector, data):
    def prepare(dmt):
        return (dm.dm_task_set_sector(dmt, sector) and
                dm.dm_task_set_message(dmt, data))
    dmt = run(DM_DEVICE_TARGET_MSG, name, prepare)
    answer = dm.dm_task_get_message_response(dmt) or b""
    dm.dm_task_destroy(dmt)
    if answer and not answer.endswith(b"\n"):
        answer += b"\n"
    return answer


def op_create(name):
    dmt = run(DM_DEVICE_CREATE, name)
    info = ctypes.create_string_buffer(64)
    got = dm.dm_task_get_info(dmt, info)
    dm.dm_task_destroy(dmt)
    dm.dm_task_update_nodes()
    if not got:
        raise Failed(errno.EIO, "no info for %s" % name.decode())
    major = int.from_bytes(info.raw[24:28], sys.byteorder)
    minor = int.from_bytes(info.raw[28:32], sys.byteorder)
    return b"%d:%d\n" % (major, minor)


def op_simple(kind, name):
    dm.dm_task_destroy(run(kind, name))
    dm.dm_task_update_nodes()
    return b""


def op_status(name):
    dmt = run(DM_DEVICE_STATUS, name)
    out = b""
    nxt = None
    start = ctypes.c_uint64()
    length = ctypes.c_uint64()
    ttype = ctypes.c_char_p()
    params = ctypes.c_char_p()
    while True:
        nxt = dm.dm_get_next_target(dmt, nxt, ctypes.byref(start),
                                    ctypes.byref(length), ctypes.byref(ttype),
                                    ctypes.byref(params))
        if ttype.value is not None:
            out += b"%d %d %s %s\n" % (start.value, length.value, ttype.value,
                                       params.value or b"")
        if not nxt:
            break
    dm.dm_task_destroy(dmt)
    return out


def serve(d):
    path_in = os.path.join(d, "in")
    path_out = os.path.join(d, "o")
    for req in sys.stdin.buffer:
        words = req.split()
        out = b""
        rc = 0
        try:
            if not words:
                raise Failed(errno.EINVAL, "empty request")
            op, args = words[0], words[1:]
            if op in (b"load", b"message"):
                with open(path_in, "rb") as f:
                    data = f.read()
            if op == b"load" and len(args) == 1:
                out = op_load(args[0], data)
            elif op == b"message" and len(args) == 2:
                out = op_message(args[0], int(args[1]), data)
            elif op == b"create" and len(args) == 1:
                out = op_create(args[0])
            elif op == b"resume" and len(args) == 1:
                out = op_simple(DM_DEVICE_RESUME, args[0])
            elif op == b"remove" and len(args) == 1:
                out = op_simple(DM_DEVICE_REMOVE, args[0])
            elif op == b"status" and len(args) == 1:
                out = op_status(args[0])
            else:
                raise Failed(errno.EINVAL, "bad request: %r" % req)
        except Failed as e:
            rc = e.err
            out = e.text.encode() + b"\n"
        with open(path_out, "wb") as f:
            f.write(out)
        sys.stdout.write("%d\n" % rc)
        sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: dm_batch.py DIR")
    serve(sys.argv[1])
