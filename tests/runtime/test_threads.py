"""to_thread: a blocking function in a worker thread while only the calling
goroutine waits; the runtime is woken through the poller's wake-up fd."""

import threading
import time

import pytest

import netpoll
from netpoll import Chan
from netpoll.runtime import threads
from netpoll.runtime.scheduler import current_runtime


def test_result_and_args(run):
    def main():
        return netpoll.to_thread(lambda a, b=0: (threading.get_ident(), a + b), 1, b=2)
    tid, value = run(main)
    assert value == 3
    assert tid != threading.get_ident()


def test_exception_propagates(run):
    def fail():
        raise LookupError("from the worker")

    def main():
        with pytest.raises(LookupError, match="from the worker"):
            netpoll.to_thread(fail)
        return "ok"
    assert run(main) == "ok"


def test_other_goroutines_run_meanwhile(run):
    def main():
        release = threading.Event()
        ticks = []

        def ticker():
            for i in range(5):
                ticks.append(i)
                netpoll.sleep(0.001)
            release.set()          # only reachable if the hub kept running
        netpoll.go(ticker)
        assert netpoll.to_thread(release.wait, 30) is True
        assert ticks == [0, 1, 2, 3, 4]
    run(main)


def test_many_concurrent_calls(run):
    def main():
        barrier = threading.Barrier(4, timeout=30)

        def work(i):
            barrier.wait()          # all four workers must be in flight at once
            return i * i
        gs = [netpoll.go(netpoll.to_thread, work, i) for i in range(4)]
        return sorted(g.join() for g in gs)
    assert run(main) == [0, 1, 4, 9]


def test_more_calls_than_workers(run):
    def main():
        n = threads.MAX_WORKERS * 3
        gs = [netpoll.go(netpoll.to_thread, time.sleep, 0.001) for _ in range(n)]
        for g in gs:
            g.join()
        return netpoll.stats()["threads_waiting"]
    assert run(main) == 0


def test_blocked_poller_woken_from_thread(run):
    """Nothing else to do: the hub blocks in the poller without a timeout
    and the worker's completion wakes it."""
    def main():
        p0 = netpoll.stats()["polls"]
        assert netpoll.to_thread(time.sleep, 0.2) is None
        return netpoll.stats()["polls"] - p0
    assert 1 <= run(main) <= 5


class _SyncPool:
    """A pool that runs the call before ``to_thread`` parks: the
    worker-finished-first race, made deterministic."""

    def submit(self, job):
        job.run()


def test_already_done_future_leaves_no_stale_wakeup(run, monkeypatch):
    """Regression: when the call finished before the goroutine parked, the
    wake-up stayed queued and later woke the goroutine while it was parked
    on a channel (which then reported the channel closed)."""
    monkeypatch.setattr(threads, "_pool", lambda name, limit: _SyncPool())

    def main():
        assert netpoll.to_thread(lambda: 1) == 1
        ch = Chan()

        def later():
            netpoll.sleep(0.02)
            ch.send("v")
        netpoll.go(later)
        return ch.recv_ok()
    assert run(main) == ("v", True)


def test_teardown_while_in_thread(run):
    release = threading.Event()
    cleaned = []

    def main():
        def g():
            try:
                netpoll.to_thread(release.wait, 30)
            finally:
                cleaned.append(1)
        netpoll.go(g)
        netpoll.gosched()
    run(main)
    assert cleaned == [1]
    release.set()          # the worker finishes after the runtime is gone


def test_exception_at_park_withdraws_wakeup(run):
    """A goroutine interrupted while waiting for its thread does not get the
    thread's wake-up later, parked elsewhere."""
    def main():
        rt = current_runtime()
        release = threading.Event()
        finished = threading.Event()

        def work():
            release.wait(30)
            finished.set()

        class Stop(Exception):
            pass
        ch = Chan()

        def g():
            with pytest.raises(Stop):
                netpoll.to_thread(work)
            release.set()
            netpoll.to_thread(finished.wait, 30)
            netpoll.sleep(0.01)       # the old callback has run by now
            return ch.recv_ok()
        w = netpoll.go(g)
        netpoll.gosched()
        rt.throws.append((w, Stop()))
        netpoll.sleep(0.05)
        ch.send("v")
        return w.join()
    assert run(main) == ("v", True)


def test_runtime_objects_are_thread_bound(run):
    """Cross-thread use of a runtime-bound object raises RuntimeError."""
    def main():
        g = netpoll.go(netpoll.sleep, 1000)
        errors = []

        def other():
            try:
                g.join()
            except RuntimeError as exc:
                errors.append(str(exc))
        netpoll.to_thread(other)
        assert errors and "thread" in errors[0]
    run(main)
