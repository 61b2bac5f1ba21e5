"""Connected pairs of Conns and byte helpers for the I/O tests."""

import os
import socket
import time

import netpoll
from netpoll import net

BIG = 16 * 1024 * 1024     # more than any loopback socket buffers hold
BLOB = b"x" * BIG


def tcp_pair(network="tcp", address="127.0.0.1:0"):
    """A connected (client, server) pair of Conns; call inside run()."""
    with net.listen(network, address) as ln:
        g = netpoll.go(ln.accept)
        client = net.dial(network, str(ln.addr))
        server = g.join()
    return client, server


def unix_pair(path):
    with net.listen("unix", str(path)) as ln:
        g = netpoll.go(ln.accept)
        client = net.dial("unix", str(path))
        server = g.join()
    return client, server


def timed(fn, *args, **kwargs):
    """(result or exception, elapsed seconds)."""
    t0 = time.monotonic()
    try:
        r = fn(*args, **kwargs)
    except Exception as e:       # noqa: BLE001 - the test inspects it
        r = e
    return r, time.monotonic() - t0


def drain(conn, n):
    """Read exactly n bytes (or until EOF)."""
    chunks = []
    while n > 0:
        d = conn.read(min(n, 1 << 20))
        if not d:
            break
        chunks.append(d)
        n -= len(d)
    return b"".join(chunks)


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def fd_identity(num):
    """(number, inode) naming one open descriptor's file."""
    return num, os.fstat(num).st_ino


def still_open(identity):
    """True if that descriptor number still refers to the same file."""
    num, ino = identity
    try:
        return os.fstat(num).st_ino == ino
    except OSError:
        return False
