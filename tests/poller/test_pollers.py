"""Each poller backend directly, without the scheduler: open/close/arm/
disarm/wait/wakeup, epoll's edge-triggered latching, HUP/ERR waking both
directions, select's FD_SETSIZE limit, the wake-up descriptor."""

import os
import resource
import socket
import sys
import threading

import pytest

import netpoll
from netpoll.poller import MODE_READ, MODE_WRITE, new_poller
from netpoll.poller.wakeup import Wakeup

BOTH = MODE_READ | MODE_WRITE


class Recorder:
    """Stands in for a PollDesc: records the modes the poller reports."""

    def __init__(self):
        self.calls = []

    def netpollready(self, mode):
        self.calls.append(mode)

    @property
    def modes(self):
        m = 0
        for c in self.calls:
            m |= c
        return m


@pytest.fixture
def p(poller):
    inst = new_poller(poller)
    yield inst
    inst.shutdown()


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    fds = [r, w]
    yield fds
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def watch(p, fd, pd, mode):
    """Open (if needed) and arm ``fd`` for ``mode`` the way the runtime does."""
    if not p.edge_triggered:
        p.arm(fd, mode)


def test_interface(p, poller):
    assert p.name == poller
    assert p.edge_triggered is (poller in ("epoll", "kqueue"))
    assert (p.polls, p.events, p.ctl) == (0, 0, 0)
    p.wait(0)
    assert p.polls == 1 and p.events == 0


def test_wait_timeout_without_events(p):
    import time
    t0 = time.monotonic()
    p.wait(0.05)
    assert time.monotonic() - t0 >= 0.045
    assert p.events == 0


def test_read_readiness(p, sockpair):
    a, b = sockpair
    pd = Recorder()
    p.open(a.fileno(), pd)
    watch(p, a.fileno(), pd, MODE_READ)
    p.wait(0)
    assert not pd.modes & MODE_READ         # nothing to read yet
    b.send(b"x")
    if not p.edge_triggered:
        p.arm(a.fileno(), MODE_READ)
    p.wait(1)
    assert pd.modes & MODE_READ
    assert p.events >= 1
    p.close(a.fileno())


def test_write_readiness(p, sockpair):
    a, b = sockpair
    pd = Recorder()
    p.open(a.fileno(), pd)
    watch(p, a.fileno(), pd, MODE_WRITE)
    p.wait(1)
    assert pd.modes == MODE_WRITE
    p.close(a.fileno())


def test_level_triggered_watch_only_while_armed(p, sockpair):
    if p.edge_triggered:
        pytest.skip("level-triggered backends only")
    a, b = sockpair
    pd = Recorder()
    p.open(a.fileno(), pd)
    b.send(b"x")
    p.wait(0)
    assert pd.calls == []                  # ready but not armed: not watched
    p.arm(a.fileno(), MODE_READ)
    p.wait(0)
    assert pd.calls == [MODE_READ]
    p.wait(0)                              # reported once, then disarmed
    assert pd.calls == [MODE_READ]
    p.arm(a.fileno(), MODE_READ)
    p.disarm(a.fileno(), MODE_READ)
    p.disarm(a.fileno(), MODE_READ)        # idempotent
    p.wait(0)
    assert pd.calls == [MODE_READ]
    # arming both and only one ready: the other stays armed
    p.arm(a.fileno(), BOTH)
    a.recv(10)
    p.wait(0)
    assert pd.calls[-1] == MODE_WRITE
    b.send(b"y")
    p.wait(0)
    assert pd.calls[-1] == MODE_READ
    assert p.ctl == 0
    p.close(a.fileno())


def test_close_stops_reports(p, sockpair):
    a, b = sockpair
    pd = Recorder()
    p.open(a.fileno(), pd)
    watch(p, a.fileno(), pd, BOTH)
    p.close(a.fileno())
    b.send(b"x")
    p.wait(0)
    assert pd.calls == []


