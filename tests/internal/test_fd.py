"""FD and FDMutex (netpoll.internal): the layer under netpoll.net, tested
on socketpairs."""

import os
import socket
import threading

import pytest

import netpoll
from netpoll import ClosedError, DeadlineExceededError
from netpoll.internal import FD, FDMutex
from netpoll.internal.fdmutex import CLOSED, REF, RLOCK, WLOCK
from netpoll.poller import MODE_READ

from support import fd_identity, open_fds, still_open


def fd_pair():
    a, b = socket.socketpair()
    return FD(a), FD(b)


# -- FDMutex --------------------------------------------------------------------

def test_mutex_uncontended_lock_and_refs():
    mu = FDMutex()
    assert mu.rwlock(RLOCK)
    assert mu.rwlock(WLOCK)           # read and write locks are independent
    assert mu.state == RLOCK | WLOCK | 2 * REF
    assert mu.incref()
    assert not mu.rwunlock(RLOCK)
    assert not mu.rwunlock(WLOCK)
    assert not mu.decref()
    assert mu.state == 0


def test_mutex_close_waits_for_last_reference():
    mu = FDMutex()
    assert mu.rwlock(RLOCK)
    assert mu.incref_and_close()
    assert not mu.incref_and_close()       # close begins once
    assert not mu.incref()
    assert not mu.rwlock(WLOCK)
    assert not mu.decref()                 # close's own reference; reader left
    assert mu.rwunlock(RLOCK)              # the last one out destroys
    assert mu.state == CLOSED


def test_mutex_second_reader_queues(run):
    def main():
        mu = FDMutex()
        order = []

        def reader(i):
            assert mu.rwlock(RLOCK)
            order.append(("in", i))
            netpoll.sleep(0.01)
            order.append(("out", i))
            mu.rwunlock(RLOCK)

        gs = [netpoll.go(reader, i) for i in range(3)]
        for g in gs:
            g.join()
        # serialized, FIFO
        assert order == [("in", 0), ("out", 0), ("in", 1), ("out", 1),
                         ("in", 2), ("out", 2)]
        assert mu.state == 0
    run(main)


def test_mutex_close_fails_queued_lockers(run):
    def main():
        mu = FDMutex()
        assert mu.rwlock(WLOCK)
        g = netpoll.go(mu.rwlock, WLOCK)
        netpoll.gosched()
        assert not g.done
        mu.incref_and_close()
        assert g.join() is False
    run(main)


# -- FD ---------------------------------------------------------------------------

def test_read_write(run):
    def main():
        a, b = fd_pair()
        try:
            assert a.write(b"hello") == 5
            assert b.read(100) == b"hello"
            buf = bytearray(10)
            a.write(memoryview(b"abc"))
            assert b.read_into(buf) == 3 and buf[:3] == b"abc"
            assert a.writev([b"a", bytearray(b"bc"), memoryview(b"def"), b""]) == 6
            assert b.read(100) == b"abcdef"
        finally:
            a.close()
            b.close()
    run(main)


def test_zero_length_io_returns_at_once(run):
    def main():
        a, b = fd_pair()
        try:
            a.set_deadline(None, 3)
            assert a.read(0) == b""            # no data: would block otherwise
            assert a.read_into(bytearray()) == 0
            assert a.write(b"") == 0
            assert a.writev([]) == 0
        finally:
            a.close()
            b.close()
        with pytest.raises(ClosedError):       # but a closed FD still fails
            a.read(0)
    run(main)


def test_read_parks_until_data(run):
    def main():
        a, b = fd_pair()
        try:
            g = netpoll.go(a.read, 10)
            netpoll.gosched()
            assert not g.done
            assert a.pd.waiting(MODE_READ)
            b.write(b"x")
            assert g.join() == b"x"
        finally:
            a.close()
            b.close()
    run(main)


def test_second_reader_queues_behind_first(run):
    def main():
        a, b = fd_pair()
        try:
            g1 = netpoll.go(a.read, 1)
            g2 = netpoll.go(a.read, 1)
            netpoll.gosched()
            assert not g1.done and not g2.done    # parked, no error
            b.write(b"1")
            netpoll.gosched()
            b.write(b"2")
            assert g1.join() == b"1"
            assert g2.join() == b"2"
        finally:
            a.close()
            b.close()
    run(main)


def test_close_wakes_reader_and_queued_reader(run):
    def main():
        a, b = fd_pair()
        g1 = netpoll.go(a.read, 1)
        g2 = netpoll.go(a.read, 1)
        netpoll.gosched()
        a.close()
        for g in (g1, g2):
            with pytest.raises(ClosedError):
                g.join()
        b.close()
    run(main)


def test_close_returns_after_descriptor_closed(run):
    def main():
        before = open_fds()
        a, b = fd_pair()
        ident = fd_identity(a.sysfd)
        readers = [netpoll.go(a.read, 1) for _ in range(2)]
        netpoll.gosched()
        a.close()
        # the reader still had a reference when close began; close waited
        assert not still_open(ident)
        for g in readers:
            with pytest.raises(ClosedError):
                g.join()
        a.close()                               # idempotent
        b.close()
        assert open_fds() == before
    run(main)


