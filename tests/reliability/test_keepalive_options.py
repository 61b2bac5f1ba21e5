"""TCPConn.set_keepalive_config (Go 1.23's KeepAliveConfig) and
set_user_timeout (TCP_USER_TIMEOUT): what reaches the socket, argument
checks, and the ``written`` of a write that fails with an OS error.  On
loopback; the vanished-peer behaviour they exist for is in
test_netns_vanish.py."""

import errno
import math
import socket
import struct

import pytest

import netpoll
from netpoll import net
from netpoll.net import conn as conn_module

from support import BIG, tcp_pair, wait_parked

linux_only = pytest.mark.skipif(not hasattr(socket, "TCP_KEEPCNT")
                                or not hasattr(socket, "TCP_USER_TIMEOUT"),
                                reason="TCP_KEEPCNT / TCP_USER_TIMEOUT are Linux options")


def _opt(conn, level, opt):
    return conn.fd.sock.getsockopt(level, opt)


def _keepalive(conn):
    return (_opt(conn, socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            _opt(conn, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            _opt(conn, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            _opt(conn, socket.IPPROTO_TCP, socket.TCP_KEEPCNT))


@linux_only
def test_keepalive_config_sets_idle_interval_count(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_keepalive_config(idle=1, interval=2, count=3)
            assert _keepalive(client) == (1, 1, 2, 3)
            client.set_keepalive_config(idle=1.2, interval=0.25, count=5)   # seconds round up
            assert _keepalive(client) == (1, 2, 1, 5)
            client.set_keepalive_config()                  # Go's defaults
            assert _keepalive(client) == (1, 15, 15, 9)
            client.set_keepalive_config(idle=4, interval=5, count=6)
            client.set_keepalive_config(idle=-1, interval=-5, count=-1)   # left as they are
            assert _keepalive(client) == (1, 4, 5, 6)
            client.set_keepalive_config(idle=0, interval=-1, count=None)  # 0 is Go's default
            assert _keepalive(client) == (1, 15, 5, 9)
            client.set_keepalive_config(enable=False)
            assert _opt(client, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
            # set_keepalive still turns it back on
            client.set_keepalive(True)
            assert _opt(client, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    run(main)


@linux_only
def test_keepalive_config_rejects_bad_values(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            before = _keepalive(client)
            for kwargs, exc in [({"idle": math.nan}, ValueError),
                                ({"interval": math.nan}, ValueError),
                                ({"idle": "1"}, TypeError),
                                ({"idle": True}, TypeError),
                                ({"count": 1.5}, TypeError),
                                ({"count": math.nan}, TypeError)]:
                with pytest.raises(exc, match="keep-alive"):
                    client.set_keepalive_config(**kwargs)
            assert _keepalive(client) == before            # nothing was set
            # Out of the kernel's range (inf included): its EINVAL, Go-style
            for kwargs in ({"idle": math.inf}, {"interval": 1e12}, {"count": 10**12}):
                with pytest.raises(OSError) as info:
                    client.set_keepalive_config(**kwargs)
                assert info.value.errno == errno.EINVAL
                assert str(info.value).startswith(f"set tcp {client.local_addr}->")
                assert str(info.value).endswith(": invalid argument")
        with pytest.raises(net.ClosedError):
            client.set_keepalive_config(idle=1)
    run(main)


@linux_only
def test_user_timeout_reaches_the_socket(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            def millis():
                return _opt(client, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
            client.set_user_timeout(2)
            assert millis() == 2000
            client.set_user_timeout(0.0011)                 # whole milliseconds, up
            assert millis() == 2
            client.set_user_timeout(0)
            assert millis() == 0
            client.set_user_timeout(3.5)
            client.set_user_timeout(None)                   # the kernel's default
            assert millis() == 0
            client.set_user_timeout(math.inf)               # as long as it goes
            assert millis() == 2**31 - 1
            client.set_user_timeout(1e300)
            assert millis() == 2**31 - 1
            for value, exc in [(math.nan, ValueError), (-1, ValueError),
                               ("2", TypeError), (False, TypeError)]:
                with pytest.raises(exc, match="user timeout"):
                    client.set_user_timeout(value)
            assert millis() == 2**31 - 1
        with pytest.raises(net.ClosedError):
            client.set_user_timeout(1)
    run(main)


def test_user_timeout_where_the_os_lacks_it(run, monkeypatch):
    monkeypatch.setattr(conn_module, "_USER_TIMEOUT", None)

    def main():
        client, server = tcp_pair()
        with client, server:
            with pytest.raises(OSError) as info:
                client.set_user_timeout(2)
            assert info.value.errno == errno.ENOPROTOOPT
            assert str(info.value) == (f"set tcp {client.local_addr}->{client.remote_addr}: "
                                       "TCP_USER_TIMEOUT is not supported on this OS (Linux only)")
    run(main)


def test_keepalive_option_the_os_lacks(run, monkeypatch):
    monkeypatch.setattr(conn_module, "_KEEPCNT", None)

    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_keepalive_config(idle=2, interval=2)   # count None: skipped
            client.set_keepalive_config(idle=2, count=-1)     # left as it is: fine
            with pytest.raises(OSError, match="keep-alive count is not supported") as info:
                client.set_keepalive_config(count=3)
            assert info.value.errno == errno.ENOPROTOOPT
    run(main)


@pytest.mark.parametrize("method", ["write", "writev"])
def test_write_failing_with_an_os_error_says_how_much_went_out(run, method):
    """The peer never reads, then resets: the parked write fails with
    ECONNRESET (or EPIPE) and ``written`` tells how much the kernel took."""
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_write_buffer(65536)
            data = [b"w" * (1 << 20)] * (BIG >> 20) if method == "writev" else b"w" * BIG
            g = netpoll.go(getattr(client, method), data)
            wait_parked(g)                                  # the buffers are full
            server.fd.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
            queued = len(server.fd.sock.recv(1 << 24, socket.MSG_PEEK))
            server.close()                                  # RST
            with pytest.raises((ConnectionResetError, BrokenPipeError)) as info:
                g.join()
            assert queued <= info.value.written < BIG, (queued, info.value.written)
            assert str(info.value).startswith(f"{method} tcp ")
    run(main)


def test_echo_keepalive_option_parses():
    from netpoll.cli import build_parser
    parser = build_parser()
    assert parser.parse_args(["echo", "--keepalive", "5,2.5,3"]).keepalive == (5.0, 2.5, 3)
    assert parser.parse_args(["echo"]).keepalive is None
    for bad in ("5,2", "5,2,x", "0,1,1", "1,1,0", "nan,1,1", "inf,1,1", "1,1,1.5"):
        with pytest.raises(SystemExit):
            parser.parse_args(["echo", "--keepalive", bad])


def test_netns_tests_fail_in_ci_and_skip_elsewhere(monkeypatch):
    """Where namespaces cannot be made, the netns tests skip with the
    reason, except under CI, where they fail."""
    from support import netns
    monkeypatch.setattr(netns, "unavailable", lambda: "no namespaces here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI: no namespaces here"):
        netns.VethPair()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no namespaces here"):
        netns.VethPair()


def test_netns_tests_when_ip_netns_add_is_refused(monkeypatch):
    """Root, but no right to make namespaces (a container): the same."""
    import subprocess

    from support import netns

    def refused(*args, check=True):
        if args[:2] == ("netns", "add"):
            raise subprocess.CalledProcessError(1, ["ip", *args], "", "Operation not permitted\n")
        return subprocess.CompletedProcess(["ip", *args], 0, "", "")
    monkeypatch.setattr(netns, "unavailable", lambda: None)
    monkeypatch.setattr(netns, "ip", refused)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="ip netns add failed: Operation not permitted"):
        netns.VethPair()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="Operation not permitted"):
        netns.VethPair()