def test_epoll_edge_triggered_latching(sockpair):
    p = new_poller("epoll")
    try:
        a, b = sockpair
        pd = Recorder()
        p.open(a.fileno(), pd)
        assert p.ctl == 1                     # one add, both directions
        p.wait(0)
        assert pd.calls == [MODE_WRITE]       # initial writability edge
        p.wait(0)
        assert pd.calls == [MODE_WRITE]       # no new edge, no new report
        b.send(b"x")
        p.wait(0)
        assert pd.calls[-1] & MODE_READ
        n = len(pd.calls)
        p.wait(0)
        assert len(pd.calls) == n             # data not read: still no new edge
        b.send(b"y")
        p.wait(0)
        assert len(pd.calls) == n + 1         # new data: a new edge
        p.close(a.fileno())
        assert p.ctl == 2                     # and one delete
    finally:
        p.shutdown()


def test_epoll_rdhup_wakes_reader(sockpair):
    p = new_poller("epoll")
    try:
        a, b = sockpair
        pd = Recorder()
        p.open(a.fileno(), pd)
        p.wait(0)
        pd.calls.clear()
        b.shutdown(socket.SHUT_WR)
        p.wait(1)
        assert pd.modes & MODE_READ
        p.close(a.fileno())
    finally:
        p.shutdown()


def test_hup_wakes_both_directions(p, pipe):
    """A pipe's read end whose writer is gone reports only (E)POLLHUP: both
    directions wake, so a parked writer sees the error too."""
    r, w = pipe
    pd = Recorder()
    p.open(r, pd)
    watch(p, r, pd, BOTH)
    p.wait(0)
    assert pd.calls == []                 # empty pipe: nothing yet
    os.close(w)
    pipe.remove(w)
    p.wait(1)
    if p.name == "select":
        assert pd.modes & MODE_READ       # select has no HUP: readable (EOF)
    else:
        assert pd.modes & BOTH == BOTH
    p.close(r)


def test_err_wakes_both_directions(p, pipe):
    """A pipe's write end whose reader is gone reports (E)POLLERR: both
    directions wake."""
    r, w = pipe
    pd = Recorder()
    # fill the pipe so that it is not writable, then drop the reader
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    p.open(w, pd)
    watch(p, w, pd, BOTH)
    p.wait(0)
    if p.edge_triggered:
        assert pd.calls == []
    os.close(r)
    pipe.remove(r)
    p.wait(1)
    if p.name == "select":
        assert pd.modes & MODE_WRITE
    else:
        assert pd.modes & BOTH == BOTH
    p.close(w)


def test_wakeup_from_another_thread(p):
    import time
    t = threading.Timer(0.1, p.wakeup)
    t0 = time.monotonic()
    t.start()
    p.wait(30)
    t.join()
    assert time.monotonic() - t0 < 20
    # drained: the next wait blocks again for its timeout
    t0 = time.monotonic()
    p.wait(0.05)
    assert time.monotonic() - t0 >= 0.04


def test_wakeup_burst_costs_one_write(p):
    for _ in range(100):
        p.wakeup()
    p.wait(0)
    p.wakeup()          # after the drain a new wake-up is needed and works
    import time
    t0 = time.monotonic()
    p.wait(5)
    assert time.monotonic() - t0 < 4


def test_wakeup_dedup():
    w = Wakeup()
    try:
        writes = []
        if w._eventfd:
            real = os.eventfd_write
            orig = ("eventfd_write", real)
        else:
            real = os.write
            orig = ("write", real)

        def counting(fd, value):
            writes.append(value)
            return real(fd, value)
        setattr(os, orig[0], counting)
        try:
            for _ in range(50):
                w.wakeup()
        finally:
            setattr(os, orig[0], real)
        assert len(writes) == 1
    finally:
        w.close()


def _readable(fd):
    import select
    return bool(select.select([fd], [], [], 0)[0])


