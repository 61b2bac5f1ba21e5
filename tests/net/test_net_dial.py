"""dial: timeouts, name resolution through to_thread, trying addresses in
order."""

import socket
import threading
import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, net

from support import timed


@pytest.mark.parametrize("timeout", [0, -1])
def test_nonpositive_timeout_fails_at_once(run, timeout):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            err, elapsed = timed(net.dial, "tcp", str(ln.addr), timeout=timeout)
            assert isinstance(err, DeadlineExceededError)
            assert str(err) == f"dial tcp {ln.addr}: i/o timeout"
            assert elapsed < 0.5
    run(main)


def test_dial_with_timeout_succeeds(run):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            with net.dial("tcp", str(ln.addr), timeout=5) as c, ln.accept() as s:
                c.write(b"x")
                assert s.read() == b"x"
                # the dial deadline does not stay on the conn
                netpoll.go(lambda: (netpoll.sleep(0.05), s.write(b"y")))
                assert c.read() == b"y"
    run(main)


def test_dial_timeout_when_backlog_full(run):
    """A listener whose accept queue is full drops SYNs: the dial waits
    until its timeout."""
    def main():
        with net.listen("tcp", "127.0.0.1:0", backlog=0) as ln:
            conns = []
            try:
                for _ in range(16):
                    err, elapsed = timed(net.dial, "tcp", str(ln.addr), timeout=0.2)
                    if isinstance(err, DeadlineExceededError):
                        assert elapsed >= 0.2 - 0.001
                        assert elapsed < 2
                        assert str(err).endswith("i/o timeout")
                        return
                    assert not isinstance(err, Exception), err
                    conns.append(err)
                pytest.skip("the kernel never dropped a SYN")
            finally:
                for c in conns:
                    c.close()
    run(main)


def test_literal_ip_does_not_resolve(run, monkeypatch):
    def main():
        def no_lookup(*args, **kwargs):
            raise AssertionError("getaddrinfo called for a literal IP")
        monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
        with net.listen("tcp", "127.0.0.1:0") as ln:
            with net.dial("tcp", str(ln.addr)):
                pass
    run(main)


def test_host_name_resolved_in_worker_thread(run, monkeypatch):
    real = socket.getaddrinfo
    threads = []

    def recording(host, *args, **kwargs):
        threads.append(threading.get_ident())
        return real("127.0.0.1", *args, **kwargs)

    def main():
        monkeypatch.setattr(socket, "getaddrinfo", recording)
        with net.listen("tcp", "127.0.0.1:0") as ln:
            for timeout in (None, 5):
                with net.dial("tcp", f"example.invalid:{ln.addr.port}", timeout=timeout) as c:
                    assert c.remote_addr == ln.addr
                    ln.accept().close()
        assert threads and threading.get_ident() not in threads
    run(main)


def test_addresses_tried_in_order(run, monkeypatch):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            closed = net.listen("tcp", "127.0.0.1:0")
            dead_port = closed.addr.port
            closed.close()
            tried = []

            def fake(host, port, *args, **kwargs):
                tried.append(host)
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", dead_port)),
                        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", ln.addr.port))]
            monkeypatch.setattr(socket, "getaddrinfo", fake)
            with net.dial("tcp", "multi.invalid:80", timeout=5) as c:
                assert c.remote_addr == ln.addr
            assert tried == ["multi.invalid"]

            def refused(host, port, *args, **kwargs):
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", dead_port))] * 2
            monkeypatch.setattr(socket, "getaddrinfo", refused)
            with pytest.raises(ConnectionRefusedError) as e:
                net.dial("tcp", "multi.invalid:80")
            assert str(e.value) == "dial tcp multi.invalid:80: connection refused"
    run(main)


def test_lookup_failure_message(run, monkeypatch):
    def main():
        def fail(*args, **kwargs):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        monkeypatch.setattr(socket, "getaddrinfo", fail)
        with pytest.raises(socket.gaierror) as e:
            net.dial("tcp", "nosuch.invalid:80")
        assert str(e.value) == "dial tcp nosuch.invalid:80: lookup nosuch.invalid: no such host"
    run(main)


def test_slow_lookup_honours_timeout(run, monkeypatch):
    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(5)
        raise socket.gaierror(socket.EAI_NONAME, "late")

    def main():
        monkeypatch.setattr(socket, "getaddrinfo", slow)
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceededError) as e:
            net.dial("tcp", "slow.invalid:80", timeout=0.1)
        assert 0.1 - 0.001 <= time.monotonic() - t0 < 2
        assert str(e.value) == "dial tcp slow.invalid:80: i/o timeout"
        release.set()
    run(main)


def test_dial_unix_missing_path(run, tmp_path):
    def main():
        path = str(tmp_path / "missing.sock")
        with pytest.raises(FileNotFoundError) as e:
            net.dial("unix", path)
        assert str(e.value) == f"dial unix {path}: no such file or directory"
    run(main)
