"""PollDesc, the per-descriptor state machine (Go: pollDesc), and PollCache.

Unit tests with real pipes and socketpairs under each poller, then a
property test (hypothesis) that drives one PollDesc through random
interleavings of notifications, waits, deadlines, evict, close and recycle
and checks it against a model of Go's semantics."""

import contextlib
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netpoll
from netpoll.poller import MODE_READ, MODE_WRITE
from netpoll.runtime.polldesc import (POLL_ERR_CLOSING, POLL_ERR_TIMEOUT,
                                      POLL_OK, READY, PollCache, PollDesc,
                                      _deadline_fired, poll_open)
from netpoll.runtime.scheduler import current_runtime

BOTH = MODE_READ | MODE_WRITE


def fill(sock):
    """Fill ``sock``'s send buffer so it is no longer writable."""
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass


def shut(pd):
    pd.evict()
    pd.close()


@contextlib.contextmanager
def opened(fd):
    """A PollDesc for ``fd``, evicted and closed after the block."""
    pd = poll_open(fd)
    try:
        yield pd
    finally:
        shut(pd)


# -- readiness ------------------------------------------------------------------

def test_wait_woken_by_readiness(run, sockpair):
    a, b = sockpair

    def main():
        with opened(a.fileno()) as pd:
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            assert not g.done
            assert pd.waiting(MODE_READ)
            assert netpoll.stats()["netpoll_waiters"] == 1
            b.send(b"x")
            assert g.join() == POLL_OK
            assert netpoll.stats()["netpoll_waiters"] == 0
            assert a.recv(10) == b"x"
    run(main)


def test_write_wait_woken_when_buffer_drains(run, sockpair):
    a, b = sockpair

    def main():
        with opened(a.fileno()) as pd:
            fill(a)
            assert pd.prepare(MODE_WRITE) == POLL_OK
            g = netpoll.go(pd.wait, MODE_WRITE)
            netpoll.gosched()
            assert not g.done
            try:
                while b.recv(1 << 20):        # the peer drains the buffer
                    pass
            except BlockingIOError:
                pass
            assert g.join(timeout=10) == POLL_OK
    run(main)


def test_readiness_while_nobody_waits_is_not_lost(run, sockpair):
    """Data arrives while nobody waits: the next wait returns without a
    blocking poll (epoll latches READY; level-triggered pollers see it at
    once when armed)."""
    a, b = sockpair

    def main():
        with opened(a.fileno()) as pd:
            b.send(b"x")
            netpoll.gosched()            # one scheduler round: the hub polls; nobody waits yet
            assert netpoll.go(pd.wait, MODE_READ).join(timeout=5) == POLL_OK
    run(main)


def test_latched_ready_returns_without_parking(run, sockpair):
    a, _ = sockpair

    def main():
        with opened(a.fileno()) as pd:
            pd.netpollready(MODE_READ)       # the poller's notification
            assert pd.g[MODE_READ] is READY
            polls = netpoll.stats()["polls"]
            assert pd.wait(MODE_READ) == POLL_OK   # main itself: no park
            assert netpoll.stats()["polls"] == polls
            assert pd.g[MODE_READ] is None          # consumed
    run(main)


def test_prepare(run, sockpair):
    a, _ = sockpair

    def main():
        pd = poll_open(a.fileno())
        pd.netpollready(BOTH)
        assert pd.prepare(MODE_READ) == POLL_OK
        assert pd.g[MODE_READ] is None           # stale READY dropped
        assert pd.g[MODE_WRITE] is READY         # the other side untouched
        pd.set_deadline(time.monotonic() - 1, MODE_WRITE)
        assert pd.prepare(MODE_WRITE) == POLL_ERR_TIMEOUT
        pd.evict()
        assert pd.prepare(MODE_READ) == POLL_ERR_CLOSING
        pd.close()
    run(main)


