"""Socket options: Go's defaults on dialed and accepted TCP connections
(TCP_NODELAY, keep-alive 15 s) and the setters."""

import os
import socket
import struct

import pytest

from netpoll import net
from netpoll.net.dial import max_listener_backlog

from support import has_ipv6, tcp_pair


def _opt(conn, level, opt):
    return conn.fd.sock.getsockopt(level, opt)


def test_go_defaults_on_dialed_and_accepted(run):
    def main():
        client, server = tcp_pair()
        for c in (client, server):
            assert _opt(c, socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert _opt(c, socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            if hasattr(socket, "TCP_KEEPIDLE"):
                assert _opt(c, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
                assert _opt(c, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 15
            assert os.get_blocking(c.fileno()) is False
            assert not os.get_inheritable(c.fileno())    # close-on-exec
            c.close()
    run(main)


def _check_go_defaults(c):
    assert _opt(c, socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert _opt(c, socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert _opt(c, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
        assert _opt(c, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 15


@pytest.mark.parametrize("inherited", [True, False], ids=["from-listener", "per-accept"])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "0.0.0.0"])
def test_accepted_connections_get_go_defaults_from_a_plain_client(run, monkeypatch, host,
                                                                  inherited):
    # Where the kernel copies the listener's options into accepted sockets
    # (Linux), the listener carries them and accept sets nothing; elsewhere
    # accept sets them on each connection.  Either way every accepted
    # connection has them, whatever the client set, and a change to one
    # connection does not reach the next.
    from netpoll.net import listener as listener_mod
    if host == "::1" and not has_ipv6():
        pytest.skip("no IPv6 on this machine")
    if inherited and not listener_mod._INHERITS_TCP_OPTIONS:
        pytest.skip("the kernel does not copy a listener's options here")
    monkeypatch.setattr(listener_mod, "_INHERITS_TCP_OPTIONS", inherited)

    def main():
        with net.listen("tcp", f"[{host}]:0" if ":" in host else f"{host}:0") as ln:
            connect_to = "127.0.0.1" if host == "0.0.0.0" else host
            for _ in range(3):
                peer = socket.create_connection((connect_to, ln.addr.port))
                with peer, ln.accept() as c:
                    _check_go_defaults(c)
                    c.set_nodelay(False)
                    c.set_keepalive(False)
    run(main)


def test_setters(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_nodelay(False)
            assert not _opt(client, socket.IPPROTO_TCP, socket.TCP_NODELAY)
            client.set_nodelay(True)
            assert _opt(client, socket.IPPROTO_TCP, socket.TCP_NODELAY)
            client.set_keepalive(False)
            assert not _opt(client, socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            client.set_keepalive(True, period=29.5)
            assert _opt(client, socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            if hasattr(socket, "TCP_KEEPIDLE"):
                assert _opt(client, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
            client.set_linger(0)
            onoff, secs = struct.unpack("ii", client.fd.sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, 8))
            assert (onoff, secs) == (1, 0)
            client.set_linger(-1)
            onoff, _ = struct.unpack("ii", client.fd.sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, 8))
            assert onoff == 0
            client.set_read_buffer(65536)
            client.set_write_buffer(65536)
            assert _opt(client, socket.SOL_SOCKET, socket.SO_RCVBUF) >= 65536
            assert _opt(client, socket.SOL_SOCKET, socket.SO_SNDBUF) >= 65536
            assert client.fileno() == client.fd.sock.fileno()
        with pytest.raises(net.ClosedError) as e:
            client.set_read_buffer(65536)
        assert str(e.value).startswith("set tcp 127.0.0.1:")
    run(main)


def test_reuse_port(run):
    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT")

    def main():
        with net.listen("tcp", "127.0.0.1:0", reuse_port=True) as a:
            with net.listen("tcp", str(a.addr), reuse_port=True) as b:
                assert a.addr == b.addr
            with pytest.raises(OSError):
                net.listen("tcp", str(a.addr))         # without: in use
    run(main)


def test_default_backlog_like_go():
    n = max_listener_backlog()
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            expected = min(int(f.read()), 65535)
    except OSError:
        expected = 4096
    assert n == expected


def test_listener_options(run):
    def main():
        with net.listen("tcp", "127.0.0.1:0", backlog=16) as ln:
            assert ln.fd.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
            assert ln.fileno() >= 0
            assert "tcp 127.0.0.1:" in repr(ln)
    run(main)
