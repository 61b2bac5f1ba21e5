"""Reads the kernel cuts short while data is still queued: a TCP urgent
mark, an AF_UNIX out-of-band mark, a message carrying SCM_RIGHTS.  The
next read must return the queued data, not wait for an edge that will
never come (the drained-read shortcut must not apply)."""

import array
import os
import socket
import time

import pytest

import netpoll
from netpoll import net

DEADLINE = 10.0        # generous: a hang fails with i/o timeout, not the suite


def _read_exactly(conn, n):
    # Let the poller collect the edges of everything sent, so that no edge
    # is left pending in the kernel to wake a read that waits wrongly.
    netpoll.gosched()
    netpoll.gosched()
    conn.set_read_deadline(time.monotonic() + DEADLINE)
    got = b""
    while len(got) < n:
        chunk = conn.read(65536)
        assert chunk, "EOF before all data arrived"
        got += chunk
    return got


def test_tcp_urgent_mark_does_not_hang_next_read(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        peer = socket.create_connection((ln.addr.host, ln.addr.port))
        conn = ln.accept()
        try:
            peer.sendall(b"a" * 100)
            peer.send(b"!", socket.MSG_OOB)
            peer.sendall(b"b" * 100)
            # The first read stops at the urgent mark; the second must not
            # wait for a new edge.
            assert _read_exactly(conn, 200) == b"a" * 100 + b"b" * 100
        finally:
            peer.close()
            conn.close()
            ln.close()
    run(main)


def test_tcp_urgent_mark_after_reader_parked(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        peer = socket.create_connection((ln.addr.host, ln.addr.port))
        conn = ln.accept()
        try:
            peer.sendall(b"a" * 100)
            assert conn.read(4096) == b"a" * 100          # short: drained
            peer.sendall(b"c" * 50)
            peer.send(b"!", socket.MSG_OOB)
            peer.sendall(b"b" * 100)
            assert _read_exactly(conn, 150) == b"c" * 50 + b"b" * 100
        finally:
            peer.close()
            conn.close()
            ln.close()
    run(main)


def _unix_pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return net.UnixConn(netpoll.internal.FD(a), "unix"), b


def test_unix_oob_mark_does_not_hang_next_read(run):
    def main():
        conn, peer = _unix_pair()
        try:
            peer.sendall(b"a" * 100)
            try:
                peer.send(b"!", socket.MSG_OOB)
            except OSError as e:
                pytest.fail(f"this kernel refuses MSG_OOB on AF_UNIX ({e}); "
                            f"Linux >= 5.15 is needed for this test")
            peer.sendall(b"b" * 100)
            assert _read_exactly(conn, 200) == b"a" * 100 + b"b" * 100
        finally:
            peer.close()
            conn.close()
    run(main)


def test_unix_scm_rights_message_does_not_hang_next_read(run):
    def main():
        conn, peer = _unix_pair()
        r, w = os.pipe()
        try:
            peer.sendmsg([b"a" * 100], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                         array.array("i", [r]))])
            peer.sendall(b"b" * 100)
            # The kernel stops a read after a message carrying descriptors.
            assert _read_exactly(conn, 200) == b"a" * 100 + b"b" * 100
        finally:
            os.close(r)
            os.close(w)
            peer.close()
            conn.close()
    run(main)


def test_unix_scm_rights_read_into(run):
    def main():
        conn, peer = _unix_pair()
        r, w = os.pipe()
        try:
            peer.sendmsg([b"a" * 100], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                         array.array("i", [r]))])
            peer.sendall(b"b" * 100)
            netpoll.gosched()
            netpoll.gosched()
            conn.set_read_deadline(time.monotonic() + DEADLINE)
            buf = bytearray(4096)
            got = conn.read_into(buf)
            assert got == 100
            got += conn.read_into(memoryview(buf)[got:])
            assert bytes(buf[:got]) == b"a" * 100 + b"b" * 100
        finally:
            os.close(r)
            os.close(w)
            peer.close()
            conn.close()
    run(main)