def test_two_waiters_same_direction_rejected(run, sockpair):
    a, _ = sockpair

    def main():
        pd = poll_open(a.fileno())
        try:
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            with pytest.raises(RuntimeError, match="two goroutines"):
                pd.wait(MODE_READ)
            w = netpoll.go(pd.wait, MODE_WRITE)    # the other direction is fine
            pd.evict()
            assert g.join() == POLL_ERR_CLOSING
            w.join()
        finally:
            pd.close()
    run(main)


# -- deadlines ------------------------------------------------------------------

def test_deadline_wakes_waiter(run, sockpair):
    a, _ = sockpair

    def main():
        with opened(a.fileno()) as pd:
            t0 = time.monotonic()
            pd.set_deadline(t0 + 0.05, MODE_READ)
            assert pd.wait(MODE_READ) == POLL_ERR_TIMEOUT
            assert time.monotonic() - t0 >= 0.05
            # stays timed out until the deadline is moved
            assert pd.wait(MODE_READ) == POLL_ERR_TIMEOUT
            assert pd.prepare(MODE_READ) == POLL_ERR_TIMEOUT
            pd.set_deadline(None, MODE_READ)
            assert pd.prepare(MODE_READ) == POLL_OK
            pd.netpollready(MODE_READ)
            assert pd.wait(MODE_READ) == POLL_OK
    run(main)


def test_deadline_moved_later_while_parked(run, sockpair):
    a, _ = sockpair

    def main():
        with opened(a.fileno()) as pd:
            t0 = time.monotonic()
            pd.set_deadline(t0 + 0.02, MODE_READ)
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            pd.set_deadline(t0 + 0.15, MODE_READ)   # extend before it fires
            netpoll.sleep(0.05)
            assert not g.done                         # the old timer was stale
            assert g.join() == POLL_ERR_TIMEOUT
            assert time.monotonic() - t0 >= 0.15
    run(main)


def test_deadline_moved_earlier_while_parked(run, sockpair):
    a, _ = sockpair

    def main():
        with opened(a.fileno()) as pd:
            t0 = time.monotonic()
            pd.set_deadline(t0 + 30, MODE_READ)
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            pd.set_deadline(t0 + 0.02, MODE_READ)
            assert g.join(timeout=10) == POLL_ERR_TIMEOUT
    run(main)


@pytest.mark.parametrize("past", [0, -1.0, "now"])
def test_past_deadline_wakes_at_once(run, sockpair, past):
    a, _ = sockpair

    def main():
        with opened(a.fileno()) as pd:
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            t = time.monotonic() if past == "now" else past
            assert pd.set_deadline(t, MODE_READ) == POLL_OK
            assert pd.deadline[MODE_READ] == -1
            netpoll.gosched()
            assert g.done and g.join() == POLL_ERR_TIMEOUT
    run(main)


def test_deadline_cleared_while_parked(run, sockpair):
    a, b = sockpair

    def main():
        with opened(a.fileno()) as pd:
            pd.set_deadline(time.monotonic() + 0.02, MODE_READ)
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            pd.set_deadline(None, MODE_READ)
            netpoll.sleep(0.05)
            assert not g.done
            b.send(b"x")
            assert g.join() == POLL_OK
            assert netpoll.stats()["timers"] == 0
    run(main)


def test_deadline_fired_then_moved_before_waiter_runs(run, sockpair):
    """The timer fires (waiter queued), then the deadline is moved to the
    future before the waiter runs: it parks again instead of timing out."""
    a, b = sockpair

    def main():
        rt = current_runtime()
        with opened(a.fileno()) as pd:
            pd.set_deadline(time.monotonic() + 1000, MODE_READ)
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            t = pd.timer[MODE_READ]
            fn, arg = t[2], t[3]
            rt.timers.cancel(t)
            fn(arg)                         # the timer fires...
            assert g.worker in rt.runq
            pd.set_deadline(time.monotonic() + 1000, MODE_READ)   # ...moved
            netpoll.gosched()
            assert not g.done and pd.waiting(MODE_READ)
            b.send(b"x")
            assert g.join() == POLL_OK
    run(main)


