"""netpoll's helper threads: name resolution has threads of its own (a
full to_thread pool cannot starve dial by name), nested use never
deadlocks, and an abandoned call never keeps the process from exiting."""

import signal
import threading
import time

import netpoll
from netpoll import net
from netpoll.runtime import threads

from support import Child


def fill_pool(release, started=None):
    """Occupy every to_thread worker with a call blocked on ``release``;
    returns the goroutines, once every call runs in its thread.  ``started``
    counts calls already in a worker."""
    started = started if started is not None else []
    lock = threading.Lock()

    def blocked():
        with lock:
            started.append(1)
        release.wait(60)
    gs = [netpoll.go(netpoll.to_thread, blocked)
          for _ in range(threads.MAX_WORKERS - len(started))]
    deadline = time.monotonic() + 30
    while len(started) < threads.MAX_WORKERS:   # no event crosses from a thread
        assert time.monotonic() < deadline, "the workers never started"
        netpoll.sleep(0.005)
    return gs


def test_dial_by_name_with_the_to_thread_pool_full(run):
    def main():
        release = threading.Event()
        try:
            gs = fill_pool(release)
            with net.listen("tcp", "127.0.0.1:0") as ln:
                port = ln.addr.port
                with net.dial("tcp", f"localhost:{port}", timeout=10):
                    ln.accept().close()
                with net.dial("tcp4", f"localhost:{port}"):     # no timeout
                    ln.accept().close()
        finally:
            release.set()
        for g in gs:
            g.join()
    run(main)


def test_nested_use_from_inside_a_full_pool(run):
    def main():
        release = threading.Event()
        go_on = threading.Event()
        started = []
        try:
            with net.listen("tcp", "127.0.0.1:0") as ln:
                port = ln.addr.port

                def inner():
                    started.append(1)
                    go_on.wait(60)
                    # in a worker thread, with every other worker busy: dial
                    # by name and a nested to_thread both go ahead
                    def body():
                        net.dial("tcp4", f"localhost:{port}", timeout=10).close()
                        return netpoll.to_thread(lambda: "nested")
                    return netpoll.run(body)
                g = netpoll.go(netpoll.to_thread, inner)
                gs = fill_pool(release, started)
                go_on.set()
                ln.accept().close()
                assert g.join(30) == "nested"
        finally:
            release.set()
            go_on.set()
        for g in gs:
            g.join()
    run(main)


def test_helper_threads_are_daemon_threads(run):
    def main():
        netpoll.to_thread(lambda: None)
        names = [t for t in threading.enumerate() if t.name.startswith("netpoll-")]
        assert names and all(t.daemon for t in names)
    run(main)


def _exit_time(code):
    t0 = time.monotonic()
    with Child.script(code) as child:
        rc, out, err = child.finish(timeout=30)
    return rc, out, err, time.monotonic() - t0


def test_abandoned_to_thread_call_does_not_hold_the_exit():
    rc, out, err, took = _exit_time("""
        import time, netpoll
        def main():
            netpoll.go(netpoll.to_thread, time.sleep, 25)
            netpoll.gosched()
            print("returning", flush=True)
        netpoll.run(main)
    """)
    assert rc == 0 and "returning" in out, err
    assert took < 15, took              # not the 25 s of the abandoned call


def test_abandoned_name_lookup_does_not_hold_the_exit():
    rc, out, err, took = _exit_time("""
        import socket, time, netpoll
        from netpoll import net
        socket.getaddrinfo = lambda *a, **k: time.sleep(25)
        def main():
            try:
                net.dial("tcp", "slow.example:80", timeout=0.1)
            except TimeoutError as e:
                print("gave up:", e, flush=True)
        netpoll.run(main)
    """)
    assert rc == 0 and "gave up: dial tcp slow.example:80: i/o timeout" in out, (out, err)
    assert took < 15, took


def test_ctrl_c_during_to_thread_exits_at_once():
    t0 = time.monotonic()
    with Child.script("""
        import time, netpoll
        def main():
            print("waiting", flush=True)
            netpoll.to_thread(time.sleep, 25)
        try:
            netpoll.run(main)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """) as child:
        child.expect("waiting")
        child.proc.send_signal(signal.SIGINT)
        rc, out, err = child.finish(timeout=30)
    assert "interrupted" in out and rc == 0, (out, err)
    assert time.monotonic() - t0 < 15
