"""The scheduler: run/go/join/sleep/gosched, teardown, the implicit runtime,
poller selection, and the loop's blocking behaviour (docs/reference.md, "Runtime")."""

import os
import resource
import sys
import threading

import pytest

import netpoll
from netpoll import Chan, DeadlockError, GoroutineExit
from netpoll.runtime.scheduler import current_runtime


pytestmark = pytest.mark.usefixtures("no_leftover_runtime")


# -- run / go / join -----------------------------------------------------------

def test_run_returns_result(run):
    assert run(lambda a, b=0: a + b, 1, b=2) == 3


def test_run_raises_main_exception(run):
    def main():
        raise KeyError("boom")
    with pytest.raises(KeyError, match="boom"):
        run(main)


def test_run_uses_requested_poller(run, poller):
    assert run(lambda: netpoll.stats()["poller"]) == poller


def test_runtime_torn_down_after_run(run):
    run(lambda: netpoll.sleep(0.001))
    assert current_runtime() is None


def test_later_run_may_choose_another_poller(poller):
    other = "select" if poller != "select" else "poll"
    assert netpoll.run(lambda: netpoll.stats()["poller"], poller=poller) == poller
    assert netpoll.run(lambda: netpoll.stats()["poller"], poller=other) == other


def test_join_returns_result_and_done(run):
    def main():
        g = netpoll.go(lambda x: x * 2, 21)
        assert not g.done
        assert g.join() == 42
        assert g.done
        assert g.join() == 42            # joining again: same result
    run(main)


def test_join_reraises_exception(run, capsys):
    def main():
        def fail():
            raise ValueError("bad")
        g = netpoll.go(fail)
        with pytest.raises(ValueError, match="bad"):
            g.join()
        with pytest.raises(ValueError, match="bad"):
            g.join()
    run(main)


def test_join_timeout(run):
    def main():
        g = netpoll.go(netpoll.sleep, 10)
        with pytest.raises(TimeoutError):
            g.join(timeout=0.01)
        with pytest.raises(TimeoutError):
            g.join(timeout=0)
        assert not g.done
        # A join that times out leaves no stale wake-up behind: a later
        # park of the same goroutine is not disturbed.
        ch = Chan()
        netpoll.go(lambda: (netpoll.sleep(0.02), ch.send("later")))
        assert ch.recv() == "later"
    run(main)


def test_join_timeout_not_reached(run):
    def main():
        g = netpoll.go(lambda: (netpoll.sleep(0.001), "ok")[1])
        assert g.join(timeout=30) == "ok"
        assert netpoll.stats()["timers"] == 0   # the join timer was cancelled
    run(main)


def test_join_timeout_racing_with_finish_wakes_once(run):
    """Regression: when the join timer fired in the same scheduler pass as
    the joined goroutine finished, the joiner was readied twice and the
    second wake-up resumed it later, parked on a channel."""
    import heapq

    def main():
        rt = current_runtime()
        target = netpoll.go(netpoll.sleep, 1000)
        netpoll.gosched()               # its sleep timer is older than the join's

        def helper():
            # make the target's sleep and main's join timer due now; the
            # older one (the sleep) fires first, then the join timer
            for t in rt.timers.heap:
                t[0] = 0
            heapq.heapify(rt.timers.heap)
        netpoll.go(helper)
        assert target.join(timeout=1000) is None     # finished first
        assert sum(g is rt.main for g in rt.runq) == 0
        ch = Chan()
        netpoll.go(lambda: (netpoll.sleep(0.01), ch.send("v")))
        assert ch.recv_ok() == ("v", True)
    run(main)


def test_many_joiners(run):
    def main():
        ch = Chan()
        target = netpoll.go(ch.recv)
        joiners = [netpoll.go(target.join) for _ in range(5)]
        netpoll.gosched()
        ch.send("v")
        assert [j.join() for j in joiners] == ["v"] * 5
    run(main)


def test_goroutine_cannot_join_itself(run):
    def main():
        g = None

        def body():
            with pytest.raises(RuntimeError, match="itself"):
                g.join()
            return "done"
        g = netpoll.go(body)
        assert g.join() == "done"
    run(main)


def test_goroutine_starts_when_creator_yields(run):
    def main():
        order = []
        netpoll.go(order.append, "g")
        order.append("main before")
        assert order == ["main before"]    # not started yet
        netpoll.gosched()
        order.append("main after")
        assert order == ["main before", "g", "main after"]
    run(main)


