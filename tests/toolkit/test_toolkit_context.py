"""context (Go: context): the tree, cancellation down and never up,
deadlines and their inheritance, values, after_func, and the errors'
classes and messages."""

import math
import time

import pytest

import netpoll
from netpoll import Chan, Recv, context, select
from netpoll.runtime.scheduler import current_runtime

from support import wait_parked


def test_background():
    bg = context.background()
    assert bg.done() is None and bg.err() is None
    assert bg.deadline() is None and bg.value("k") is None


def test_cancel_closes_done_and_sets_err(run):
    def main():
        ctx, cancel = context.with_cancel(context.background())
        assert ctx.err() is None
        g = netpoll.go(ctx.done().recv_ok)
        wait_parked(g, reason="chan receive")
        cancel()
        cancel()                                   # idempotent
        assert g.join() == (None, False)
        err = ctx.err()
        assert isinstance(err, context.Canceled) and isinstance(err, Exception)
        assert str(err) == "context canceled"
        assert select(Recv(ctx.done())) == (0, None, False)
    run(main)


def test_tree_of_three_cancelled_in_the_middle(run):
    def main():
        root, cancel_root = context.with_cancel(context.background())
        mid, cancel_mid = context.with_cancel(root)
        leaf, _ = context.with_cancel(context.with_value(mid, "k", "v"))
        sibling, _ = context.with_cancel(root)
        waiters = [netpoll.go(c.done().recv_ok) for c in (root, mid, leaf, sibling)]
        wait_parked(*waiters, reason="chan receive")
        cancel_mid()
        for g in waiters[1:3]:
            g.join()
        assert mid.err() is not None and leaf.err() is not None
        assert root.err() is None and sibling.err() is None     # never up
        assert not waiters[0].done and not waiters[3].done
        assert leaf.value("k") == "v"
        cancel_root()
        assert sibling.err() is not None
        for g in waiters:
            g.join()
    run(main)


def test_child_of_cancelled_parent_is_born_cancelled(run):
    def main():
        parent, cancel = context.with_cancel(context.background())
        cancel()
        child, _ = context.with_timeout(parent, 10)
        assert isinstance(child.err(), context.Canceled)
        assert child.done().recv_ok() == (None, False)
    run(main)


def test_cancelled_children_are_forgotten(run):
    def main():
        root, cancel_root = context.with_cancel(context.background())
        live = netpoll.stats()["timers"]
        for _ in range(1000):
            _, cancel = context.with_timeout(root, 60)
            cancel()
        assert root._children == {}
        assert netpoll.stats()["timers"] == live   # their timers stopped
        cancel_root()
    run(main)


def test_deadline_expires_with_deadline_exceeded(run):
    def main():
        t0 = time.monotonic()
        ctx, cancel = context.with_timeout(context.background(), 0.05)
        child, _ = context.with_cancel(ctx)
        assert select(Recv(child.done())) == (0, None, False)
        assert time.monotonic() - t0 >= 0.05
        for c in (ctx, child):
            err = c.err()
            assert isinstance(err, context.DeadlineExceeded)
            assert isinstance(err, TimeoutError)
            assert str(err) == "context deadline exceeded"
        cancel()
        assert isinstance(ctx.err(), context.DeadlineExceeded)   # stays
    run(main)


def test_deadline_inheritance(run):
    def main():
        now = time.monotonic()
        parent, _ = context.with_deadline(context.background(), now + 10)
        later, _ = context.with_timeout(parent, 100)
        sooner, _ = context.with_timeout(parent, 1)
        value = context.with_value(sooner, "k", 1)
        plain, _ = context.with_cancel(value)
        assert later.deadline() == parent.deadline() == now + 10
        assert now < sooner.deadline() < now + 10
        assert value.deadline() == plain.deadline() == sooner.deadline()
        past, _ = context.with_deadline(parent, now - 1)
        assert isinstance(past.err(), context.DeadlineExceeded)
        forever, _ = context.with_timeout(context.background(), math.inf)
        assert forever.deadline() is None
        with pytest.raises(ValueError):
            context.with_timeout(parent, math.nan)
        with pytest.raises(ValueError):
            context.with_deadline(parent, math.nan)
        with pytest.raises(TypeError):
            context.with_cancel(None)
    run(main)


def test_values_looked_up_through_parents(run):
    def main():
        a = context.with_value(context.background(), "user", "ann")
        b, cancel = context.with_cancel(a)
        c = context.with_value(b, "req", 7)
        d = context.with_value(c, "user", "bob")
        assert c.value("user") == "ann" and c.value("req") == 7
        assert d.value("user") == "bob" and a.value("req") is None
        cancel()
        assert d.err() is b.err()
    run(main)


def test_after_func(run):
    def main():
        ctx, cancel = context.with_cancel(context.background())
        ran = Chan(1)
        stop = context.after_func(ctx, lambda: ran.send(netpoll.stats()["goroutines"]))
        other = context.after_func(ctx, lambda: ran.send("never"))
        assert other() is True                     # prevented
        assert other() is False
        cancel()
        assert ran.recv() >= 1                     # ran, in a goroutine
        assert stop() is False                     # too late to prevent it
        late = Chan(1)
        context.after_func(ctx, lambda: late.send("at once"))
        assert late.recv() == "at once"
    run(main)


def test_goroutine_waiting_on_done_is_torn_down(run):
    state = []

    def main():
        ctx, _ = context.with_timeout(context.background(), 3600)

        def waiter():
            try:
                ctx.done().recv_ok()
            finally:
                state.append("cleaned")
        g = netpoll.go(waiter)
        wait_parked(g, reason="chan receive")
    run(main)
    assert state == ["cleaned"]
    assert current_runtime() is None
