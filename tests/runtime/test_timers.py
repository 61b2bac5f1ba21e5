"""The timer heap and the scheduler's use of it: sleeps, deadline timers,
cancellation, and bounded memory under deadline churn."""

import time

import pytest

import netpoll
from netpoll.runtime.scheduler import current_runtime
from netpoll.runtime.timers import TimerHeap


def test_fires_in_order_of_when():
    th = TimerHeap()
    fired = []
    for when in (3.0, 1.0, 2.0):
        th.add(when, fired.append, when)
    assert th.live == 3
    assert th.next_when() == 1.0
    assert th.run_due(2.5) == 2
    assert fired == [1.0, 2.0]
    assert th.live == 1
    assert th.run_due(10) == 1
    assert fired == [1.0, 2.0, 3.0]
    assert th.next_when() is None
    assert th.live == 0


def test_ties_fire_in_insertion_order_without_comparing_fn():
    th = TimerHeap()
    fired = []

    class Uncomparable:
        def __init__(self, i):
            self.i = i

        def __call__(self, arg):
            fired.append(self.i)
    for i in range(5):
        th.add(1.0, Uncomparable(i), None)
    th.run_due(1.0)
    assert fired == [0, 1, 2, 3, 4]


def test_cancel():
    th = TimerHeap()
    fired = []
    a = th.add(1.0, fired.append, "a")
    b = th.add(2.0, fired.append, "b")
    th.cancel(a)
    th.cancel(a)                 # idempotent
    assert th.live == 1
    assert th.next_when() == 2.0  # the cancelled head is skipped
    th.run_due(5)
    assert fired == ["b"]
    th.cancel(b)                 # after firing: no effect
    assert th.live == 0


def test_due_boundary():
    th = TimerHeap()
    fired = []
    th.add(1.0, fired.append, 1)
    assert th.run_due(0.999) == 0
    assert th.run_due(1.0) == 1


def test_timer_added_by_firing_timer():
    th = TimerHeap()
    fired = []

    def first(_):
        fired.append("first")
        th.add(1.0, fired.append, "second, due too")
        th.add(9.0, fired.append, "later")
    th.add(0.5, first, None)
    th.run_due(2.0)
    assert fired == ["first", "second, due too"]
    assert th.live == 1


def test_clear():
    th = TimerHeap()
    th.add(1, print, None)
    th.clear()
    assert th.live == 0 and th.next_when() is None


def test_cancelled_timers_do_not_accumulate():
    """Regression: a cancelled timer stayed in the heap until its due time
    reached the top, so a connection that moves a far deadline on every
    request (an idle timeout) grew the heap without bound."""
    th = TimerHeap()
    keep = th.add(1e9, print, None)
    t = None
    for i in range(100_000):
        if t is not None:
            th.cancel(t)
        t = th.add(1000.0 + i, print, None)
    assert th.live == 2
    assert len(th.heap) < 1000
    assert th.next_when() == 1000.0 + 99_999
    th.cancel(t)
    assert th.next_when() == 1e9
    assert keep[2] is not None


# -- through the scheduler -----------------------------------------------------

def test_many_sleepers_fire_in_order(run):
    def main():
        order = []
        delays = [(0.001, 0.06, 0.03)[i % 3] for i in range(300)]

        def sleeper(d):
            netpoll.sleep(d)
            order.append(d)
        gs = [netpoll.go(sleeper, d) for d in delays]
        for g in gs:
            g.join()
        assert order == sorted(delays)
    run(main)


def test_sleep_never_returns_early(run):
    def main():
        worst = 0.0
        for d in (0.001, 0.005, 0.013, 0.02):
            t0 = time.monotonic()
            netpoll.sleep(d)
            worst = min(worst, (time.monotonic() - t0) - d)
        return worst
    assert run(main) >= 0.0


def test_timers_stat(run):
    def main():
        assert netpoll.stats()["timers"] == 0
        gs = [netpoll.go(netpoll.sleep, 10) for _ in range(3)]
        netpoll.gosched()
        assert netpoll.stats()["timers"] == 3
        rt = current_runtime()
        for g in gs:
            rt.throws.append((g, netpoll.GoroutineExit()))
        netpoll.gosched()
        # a sleep interrupted at its park point cancels its timer
        assert netpoll.stats()["timers"] == 0
    run(main)


def test_timer_wakes_blocked_poller_on_time(run):
    """The poller blocks exactly until the next timer: a 0.2 s sleep is
    neither early nor grossly late, and costs a handful of polls."""
    def main():
        p0 = netpoll.stats()["polls"]
        t0 = time.monotonic()
        netpoll.sleep(0.2)
        return time.monotonic() - t0, netpoll.stats()["polls"] - p0
    elapsed, polls = run(main)
    assert 0.2 <= elapsed < 5
    assert polls <= 5


def test_sleepers_and_busy_goroutines(run):
    """Timers fire while other goroutines keep the run queue non-empty."""
    def main():
        stop = []

        def busy():
            while not stop:
                netpoll.gosched()
        netpoll.go(busy)
        t0 = time.monotonic()
        netpoll.sleep(0.02)
        stop.append(1)
        return time.monotonic() - t0
    assert 0.02 <= run(main) < 5