def test_goroutine_starts_when_creator_blocks(run):
    def main():
        ch = Chan()
        netpoll.go(ch.send, 7)
        assert ch.recv() == 7
    run(main)


def test_gosched_interleaves(run):
    def main():
        order = []
        def worker(name):
            for i in range(3):
                order.append((name, i))
                netpoll.gosched()
        a = netpoll.go(worker, "a")
        b = netpoll.go(worker, "b")
        a.join()
        b.join()
        assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    run(main)


def test_sleep_orders_wakeups(run):
    def main():
        order = []
        def sleeper(d):
            netpoll.sleep(d)
            order.append(d)
        gs = [netpoll.go(sleeper, d) for d in (0.03, 0.01, 0.02, 0)]
        for g in gs:
            g.join()
        assert order == [0, 0.01, 0.02, 0.03]
    run(main)


def test_sleep_zero_and_negative_yield(run):
    def main():
        order = []
        netpoll.go(order.append, 1)
        netpoll.sleep(0)
        assert order == [1]
        netpoll.go(order.append, 2)
        netpoll.sleep(-5)
        assert order == [1, 2]
    run(main)


def test_sleep_duration_lower_bound(run):
    import time

    def main():
        t0 = time.monotonic()
        netpoll.sleep(0.05)
        return time.monotonic() - t0
    assert run(main) >= 0.05


def test_uncaught_exception_printed_and_runtime_continues(run, capfd):
    def main():
        def fail():
            raise ZeroDivisionError("division by nothing")
        g = netpoll.go(fail)
        netpoll.sleep(0.001)
        assert g.done
        # the runtime keeps going
        assert netpoll.go(lambda: "alive").join() == "alive"
        with pytest.raises(ZeroDivisionError):
            g.join()
    run(main)
    err = capfd.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert "ZeroDivisionError: division by nothing" in err
    assert "in fail" in err


def test_keyboard_interrupt_in_goroutine_reaches_main(run):
    def main():
        def interrupt():
            raise KeyboardInterrupt
        netpoll.go(interrupt)
        netpoll.sleep(10)
    with pytest.raises(KeyboardInterrupt):
        run(main)


# -- run() misuse and poller selection ----------------------------------------

def test_run_inside_run_raises(run):
    def main():
        with pytest.raises(RuntimeError, match="inside"):
            netpoll.run(lambda: None)

        def inner():
            with pytest.raises(RuntimeError):
                netpoll.run(lambda: None)
            return "ok"
        assert netpoll.go(inner).join() == "ok"
    run(main)


def test_run_with_other_poller_while_runtime_alive(poller):
    other = "select" if poller != "select" else "poll"
    netpoll.run(lambda: None, poller=poller)      # tears down: no runtime left
    from netpoll.runtime.scheduler import get_runtime
    rt = get_runtime(poller)      # this thread's runtime, alive outside run()
    netpoll.go(netpoll.sleep, 1000)
    with pytest.raises(RuntimeError, match=poller):
        netpoll.run(lambda: None, poller=other)
    assert current_runtime() is rt                # untouched by the refusal
    # the same poller, or none, is fine: run() adopts the live runtime
    assert netpoll.run(lambda: current_runtime() is rt, poller=poller) is True


@pytest.mark.parametrize("name", ["epol", "", "EPOLL_", "kqueue2"])
def test_unknown_poller_name(name):
    with pytest.raises(ValueError) as info:
        netpoll.run(lambda: None, poller=name or "nope")
    msg = str(info.value)
    for valid in (*netpoll.pollers(), "auto"):      # only this OS's
        assert valid in msg


def test_unknown_poller_from_environment(monkeypatch):
    monkeypatch.setenv("NETPOLL_POLLER", "iouring")
    with pytest.raises(ValueError, match="iouring") as info:
        netpoll.run(lambda: None)
    assert "epoll" in str(info.value) and "select" in str(info.value)


def test_poller_from_environment(monkeypatch, poller):
    monkeypatch.setenv("NETPOLL_POLLER", poller)
    assert netpoll.run(lambda: netpoll.stats()["poller"]) == poller
    monkeypatch.setenv("NETPOLL_POLLER", "auto")
    assert netpoll.run(lambda: netpoll.stats()["poller"]) == netpoll.pollers()[0]


