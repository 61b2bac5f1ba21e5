"""Goroutines do not leak: 100,000 spawned and finished leave RSS where it
was; 10,000 parked in sleep at once work."""

import gc
import time

import pytest

import netpoll


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    pytest.skip("no /proc/self/status")


def _wave(n):
    wg = netpoll.WaitGroup()

    def work(i):
        if i % 2:
            netpoll.gosched()          # half of them park once
        wg.done()
    wg.add(n)
    for i in range(n):
        netpoll.go(work, i)
    wg.wait()


@pytest.mark.timeout(120)
def test_100k_goroutines_do_not_leak():
    def main():
        _wave(10_000)                  # warm up: allocator pools, caches
        gc.collect()
        before = rss_kb()
        for _ in range(10):
            _wave(10_000)
        gc.collect()
        after = rss_kb()
        s = netpoll.stats()
        assert s["goroutines"] == 0 and s["runnable"] == 0
        return before, after
    before, after = netpoll.run(main)
    assert after - before < 8 * 1024, f"RSS grew by {(after - before) // 1024} MB"


def test_many_goroutines_alive_at_once_all_released():
    """20,000 alive at the same time, then finished: every one is released."""
    import weakref

    def main():
        refs = []
        ch = netpoll.Chan()
        done = netpoll.WaitGroup()

        def work():
            ch.recv()
            done.done()
        for _ in range(20_000):
            g = netpoll.go(work)
            refs.append(weakref.ref(g))
        del g
        netpoll.gosched()
        assert netpoll.stats()["goroutines"] == 20_000
        done.add(20_000)
        for _ in range(20_000):
            ch.send(None)
        done.wait()
        netpoll.gosched()
        gc.collect()
        return sum(r() is not None for r in refs)
    assert netpoll.run(main) == 0


def test_10k_sleeping_goroutines(run):
    def main():
        n = 10_000
        woke = []

        def sleeper(i):
            netpoll.sleep(0.05 + (i % 10) * 0.001)
            woke.append(i)
        t0 = time.monotonic()
        gs = [netpoll.go(sleeper, i) for i in range(n)]
        netpoll.gosched()
        s = netpoll.stats()
        assert s["timers"] == n and s["goroutines"] == n
        for g in gs:
            g.join()
        assert len(woke) == n and sorted(woke) == list(range(n))
        assert netpoll.stats()["timers"] == 0
        return time.monotonic() - t0
    assert run(main) >= 0.05
