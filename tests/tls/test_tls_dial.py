"""tls.dial: the timeout covers connect and handshake; a context cancelled
or expired during the handshake ends it with the context's error class;
nothing is left open behind a failed dial."""

import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, context, net, tls

from support import open_fds, wait_parked
from support.tlsutil import Certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def silent_server():
    """A plain TCP listener whose connections never answer the handshake."""
    ln = net.listen("tcp", "127.0.0.1:0")
    held = []

    def loop():
        while True:
            try:
                held.append(ln.accept())
            except OSError:
                return
    g = netpoll.go(loop)

    def close():
        ln.close()
        g.join()
        for c in held:
            c.close()
    return ln, close


def test_timeout_covers_the_handshake(run, certs):
    def main():
        before = open_fds()
        ln, close = silent_server()
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            tls.dial("tcp", str(ln.addr), certs.client_ctx(), server_name="localhost",
                     timeout=0.3)
        elapsed = time.monotonic() - t0
        close()
        return elapsed, open_fds() - before
    elapsed, leaked = run(main)
    assert 0.2 < elapsed < 5
    assert not leaked


def test_context_cancelled_during_handshake(run, certs):
    def main():
        ln, close = silent_server()
        ctx, cancel = context.with_cancel(context.background())
        g = netpoll.go(tls.dial, "tcp", str(ln.addr), certs.client_ctx(),
                       server_name="localhost", ctx=ctx)
        wait_parked(g)                     # in the handshake, waiting for the server
        cancel()
        with pytest.raises(context.Canceled) as info:
            g.join()
        close()
        return str(info.value)
    assert run(main).endswith("operation was canceled")


def test_context_cancelled_before(run, certs):
    def main():
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        with pytest.raises(context.Canceled):
            tls.dial("tcp", "127.0.0.1:1", certs.client_ctx(), server_name="localhost",
                     ctx=ctx)
    run(main)


def test_context_deadline_bounds_the_handshake(run, certs):
    def main():
        ln, close = silent_server()
        ctx, cancel = context.with_timeout(context.background(), 0.3)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):  # context.DeadlineExceeded or the conn's
            tls.dial("tcp", str(ln.addr), certs.client_ctx(), server_name="localhost",
                     ctx=ctx)
        elapsed = time.monotonic() - t0
        cancel()
        close()
        return elapsed
    assert 0.2 < run(main) < 5


def test_dial_with_context_that_stays_open(run, certs):
    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        g = netpoll.go(lambda: ln.accept().read())
        ctx, cancel = context.with_cancel(context.background())
        c = tls.dial("tcp", str(ln.addr), certs.client_ctx(), server_name="localhost",
                     ctx=ctx, timeout=10)
        cancel()                           # after the dial: no effect on the conn
        netpoll.sleep(0.05)
        c.write(b"fine")
        assert g.join() == b"fine"
        c.close()
        ln.close()
    run(main)