def test_wakeup_racing_with_drain_is_not_lost(monkeypatch):
    """Regression: a wake-up from another thread that lands between the
    poller clearing ``pending`` and reading the descriptor had its write
    consumed by that read, leaving ``pending`` set for ever: every later
    wake-up was skipped and a runtime blocked in its poller never woke."""
    w = Wakeup()
    try:
        w.wakeup()
        assert _readable(w.fd)
        name = "eventfd_read" if w._eventfd else "read"
        real = getattr(os, name)

        def racing_read(*args):
            w.wakeup()              # another thread, right at this moment
            return real(*args)
        monkeypatch.setattr(os, name, racing_read)
        w.drain()
        monkeypatch.setattr(os, name, real)
        # whatever happened in the race, a wake-up now must be seen
        w.drain() if _readable(w.fd) else None
        w.wakeup()
        assert _readable(w.fd), "wake-up lost: pending stuck after a racing drain"
    finally:
        w.close()


def test_wakeup_pipe_fallback(monkeypatch):
    monkeypatch.delattr(os, "eventfd", raising=False)
    w = Wakeup()
    try:
        assert w.fd != w._wfd
        w.wakeup()
        assert _readable(w.fd)
        w.drain()
        assert not _readable(w.fd)
        w.wakeup()
        assert _readable(w.fd)
    finally:
        w.close()


def test_shutdown_releases_descriptors(poller):
    from support import open_fds
    before = open_fds()
    p = new_poller(poller)
    p.wakeup()
    p.wait(0)
    p.shutdown()
    assert open_fds() == before


# -- select and FD_SETSIZE ----------------------------------------------------

@pytest.fixture
def high_fd():
    """A descriptor numbered >= 1024 (dup2 of a pipe's read end)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1100:
        if hard != resource.RLIM_INFINITY and hard <= 1100:
            pytest.skip("cannot raise RLIMIT_NOFILE above 1100")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    r, w = os.pipe()
    high = 1500
    while True:
        try:
            os.fstat(high)
            high += 1
        except OSError:
            break
    os.dup2(r, high)
    os.set_blocking(high, False)
    os.close(r)
    yield high
    os.close(high)
    os.close(w)
    if soft <= 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_select_refuses_fd_setsize(high_fd):
    p = new_poller("select")
    try:
        p.open(high_fd, Recorder())
        with pytest.raises(OSError) as info:
            p.arm(high_fd, MODE_READ)
        msg = str(info.value)
        assert "FD_SETSIZE" in msg and "1024" in msg
        assert "epoll" in msg and "poll" in msg
        p.wait(0)                 # the poller itself still works
        p.close(high_fd)
    finally:
        p.shutdown()


def test_select_fd_setsize_through_runtime(high_fd):
    """The operation that would need the descriptor raises; nothing hangs,
    and the runtime is still usable afterwards."""
    from netpoll.runtime.polldesc import poll_open

    def main():
        pd = poll_open(high_fd)
        try:
            with pytest.raises(OSError, match="FD_SETSIZE"):
                pd.wait(MODE_READ)
            assert netpoll.stats()["netpoll_waiters"] == 0
            netpoll.sleep(0.001)
            return "ok"
        finally:
            pd.evict()
            pd.close()
    assert netpoll.run(main, poller="select") == "ok"


@pytest.mark.parametrize("name", ["poll", "epoll"])
def test_high_fd_fine_elsewhere(name, high_fd):
    p = new_poller(name)
    try:
        pd = Recorder()
        p.open(high_fd, pd)
        if not p.edge_triggered:
            p.arm(high_fd, MODE_READ)
        p.wait(0)
        p.close(high_fd)
    finally:
        p.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux check")
def test_kqueue_absent_on_linux():
    assert "kqueue" not in netpoll.pollers()


@pytest.mark.skipif("kqueue" not in netpoll.pollers(), reason="no kqueue on this OS")
def test_kqueue_basic(sockpair):
    p = new_poller("kqueue")
    try:
        a, b = sockpair
        pd = Recorder()
        p.open(a.fileno(), pd)
        p.wait(0)
        assert pd.modes == MODE_WRITE
        b.send(b"x")
        p.wait(1)
        assert pd.modes & MODE_READ
        p.close(a.fileno())
    finally:
        p.shutdown()
