"""Errors: built-in classes, Go-style messages, ClosedError, running out of
descriptors, the select poller's FD_SETSIZE, use from another thread."""

import errno
import os
import resource
import threading

import pytest

import netpoll
from netpoll import net

from support import tcp_pair


def test_dial_refused_message(run):
    def main():
        with pytest.raises(ConnectionRefusedError) as e:
            net.dial("tcp", "127.0.0.1:1")
        assert str(e.value) == "dial tcp 127.0.0.1:1: connection refused"
        assert e.value.errno == errno.ECONNREFUSED
    run(main)


def test_closed_error_is_shared_and_oserror():
    assert net.ClosedError is netpoll.ClosedError
    assert issubclass(net.ClosedError, OSError)
    assert net.DeadlineExceededError is netpoll.DeadlineExceededError
    assert issubclass(net.DeadlineExceededError, TimeoutError)
    assert str(net.ClosedError()) == "use of closed network connection"


def test_listen_address_in_use(run):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            with pytest.raises(OSError) as e:
                net.listen("tcp", str(ln.addr))
            assert e.value.errno == errno.EADDRINUSE
            assert str(e.value) == f"listen tcp {ln.addr}: bind: address already in use"
    run(main)


def test_read_error_names_both_addresses(run):
    def main():
        client, server = tcp_pair()
        client.close()
        with pytest.raises(net.ClosedError) as e:
            client.read()
        assert str(e.value) == (f"read tcp {client.local_addr}->{client.remote_addr}: "
                                "use of closed network connection")
        server.close()
    run(main)


def test_accept_emfile_then_recovers(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        pending = net.dial("tcp", str(ln.addr))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        fillers = []
        try:
            # use up every descriptor below a lowered limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(ln.fileno(), pending.fileno()) + 20, hard))
            try:
                while True:
                    fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            with pytest.raises(OSError) as e:
                ln.accept()
            assert e.value.errno in (errno.EMFILE, errno.ENFILE)
            assert str(e.value).startswith(f"accept tcp {ln.addr}: ")
        finally:
            for f in fillers:
                os.close(f)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        with ln.accept() as s:               # the listener still works
            pending.write(b"after")
            assert s.read() == b"after"
        pending.close()
        ln.close()
    run(main)


@pytest.fixture
def nofile_1100():
    """A soft RLIMIT_NOFILE above 1100 for the test (CI's default soft
    limit is often 1024: raised, not skipped); restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1100:
        if hard != resource.RLIM_INFINITY and hard <= 1100:
            pytest.fail(f"needs more than 1100 descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_select_fd_setsize_raises_not_hangs(tmp_path, nofile_1100):
    def main():
        path = str(tmp_path / "s.sock")
        ln = net.listen("unix", path)
        tcp_ln = net.listen("tcp", "127.0.0.1:0")
        dups = []
        try:
            while not dups or dups[-1] < 1030:
                dups.append(os.dup(0))
            # a unix dial connects at once; the read must park, and cannot
            client = net.dial("unix", path)
            server = ln.accept()
            assert client.fileno() >= 1024
            with pytest.raises(OSError) as e:
                client.read()
            assert "FD_SETSIZE" in str(e.value) and "epoll" in str(e.value)
            assert str(e.value).startswith(f"read unix ")
            client.close()
            server.close()
            # a TCP dial that has to wait for the handshake
            try:
                net.dial("tcp", str(tcp_ln.addr)).close()
            except OSError as e:
                assert "FD_SETSIZE" in str(e)
        finally:
            for d in dups:
                os.close(d)
            ln.close()
            tcp_ln.close()
    netpoll.run(main, poller="select")


def test_conn_from_other_thread_raises(run):
    def main():
        client, server = tcp_pair()
        errors = []

        def other():
            for op in (client.read, lambda: client.write(b"x"), client.close,
                       lambda: client.set_deadline(None), server.read):
                try:
                    op()
                except RuntimeError as e:
                    errors.append(str(e))
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 5
        assert all("thread" in m for m in errors)
        client.write(b"fine")
        assert server.read() == b"fine"
        client.close()
        server.close()
    run(main)


def test_listener_from_other_thread_raises(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        result = []
        t = threading.Thread(target=lambda: result.append(
            pytest.raises(RuntimeError, ln.accept)))
        t.start()
        t.join()
        assert result
        ln.close()
    run(main)


def test_conn_of_stopped_runtime_raises_instead_of_hanging(poller):
    client, server = netpoll.run(tcp_pair, poller=poller)

    def main():
        with pytest.raises(RuntimeError, match="stopped"):
            client.read()                 # would have to park on a dead runtime
        server.write(b"x")                # I/O that need not park still works
        assert client.read() == b"x"
        client.close()
        server.close()
    netpoll.run(main, poller=poller)
