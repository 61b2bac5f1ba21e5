"""Closing: close() wakes blocked read / write / accept promptly with
ClosedError, is idempotent, makes later operations fail, returns only once
the descriptor is closed, and leaks nothing."""

import time

import pytest

import netpoll
from netpoll import net
from netpoll.net import ClosedError

from support import BLOB, fd_identity, open_fds, still_open, tcp_pair, timed, wait_parked

PROMPT = 1.0


def _close_wakes(blocked_op, closer):
    g = netpoll.go(timed, blocked_op)
    wait_parked(g)                      # parked (a writer: buffers full)
    assert not g.done
    t0 = time.monotonic()
    closer()
    err, _ = g.join()
    assert isinstance(err, ClosedError), repr(err)
    assert isinstance(err, OSError)
    assert str(err).endswith("use of closed network connection")
    assert time.monotonic() - t0 < PROMPT
    return err


def test_close_wakes_read(run):
    def main():
        client, server = tcp_pair()
        err = _close_wakes(client.read, client.close)
        assert str(err).startswith("read tcp 127.0.0.1:")
        server.close()
    run(main)


def test_close_wakes_write_with_full_buffers(run):
    def main():
        client, server = tcp_pair()       # the server never reads
        err = _close_wakes(lambda: client.write(BLOB), client.close)
        assert str(err).startswith("write tcp ")
        server.close()
    run(main)


def test_close_wakes_accept(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        err = _close_wakes(ln.accept, ln.close)
        assert str(err) == f"accept tcp {ln.addr}: use of closed network connection"
    run(main)


def test_close_wakes_read_and_write_together(run):
    def main():
        client, server = tcp_pair()
        r = netpoll.go(timed, client.read)
        w = netpoll.go(timed, client.write, BLOB)
        wait_parked(r, w)
        client.close()
        assert isinstance(r.join()[0], ClosedError)
        assert isinstance(w.join()[0], ClosedError)
        server.close()
    run(main)


def test_close_is_idempotent_and_later_ops_fail(run):
    def main():
        client, server = tcp_pair()
        client.close()
        client.close()
        for op, args in [(client.read, ()), (client.read_into, (bytearray(4),)),
                         (client.write, (b"x",)), (client.writev, ([b"x"],)),
                         (client.set_deadline, (None,)),
                         (client.set_read_deadline, (None,)),
                         (client.set_write_deadline, (None,)),
                         (client.close_read, ()), (client.close_write, ()),
                         (client.set_nodelay, (True,)), (client.fileno, ())]:
            with pytest.raises(ClosedError) as e:
                op(*args)
            assert "use of closed network connection" in str(e.value)
        assert str(client.local_addr).startswith("127.0.0.1:")   # still known
        server.close()
        ln = net.listen("tcp", "127.0.0.1:0")
        ln.close()
        ln.close()
        with pytest.raises(ClosedError):
            ln.accept()
        with pytest.raises(ClosedError):
            ln.set_deadline(None)
    run(main)


def test_close_returns_after_descriptor_is_closed(run):
    def main():
        client, server = tcp_pair()
        ident = fd_identity(client.fileno())
        g = netpoll.go(timed, client.read)
        netpoll.gosched()
        client.close()
        assert not still_open(ident)
        assert isinstance(g.join()[0], ClosedError)
        server.close()
    run(main)


def test_peer_close_gives_eof(run):
    def main():
        client, server = tcp_pair()
        g = netpoll.go(client.read)
        netpoll.gosched()
        server.close()
        assert g.join() == b""
        assert client.read() == b""
        client.close()
    run(main)


def test_listener_close_leaves_accepted_conns_open(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        g = netpoll.go(ln.accept)
        client = net.dial("tcp", str(ln.addr))
        server = g.join()
        ln.close()
        client.write(b"ping")
        assert server.read() == b"ping"
        server.write(b"pong")
        assert client.read() == b"pong"
        client.close()
        server.close()
    run(main)


def test_unix_listener_close_removes_socket_file(run, tmp_path):
    def main():
        path = tmp_path / "s.sock"
        ln = net.listen("unix", str(path))
        assert path.exists()
        ln.close()
        assert not path.exists()
    run(main)


def test_context_managers_close(run):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            with net.dial("tcp", str(ln.addr)) as c, ln.accept() as s:
                pass
        for obj in (ln, c, s):
            assert obj.fd.closed
    run(main)


def test_no_descriptor_leaks(run):
    def main():
        before = open_fds()
        for _ in range(20):
            client, server = tcp_pair()
            g = netpoll.go(timed, client.read)
            netpoll.gosched()
            client.close()
            g.join()
            server.close()
        with pytest.raises(ConnectionRefusedError):
            net.dial("tcp", "127.0.0.1:1")
        assert open_fds() == before
    run(main)


def test_goroutine_exit_closes_conns_via_with(poller):
    """run() returning stops goroutines; their with-blocks close conns."""
    before = open_fds()

    def handler(conn):
        with conn:
            conn.read()

    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        g = netpoll.go(lambda: handler(ln.accept()))
        c = net.dial("tcp", str(ln.addr))
        wait_parked(g)
        ln.close()
        assert not g.done               # parked in read when run() returns
        return c
    c = netpoll.run(main, poller=poller)
    c.close()                           # after teardown: closes without parking
    assert open_fds() == before
