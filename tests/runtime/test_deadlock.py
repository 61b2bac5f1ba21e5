"""The deadlock report: every goroutine parked, no timer, no descriptor, no
thread: the blocked call raises instead of hanging (Go: "all goroutines are
asleep - deadlock!")."""

import os
import threading

import pytest

import netpoll
from netpoll import Chan, DeadlockError
from netpoll.runtime.scheduler import current_runtime


def test_main_alone_blocks_forever(run):
    def main():
        Chan().recv()
    with pytest.raises(DeadlockError, match="all goroutines are asleep - deadlock!"):
        run(main)


def test_report_lists_each_goroutine(run):
    def main():
        a, b = Chan(), Chan()

        def recv_forever():
            a.recv()

        def send_forever():
            b.send(1)
        g1 = netpoll.go(recv_forever)
        g2 = netpoll.go(send_forever)
        wg = netpoll.WaitGroup()
        wg.add(1)
        with pytest.raises(DeadlockError) as info:
            wg.wait()
        return str(info.value), g1.id, g2.id
    msg, id1, id2 = run(main)
    lines = msg.splitlines()
    assert lines[0] == "all goroutines are asleep - deadlock!"
    assert any(line.startswith("main goroutine [WaitGroup wait]") for line in lines)
    assert any(line.startswith(f"goroutine {id1} [chan receive]") and "recv_forever" in line
               for line in lines)
    assert any(line.startswith(f"goroutine {id2} [chan send]") and "send_forever" in line
               for line in lines)
    # where each waits: this file
    assert __file__ in msg or os.path.basename(__file__) in msg


def test_join_on_blocked_goroutine(run):
    def main():
        g = netpoll.go(Chan().recv)
        with pytest.raises(DeadlockError, match=r"\[join\]"):
            g.join()
    run(main)


def test_caught_deadlock_then_run_returns(run):
    """Regression: run() raised GreenletExit at teardown after the main
    goroutine had caught a DeadlockError."""
    def main():
        with pytest.raises(DeadlockError):
            Chan().recv()
        # the runtime still works after a deadlock report
        assert netpoll.go(lambda: 5).join() == 5
        with pytest.raises(DeadlockError):
            Chan().recv()
        return "ok"
    assert run(main) == "ok"
    assert current_runtime() is None


def test_goroutines_left_parked_are_stopped_after_deadlock(run):
    cleaned = []

    def main():
        def g():
            try:
                Chan().recv()
            finally:
                cleaned.append(1)
        netpoll.go(g)
        with pytest.raises(DeadlockError):
            Chan().recv()
    run(main)
    assert cleaned == [1]


def test_no_deadlock_while_timer_pending(run):
    def main():
        ch = Chan()

        def later():
            netpoll.sleep(0.02)
            ch.send("late")
        netpoll.go(later)
        return ch.recv()
    assert run(main) == "late"


def test_no_deadlock_while_descriptor_watched(run):
    from netpoll.runtime.polldesc import POLL_OK, poll_open

    def main():
        r, w = os.pipe()
        os.set_blocking(r, False)
        pd = poll_open(r)
        try:
            timer = threading.Timer(0.05, os.write, (w, b"x"))
            timer.start()
            assert pd.wait(1) == POLL_OK
            timer.join()
        finally:
            pd.evict()
            pd.close()
            os.close(r)
            os.close(w)
    run(main)


def test_no_deadlock_while_thread_works(run):
    import time

    def main():
        return netpoll.to_thread(lambda: (time.sleep(0.05), "slept")[1])
    assert run(main) == "slept"


def test_deadlock_outside_run():
    try:
        with pytest.raises(DeadlockError):
            Chan().recv()
    finally:
        current_runtime().close()
