"""select over channels (Go's select statement): the semantics table, no
stale waiter after any way out of a select, a property test of random
programs (conservation, nobody parked who could proceed), fairness."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netpoll
from netpoll import Chan, ChanClosed, DeadlockError, Recv, Send, select

from support import wait_parked


def queues_empty(*chans):
    return all(not ch._recvq and not ch._sendq for ch in chans)


def test_ready_receive_and_send(run):
    def main():
        a, b = Chan(1), Chan(1)
        a.send("x")
        assert select(Recv(a), Recv(None)) == (0, "x", True)
        assert select(Recv(None), Send(b, 7)) == (1, None, True)
        assert b.recv() == 7
    run(main)


def test_default_when_nothing_ready(run):
    def main():
        a, b = Chan(), Chan(1)
        b.send(1)                         # full: a send cannot proceed
        assert select(Recv(a), Send(b, 2), default=True) == (-1, None, False)
        assert select(default=True) == (-1, None, False)
        assert queues_empty(a, b) and len(b) == 1
    run(main)


def test_closed_channel(run):
    def main():
        a = Chan(2)
        a.send(1)
        a.close()
        assert select(Recv(a)) == (0, 1, True)        # drained first
        assert select(Recv(a)) == (0, None, False)
        with pytest.raises(ChanClosed):
            select(Send(a, 3))
        with pytest.raises(ChanClosed):
            select(Send(a, 3), default=True)
    run(main)


def test_parked_select_woken_by_send_leaves_no_waiter(run):
    def main():
        a, b, c = Chan(), Chan(), Chan()
        got = []
        g = netpoll.go(lambda: got.append(select(Recv(a), Recv(b), Send(c, "v"))))
        wait_parked(g, reason="select")
        assert len(a._recvq) == len(b._recvq) == len(c._sendq) == 1
        b.send("hello")
        g.join()
        assert got == [(1, "hello", True)]
        assert queues_empty(a, b, c)
    run(main)


def test_parked_select_send_taken_by_receiver(run):
    def main():
        a, c = Chan(), Chan()
        g = netpoll.go(select, Recv(a), Send(c, "v"))
        wait_parked(g, reason="select")
        assert c.recv() == "v"
        assert g.join() == (1, None, True)
        assert queues_empty(a, c)
    run(main)


def test_close_wakes_every_select(run):
    def main():
        a, b = Chan(), Chan()
        gs = [netpoll.go(select, Recv(a), Recv(b)) for _ in range(3)]
        wait_parked(*gs, reason="select")
        b.close()
        assert [g.join() for g in gs] == [(1, None, False)] * 3
        assert queues_empty(a, b)
    run(main)


def test_close_fails_parked_select_send(run):
    def main():
        a = Chan()
        g = netpoll.go(select, Send(a, 1), Recv(None))
        wait_parked(g, reason="select")
        a.close()
        with pytest.raises(ChanClosed):
            g.join()
        assert queues_empty(a)
    run(main)


def test_same_channel_both_ways_is_not_a_rendezvous(run):
    def main():
        a = Chan()
        g = netpoll.go(select, Send(a, 1), Recv(a))
        wait_parked(g, reason="select")   # cannot meet itself
        assert a.recv() == 1
        assert g.join() == (0, None, True)
        assert queues_empty(a)
    run(main)


def test_teardown_takes_select_waiters_off(run):
    chans = []

    def main():
        a, b = Chan(), Chan(3)
        chans.extend([a, b])
        for _ in range(3):
            b.send(0)
        gs = [netpoll.go(select, Recv(a), Send(b, 1)) for _ in range(5)]
        wait_parked(*gs, reason="select")
        assert len(a._recvq) == len(b._sendq) == 5
    run(main)
    assert queues_empty(*chans)


def test_nil_channels_never_proceed_deadlock_named(run):
    def main():
        with pytest.raises(DeadlockError) as info:
            select(Recv(None), Send(None, 1))
        assert "main goroutine [select]" in str(info.value)
        with pytest.raises(DeadlockError) as info:
            select()
        assert "main goroutine [select (no cases)]" in str(info.value)
    run(main)


def test_goroutine_in_select_named_in_deadlock_report(run):
    def main():
        a = Chan()
        netpoll.go(select, Recv(a))
        with pytest.raises(DeadlockError) as info:
            a.recv()
        assert "[select]" in str(info.value)
    run(main)


def test_fairness_two_ready_channels(run):
    def main():
        a, b = Chan(1), Chan(1)
        a.send(0)
        b.send(1)
        wins = [0, 0]
        for _ in range(10_000):
            i, v, ok = select(Recv(a), Recv(b))
            assert ok and v == i
            wins[i] += 1
            (a, b)[i].send(i)
        return wins
    wins = run(main)
    assert 4000 <= wins[0] <= 6000, wins


def test_fairness_over_three_with_one_never_ready(run):
    def main():
        a, b, c = Chan(1), Chan(1), Chan()
        a.send(0)
        b.send(1)
        wins = [0, 0, 0]
        for _ in range(3000):
            i, v, ok = select(Recv(c), Recv(a), Recv(b))
            wins[i] += 1
            (c, a, b)[i].send(v)
        return wins
    wins = run(main)
    assert wins[0] == 0 and min(wins[1:]) >= 1000, wins


# -- the property test ---------------------------------------------------------

def _op(nch):
    ch = st.integers(0, nch - 1)
    maybe_ch = st.one_of(st.none(), ch)
    case = st.tuples(st.booleans(), maybe_ch)            # (is_send, channel)
    return st.one_of(
        st.tuples(st.just("send"), ch),
        st.tuples(st.just("recv"), ch),
        st.tuples(st.just("select"), st.lists(case, max_size=3), st.booleans()),
        st.tuples(st.just("close"), ch).filter(lambda _: True),
        st.tuples(st.just("yield")),
    )


@st.composite
def programs(draw):
    nch = draw(st.integers(1, 3))
    caps = draw(st.lists(st.sampled_from([0, 0, 1, 2]), min_size=nch, max_size=nch))
    scripts = draw(st.lists(st.lists(_op(nch), max_size=6), min_size=1, max_size=6))
    return caps, scripts


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(program=programs())
def test_random_programs_conserve_values_and_make_progress(run, program):
    caps, scripts = program
    chans = [Chan(c) for c in caps]
    sent, received = [], []

    def body(gid, script):
        for k, op in enumerate(script):
            value = (gid, k)
            try:
                if op[0] == "send":
                    chans[op[1]].send(value)
                    sent.append(value)
                elif op[0] == "recv":
                    v, ok = chans[op[1]].recv_ok()
                    if ok:
                        received.append(v)
                    else:
                        assert chans[op[1]].closed
                elif op[0] == "close":
                    chans[op[1]].close()
                elif op[0] == "yield":
                    netpoll.gosched()
                else:
                    cases = [Send(None if c is None else chans[c], value) if is_send
                             else Recv(None if c is None else chans[c])
                             for is_send, c in op[1]]
                    i, v, ok = select(*cases, default=op[2])
                    if i == -1:
                        assert op[2]
                    elif cases[i].is_send:
                        assert ok
                        sent.append(value)
                    elif ok:
                        received.append(v)
                    else:
                        assert cases[i].ch.closed
            except ChanClosed:
                pass

    def main():
        gs = [netpoll.go(body, gid, s) for gid, s in enumerate(scripts)]
        for _ in range(10_000):                 # until nothing can run
            netpoll.gosched()
            if not netpoll.stats()["runnable"]:
                break
        else:
            raise AssertionError("never quiescent")
        buffered = [v for ch in chans for v in ch._buf]
        # conservation: every value sent is received once or still buffered
        assert len(set(sent)) == len(sent)
        assert sorted(received + buffered) == sorted(sent)
        # nobody parked who could proceed
        for ch in chans:
            assert len(ch._buf) <= ch.capacity
            if ch._recvq:
                assert not ch._buf and not ch.closed
                receivers = {w.g for w in ch._recvq}
                assert all(w.g in receivers for w in ch._sendq)   # only itself
            if ch._sendq:
                assert not ch.closed and len(ch._buf) == ch.capacity
            for w in list(ch._recvq) + list(ch._sendq):
                assert w.sel is None or w.sel[0] is None          # no stale waiter
        for g in gs:
            assert g.done or g.waitreason in ("chan send", "chan receive", "select",
                                              "select (no cases)")

    run(main)
    assert all(not ch._recvq and not ch._sendq for ch in chans)   # teardown
