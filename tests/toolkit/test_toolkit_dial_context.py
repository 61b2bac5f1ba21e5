"""net.dial(..., ctx=) (Go: Dialer.DialContext): a connect that hangs (a
local listener whose accept queue is full) and a name lookup that hangs (a
stub resolver) both give up at once when the context is done, with the
context's error class and Go's message, and leak no descriptor; the dial's
timeout and the context's deadline, the earlier wins; timeout nan/inf/1e9."""

import math
import select
import socket
import threading
import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, context, net

from support import open_fds, wait_parked


@pytest.fixture
def hanging_addr():
    """host:port of a listener on this machine whose connects hang: backlog
    0 and its accept queue filled, so the kernel drops new SYNs."""
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(0)
    addr = ln.getsockname()
    fillers = []
    try:
        for _ in range(16):
            c = socket.socket()
            c.setblocking(False)
            fillers.append(c)
            c.connect_ex(addr)
            # writable once the handshake is done: loopback answers at once,
            # so one that stays unwritable for a second hangs
            _, writable, _ = select.select([], [c], [], 1.0)
            if writable and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                continue                           # got in: queue not full yet
            break                                  # this one hangs
        else:
            raise AssertionError("could not fill the listener's accept queue")
        yield f"127.0.0.1:{addr[1]}"
    finally:
        for c in fillers:
            c.close()
        ln.close()


def dial_in_goroutine(address, **kwargs):
    def attempt():
        t0 = time.monotonic()
        try:
            net.dial("tcp", address, **kwargs).close()
            return None, time.monotonic() - t0
        except BaseException as e:
            return e, time.monotonic() - t0
    return netpoll.go(attempt)


def test_cancel_a_blocked_connect(run, hanging_addr):
    def main():
        before = open_fds()
        ctx, cancel = context.with_cancel(context.background())
        g = dial_in_goroutine(hanging_addr, ctx=ctx)
        wait_parked(g, reason="IO wait")           # in connect
        cancel()
        err, took = g.join(30)
        assert isinstance(err, context.Canceled), repr(err)
        assert str(err) == f"dial tcp {hanging_addr}: operation was canceled"
        assert took < 10
        assert open_fds() <= before                # the socket is closed
    run(main)


def test_context_deadline_ends_a_blocked_connect(run, hanging_addr):
    def main():
        before = open_fds()
        ctx, cancel = context.with_timeout(context.background(), 0.1)
        err, took = dial_in_goroutine(hanging_addr, ctx=ctx, timeout=60).join(30)
        assert isinstance(err, context.DeadlineExceeded), repr(err)
        assert isinstance(err, TimeoutError)
        assert str(err) == f"dial tcp {hanging_addr}: context deadline exceeded"
        assert took < 10
        assert open_fds() <= before
        cancel()
    run(main)


def test_dial_timeout_earlier_than_context_deadline(run, hanging_addr):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 60)
        err, took = dial_in_goroutine(hanging_addr, ctx=ctx, timeout=0.1).join(30)
        assert isinstance(err, DeadlineExceededError), repr(err)
        assert not isinstance(err, context.DeadlineExceeded)
        assert str(err).endswith("i/o timeout")
        assert ctx.err() is None
        cancel()
    run(main)


def test_done_context_fails_before_any_socket(run):
    def main():
        before = open_fds()
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        with pytest.raises(context.Canceled, match="operation was canceled"):
            net.dial("tcp", "127.0.0.1:9", ctx=ctx)
        assert open_fds() <= before
    run(main)


def test_context_not_done_dial_works(run):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 30)
        with net.listen("tcp", "127.0.0.1:0") as ln:
            with net.dial("tcp", str(ln.addr), ctx=ctx) as c, ln.accept() as s:
                c.write(b"x")
                assert s.read(1) == b"x"
            with net.dial("tcp", str(ln.addr), ctx=context.background()):
                ln.accept().close()
        cancel()
        # the dial's hook on the context went away with the dial
        assert ctx._callbacks == {}
    run(main)


@pytest.fixture
def slow_resolver(monkeypatch):
    """socket.getaddrinfo replaced by a stub that hangs until released."""
    release = threading.Event()
    calls = []
    entered = threading.Event()

    def stub(host, port, *args, **kwargs):
        calls.append(host)
        entered.set()
        release.wait(60)
        # no real lookup: it would open descriptors while a later test counts
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
    monkeypatch.setattr(socket, "getaddrinfo", stub)
    yield calls, entered
    release.set()


def test_cancel_a_pending_name_lookup(run, slow_resolver):
    def main():
        before = open_fds()
        ctx, cancel = context.with_cancel(context.background())
        g = dial_in_goroutine("slow.example:80", ctx=ctx)
        wait_parked(g, reason="select")
        calls, entered = slow_resolver
        assert netpoll.to_thread(entered.wait, 30)       # the lookup hangs
        assert calls == ["slow.example"]
        cancel()
        err, took = g.join(30)
        assert isinstance(err, context.Canceled), repr(err)
        assert str(err) == "dial tcp slow.example:80: operation was canceled"
        assert took < 10
        assert open_fds() <= before
    run(main)


def test_context_deadline_ends_a_pending_name_lookup(run, slow_resolver):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 0.1)
        err, took = dial_in_goroutine("slow.example:80", ctx=ctx).join(30)
        assert isinstance(err, context.DeadlineExceeded), repr(err)
        assert str(err) == "dial tcp slow.example:80: context deadline exceeded"
        assert took < 10
        err, took = dial_in_goroutine("slow.example:80", timeout=0.1).join(30)
        assert isinstance(err, DeadlineExceededError), repr(err)
        cancel()
    run(main)


def test_timeout_nan_inf_and_huge(run):
    def main():
        with pytest.raises(ValueError, match="nan"):
            net.dial("tcp", "127.0.0.1:9", timeout=math.nan)
        with pytest.raises(TypeError):
            net.dial("tcp", "127.0.0.1:9", timeout="1")
        with net.listen("tcp", "127.0.0.1:0") as ln:
            for timeout in (math.inf, 1e9):
                with net.dial("tcp", str(ln.addr), timeout=timeout):
                    ln.accept().close()
            ctx, cancel = context.with_timeout(context.background(), 1e9)
            with net.dial("tcp", str(ln.addr), ctx=ctx):
                ln.accept().close()
            cancel()
    run(main)


def test_huge_timeout_on_a_hanging_connect_keeps_timers_working(run, hanging_addr):
    def main():
        ctx, cancel = context.with_cancel(context.background())
        g = dial_in_goroutine(hanging_addr, ctx=ctx, timeout=1e9)
        wait_parked(g, reason="IO wait")
        netpoll.sleep(0.01)                # the poller waits with the far timer
        cancel()
        err, _ = g.join(30)
        assert isinstance(err, context.Canceled)
    run(main)
