"""The optional C accelerator (netpoll/_speedups.c) behaves exactly as the
pure-Python path it stands in for.

The extension is built in place first if it is missing (gcc, a system
dependency of the suite; the test fails naming the compiler if it cannot).
A scenario script exercising what the accelerated steps touch (EOF,
deadlines, close wake-ups, the hang-up latch, urgent data, partial writes
under backpressure, cross-thread and signal wake-ups of the poller) runs in
two child processes, with ``NETPOLL_PURE=1`` and without, under epoll and
poll: their transcripts must be identical.  The C functions are also
checked directly, and an idle connection must cost no more memory
accelerated than pure (no C frame may stay on a parked goroutine's stack).
"""

import os
import socket
import subprocess
import sys

import pytest

from support import PYTHON, ROOT, Child

BUILD = os.path.join(ROOT, "scripts", "build_speedups.py")


@pytest.fixture(scope="module")
def speedups():
    """The built extension module (built in place if missing)."""
    r = subprocess.run([PYTHON, BUILD], capture_output=True, text=True, timeout=300)
    if r.returncode:
        pytest.fail(f"could not build netpoll/_speedups.c (needs a C compiler, gcc): "
                    f"{r.stdout}{r.stderr}")
    import importlib

    return importlib.import_module("netpoll._speedups")


