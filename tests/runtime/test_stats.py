"""netpoll.stats(): every key the reference (docs/reference.md) lists, and what each one counts."""

import os
import socket

import netpoll
from netpoll.poller import MODE_READ
from netpoll.runtime.polldesc import POLL_OK, poll_open
from netpoll.runtime.scheduler import current_runtime

KEYS = {"poller": str, "goroutines": int, "runnable": int, "netpoll_waiters": int,
        "timers": int, "polls": int, "events": int, "ctl": int}


def test_keys_and_types(run, poller):
    s = run(netpoll.stats)
    for key, typ in KEYS.items():
        assert isinstance(s[key], typ), key
    assert s["poller"] == poller


def test_outside_run():
    s = netpoll.stats()
    assert set(KEYS) <= set(s)
    assert s["goroutines"] == 0
    assert current_runtime() is None        # asking does not create the runtime


def test_stats_before_run_leaves_the_poller_choice_open():
    netpoll.stats()
    assert netpoll.run(lambda: netpoll.stats()["poller"], poller="poll") == "poll"


def test_goroutines_runnable_timers(run):
    def main():
        s = netpoll.stats()
        assert (s["goroutines"], s["runnable"], s["timers"]) == (0, 0, 0)
        gs = [netpoll.go(netpoll.sleep, 10) for _ in range(3)]
        s = netpoll.stats()
        assert s["goroutines"] == 3 and s["runnable"] == 3 and s["timers"] == 0
        netpoll.gosched()
        s = netpoll.stats()
        assert s["goroutines"] == 3 and s["runnable"] == 0 and s["timers"] == 3
        quick = netpoll.go(lambda: None)
        quick.join()
        assert netpoll.stats()["goroutines"] == 3   # finished ones leave
        assert all(not g.done for g in gs)
    run(main)


def test_netpoll_waiters_events_polls(run, poller):
    def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        pd = poll_open(a.fileno())
        try:
            s0 = netpoll.stats()
            gs = [netpoll.go(pd.wait, MODE_READ)]
            netpoll.gosched()
            s1 = netpoll.stats()
            assert s1["netpoll_waiters"] == 1
            b.send(b"x")
            assert gs[0].join() == POLL_OK
            s2 = netpoll.stats()
            assert s2["netpoll_waiters"] == 0
            assert s2["events"] > s1["events"]
            assert s2["polls"] > s0["polls"]
        finally:
            pd.evict()
            pd.close()
            a.close()
            b.close()
    run(main)


def test_ctl_counts_kernel_registrations(run, poller):
    def main():
        c0 = netpoll.stats()["ctl"]
        for _ in range(5):
            r, w = os.pipe()
            os.set_blocking(r, False)
            pd = poll_open(r)
            os.write(w, b"x")
            assert pd.wait(MODE_READ) == POLL_OK        # a wait does no ctl
            pd.evict()
            pd.close()
            os.close(r)
            os.close(w)
        return netpoll.stats()["ctl"] - c0
    ctl = run(main)
    # epoll: one add and one delete per descriptor life, never per wait;
    # poll and select pass the interest set on every wait: 0
    assert ctl == (10 if poller == "epoll" else 0)


def test_polls_count_poller_waits(run):
    """Each pass of the scheduler loop polls (without blocking while
    goroutines are runnable)."""
    def main():
        netpoll.gosched()
        p0 = netpoll.stats()["polls"]
        for _ in range(10):
            netpoll.gosched()
        return netpoll.stats()["polls"] - p0
    assert run(main) == 10
