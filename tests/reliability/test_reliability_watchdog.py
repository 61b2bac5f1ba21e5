"""The blocked-runtime detector: a goroutine that holds
the thread past the threshold is reported once, with its stack; a runtime
that waits in the poller, or goroutines that keep yielding, are not."""

import io
import time

import pytest

import netpoll
from netpoll import net
from support import Child

THRESHOLD = 0.2


def busy_loop_for_the_watchdog(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:       # never parks, never yields
        n += 1
    return n


def with_watchdog(fn):
    out = io.StringIO()

    def main():
        dog = netpoll.set_watchdog(THRESHOLD, out)
        try:
            fn()
        finally:
            netpoll.set_watchdog(None)
        return dog.reports
    return netpoll.run(main), out.getvalue()


def test_busy_goroutine_reported_once_with_its_stack():
    def fn():
        ticks = []
        netpoll.go(lambda: [ticks.append(1) or netpoll.sleep(0.01) for _ in range(5)])
        netpoll.go(busy_loop_for_the_watchdog, 4 * THRESHOLD).join()
    reports, text = with_watchdog(fn)
    assert reports == 1, text
    assert "netpoll watchdog" in text and "without yielding" in text
    assert "busy_loop_for_the_watchdog" in text        # the offender's own frame
    assert "test_reliability_watchdog.py" in text


def test_blocking_call_in_main_goroutine_reported():
    reports, text = with_watchdog(lambda: time.sleep(3 * THRESHOLD))
    assert reports == 1
    assert "time.sleep" in text or "with_watchdog" in text, text


def test_idle_runtime_in_poller_not_reported():
    def fn():
        ln = net.listen("tcp", "127.0.0.1:0")
        g = netpoll.go(ln.accept)                  # parked on a descriptor
        netpoll.sleep(4 * THRESHOLD)               # the runtime sleeps in the poller
        ln.close()
        with pytest.raises(netpoll.ClosedError):
            g.join()
    reports, text = with_watchdog(fn)
    assert reports == 0, text


def test_goroutines_that_keep_yielding_not_reported():
    def spin():
        end = time.monotonic() + 4 * THRESHOLD
        while time.monotonic() < end:
            netpoll.gosched()                      # busy, but yields every turn

    def fn():
        gs = [netpoll.go(spin) for _ in range(3)]
        for g in gs:
            g.join()
    reports, text = with_watchdog(fn)
    assert reports == 0, text


def test_two_stalls_give_two_reports():
    def fn():
        busy_loop_for_the_watchdog(3 * THRESHOLD)
        netpoll.sleep(0.05)                        # parks: the stall ends
        busy_loop_for_the_watchdog(3 * THRESHOLD)
    reports, text = with_watchdog(fn)
    assert reports == 2, text


def test_environment_variable_enables_it():
    code = """
        import time, netpoll

        def hog():
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                pass

        def main():
            netpoll.sleep(0.5)                 # idle in the poller: no report
            print("idle done", flush=True)
            netpoll.go(hog).join()

        netpoll.run(main)
    """
    with Child.script(code, env={"NETPOLL_WATCHDOG": "0.25"}) as child:
        rc, out, err = child.finish(timeout=20)
    assert rc == 0, err
    assert err.count("netpoll watchdog") == 1, err
    assert "in hog" in err


@pytest.mark.parametrize("value", ["abc", "0", "-1"])
def test_malformed_environment_value(value):
    with Child.script("import netpoll; netpoll.sleep(0)", env={"NETPOLL_WATCHDOG": value}) as child:
        rc, out, err = child.finish(timeout=20)
    assert rc != 0 and "NETPOLL_WATCHDOG" in err