SCENARIO = r'''
import errno, os, signal, socket, sys, threading, time
import netpoll
from netpoll import net
from netpoll.errors import ClosedError, DeadlineExceededError
from netpoll.internal.fd import ACCEL   # None if the C code did not fit

POLLER = sys.argv[1]
log = []

def pair():
    ln = net.listen("tcp", "127.0.0.1:0")
    peer = socket.create_connection((ln.addr.host, ln.addr.port))
    conn = ln.accept()
    ln.close()
    return conn, peer

def read_n(conn, n):
    got = b""
    while len(got) < n:
        b = conn.read(65536)
        if not b:
            break
        got += b
    return got

def main():
    conn, peer = pair()
    # plain echo-shaped traffic, small and big
    for size in (1, 64, 4096, 70000):
        peer.sendall(b"x" * size)
        log.append(("read", size, len(read_n(conn, size))))
        log.append(("write", conn.write(b"y" * size)))
        got = b""
        while len(got) < size:
            got += peer.recv(size - len(got))
        log.append(("peer got", len(got)))
    log.append(("write empty", conn.write(b"")))
    log.append(("write memoryview", conn.write(memoryview(b"abc"))))
    peer.recv(3)
    # a write bigger than the socket buffers: partial sends, then parking
    # until the peer reads
    big = bytes(range(256)) * 20000
    def drain():
        got = bytearray()
        while len(got) < len(big):
            got += peer.recv(1 << 16)
        return bytes(got)
    t = netpoll.go(netpoll.to_thread, drain)
    log.append(("big write", conn.write(big)))
    log.append(("big arrived intact", t.join() == big))
    # read deadline
    conn.set_read_deadline(time.monotonic() + 0.05)
    try:
        conn.read(10)
    except DeadlineExceededError as e:
        log.append(("read deadline", type(e).__name__))
    conn.set_read_deadline(None)
    conn.close()
    peer.close()
    # write deadline with the peer not reading: written counts what went out
    # (a new connection: the big transfer above let TCP grow the buffers of
    # the last one until 5 MB might fit in them)
    conn, peer = pair()
    conn.set_write_deadline(time.monotonic() + 0.2)
    try:
        conn.write(big)
        log.append(("write deadline", "none"))
    except DeadlineExceededError as e:
        log.append(("write deadline", type(e).__name__, 0 < e.written < len(big)))
    conn.set_write_deadline(time.monotonic() - 1)
    try:
        conn.write(b"z")
    except DeadlineExceededError as e:
        log.append(("passed write deadline", e.written))
    conn.close()
    peer.close()

    # reads: sizes, a passed deadline with data ready, contention, shutdown
    conn, peer = pair()
    log.append(("read 0", conn.read(0)))
    try:
        conn.read(-1)
    except ValueError as e:
        log.append(("read -1", type(e).__name__))
    peer.sendall(b"q" * 10)
    netpoll.gosched()
    log.append(("read 3 of 10", conn.read(3), conn.read(100)))
    peer.sendall(b"ready")
    netpoll.gosched()
    conn.set_read_deadline(time.monotonic() - 1)
    try:
        conn.read(10)
    except DeadlineExceededError as e:
        log.append(("passed read deadline, data ready", type(e).__name__))
    conn.set_read_deadline(None)
    log.append(("then the data", conn.read(10)))
    got = []
    def rd(tag):
        got.append((tag, conn.read(100)))
    g1, g2 = netpoll.go(rd, 1), netpoll.go(rd, 2)
    netpoll.sleep(0.02)
    peer.sendall(b"first")
    netpoll.sleep(0.02)
    peer.sendall(b"second")
    g1.join(); g2.join()
    log.append(("two readers, in turn", got))
    # a flooding peer: reads keep finding data, fairness yields now and then
    ticks = []
    def ticker():
        for _ in range(5):
            ticks.append(1)
            netpoll.gosched()
    netpoll.go(ticker)
    peer.sendall(b"f" * 200000)
    total = 0
    while total < 200000:
        total += len(conn.read(100))
    log.append(("flood read in 100s", total, len(ticks)))
    conn.close_read()
    log.append(("after close_read", conn.read(10)))
    conn.close()
    peer.close()

    # close wakes a parked reader and a parked writer
    conn, peer = pair()
    def reader():
        try:
            conn.read(10)
        except ClosedError as e:
            return type(e).__name__
    g = netpoll.go(reader)
    netpoll.sleep(0.02)
    conn.close()
    log.append(("close woke reader", g.join()))
    try:
        conn.write(b"after close")
    except ClosedError as e:
        log.append(("write after close", type(e).__name__))
    peer.close()

    # the park of a read, step by step: a parked reader is counted in nwait
    # and says "IO wait"; a spurious edge (ready, nothing to read) parks it
    # again; data wakes it; an exception thrown in at the park point undoes
    # the park and frees the read lock; a reader queued on the lock gets it
    from netpoll.poller import MODE_READ
    from netpoll.runtime.local import get_runtime
    rt = get_runtime()
    def parked(*gs):
        for _ in range(10000):
            if all(g.waitreason == "IO wait" for g in gs):
                return True
            netpoll.gosched()
        return False
    conn, peer = pair()
    pd = conn.fd.pd
    got = []
    g = netpoll.go(lambda: got.append(conn.read(100)))
    log.append(("parked", parked(g), rt.nwait, pd.waiting(MODE_READ)))
    pd.netpollready(MODE_READ)          # a spurious edge: nothing to read
    for _ in range(3):
        netpoll.gosched()
    log.append(("spurious edge: parked again", g.waitreason, rt.nwait, pd.waiting(MODE_READ)))
    peer.sendall(b"data")
    g.join()
    log.append(("then the data", got, rt.nwait, pd.waiting(MODE_READ)))
    class Stop(Exception):
        pass
    def stopped_reader():
        try:
            conn.read(100)
        except Stop:
            return "stopped"
    g = netpoll.go(stopped_reader)
    parked(g)
    rt.throws.append((g, Stop()))
    rt.poller.wakeup()
    log.append(("thrown at the park", g.join(), rt.nwait, pd.waiting(MODE_READ)))
    peer.sendall(b"after the throw")
    log.append(("lock free again", conn.read(100)))
    order = []
    def queued_reader(tag):
        order.append((tag, conn.read(100)))
    g1 = netpoll.go(queued_reader, 1)
    parked(g1)
    g2 = netpoll.go(queued_reader, 2)
    for _ in range(3):
        netpoll.gosched()
    peer.sendall(b"one")
    for _ in range(100):
        if order:
            break
        netpoll.gosched()
    peer.sendall(b"two")
    g1.join(); g2.join()
    log.append(("queued reader gets the lock", order, rt.nwait))
    def read_until_closed():
        try:
            conn.read(100)
        except ClosedError as e:
            return type(e).__name__
    g = netpoll.go(read_until_closed)
    parked(g)
    conn.set_read_deadline(time.monotonic() - 1)
    try:
        g.join()
    except DeadlineExceededError as e:
        log.append(("deadline wakes the park", type(e).__name__, rt.nwait))
    conn.set_read_deadline(None)
    g = netpoll.go(read_until_closed)
    parked(g)
    conn.close()
    log.append(("close wakes the park", g.join(), rt.nwait))
    peer.close()

    # EOF, and the hang-up latch: data then shutdown, both read, then EOF
    conn, peer = pair()
    peer.sendall(b"last words")
    peer.shutdown(socket.SHUT_WR)
    netpoll.gosched()
    log.append(("before EOF", read_n(conn, 10)))
    log.append(("EOF", conn.read(10), conn.read(10)))
    conn.close()
    peer.close()

    # urgent data: reads stop at the mark, the rest must still come
    conn, peer = pair()
    peer.sendall(b"a" * 100)
    peer.send(b"!", socket.MSG_OOB)
    peer.sendall(b"b" * 100)
    netpoll.gosched()
    conn.set_read_deadline(time.monotonic() + 10)
    log.append(("urgent", read_n(conn, 200) == b"a" * 100 + b"b" * 100))
    conn.close()
    peer.close()

    # the peer resets: the write fails with the OS error
    conn, peer = pair()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()
    netpoll.sleep(0.05)
    try:
        for _ in range(100):
            conn.write(b"x" * 1000)
        log.append(("write to reset peer", "no error"))
    except OSError as e:
        log.append(("write to reset peer", e.errno in (errno.ECONNRESET, errno.EPIPE),
                    getattr(e, "written", None)))
    conn.close()

    # a thread readies a goroutine: the poller's wake-up descriptor
    log.append(("to_thread", netpoll.to_thread(lambda: time.sleep(0.02) or 42)))
    # a signal interrupts a blocking poll (EINTR): the handler runs, the
    # sleep completes
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.02)
    netpoll.sleep(0.1)
    signal.signal(signal.SIGALRM, old)
    log.append(("signal during poll", fired == [1]))
    # a handler that raises interrupts the main goroutine at its park point
    class Boom(Exception):
        pass
    def boom(*a):
        raise Boom()
    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, 0.02)
    try:
        netpoll.sleep(5)
        log.append(("raising handler", "not raised"))
    except Boom:
        log.append(("raising handler", "Boom"))
    signal.signal(signal.SIGALRM, old)

netpoll.run(main, poller=POLLER)
print("ACCEL", ACCEL is not None)
for entry in log:
    print(repr(entry))
print("END")
'''


