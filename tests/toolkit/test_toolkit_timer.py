"""Timers and tickers (Go: time.After, Timer, Ticker, AfterFunc): the
return values of stop/reset in the cases Go documents, a slow receiver of
a Ticker, and the heap left small by stopped timers."""

import math
import time

import pytest
from greenlet import getcurrent

import netpoll
from netpoll import Chan, Recv, Ticker, Timer, after, after_func, select
from netpoll.runtime.scheduler import current_runtime

D = 0.02        # a short duration; waits past it use another timer


def test_after_delivers_its_firing_time(run):
    def main():
        t0 = time.monotonic()
        fired = after(D).recv()
        assert t0 + D <= fired <= time.monotonic()
    run(main)


def test_after_in_select_as_a_timeout(run):
    def main():
        never = Chan()
        i, v, ok = select(Recv(never), Recv(after(D)))
        assert (i, ok) == (1, True)
    run(main)


def test_stop_before_it_fires(run):
    def main():
        t = Timer(D)
        assert t.stop() is True
        assert t.stop() is False                  # already stopped
        after(3 * D).recv()
        assert t.c.try_recv() == (None, False)    # never fired
    run(main)


def test_stop_after_it_fired_then_drain(run):
    def main():
        t = Timer(D)
        after(3 * D).recv()
        assert t.stop() is False                  # it fired
        # Go's idiom: if !t.Stop() { <-t.C } -- the value is there to drain
        v, ok = t.c.try_recv()
        assert ok and isinstance(v, float)
        assert t.reset(D) is False                # was not pending
        assert t.c.recv() > v                     # fires again
    run(main)


def test_reset_without_draining_leaves_the_stale_value(run):
    """Go (before 1.23) documents this race: Reset on a timer that fired
    but was not drained returns false, and the old value is still there
    to be received -- which is why its docs say to drain first."""
    def main():
        t = Timer(D)
        after(3 * D).recv()                       # it fired; nobody received
        assert t.reset(10 * D) is False
        stale, ok = t.c.try_recv()
        assert ok and stale <= time.monotonic()   # the old value, at once
        t0 = time.monotonic()
        assert t.c.recv() >= t0                   # then the new one
    run(main)


def test_fired_value_is_not_doubled_when_channel_full(run):
    def main():
        t = Timer(D)
        after(3 * D).recv()
        t.reset(0)                                # fires again at once
        after(3 * D).recv()
        assert t.c.try_recv()[1] is True
        assert t.c.try_recv() == (None, False)    # capacity 1: one value
    run(main)


def test_reset_pending_timer_fires_once_at_new_time(run):
    def main():
        t = Timer(D)
        t0 = time.monotonic()
        assert t.reset(6 * D) is True
        fired = t.c.recv()
        assert fired >= t0 + 6 * D
        after(8 * D).recv()
        assert t.c.try_recv() == (None, False)    # no second value
    run(main)


def test_reset_stopped_timer(run):
    def main():
        t = Timer(10.0)
        assert t.stop() is True
        assert t.reset(D) is False
        assert t.c.recv()
    run(main)


def test_after_func_stop_prevents_it(run):
    def main():
        ran = []
        t = after_func(D, ran.append, 1)
        assert t.stop() is True
        after(3 * D).recv()
        assert ran == []
    run(main)


def test_after_func_runs_in_its_own_goroutine(run):
    def main():
        done = Chan(1)
        rt = current_runtime()
        t = after_func(D, lambda x: done.send((x, getcurrent())), "v")
        x, g = done.recv()
        assert x == "v" and g is not rt.main and g is not rt.hub
        # Go: Stop returns false once f has been started in its goroutine
        assert t.stop() is False
    run(main)


def test_after_func_blocking_function_does_not_block_timers(run):
    def main():
        hold = Chan()
        after_func(D, hold.recv)                   # parks in its goroutine
        assert after(2 * D).recv()                 # other timers still fire
        hold.send(None)
    run(main)


def test_ticker_drops_ticks_for_a_slow_receiver(run):
    def main():
        tk = Ticker(D)
        netpoll.sleep(3.5 * D)                     # the slow receiver
        v, ok = tk.c.try_recv()
        assert ok                                  # one tick waited ...
        assert tk.c.try_recv() == (None, False)    # ... only one, not three
        assert tk.c.recv() > v                     # and it keeps ticking
        tk.stop()
        after(3 * D).recv()
        tk.c.try_recv()                            # at most one left over
        assert tk.c.try_recv() == (None, False)
        tk.reset(D)                                # restarts a stopped ticker
        assert tk.c.recv()
        tk.stop()
    run(main)


def test_ticker_period_must_be_positive(run):
    def main():
        for bad in (0, -1.0):
            with pytest.raises(ValueError):
                Ticker(bad)
        with pytest.raises(ValueError):
            Ticker(math.nan)
    run(main)


def test_nan_and_inf(run):
    def main():
        with pytest.raises(ValueError):
            Timer(math.nan)
        with pytest.raises(ValueError):
            after(math.nan)
        t = Timer(math.inf)                        # never fires
        assert select(Recv(t.c), default=True)[0] == -1
        assert t.stop() is True
        assert t.stop() is False
    run(main)


def test_stopped_timers_leave_the_heap_small(run):
    def main():
        rt = current_runtime()
        base = len(rt.timers.heap)
        ts = [Timer(60.0 + i * 1e-3) for i in range(10_000)]
        assert netpoll.stats()["timers"] >= 10_000
        for t in ts:
            assert t.stop() is True
        assert netpoll.stats()["timers"] <= base
        assert len(rt.timers.heap) <= base + 300
        tickers = [Ticker(60.0) for _ in range(10_000)]
        for tk in tickers:
            tk.stop()
        assert len(rt.timers.heap) <= base + 300
    run(main)


def test_goroutine_waiting_on_timer_is_torn_down(run):
    state = []

    def main():
        def waiter():
            try:
                Timer(3600).c.recv()
            finally:
                state.append("cleaned")
        g = netpoll.go(waiter)
        netpoll.gosched()
        assert not g.done
    run(main)
    assert state == ["cleaned"]


def test_far_future_timer_does_not_break_the_poller_wait(run):
    def main():
        far = Timer(1e10)                 # the only timer while main waits
        gate = Chan()
        netpoll.go(lambda: gate.send(netpoll.to_thread(time.sleep, 0.05)))
        gate.recv()                       # the hub blocks in the poller here
        assert far.stop() is True
    run(main)
