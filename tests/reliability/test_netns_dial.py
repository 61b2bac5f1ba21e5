"""Dialing a host whose link is down: the SYNs vanish without an answer,
so only the dial's timeout ends it (Go: a dial deadline); when our own
link is down the dial fails at once.  Neither leaks a descriptor, and the
runtime goes on serving other goroutines while a dial waits.

netpoll runs in namespace a (support.netns.VethPair), the host it dials is
b, whose end of the link is down."""

import errno
import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, net

from support import fd_count
from support.netns import VethPair

PORT = 7                            # nothing listens: b never sees the SYN anyway


@pytest.fixture
def pair():
    with VethPair() as p:
        yield p


def run_in_a(pair, poller, fn):
    """``fn()`` in a netpoll runtime inside namespace a; its result."""
    return pair.run_in("a", lambda: netpoll.run(fn, poller=poller))


def test_dial_to_a_vanished_host_ends_at_its_timeout(pair, poller):
    pair.down("b")
    target = f"{pair.addr['b']}:{PORT}"

    def main():
        fds = fd_count()
        ticks = []

        def ticker():                      # the runtime keeps running others
            while True:
                ticks.append(time.monotonic())
                netpoll.sleep(0.05)
        netpoll.go(ticker)
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            net.dial("tcp", target, timeout=1.0)
        elapsed = time.monotonic() - t0
        assert str(info.value) == f"dial tcp {target}: i/o timeout"
        assert 0.9 <= elapsed <= 4.0, elapsed
        assert len(ticks) >= 5, ticks
        assert fd_count() == fds, "the dial leaked its socket"
        return elapsed

    print(f"dial ended {run_in_a(pair, poller, main):.2f} s after it started (timeout 1 s)")


def test_dial_with_our_own_link_down_fails_at_once(pair, poller):
    pair.down("a")
    target = f"{pair.addr['b']}:{PORT}"

    def main():
        fds = fd_count()
        t0 = time.monotonic()
        with pytest.raises(OSError) as info:
            net.dial("tcp", target, timeout=10)
        assert time.monotonic() - t0 < 2.0
        assert info.value.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH), info.value
        assert str(info.value).startswith(f"dial tcp {target}: ")
        assert fd_count() == fds, "the dial leaked its socket"

    run_in_a(pair, poller, main)


def test_dial_to_a_vanished_host_ends_when_its_context_is_done(pair, poller):
    """No dial timeout: a cancelled context ends it, and so does a context
    deadline (Go: DialContext)."""
    from netpoll import context

    pair.down("b")
    target = f"{pair.addr['b']}:{PORT}"

    def main():
        fds = fd_count()
        ctx, cancel = context.with_cancel(context.background())

        def cancel_soon():
            netpoll.sleep(0.5)
            cancel()
        netpoll.go(cancel_soon)
        t0 = time.monotonic()
        with pytest.raises(context.Canceled) as info:
            net.dial("tcp", target, ctx=ctx)
        cancelled_after = time.monotonic() - t0
        assert str(info.value) == f"dial tcp {target}: operation was canceled"
        assert 0.4 <= cancelled_after <= 3.0, cancelled_after
        assert fd_count() == fds, "the dial leaked its socket"

        ctx, cancel = context.with_timeout(context.background(), 0.5)
        t0 = time.monotonic()
        with pytest.raises(context.DeadlineExceeded) as info:
            net.dial("tcp", target, ctx=ctx, timeout=30)
        expired_after = time.monotonic() - t0
        cancel()
        assert str(info.value) == f"dial tcp {target}: context deadline exceeded"
        assert 0.4 <= expired_after <= 3.0, expired_after
        assert fd_count() == fds, "the dial leaked its socket"
        return cancelled_after, expired_after

    cancelled, expired = run_in_a(pair, poller, main)
    print(f"dial ended {cancelled:.2f} s after it started (cancelled at 0.5 s); "
          f"{expired:.2f} s (context deadline 0.5 s)")