def _transcript(poller, pure):
    env = {"NETPOLL_PURE": "1" if pure else "0"}
    child = Child([PYTHON, "-c", SCENARIO, poller], env=env)
    with child:
        child.expect("END", timeout=60)
    lines = child.lines
    assert lines[0] == f"ACCEL {not pure}", lines
    return lines[1:]


@pytest.mark.parametrize("poller", ["epoll", "poll"])
def test_same_behaviour_pure_and_accelerated(speedups, poller):
    if poller not in __import__("netpoll").pollers():
        pytest.skip(f"{poller} is not on this OS")
    pure = _transcript(poller, pure=True)
    accel = _transcript(poller, pure=False)
    assert accel == pure
    # and the transcript says what the behaviour is
    assert "('close woke reader', 'ClosedError')" in pure
    assert "('EOF', b'', b'')" in pure
    assert "('urgent', True)" in pure
    assert "('big arrived intact', True)" in pure
    assert "('write deadline', 'DeadlineExceededError', True)" in pure
    assert "('signal during poll', True)" in pure
    assert "('raising handler', 'Boom')" in pure
    assert "('write to reset peer', True, 0)" in pure
    assert "('parked', True, 1, True)" in pure
    assert "('spurious edge: parked again', 'IO wait', 1, True)" in pure
    assert "('then the data', [b'data'], 0, False)" in pure
    assert "('thrown at the park', 'stopped', 0, False)" in pure
    assert "('lock free again', b'after the throw')" in pure
    assert "('queued reader gets the lock', [(1, b'one'), (2, b'two')], 0)" in pure
    assert "('deadline wakes the park', 'DeadlineExceededError', 0)" in pure
    assert "('close wakes the park', 'ClosedError', 0)" in pure