def test_write_deadline_independent_of_read(run, sockpair):
    a, _ = sockpair

    def main():
        with opened(a.fileno()) as pd:
            fill(a)
            pd.set_deadline(time.monotonic() - 1, MODE_WRITE)
            assert pd.wait(MODE_WRITE) == POLL_ERR_TIMEOUT
            assert pd.prepare(MODE_READ) == POLL_OK
            pd.set_deadline(time.monotonic() + 0.02, BOTH)
            assert pd.wait(MODE_READ) == POLL_ERR_TIMEOUT
            assert pd.wait(MODE_WRITE) == POLL_ERR_TIMEOUT
    run(main)


# -- evict, close, cache --------------------------------------------------------

def test_evict_wakes_both_waiters(run, sockpair):
    a, _ = sockpair

    def main():
        pd = poll_open(a.fileno())
        fill(a)
        r = netpoll.go(pd.wait, MODE_READ)
        w = netpoll.go(pd.wait, MODE_WRITE)
        pd.set_deadline(time.monotonic() + 30, BOTH)
        netpoll.gosched()
        pd.evict()
        pd.evict()                                  # idempotent
        assert r.join() == POLL_ERR_CLOSING
        assert w.join() == POLL_ERR_CLOSING
        assert pd.wait(MODE_READ) == POLL_ERR_CLOSING
        assert pd.set_deadline(None, BOTH) == POLL_ERR_CLOSING
        assert netpoll.stats()["timers"] == 0       # deadline timers cancelled
        pd.close()
    run(main)


def test_close_requires_evict(run, sockpair):
    a, _ = sockpair

    def main():
        pd = poll_open(a.fileno())
        with pytest.raises(RuntimeError, match="evict"):
            pd.close()
        shut(pd)
    run(main)


def test_cache_recycles_and_bumps_seq(run, sockpair):
    a, b = sockpair

    def main():
        rt = current_runtime()
        pd = poll_open(a.fileno())
        life = pd.fdseq
        pd.set_deadline(time.monotonic() + 1000, MODE_READ)
        old_arg = pd.timer[MODE_READ][3]
        shut(pd)
        pd2 = poll_open(b.fileno())
        assert pd2 is pd and pd2.fdseq == life + 1 and pd2.fd == b.fileno()
        assert not pd2.closing and pd2.deadline == [0, 0, 0]
        g = netpoll.go(pd2.wait, MODE_READ)
        netpoll.gosched()
        _deadline_fired(old_arg)           # a timer of the previous life
        assert pd2.deadline[MODE_READ] == 0 and g.worker not in rt.runq
        netpoll.gosched()
        assert not g.done
        pd2.evict()
        assert g.join() == POLL_ERR_CLOSING
        pd2.close()
    run(main)


def test_cache_bounded():
    cache = PollCache()
    pds = [PollDesc() for _ in range(PollCache.MAX_FREE + 10)]
    for pd in pds:
        cache.release(pd)
    assert len(cache.free) == PollCache.MAX_FREE


def test_epoll_ctl_once_per_life(sockpair):
    a, b = sockpair

    def main():
        ctl = netpoll.stats()["ctl"]
        pd = poll_open(a.fileno())
        for _ in range(20):
            b.send(b"x")
            assert pd.wait(MODE_READ) == POLL_OK
            a.recv(10)
        shut(pd)
        return netpoll.stats()["ctl"] - ctl
    assert netpoll.run(main, poller="epoll") == 2


def test_goroutine_exit_while_waiting_cleans_up(run, sockpair):
    a, b = sockpair

    def main():
        rt = current_runtime()
        with opened(a.fileno()) as pd:
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            rt.throws.append((g, netpoll.GoroutineExit()))
            netpoll.gosched()
            assert g.done
            assert pd.g[MODE_READ] is None
            assert netpoll.stats()["netpoll_waiters"] == 0
            # the next waiter is woken normally
            g2 = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            b.send(b"x")
            assert g2.join() == POLL_OK
    run(main)


