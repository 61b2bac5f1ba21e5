"""What each poller's wait accepts: timeouts far beyond the backend's limit
are clamped (never OverflowError), the select poller refuses at creation a
wake-up descriptor it could not watch, and the unknown-poller message
names only this OS's pollers."""

import os
import threading
import time

import pytest

import netpoll
from netpoll import net
from netpoll.poller import MAX_WAIT, new_poller


@pytest.mark.parametrize("timeout", [1e12, float("inf"), MAX_WAIT * 10])
def test_wait_accepts_any_timeout(poller, timeout):
    p = new_poller(poller)
    try:
        t = threading.Timer(0.05, p.wakeup)
        t.start()
        t0 = time.monotonic()
        p.wait(timeout)              # before: OverflowError (epoll, poll, select)
        assert time.monotonic() - t0 < 30
        t.join()
    finally:
        p.shutdown()


def test_far_future_deadline_is_a_long_wait(run):
    """A read deadline 1e12 s ahead, with nothing but a thread to wake the
    runtime: the poller waits with the deadline's timeout."""
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            g = netpoll.go(ln.accept)
            client = net.dial("tcp", str(ln.addr))
            server = g.join()
        try:
            server.set_read_deadline(time.monotonic() + 1e12)
            t = threading.Timer(0.1, lambda: os.write(client.fileno(), b"late"))
            t.start()
            assert server.read(10) == b"late"
            t.join()
            server.set_read_deadline(float("inf"))      # inf: no deadline
            assert server.fd.pd.deadline[1] == 0
        finally:
            client.close()
            server.close()
    run(main)


def test_select_poller_refuses_a_wakeup_descriptor_past_fd_setsize():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2048), hard))
    fillers = []
    result = {}
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            fillers.append(fd)
            if fd >= 1030:
                break

        def in_thread():
            try:
                netpoll.run(lambda: netpoll.sleep(0), poller="select")
                result["ok"] = True
            except OSError as e:
                result["error"] = e
            except BaseException as e:
                result["other"] = e
        th = threading.Thread(target=in_thread)
        th.start()
        th.join(30)
        assert not th.is_alive()
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "error" in result, result
    assert "FD_SETSIZE" in str(result["error"])
    assert "wake-up descriptor" in str(result["error"])


def test_unknown_poller_lists_only_this_os_pollers():
    with pytest.raises(ValueError) as e:
        netpoll.run(lambda: None, poller="bogus")
    msg = str(e.value)
    for name in netpoll.pollers():
        assert name in msg
    for name in {"epoll", "kqueue", "poll", "select"} - set(netpoll.pollers()):
        assert name not in msg.replace("'bogus'", "")