def test_read_returns_none_for_eagain(speedups):
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        assert speedups.read(a.fileno(), 100) is None
        b.sendall(b"hello")
        assert speedups.read(a.fileno(), 100) == b"hello"
        b.sendall(b"x" * 40000)
        got = speedups.read(a.fileno(), 32768)          # the big-read branch
        assert got == b"x" * len(got) and 0 < len(got) <= 32768
        b.close()
        rest = speedups.read(a.fileno(), 65536)
        assert rest == b"x" * (40000 - len(got))
        assert speedups.read(a.fileno(), 10) == b""      # EOF
        with pytest.raises(OSError):
            speedups.read(-1, 10)
    finally:
        a.close()
        b.close()


def test_write_fast_leaves_other_objects_to_python(speedups):
    # Not an FD: nothing is sent, the Python path is taken.
    assert speedups.write_fast(object(), b"data") is None


def test_epoll_dispatch_calls_a_stand_in_netpollready(speedups):
    """An object that is not a PollDesc (a test's stand-in) gets its own
    netpollready called, with the same modes as the Python loop."""
    import select

    from netpoll.poller import MODE_READ, MODE_WRITE

    class Stand:
        def __init__(self):
            self.modes = []

        def netpollready(self, mode):
            self.modes.append(mode)

    ep = select.epoll()
    a, b = socket.socketpair()
    try:
        st = Stand()
        ep.register(a.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLET)
        b.sendall(b"x")
        n = speedups.epoll_dispatch(ep.fileno(), 1.0, {a.fileno(): st}, -1)
        assert n == 1 and st.modes == [MODE_READ | MODE_WRITE]
        assert speedups.epoll_dispatch(ep.fileno(), 0, {a.fileno(): st}, -1) == 0
        # an unknown descriptor that is the wake-up one: ~n
        ep.register(b.fileno(), select.EPOLLOUT | select.EPOLLET)
        assert speedups.epoll_dispatch(ep.fileno(), 1.0, {}, b.fileno()) == ~0
    finally:
        ep.close()
        a.close()
        b.close()


IDLE = r'''
import os, socket, sys, netpoll
from netpoll import net

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

N = int(sys.argv[1])

def main():
    ln = net.listen("tcp", "127.0.0.1:0")
    def handle(c):
        with c:
            while data := c.read(65536):
                c.write(data)
    def serve():
        while True:
            netpoll.go(handle, ln.accept())
    netpoll.go(serve)
    peers = []
    def clients(n):
        for _ in range(n):
            s = socket.create_connection((ln.addr.host, ln.addr.port))
            s.sendall(b"x")
            assert s.recv(1) == b"x"
            peers.append(s)
    netpoll.to_thread(clients, 200)          # warm up: pools, first pages
    before = rss()
    netpoll.to_thread(clients, N)
    netpoll.sleep(0.1)
    print("KIB", (rss() - before) / N)
    for s in peers:
        s.close()

netpoll.run(main)
'''


def test_idle_connection_costs_no_more_memory_accelerated(speedups):
    """A parked goroutine must carry no C frame of the accelerator: its
    memory per idle connection stays the pure path's (compiling the hot
    path with Cython added 1.6 KiB, bench/CYTHON-EXPERIMENT.md)."""
    import resource

    n = 3000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * n + 200:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {2 * n + 200} this needs")

    def kib(pure):
        env = {"NETPOLL_PURE": "1" if pure else "0"}
        limit = min(hard, 4 * n) if hard != resource.RLIM_INFINITY else 4 * n
        code = (f"import resource\n"
                f"resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {hard}))\n" + IDLE)
        child = Child([PYTHON, "-c", code, str(n)], env=env)
        with child:
            line = child.expect("KIB", timeout=120)
        return float(line.split()[1])

    pure, accel = kib(True), kib(False)
    # Same objects per connection; RSS is paged, so allow a little noise.
    assert accel <= pure + 0.5, (pure, accel)


def test_pure_switch(speedups):
    """NETPOLL_PURE=1 selects the Python path even with the extension built."""
    code = "from netpoll.speedups import ACCEL; print(ACCEL is None)"
    for value, pure in (("1", True), ("0", False), ("", False)):
        out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT,
                             env=dict(os.environ, NETPOLL_PURE=value, PYTHONPATH=ROOT),
                             timeout=60).stdout.strip()
        assert out == str(pure), (value, out)
    assert sys.modules.get("netpoll._speedups") is speedups