def test_stale_event_for_old_descriptor_number(run):
    """A descriptor number is reused by a new pipe while the old file
    description lives on (a dup): events of the old one never reach the new
    owner of the number."""
    def main():
        r, w = os.pipe()
        os.set_blocking(r, False)
        keep = os.dup(r)
        pd = poll_open(r)
        shut(pd)
        os.close(r)
        r2, w2 = os.pipe()
        try:
            assert r2 == r                     # the number was reused
            os.set_blocking(r2, False)
            pd2 = poll_open(r2)
            g = netpoll.go(pd2.wait, MODE_READ)
            netpoll.gosched()
            os.write(w, b"old")                # the old description is readable
            netpoll.gosched()                  # the hub polls, and must not wake g
            assert not g.done
            os.write(w2, b"new")
            assert g.join(timeout=5) == POLL_OK
            shut(pd2)
        finally:
            for fd in (w, keep, r2, w2):
                os.close(fd)
    run(main)


# -- the property test --------------------------------------------------------

MODE = st.sampled_from([MODE_READ, MODE_WRITE])
BITS = st.sampled_from([MODE_READ, MODE_WRITE, BOTH])
OPS = st.lists(st.one_of(
    st.tuples(st.just("wait"), MODE),
    st.tuples(st.just("notify"), BITS),
    st.tuples(st.just("deadline"), BITS, st.sampled_from(["none", "future", "passed"])),
    st.tuples(st.just("fire"), MODE),
    st.tuples(st.just("stale_timer"), st.integers(0, 50)),
    st.tuples(st.just("stale_event"), st.integers(0, 50)),
    st.tuples(st.just("settle")),
    st.tuples(st.just("evict")),
    st.tuples(st.just("close")),
    st.tuples(st.just("recycle")),
), max_size=40)


class Waiter:
    def __init__(self, mode, life):
        self.mode = mode
        self.life = life
        self.state = "starting"      # model: starting, parked, woken, done
        self.expected = None
        self.result = None           # real
        self.returns = 0
        self.g = None


class Model:
    """What a PollDesc must do (Go's semantics), one direction per slot."""

    def __init__(self):
        self.queued = []             # waiters runnable, in run-queue order
        self.waiters = []
        self.new_life()

    def new_life(self):
        self.open = True
        self.closing = False
        self.slot = {MODE_READ: None, MODE_WRITE: None}   # None, READY, Waiter
        self.dl = {MODE_READ: "none", MODE_WRITE: "none"}
        self.timer = {MODE_READ: False, MODE_WRITE: False}
        self.active = {MODE_READ: None, MODE_WRITE: None}

    def wake(self, m):
        w = self.slot[m]
        if isinstance(w, Waiter):
            w.state = "woken"
            self.queued.append(w)
            return True
        return False

    def run_waiter(self, w):
        m = w.mode
        if w.state == "woken":
            g = self.slot[m]
            self.slot[m] = None
            if g is READY:
                return self.done(w, POLL_OK)
        if self.closing:
            return self.done(w, POLL_ERR_CLOSING)
        if self.dl[m] == "passed":
            return self.done(w, POLL_ERR_TIMEOUT)
        if self.slot[m] is READY:
            self.slot[m] = None
            return self.done(w, POLL_OK)
        assert self.slot[m] is None
        self.slot[m] = w
        w.state = "parked"

    def done(self, w, result):
        w.state = "done"
        w.expected = result
        self.active[w.mode] = None

    def settle(self):
        queued, self.queued = self.queued, []
        for w in queued:
            self.run_waiter(w)