def test_unavailable_poller():
    if "kqueue" in netpoll.pollers():
        pytest.skip("kqueue available here")
    with pytest.raises(ValueError, match="not available"):
        netpoll.run(lambda: None, poller="kqueue")


def test_pollers_lists_available():
    names = netpoll.pollers()
    assert "select" in names
    if sys.platform.startswith("linux"):
        assert names[0] == "epoll" and "poll" in names and "kqueue" not in names


# -- teardown -----------------------------------------------------------------

def test_teardown_raises_goroutine_exit_at_park_points(run):
    cleaned = []

    def main():
        ch = Chan()
        wg = netpoll.WaitGroup()
        wg.add(1)
        r, w = os.pipe()
        from netpoll.runtime.polldesc import poll_open
        os.set_blocking(r, False)
        pd = poll_open(r)

        def parked(name, fn, *args):
            try:
                fn(*args)
            except GoroutineExit:
                cleaned.append(name)
                raise
            finally:
                cleaned.append(name + " finally")

        forever = netpoll.go(netpoll.sleep, 1000)
        netpoll.go(parked, "sleep", netpoll.sleep, 1000)
        netpoll.go(parked, "recv", ch.recv)
        netpoll.go(parked, "send", Chan().send, 1)
        netpoll.go(parked, "wg", wg.wait)
        netpoll.go(parked, "join", forever.join)
        netpoll.go(parked, "io", pd.wait, 1)
        netpoll.go(parked, "gosched loop", lambda: [netpoll.gosched() for _ in iter(int, 1)])
        netpoll.go(parked, "started", netpoll.sleep, 1)
        netpoll.gosched()                      # every one runs until it parks
        netpoll.go(parked, "unstarted", netpoll.sleep, 1)
        main.fds = (r, w, pd)

    run(main)
    r, w, pd = main.fds
    os.close(r)
    os.close(w)
    for name in ("sleep", "recv", "send", "wg", "join", "io", "gosched loop", "started"):
        assert name in cleaned, name
        assert name + " finally" in cleaned, name
    # a goroutine that never ran has no park point: it is finished, not run
    assert "unstarted" not in cleaned


def test_teardown_cleanup_may_block_briefly(run):
    done = []

    def main():
        def g():
            try:
                netpoll.sleep(1000)
            finally:
                netpoll.sleep(0.01)        # cleanup that parks
                done.append(True)
        netpoll.go(g)
        netpoll.gosched()
    run(main)
    assert done == [True]


def test_teardown_with_cleanup_blocked_forever(run):
    """A goroutine whose cleanup blocks forever is abandoned; run() returns."""
    def main():
        def g():
            try:
                netpoll.sleep(1000)
            finally:
                Chan().recv()
        netpoll.go(g)
        netpoll.gosched()
        return "returned"
    assert run(main) == "returned"
    assert current_runtime() is None


def test_teardown_goroutine_exit_reaches_join(run):
    def main():
        g = netpoll.go(netpoll.sleep, 1000)
        netpoll.gosched()
        main.g = g
    run(main)
    assert main.g.done
    with pytest.raises(GoroutineExit):
        main.g.join()


def test_teardown_after_main_raises(run):
    cleaned = []

    def main():
        def g():
            try:
                netpoll.sleep(1000)
            finally:
                cleaned.append(1)
        netpoll.go(g)
        netpoll.gosched()
        raise OSError("main failed")
    with pytest.raises(OSError, match="main failed"):
        run(main)
    assert cleaned == [1]


def test_except_exception_does_not_swallow_goroutine_exit(run):
    after = []

    def main():
        def g():
            try:
                netpoll.sleep(1000)
            except Exception:
                after.append("swallowed")
        netpoll.go(g)
        netpoll.gosched()
    run(main)
    assert after == []


# -- implicit runtime ---------------------------------------------------------

def test_implicit_runtime_outside_run():
    order = []
    g = netpoll.go(lambda: (order.append("g"), netpoll.sleep(0.01), "result")[-1])
    assert order == []
    netpoll.sleep(0.001)          # blocking outside run(): other goroutines run
    assert order == ["g"]
    assert g.join() == "result"
    ch = Chan(1)
    ch.send(1)
    assert ch.recv() == 1
    assert current_runtime() is not None
    assert netpoll.stats()["goroutines"] == 0


