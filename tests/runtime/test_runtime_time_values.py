"""Times the runtime is handed: nan is refused where it is given (it would
freeze every timer), far-future and infinite ones are long waits that never
break the scheduler (docs/reference.md, "Far-future deadlines")."""

import time

import pytest

import netpoll
from netpoll.runtime.scheduler import current_runtime
from netpoll.runtime.timers import TimerHeap

NAN = float("nan")
INF = float("inf")


def test_sleep_nan_raises_and_other_timers_keep_firing(run):
    def main():
        fired = []

        def ticker():
            for _ in range(3):
                netpoll.sleep(0.001)
                fired.append(True)

        t = netpoll.go(ticker)
        with pytest.raises(ValueError, match="nan"):
            netpoll.sleep(NAN)
        t.join(timeout=10)
        return len(fired), current_runtime().timers.live

    assert run(main) == (3, 0)


def test_join_nan_raises(run):
    def main():
        g = netpoll.go(netpoll.sleep, 0.001)
        with pytest.raises(ValueError, match="nan"):
            g.join(NAN)
        g.join()

    run(main)


def test_timer_heap_refuses_nan():
    heap = TimerHeap()
    with pytest.raises(ValueError, match="nan"):
        heap.add(NAN, print, None)
    assert heap.heap == [] and heap.live == 0


def test_far_future_sleep_and_join_are_long_waits(run):
    def main():
        sleeper = netpoll.go(netpoll.sleep, 1e10)
        with pytest.raises(TimeoutError):
            sleeper.join(timeout=0.01)
        joiner = netpoll.go(sleeper.join, 1e9)
        # the scheduler keeps running with both far timers pending
        t0 = time.monotonic()
        netpoll.sleep(0.02)
        assert time.monotonic() - t0 < 5
        assert not sleeper.done and not joiner.done
        return current_runtime().timers.live

    assert run(main) == 2          # the two far timers; torn down with run()


def test_infinite_sleep_parks_for_good_and_join_inf_has_no_limit(run):
    def main():
        sleeper = netpoll.go(netpoll.sleep, INF)
        joiner = netpoll.go(sleeper.join, INF)
        netpoll.sleep(0.02)
        assert not sleeper.done and not joiner.done
        return current_runtime().timers.live

    assert run(main) == 0          # neither holds a timer


def test_far_future_deadline_on_a_descriptor(run, sockpair):
    from netpoll.poller import MODE_READ
    from netpoll.runtime.polldesc import POLL_ERR_TIMEOUT, poll_open

    def main():
        a, _ = sockpair
        pd = poll_open(a.fileno())
        try:
            pd.set_deadline(time.monotonic() + 1e12, MODE_READ)
            pd.set_deadline(INF, MODE_READ)
            with pytest.raises(ValueError, match="nan"):
                pd.set_deadline(NAN, MODE_READ)
            netpoll.sleep(0.01)                 # the loop waits with far timers pending
            pd.set_deadline(time.monotonic() - 1, MODE_READ)
            return pd.wait(MODE_READ)
        finally:
            pd.evict()
            pd.close()

    assert run(main) == POLL_ERR_TIMEOUT

