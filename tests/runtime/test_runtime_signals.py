"""signal_notify / signal_stop: signals relayed into channels by the
runtime (Go's os/signal.Notify), never from inside the interrupted code
(docs/reference.md, "signals")."""

import os
import signal
import time

import pytest

import netpoll
from netpoll import Chan
from netpoll.runtime.scheduler import current_runtime

from support import Child, wait_until

POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]


@pytest.fixture(autouse=True)
def _clean():
    rt = current_runtime()
    if rt is not None:
        rt.close()
    before = signal.getsignal(signal.SIGUSR1)
    yield
    rt = current_runtime()
    if rt is not None:
        rt.close()
    signal.signal(signal.SIGUSR1, before)


def test_signal_reaches_the_channel(run):
    def main():
        ch = Chan(1)
        netpoll.signal_notify(ch, signal.SIGUSR1)
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            got = ch.recv()
        finally:
            netpoll.signal_stop(ch)
        return got

    got = run(main)
    assert got == signal.SIGUSR1 and isinstance(got, signal.Signals)


def test_a_full_channel_drops_signals(run):
    def main():
        ch = Chan(1)
        netpoll.signal_notify(ch, signal.SIGUSR1)
        try:
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGUSR1)
            netpoll.sleep(0.01)              # the runtime delivers them
            got = [ch.try_recv() for _ in range(2)]
        finally:
            netpoll.signal_stop(ch)
        return got

    assert run(main) == [(signal.SIGUSR1, True), (None, False)]


def test_every_notified_channel_gets_the_signal(run):
    def main():
        a, b = Chan(1), Chan(1)
        netpoll.signal_notify(a, signal.SIGUSR1)
        netpoll.signal_notify(b, signal.SIGUSR1, signal.SIGUSR1)   # once is enough
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            return a.recv(), b.recv(), len(b)
        finally:
            netpoll.signal_stop(a)
            netpoll.signal_stop(b)

    assert run(main) == (signal.SIGUSR1, signal.SIGUSR1, 0)


def test_signal_stop_restores_the_previous_handler(run):
    seen = []

    def previous(signum, frame):
        seen.append(signum)

    signal.signal(signal.SIGUSR1, previous)

    def main():
        ch = Chan(1)
        netpoll.signal_notify(ch, signal.SIGUSR1)
        assert signal.getsignal(signal.SIGUSR1) is not previous
        netpoll.signal_stop(ch)
        assert signal.getsignal(signal.SIGUSR1) is previous
        os.kill(os.getpid(), signal.SIGUSR1)
        netpoll.sleep(0.01)
        return ch.try_recv()

    assert run(main) == (None, False)
    assert seen == [signal.SIGUSR1]


def test_arguments_are_checked(run):
    def main():
        ch = Chan(1)
        with pytest.raises(ValueError, match="name the signals"):
            netpoll.signal_notify(ch)
        with pytest.raises(ValueError):
            netpoll.signal_notify(ch, 12345)

    run(main)


def test_only_the_main_thread(run):
    import threading
    errors = []

    def other():
        try:
            netpoll.signal_notify(Chan(1), signal.SIGUSR1)
        except ValueError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors and "main thread" in errors[0]


# -- in a child: waiting on the channel is not a deadlock; storms are safe ----------

WAIT_FOR_SIGTERM = """
    import signal
    import netpoll

    def main():
        stop = netpoll.Chan(1)
        netpoll.signal_notify(stop, signal.SIGTERM)
        print("waiting", flush=True)
        print("got", stop.recv().name, flush=True)

    netpoll.run(main, poller=POLLER)
"""


def wait_asleep(pid):
    def asleep():
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "S"
    wait_until(asleep, what="the child to block in the poller")


@pytest.mark.parametrize("poller", POLLERS)
def test_main_waiting_for_a_signal_is_not_a_deadlock(poller):
    with Child.script(WAIT_FOR_SIGTERM.replace("POLLER", repr(poller))) as child:
        child.expect("waiting")
        wait_asleep(child.pid)
        time.sleep(0.2)                    # still waiting: no DeadlockError
        assert child.proc.poll() is None, child.errors()
        child.proc.send_signal(signal.SIGTERM)
        child.expect("got SIGTERM")
        rc, _, err = child.finish()
        assert rc == 0, err


SIGNAL_STORM = """
    import signal
    import netpoll

    def main():
        sigs = netpoll.Chan(10_000)
        netpoll.signal_notify(sigs, signal.SIGUSR1)
        ping, pong = netpoll.Chan(), netpoll.Chan()

        def echo():
            for v in ping:
                pong.send(v)

        netpoll.go(echo)
        print("ready", flush=True)
        n = 0
        while len(sigs) < 50:
            ping.send(n)
            assert pong.recv() == n
            n += 1
            if n % 100 == 0:
                netpoll.sleep(0.001)
        ping.close()
        netpoll.signal_stop(sigs)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)   # the storm may go on
        print("done", n, len(sigs), flush=True)

    netpoll.run(main, poller=POLLER)
"""


@pytest.mark.parametrize("poller", POLLERS)
def test_signal_storm_during_channel_traffic(poller):
    with Child.script(SIGNAL_STORM.replace("POLLER", repr(poller))) as child:
        child.expect("ready")
        for _ in range(400):
            if child.proc.poll() is not None:
                break
            child.proc.send_signal(signal.SIGUSR1)
            time.sleep(0.002)
        line = child.expect("done", timeout=30)
        rc, _, err = child.finish()
        assert rc == 0, err
        assert "Traceback" not in err, err
        assert int(line.split()[2]) >= 50


def test_a_notified_signal_does_not_hide_a_deadlock_in_another_thread(run):
    import threading

    from netpoll import DeadlockError
    results = []

    def other():
        try:
            netpoll.run(lambda: Chan().recv())
        except DeadlockError:
            results.append("deadlock reported")

    def main():
        ch = Chan(1)
        netpoll.signal_notify(ch, signal.SIGUSR1)
        try:
            t = threading.Thread(target=other)
            t.start()
            netpoll.to_thread(t.join, 20)
        finally:
            netpoll.signal_stop(ch)

    run(main)
    assert results == ["deadlock reported"]
