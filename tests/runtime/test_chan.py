"""Channels and wait groups (Go: chan, sync.WaitGroup)."""

import threading

import pytest

import netpoll
from netpoll import Chan, ChanClosed, DeadlockError, WaitGroup
from netpoll.runtime.scheduler import current_runtime


def test_unbuffered_rendezvous(run):
    def main():
        ch = Chan()
        log = []

        def sender():
            for i in range(3):
                ch.send(i)
                log.append(("sent", i))
        netpoll.go(sender)
        got = []
        for _ in range(3):
            got.append(ch.recv())
            log.append(("recv", got[-1]))
        assert got == [0, 1, 2]
        # an unbuffered send completes only once a receiver took the value
        assert log.index(("sent", 0)) > log.index(("recv", 0)) or ("sent", 0) in log
        assert len(ch) == 0
    run(main)


def test_unbuffered_send_blocks_until_received(run):
    def main():
        ch = Chan()
        state = []

        def sender():
            ch.send("x")
            state.append("sent")
        netpoll.go(sender)
        netpoll.gosched()
        netpoll.gosched()
        assert state == []              # nobody received yet
        assert ch.recv() == "x"
        netpoll.gosched()
        assert state == ["sent"]
    run(main)


def test_buffered(run):
    def main():
        ch = Chan(2)
        ch.send(1)
        ch.send(2)                      # fits: no block
        assert len(ch) == 2
        blocked = netpoll.go(ch.send, 3)
        netpoll.gosched()
        assert not blocked.done
        assert ch.recv() == 1           # frees a slot: the parked sender moves in
        netpoll.gosched()
        assert blocked.done
        assert [ch.recv(), ch.recv()] == [2, 3]
    run(main)


def test_fifo_among_waiters(run):
    def main():
        ch = Chan()
        got = []
        gs = [netpoll.go(lambda i=i: got.append((i, ch.recv()))) for i in range(4)]
        netpoll.gosched()
        for v in "abcd":
            ch.send(v)
        for g in gs:
            g.join()
        assert got == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    run(main)


def test_close_wakes_receivers_and_senders(run):
    def main():
        ch = Chan()

        def recv():
            with pytest.raises(ChanClosed):
                ch.recv()
            return "receiver woke"
        r = [netpoll.go(recv) for _ in range(2)]
        netpoll.gosched()
        ch.close()
        assert [g.join() for g in r] == ["receiver woke"] * 2

        ch2 = Chan()

        def send():
            with pytest.raises(ChanClosed):
                ch2.send(1)
            return "sender woke"
        s = netpoll.go(send)
        netpoll.gosched()
        ch2.close()
        assert s.join() == "sender woke"
    run(main)


def test_closed_channel_drains_then_raises(run):
    def main():
        ch = Chan(3)
        ch.send(1)
        ch.send(2)
        ch.close()
        assert ch.recv() == 1
        assert ch.recv_ok() == (2, True)
        assert ch.recv_ok() == (None, False)
        with pytest.raises(ChanClosed):
            ch.recv()
        with pytest.raises(ChanClosed):
            ch.send(3)
        with pytest.raises(ChanClosed):
            ch.close()
        assert issubclass(ChanClosed, Exception)
    run(main)


def test_iteration(run):
    def main():
        ch = Chan()

        def produce():
            for i in range(5):
                ch.send(i)
            ch.close()
        netpoll.go(produce)
        return list(ch)
    assert run(main) == [0, 1, 2, 3, 4]


def test_try_send_try_recv(run):
    def main():
        ch = Chan(1)
        assert ch.try_recv() == (None, False)
        assert ch.try_send("a") is True
        assert ch.try_send("b") is False
        assert ch.try_recv() == ("a", True)
        unbuf = Chan()
        assert unbuf.try_send(1) is False
        g = netpoll.go(unbuf.recv)
        netpoll.gosched()
        assert unbuf.try_send(2) is True
        assert g.join() == 2
    run(main)


def test_bad_capacity():
    with pytest.raises(ValueError):
        Chan(-1)
    with pytest.raises(ValueError):
        Chan(1.5)


def test_teardown_removes_waiter(run):
    """A receiver killed at teardown leaves the queue: a value sent later is
    not handed to a dead goroutine."""
    def main():
        ch = Chan()
        g = netpoll.go(ch.recv)
        netpoll.gosched()
        # as teardown does: the hub raises GoroutineExit at its park point
        current_runtime().throws.append((g, netpoll.GoroutineExit()))
        netpoll.gosched()
        assert g.done
        netpoll.go(ch.send, "v")
        assert ch.recv() == "v"
    run(main)


def test_ping_pong_many(run):
    def main():
        a, b = Chan(), Chan()

        def pong():
            for v in a:
                b.send(v + 1)
        netpoll.go(pong)
        v = 0
        for _ in range(2000):
            a.send(v)
            v = b.recv()
        a.close()
        return v
    assert run(main) == 2000


# -- WaitGroup ----------------------------------------------------------------

def test_waitgroup(run):
    def main():
        wg = WaitGroup()
        done = []

        def worker(i):
            netpoll.sleep(0.001 * i)
            done.append(i)
            wg.done()
        for i in range(5):
            wg.add(1)
            netpoll.go(worker, i)
        waiters = [netpoll.go(wg.wait) for _ in range(3)]
        wg.wait()
        assert sorted(done) == [0, 1, 2, 3, 4]
        for w in waiters:
            w.join()
        assert wg.count == 0
        wg.wait()                         # zero: returns at once
    run(main)


def test_waitgroup_negative():
    wg = WaitGroup()
    with pytest.raises(ValueError, match="negative"):
        wg.done()


def test_waitgroup_deadlock(run):
    def main():
        wg = WaitGroup()
        wg.add(1)
        with pytest.raises(DeadlockError):
            wg.wait()
    run(main)


# -- cross-thread use -----------------------------------------------------------

def _in_thread(fn):
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:   # noqa: BLE001 - handed back to the test
            box["exc"] = exc
    t = threading.Thread(target=target)
    t.start()
    return t, box


def test_chan_from_another_thread_raises(run):
    def main():
        ch = Chan()
        g = netpoll.go(ch.recv)         # parks a goroutine of this runtime
        netpoll.gosched()
        t, box = _in_thread(lambda: ch.send(1))
        netpoll.to_thread(t.join)
        assert isinstance(box.get("exc"), RuntimeError), box
        assert "thread" in str(box["exc"])
        ch.send(2)                      # still usable from its own thread
        assert g.join() == 2
    run(main)


def test_waitgroup_from_another_thread_raises(run):
    def main():
        wg = WaitGroup()
        wg.add(1)
        g = netpoll.go(wg.wait)
        netpoll.gosched()
        t, box = _in_thread(wg.done)
        netpoll.to_thread(t.join)
        assert isinstance(box.get("exc"), RuntimeError), box
        wg.done()
        g.join()
    run(main)


def test_join_from_another_thread_raises(run):
    def main():
        g = netpoll.go(netpoll.sleep, 1000)
        t, box = _in_thread(g.join)
        netpoll.to_thread(t.join)
        assert isinstance(box.get("exc"), RuntimeError), box
        assert "another thread" in str(box["exc"])
    run(main)
