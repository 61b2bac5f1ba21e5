"""The scheduler survives exceptions raised where no goroutine expects them
(a signal handler running in the hub or in an idle worker), and teardown
always ends: goroutines that swallow GoroutineExit, goroutines started
during teardown, joins after run() returned, a SystemExit left pending,
and many runnable goroutines (docs/reference.md, "Runtime")."""

import time

import pytest

import netpoll
from netpoll import GoroutineExit
from netpoll.runtime.scheduler import current_runtime

from support import Child

pytestmark = pytest.mark.usefixtures("no_leftover_runtime")


def finish_child(code, timeout=30.0):
    """Run ``code`` in a child; (returncode, stdout lines, stderr).  A child
    still running after ``timeout`` is a hang: the test fails."""
    with Child.script(code) as child:
        try:
            rc, _, err = child.finish(timeout)
        except Exception:
            raise AssertionError(f"the child did not exit within {timeout} s "
                                 f"(a hang); stdout {child.lines}; "
                                 f"stderr {child.errors()[-2000:]}") from None
        return rc, child.lines, err


# -- an exception raised in the hub or between tasks goes to main ---------------

def test_exception_raised_in_the_hub_reaches_main_and_run_ends(run):
    # A timer callback runs in the hub, like a signal handler that fires
    # while the hub fires timers.
    cleaned = []

    def sleeper():
        try:
            netpoll.sleep(3600)
        finally:
            cleaned.append(True)

    def boom(_):
        raise KeyboardInterrupt("from the hub")

    def main():
        netpoll.go(sleeper)
        rt = current_runtime()
        rt.timers.add(time.monotonic(), boom, None)
        netpoll.sleep(3600)

    with pytest.raises(KeyboardInterrupt, match="from the hub"):
        run(main)
    assert cleaned == [True]


def test_main_can_catch_a_hub_exception_and_go_on(run):
    def boom(_):
        raise ValueError("hub trouble")

    def main():
        rt = current_runtime()
        rt.timers.add(time.monotonic(), boom, None)
        try:
            netpoll.sleep(3600)
        except ValueError as exc:
            caught = str(exc)
        # the scheduler still works: sleeps, goroutines, joins
        netpoll.sleep(0.01)
        return caught, netpoll.go(lambda: 42).join()

    assert run(main) == ("hub trouble", 42)


def test_exception_at_an_idle_worker_reaches_main_and_the_worker_stays_usable(run):
    def main():
        netpoll.go(lambda: None).join()         # one worker, now idle
        rt = current_runtime()
        (worker,) = rt.idle
        rt.throws.append((worker, KeyboardInterrupt("at the idle point")))
        try:
            netpoll.sleep(3600)
        except KeyboardInterrupt as exc:
            caught = str(exc)
        results = [netpoll.go(lambda i=i: i * 2) for i in range(5)]
        return caught, [g.join() for g in results], len(set(map(id, rt.idle)))

    caught, results, idle = run(main)
    assert caught == "at the idle point"
    assert results == [0, 2, 4, 6, 8]
    assert idle >= 1


SIGTERM_EXIT = """
    import signal, sys, threading, os, time
    import netpoll

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

    def spin():
        while True:
            netpoll.sleep(0.001)

    def main():
        for _ in range(2000):
            netpoll.go(spin)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        try:
            netpoll.sleep(3600)
        finally:
            print("main finally", flush=True)

    netpoll.run(main)
"""


@pytest.mark.parametrize("attempt", range(5))
def test_sigterm_handler_exit_while_the_hub_fires_timers(attempt):
    rc, lines, err = finish_child(SIGTERM_EXIT)
    assert rc == 0, err[-2000:]
    assert "main finally" in lines


# -- park and join on a stopped runtime ----------------------------------------

def test_join_after_run_returned_raises_instead_of_spinning(run):
    holder = []

    def stuck():
        while True:                      # never lets teardown stop it:
            try:                         # abandoned at its park point
                netpoll.Chan().recv()
            except BaseException:
                pass

    def main():
        holder.append(netpoll.go(stuck))
        netpoll.gosched()

    run(main)
    g = holder[0]
    assert not g.done
    for timeout in (None, 0.1):
        with pytest.raises(RuntimeError, match="stopped"):
            g.join(timeout)


# -- teardown ends -------------------------------------------------------------

SWALLOWER = """
    import netpoll

    def swallow():
        while True:
            try:
                netpoll.sleep(0.05)
            except BaseException:
                pass

    def supervisor():
        try:
            netpoll.sleep(3600)
        finally:
            netpoll.go(supervisor)      # a goroutine started during teardown

    def main():
        netpoll.go(swallow)
        netpoll.go(supervisor)
        netpoll.sleep(0.1)

    netpoll.run(main, poller=POLLER)
    print("run returned", flush=True)
"""


@pytest.mark.parametrize("poller", [p for p in ("select", "poll", "epoll")
                                    if p in netpoll.pollers()])
def test_teardown_ends_despite_swallowed_exit_and_new_goroutines(poller):
    rc, lines, err = finish_child(SWALLOWER.replace("POLLER", repr(poller)))
    assert rc == 0, err[-2000:]
    assert "run returned" in lines


def test_goroutine_started_during_teardown_never_runs(run):
    started = []
    late = []

    def late_one():
        started.append(True)

    def spawner():
        try:
            netpoll.sleep(3600)
        finally:
            late.append(netpoll.go(late_one))

    def main():
        netpoll.go(spawner)
        netpoll.gosched()

    run(main)
    assert started == []
    assert late[0].done
    with pytest.raises(GoroutineExit):
        late[0].join()


def test_cleanup_that_parks_once_still_completes(run):
    # A finally that waits for another exiting goroutine is not cut short.
    log = []

    def main():
        ch = netpoll.Chan()

        def closer():
            try:
                netpoll.sleep(3600)
            finally:
                log.append(("got", ch.recv()))

        def sender():
            try:
                netpoll.sleep(3600)
            finally:
                ch.send("bye")

        netpoll.go(closer)
        netpoll.go(sender)
        netpoll.gosched()

    run(main)
    assert log == [("got", "bye")]


SYS_EXIT_IN_GOROUTINE = """
    import sys
    import netpoll

    def main():
        netpoll.go(sys.exit, 3)
        netpoll.gosched()          # it runs; main then returns without parking again

    netpoll.run(main)
    print("not reached", flush=True)
"""


def test_sys_exit_in_a_goroutine_is_not_lost_when_main_returns():
    rc, lines, err = finish_child(SYS_EXIT_IN_GOROUTINE)
    assert rc == 3, err[-2000:]
    assert "not reached" not in lines


def test_teardown_is_linear_in_runnable_goroutines(run):
    # 20,000 goroutines that keep yielding are all runnable at teardown.
    def spin():
        while True:
            netpoll.gosched()

    def main(n):
        for _ in range(n):
            netpoll.go(spin)
        netpoll.gosched()

    def teardown_seconds(n):
        t0 = time.process_time()
        run(main, n)
        return time.process_time() - t0

    small = teardown_seconds(2_000)
    big = teardown_seconds(20_000)
    # Linear: ~10x.  Quadratic was ~100x (1.7 s for 20,000 on a quiet machine).
    assert big < 30 * max(small, 0.005), (small, big)


def test_goroutine_exit_is_a_base_exception():
    assert not issubclass(GoroutineExit, Exception)