def test_run_adopts_implicit_runtime():
    g = netpoll.go(netpoll.sleep, 1000)
    rt = current_runtime()

    def main():
        assert current_runtime() is rt
        return "ok"
    assert netpoll.run(main) == "ok"
    assert g.done                 # stopped at teardown
    assert current_runtime() is None


def test_runtime_per_thread(run):
    result = {}

    def thread_main():
        result["thread"] = netpoll.run(lambda: netpoll.go(lambda: threading.get_ident()).join())

    def main():
        t = threading.Thread(target=thread_main)
        t.start()
        netpoll.to_thread(t.join)
        return threading.get_ident()
    me = run(main)
    assert result["thread"] != me


# -- deadlock-free, idle behaviour of the loop ---------------------------------

def _cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def test_idle_runtime_uses_no_cpu(run):
    def main():
        netpoll.go(netpoll.sleep, 0.5).join()
    c0 = _cpu()
    run(main)
    used = _cpu() - c0
    assert used < 0.2, f"an idle runtime used {used:.3f} s CPU in 0.5 s"


def test_scheduler_blocks_until_next_timer(run):
    def main():
        p0 = netpoll.stats()["polls"]
        netpoll.sleep(0.3)
        return netpoll.stats()["polls"] - p0
    polls = run(main)
    assert 1 <= polls <= 5


def test_scheduler_blocks_without_limit_on_descriptor(run):
    """No timer, a goroutine waits on a descriptor: the poller blocks until
    the descriptor is ready (woken here from another thread)."""
    from netpoll.runtime.polldesc import poll_open, POLL_OK

    def main():
        r, w = os.pipe()
        os.set_blocking(r, False)
        pd = poll_open(r)
        try:
            p0 = netpoll.stats()["polls"]
            t = threading.Timer(0.2, os.write, (w, b"x"))
            t.start()
            assert pd.wait(1) == POLL_OK
            t.join()
            return netpoll.stats()["polls"] - p0
        finally:
            pd.evict()
            pd.close()
            os.close(r)
            os.close(w)
    assert 1 <= run(main) <= 5


def test_workers_of_finished_goroutines_are_reused_then_ended_at_teardown(run):
    """go() hands a new goroutine to the greenlet of a finished one (Go's
    free list of g's); a reused worker keeps no reference to its previous
    goroutine, and run() ends the idle workers when it returns."""
    import gc
    import weakref
    seen = {}

    def main():
        g1 = netpoll.go(lambda: "one")
        assert g1.join() == "one"
        worker = g1.worker
        ref = weakref.ref(g1)
        del g1
        gc.collect()
        assert ref() is None                     # the idle worker let go of it
        g2 = netpoll.go(lambda x: x * 2, 21)
        assert g2.worker is worker               # reused, not a new greenlet
        assert g2.join() == 42
        seen["worker"] = worker
    run(main)
    assert seen["worker"].dead                   # ended when run() returned


def test_parking_hands_over_in_order_within_a_batch(run):
    """A goroutine that parks switches straight to the batch's next one:
    the order stays FIFO, and a goroutine readied during the batch waits for
    the next batch (after the poll), as before."""
    def main():
        order = []
        chans = [Chan(1) for _ in range(4)]

        def work(i):
            order.append(("start", i))
            chans[i].recv()
            order.append(("woken", i))
        gs = [netpoll.go(work, i) for i in range(4)]
        netpoll.gosched()                 # the batch: all four start, park in turn
        assert order == [("start", i) for i in range(4)]
        for i in (2, 0, 3, 1):            # readied in this order
            chans[i].send(None)
        for g in gs:
            g.join()
        assert order[4:] == [("woken", i) for i in (2, 0, 3, 1)]
    run(main)


def test_hand_over_chain_does_not_accumulate_recursion_depth(run):
    """A new worker starts from the hub, never from the goroutine that parks
    before it: a greenlet starts with the recursion depth of the greenlet
    that first switches to it, and a chain of thousands of hand-overs would
    otherwise add their depths up to a RecursionError."""
    depth = sys.getrecursionlimit() // 2

    def recurse(k):
        return 0 if k == 0 else 1 + recurse(k - 1)

    def main():
        results = []
        wg = netpoll.WaitGroup()

        def work():
            netpoll.gosched()
            results.append(recurse(depth))
            wg.done()
        n = 2000
        wg.add(n)
        for _ in range(n):
            netpoll.go(work)
        wg.wait()
        assert results == [depth] * n
    run(main)