def _check(pd, rt, model):
    for m in (MODE_READ, MODE_WRITE):
        s = model.slot[m]
        real = pd.g[m]
        if isinstance(s, Waiter):
            assert real is s.g, (m, real, s.state)
        else:
            assert real is s, (m, real, s)
        d = pd.deadline[m]
        assert {"none": d == 0, "future": d > 0, "passed": d == -1}[model.dl[m]] or model.closing
    assert pd.closing == model.closing
    runq = [g for g in rt.runq if g is not rt.main]
    assert len(runq) == len(set(runq)), "a goroutine queued twice (woken twice)"
    assert set(runq) == {w.g for w in model.queued}, "a waiter lost or woken spuriously"
    for w in model.waiters:
        if w.state == "done":
            assert w.returns == 1 and w.result == w.expected, (w.result, w.expected)
        else:
            assert w.returns == 0
    assert rt.nwait == sum(w.state in ("parked", "woken") for w in model.waiters)


def _drive(ops, poller):
    def main():
        rt = current_runtime()
        model = Model()
        pipes = []                       # [r or None, w, dup of r]
        stale_args = []

        def open_life():
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            pipes.append([r, w, os.dup(r)])
            return poll_open(r, rt)

        def body(w):
            try:
                w.result = pd.wait(w.mode)
            finally:
                w.returns += 1

        def settle():
            netpoll.gosched()
            model.settle()

        pd = open_life()
        life = pd.fdseq
        try:
            for op in ops:
                kind = op[0]
                if kind == "wait":
                    m = op[1]
                    if not model.open or model.active[m] is not None:
                        continue          # the FD layer serializes each direction
                    w = Waiter(m, life)
                    w.g = netpoll.go(body, w).worker   # the greenlet that parks
                    model.waiters.append(w)
                    model.active[m] = w
                    model.queued.append(w)
                elif kind == "notify":
                    if not model.open:
                        continue          # unregistered: the poller cannot report it
                    pd.netpollready(op[1])
                    for m in (MODE_READ, MODE_WRITE):
                        if op[1] & m:
                            model.wake(m)
                            model.slot[m] = READY
                elif kind == "deadline":
                    _, bits, dk = op
                    if not model.open:
                        continue
                    before = {m: pd.timer[m] for m in (MODE_READ, MODE_WRITE)}
                    before_args = {m: t[3] for m, t in before.items() if t is not None}
                    t = {"none": None, "future": time.monotonic() + 1000,
                         "passed": time.monotonic() - 1}[dk]
                    res = pd.set_deadline(t, bits)
                    for m in (MODE_READ, MODE_WRITE):
                        # a timer replaced (not kept for a deadline moved
                        # later) can still be called: it must do nothing
                        if before[m] is not None and pd.timer[m] is not before[m]:
                            stale_args.append(before_args[m])
                    if model.closing:
                        assert res == POLL_ERR_CLOSING
                        continue
                    assert res == POLL_OK
                    for m in (MODE_READ, MODE_WRITE):
                        if bits & m:
                            model.dl[m] = dk
                            model.timer[m] = dk == "future"
                            if dk == "passed" and model.wake(m):
                                model.slot[m] = None
                elif kind == "fire":
                    m = op[1]
                    if not model.timer[m]:
                        continue
                    t = pd.timer[m]
                    while t is not None:         # time reaches the deadline:
                        assert t[2] is not None
                        fn, arg = t[2], t[3]
                        rt.timers.cancel(t)      # as run_due pops it...
                        fn(arg)                  # ...and calls it; a timer
                        stale_args.append(arg)   # armed before the deadline
                        t = pd.timer[m]          # moved later re-arms
                    model.timer[m] = False
                    model.dl[m] = "passed"
                    if model.wake(m):
                        model.slot[m] = None
                elif kind == "stale_timer":
                    if not stale_args:
                        continue
                    before = (list(pd.g), list(pd.deadline), len(rt.runq))
                    _deadline_fired(stale_args[op[1] % len(stale_args)])
                    assert (list(pd.g), list(pd.deadline), len(rt.runq)) == before
                elif kind == "stale_event":
                    old = pipes[:-1] if model.open else pipes
                    if not old:
                        continue
                    os.write(old[op[1] % len(old)][1], b"x")
                    settle()
                elif kind == "settle":
                    settle()
                elif kind == "evict":
                    if not model.open:
                        continue
                    for m in (MODE_READ, MODE_WRITE):
                        if pd.timer[m] is not None:
                            stale_args.append(pd.timer[m][3])
                    pd.evict()
                    if not model.closing:
                        model.closing = True
                        for m in (MODE_READ, MODE_WRITE):
                            model.timer[m] = False
                            if model.wake(m):
                                model.slot[m] = None
                elif kind == "close":
                    if not model.open:
                        continue
                    if not model.closing:
                        with pytest.raises(RuntimeError):
                            pd.close()
                        continue
                    settle()                     # in-flight waits return first
                    assert model.active == {MODE_READ: None, MODE_WRITE: None}
                    pd.close()
                    os.close(pipes[-1][0])
                    pipes[-1][0] = None
                    model.open = False
                    model.slot = {MODE_READ: None, MODE_WRITE: None}
                elif kind == "recycle":
                    if model.open:
                        continue
                    new = open_life()
                    assert new is pd, "the cache hands the same PollDesc back"
                    assert pd.fdseq == life + 1
                    life = pd.fdseq
                    model.new_life()
                _check(pd, rt, model)
            # the end: evict wakes every waiter with an answer
            if model.open:
                pd.evict()
                if not model.closing:
                    model.closing = True
                    for m in (MODE_READ, MODE_WRITE):
                        if model.wake(m):
                            model.slot[m] = None
                settle()
                _check(pd, rt, model)
                pd.close()
            for w in model.waiters:
                assert w.state == "done" and w.returns == 1, "a waiter was lost"
        finally:
            for p in pipes:
                for fd in p:
                    if fd is not None:
                        os.close(fd)
    netpoll.run(main, poller=poller)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_polldesc_property(poller, ops):
    _drive(ops, poller)


