"""fork(): the child's runtime is rebuilt on first use (new poller, new
wake-up descriptor, empty run queue); the parent is unaffected."""

import json
import os
import pytest

import netpoll
from netpoll.runtime.scheduler import current_runtime, get_runtime

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")


def in_child(fn):
    """Fork; run ``fn()`` in the child and return what it returned (JSON),
    or raise AssertionError with the child's exception."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                       # the child: never return into pytest
        status = 0
        try:
            os.close(r)
            try:
                out = {"ok": fn()}
            except BaseException as exc:   # noqa: BLE001 - reported to the parent
                import traceback
                out = {"error": "".join(traceback.format_exception(exc))}
                status = 1
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    while True:
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    out = json.loads(b"".join(chunks) or b"{}")
    if "error" in out or status != 0:
        raise AssertionError(f"child failed (status {status}):\n{out.get('error')}")
    return out["ok"]


def _runtime_facts():
    rt = current_runtime()
    return {"id": id(rt), "poller": id(rt.poller), "wakeup": rt.poller.wakeup_fd,
            "name": rt.poller_name}


def _child_checks(parent):
    """Runs in the child: checks the runtime it gets on first use."""
    assert current_runtime() is None, "the parent's runtime leaked into the child"
    get_runtime()                         # first use: builds a runtime
    s = netpoll.stats()
    rt = current_runtime()
    facts = _runtime_facts()
    assert facts["poller"] != parent["poller"] and facts["id"] != parent["id"]
    assert s["goroutines"] == 0 and s["runnable"] == 0 and len(rt.runq) == 0
    assert s["timers"] == 0 and s["netpoll_waiters"] == 0
    # the new runtime works: goroutines, timers, the poller, threads
    g = netpoll.go(lambda: (netpoll.sleep(0.01), "slept")[1])
    assert g.join() == "slept"
    assert netpoll.to_thread(lambda: 42) == 42       # woken through the new wake-up fd
    ch = netpoll.Chan()
    netpoll.go(ch.send, "v")
    assert ch.recv() == "v"
    return facts


def test_fork_inside_run(run, poller):
    def main():
        parent = _runtime_facts()
        ticks = []

        def ticker():
            while True:
                ticks.append(1)
                netpoll.sleep(0.005)
        netpoll.go(ticker)
        blocked = netpoll.go(netpoll.Chan().recv)
        netpoll.sleep(0.01)

        child = in_child(lambda: _child_checks(parent))
        assert child["name"] == poller          # rebuilt with the same backend
        # the parent is unaffected: same runtime, goroutines still running
        assert _runtime_facts() == parent
        n = len(ticks)
        netpoll.sleep(0.03)
        assert len(ticks) > n
        assert not blocked.done
        assert netpoll.to_thread(lambda: "thread") == "thread"
        assert netpoll.stats()["goroutines"] == 2
    run(main)


def test_child_can_run(run, poller):
    def main():
        netpoll.go(netpoll.sleep, 1000)
        netpoll.gosched()

        def child():
            # run() in the child: a fresh runtime, no leftover goroutines
            def child_main():
                assert netpoll.stats()["goroutines"] == 0
                return netpoll.go(lambda: 7).join()
            return netpoll.run(child_main, poller=poller)
        assert in_child(child) == 7
    run(main)


def test_fork_from_goroutine(run):
    def main():
        parent = _runtime_facts()

        def forker():
            return in_child(lambda: _child_checks(parent))
        facts = netpoll.go(forker).join()
        assert facts["id"] != parent["id"]
        assert _runtime_facts() == parent
    run(main)


def test_fork_outside_run():
    netpoll.go(netpoll.sleep, 1000)           # an implicit runtime with a goroutine
    try:
        parent = _runtime_facts()
        in_child(lambda: _child_checks(parent))
        assert _runtime_facts() == parent
        assert netpoll.stats()["goroutines"] == 1
    finally:
        current_runtime().close()


def test_fork_with_open_descriptor(run, poller):
    """The parent keeps waiting on a descriptor across the fork; the child
    closing its inherited copies does not disturb it."""
    from netpoll.runtime.polldesc import POLL_OK, poll_open

    def main():
        r, w = os.pipe()
        os.set_blocking(r, False)
        pd = poll_open(r)
        try:
            g = netpoll.go(pd.wait, 1)
            netpoll.gosched()

            def child():
                os.close(r)
                os.write(w, b"from child")
                return _child_checks({"id": None, "poller": None})
            in_child(child)
            assert g.join(timeout=10) == POLL_OK
            assert os.read(r, 100) == b"from child"
        finally:
            pd.evict()
            pd.close()
            os.close(r)
            os.close(w)
    run(main)

