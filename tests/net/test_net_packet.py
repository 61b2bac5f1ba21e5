"""Datagrams: UDP and unixgram round trips, connected UDP, deadlines and
close on packet conns."""

import socket
import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, net
from netpoll.net import ClosedError, UDPAddr, UnixAddr

from support import has_ipv6, timed


def test_udp_round_trip_with_deadlines(run):
    def main():
        with net.listen_packet("udp", "127.0.0.1:0") as srv, \
                net.listen_packet("udp", "127.0.0.1:0") as cli:
            assert isinstance(srv.local_addr, UDPAddr)
            assert cli.write_to(b"ping", str(srv.local_addr)) == 4
            srv.set_read_deadline(time.monotonic() + 5)
            data, addr = srv.read_from()
            assert data == b"ping"
            assert addr == cli.local_addr
            srv.write_to(b"pong", addr)               # reply to what read_from gave
            assert cli.read_from() == (b"pong", srv.local_addr)
            # deadline: nothing arrives
            deadline = time.monotonic() + 0.05
            srv.set_read_deadline(deadline)
            err, elapsed = timed(srv.read_from)
            assert isinstance(err, DeadlineExceededError)
            assert time.monotonic() >= deadline
            assert str(err).startswith(f"read udp {srv.local_addr}: ")
            srv.set_deadline(None)
            cli.write_to(b"again", ("127.0.0.1", srv.local_addr.port))   # tuple
            assert srv.read_from()[0] == b"again"
    run(main)


def test_udp_dual_stack_listener(run):
    if not has_ipv6():
        pytest.skip("no IPv6")

    def main():
        with net.listen_packet("udp", ":0") as srv, \
                net.listen_packet("udp4", "127.0.0.1:0") as cli:
            cli.write_to(b"v4", f"127.0.0.1:{srv.local_addr.port}")
            data, addr = srv.read_from()
            assert data == b"v4"
            assert addr.host == "127.0.0.1"           # v4-mapped shown as v4
            srv.write_to(b"back", addr)
            assert cli.read_from()[0] == b"back"
    run(main)


def test_udp6_round_trip(run):
    if not has_ipv6():
        pytest.skip("no IPv6")

    def main():
        with net.listen_packet("udp6", "[::1]:0") as srv:
            assert str(srv.local_addr).startswith("[::1]:")
            with net.dial("udp6", str(srv.local_addr)) as c:
                c.write(b"six")
                data, addr = srv.read_from()
                assert data == b"six" and addr == c.local_addr
    run(main)


def test_dial_udp_connected(run):
    def main():
        with net.listen_packet("udp", "127.0.0.1:0") as srv:
            c = net.dial("udp", str(srv.local_addr))
            assert isinstance(c, net.PacketConn)
            assert c.remote_addr == srv.local_addr
            assert c.write(b"hello") == 5
            data, addr = srv.read_from()
            assert data == b"hello"
            srv.write_to(b"world", addr)
            assert c.read() == b"world"
            c.set_read_deadline(time.monotonic() + 0.05)
            with pytest.raises(DeadlineExceededError):
                c.read()
            c.close()
    run(main)


def test_unixgram_round_trip_with_deadlines(run, tmp_path):
    def main():
        spath, cpath = str(tmp_path / "srv"), str(tmp_path / "cli")
        with net.listen_packet("unixgram", spath) as srv, \
                net.listen_packet("unixgram", cpath) as cli:
            assert srv.local_addr == UnixAddr(spath, "unixgram")
            cli.write_to(b"ping", spath)
            data, addr = srv.read_from()
            assert data == b"ping" and addr.path == cpath
            srv.write_to(b"pong", addr)
            assert cli.read_from()[0] == b"pong"
            srv.set_read_deadline(time.monotonic() + 0.05)
            with pytest.raises(DeadlineExceededError):
                srv.read_from()
            srv.set_read_deadline(None)
            with net.dial("unixgram", spath) as d:
                d.write(b"dialed")
                assert srv.read_from()[0] == b"dialed"
    run(main)


def test_packet_close_wakes_reader(run):
    def main():
        pc = net.listen_packet("udp", "127.0.0.1:0")
        g = netpoll.go(timed, pc.read_from)
        netpoll.gosched()
        pc.close()
        pc.close()
        err, _ = g.join()
        assert isinstance(err, ClosedError)
        with pytest.raises(ClosedError):
            pc.write_to(b"x", "127.0.0.1:9")
        with pytest.raises(ClosedError):
            pc.set_deadline(None)
    run(main)


def test_datagram_boundaries_kept(run):
    def main():
        with net.listen_packet("udp", "127.0.0.1:0") as srv, \
                net.dial("udp", f"127.0.0.1:{srv.local_addr.port}") as c:
            for n in (1, 100, 1000):
                c.write(b"d" * n)
            assert [len(srv.read_from()[0]) for _ in range(3)] == [1, 100, 1000]
            assert socket.SOCK_DGRAM == c.fd.sock.type
    run(main)



def test_connected_udp_read_returns_whole_datagrams(run):
    """A read of a connected UDP conn asks the kernel for all ``n`` bytes:
    the stream sockets' adaptive read size must not cut a datagram short
    (the kernel discards what does not fit)."""
    def main():
        with net.listen_packet("udp", "127.0.0.1:0") as srv, \
                net.dial("udp", str(srv.local_addr)) as conn:
            big = bytes(range(256)) * 40               # 10240 bytes > any 4 KiB first read
            for size in (10, 10240, 10, 10240, 5000):  # small ones must not shrink the next ask
                srv.write_to(big[:size], conn.local_addr)
                assert conn.read(65536) == big[:size]
    run(main)