def test_polldesc_property_example():
    """One hand-picked interleaving that exercises every transition."""
    ops = [("wait", 1), ("wait", 2), ("settle",), ("deadline", 3, "future"),
           ("fire", 1), ("deadline", 1, "future"), ("settle",), ("notify", 1),
           ("stale_timer", 0), ("settle",), ("wait", 1), ("deadline", 1, "passed"),
           ("settle",), ("notify", 2), ("evict",), ("settle",), ("close",),
           ("stale_timer", 1), ("stale_event", 0), ("recycle",), ("wait", 1),
           ("settle",), ("stale_event", 0), ("stale_timer", 2), ("notify", 1),
           ("settle",)]
    for p in ("select", "poll", "epoll"):
        if p in netpoll.pollers():
            _drive(ops, p)


def test_deadline_moved_later_keeps_one_timer_that_rearms(run, sockpair):
    """Moving a deadline later does not touch the timer heap: the armed
    timer, when due, finds the deadline ahead and re-arms for it; the waiter
    wakes only at the final deadline."""
    a, b = sockpair

    def main():
        rt = current_runtime()
        with opened(a.fileno()) as pd:
            now = time.monotonic()
            pd.set_deadline(now + 100, MODE_READ)
            first = pd.timer[MODE_READ]
            heap_size = len(rt.timers.heap)
            for i in range(1, 50):                 # renewed per "request"
                pd.set_deadline(now + 100 + i, MODE_READ)
            assert pd.timer[MODE_READ] is first
            assert len(rt.timers.heap) == heap_size
            g = netpoll.go(pd.wait, MODE_READ)
            netpoll.gosched()
            arg = first[3]
            rt.timers.cancel(first)                # as run_due pops it...
            _deadline_fired(arg)                   # ...and calls it
            assert not g.done and pd.waiting(MODE_READ)        # re-armed, not expired
            second = pd.timer[MODE_READ]
            assert second is not first and second[0] == now + 149
            arg = second[3]
            rt.timers.cancel(second)
            _deadline_fired(arg)
            assert g.join() == POLL_ERR_TIMEOUT
    run(main)