def test_concurrent_closers_all_wait(run):
    def main():
        a, b = fd_pair()
        ident = fd_identity(a.sysfd)
        g = netpoll.go(a.read, 1)
        netpoll.gosched()
        closers = [netpoll.go(a.close) for _ in range(3)]
        for c in closers:
            c.join()
            assert not still_open(ident)
        with pytest.raises(ClosedError):
            g.join()
        b.close()
    run(main)


def test_operations_after_close(run):
    def main():
        a, b = fd_pair()
        a.close()
        for op, args in [(a.read, (1,)), (a.read_into, (bytearray(1),)),
                         (a.write, (b"x",)), (a.writev, ([b"x"],)),
                         (a.set_deadline, (None, 3)), (a.fileno, ()),
                         (a.shutdown, (socket.SHUT_WR,)), (a.getsockname, ())]:
            with pytest.raises(ClosedError):
                op(*args)
        b.close()
    run(main)


def test_write_deadline_reports_written(run):
    def main():
        import time
        a, b = fd_pair()
        try:
            a.set_deadline(time.monotonic() + 0.05, 2)
            with pytest.raises(DeadlineExceededError) as e:
                a.write(b"x" * (8 << 20))
            assert 0 < e.value.written < 8 << 20
        finally:
            a.close()
            b.close()
    run(main)


def test_shutdown_read_makes_reads_eof(run):
    def main():
        a, b = fd_pair()
        try:
            b.write(b"pending")
            a.shutdown(socket.SHUT_RD)
            assert a.read(10) == b""
            assert a.read_into(bytearray(4)) == 0
        finally:
            a.close()
            b.close()
    run(main)


def test_other_thread_raises_runtime_error(run):
    def main():
        a, b = fd_pair()
        errors = []

        def other():
            for op, args in [(a.read, (1,)), (a.write, (b"x",)), (a.close, ()),
                             (a.set_deadline, (None, 1))]:
                try:
                    op(*args)
                except RuntimeError as e:
                    errors.append(str(e))
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 4
        assert "thread" in errors[0]
        b.write(b"y")
        assert a.read(1) == b"y"          # still fine on its own thread
        a.close()
        b.close()
    run(main)


def test_write_loops_until_all_sent(run):
    def main():
        a, b = fd_pair()
        data = os.urandom(4 << 20)
        got = []

        def reader():
            n = 0
            while n < len(data):
                chunk = b.read(1 << 16)
                got.append(chunk)
                n += len(chunk)
        g = netpoll.go(reader)
        assert a.write(data) == len(data)
        g.join()
        assert b"".join(got) == data
        a.close()
        b.close()
    run(main)


def test_writev_partial_across_buffers(run):
    def main():
        a, b = fd_pair()
        bufs = [os.urandom(n) for n in (1, 70000, 3, 1 << 20, 5, 200000)] * 3
        total = sum(map(len, bufs))
        g = netpoll.go(lambda: b"".join(iter(lambda: b.read(1 << 16), b"")))
        assert a.writev(bufs) == total
        a.shutdown(socket.SHUT_WR)
        assert g.join() == b"".join(bufs)
        a.close()
        b.close()
    run(main)


def test_read_size_adapts_to_the_stream(run):
    """read(n) asks the kernel for READ_MIN bytes first, doubles after each
    read that filled its request (a bulk stream soon reads n at a time) and
    halves after small reads; every byte arrives, in order."""
    from netpoll.internal.fd import READ_MIN

    def main():
        a, b = fd_pair()
        try:
            n = 8 * READ_MIN
            payload = bytes(range(256)) * ((15 * READ_MIN + 1000) // 256 + 1)
            payload = payload[:15 * READ_MIN + 1000]
            a.write(payload)                 # fits the socketpair's buffer
            sizes, got = [], b""
            while len(got) < len(payload):
                data = b.read(n)
                sizes.append(len(data))
                got += data
            assert got == payload
            assert sizes == [READ_MIN, 2 * READ_MIN, 4 * READ_MIN, 8 * READ_MIN, 1000]
            # Small messages halve the request size back to READ_MIN...
            for _ in range(3):
                a.write(b"ping")
                assert b.read(n) == b"ping"
            # ... so a bulk burst starts again from READ_MIN.
            a.write(payload[:2 * READ_MIN])
            assert len(b.read(n)) == READ_MIN
            # A smaller n bounds the request as before.
            assert b.read(10) == payload[READ_MIN:READ_MIN + 10]
        finally:
            a.close()
            b.close()
    run(main)


def test_datagram_reads_ask_for_all_n(run):
    """Only streams adapt the read size: a datagram FD asks for all ``n``
    bytes each time, so no datagram is cut short."""
    def main():
        a, b = (FD(s) for s in socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM))
        try:
            big = bytes(range(256)) * 40
            for size in (10, 10240, 10, 10240, 5000):
                a.write(big[:size])
                assert b.read(65536) == big[:size]
        finally:
            a.close()
            b.close()
    run(main)
