"""Mistakes that explain themselves: wrong types at the call (before any
parking), misspelled networks, names that do not resolve, deadlines given
as durations, and a failed close_read that must change nothing."""

import socket
import time

import pytest

import netpoll
from netpoll import net


def _tcp_pair():
    with net.listen("tcp", "127.0.0.1:0") as ln:
        g = netpoll.go(ln.accept)
        client = net.dial("tcp", str(ln.addr))
        return client, g.join()


def _drained_pair():
    """A pair whose server side has just made a short read, so that under
    epoll its next read would park before any system call."""
    client, server = _tcp_pair()
    client.write(b"x")
    assert server.read(100) == b"x"
    return client, server


def test_read_with_a_float_size_fails_at_the_call(run):
    def main():
        client, server = _drained_pair()
        try:
            with pytest.raises(TypeError, match=r"Conn.read\(\) takes an int size, not float"):
                server.read(2.5)      # before: parked, failed when data came
            with pytest.raises(ValueError, match="negative"):
                server.read(-1)
            client.write(b"y")
            assert server.read(10) == b"y"       # the connection still works
        finally:
            client.close()
            server.close()
    run(main)


def test_write_of_text_says_it_takes_bytes(run):
    def main():
        client, server = _tcp_pair()
        try:
            with pytest.raises(TypeError, match=r"Conn.write\(\) takes bytes.*not str.*encode"):
                client.write("hello")
            with pytest.raises(TypeError, match=r"Conn.write\(\) takes bytes.*not int"):
                client.write(5)
            assert client.write(bytearray(b"ok")) == 2
            assert server.read(10) == b"ok"
        finally:
            client.close()
            server.close()
    run(main)


def test_writev_of_one_bytes_object_says_so(run):
    def main():
        client, server = _tcp_pair()
        try:
            with pytest.raises(TypeError, match=r"Conn.writev\(\) takes a list.*not one bytes"):
                client.writev(b"abc")
            with pytest.raises(TypeError, match=r"Conn.writev\(\) takes bytes.*not str"):
                client.writev([b"a", "b"])
            assert client.writev([b"a", memoryview(b"bc")]) == 3
            server.set_read_deadline(time.monotonic() + 10)
            got = b""
            while len(got) < 3:
                got += server.read(10)
            assert got == b"abc"
        finally:
            client.close()
            server.close()
    run(main)


def test_listen_on_a_misspelled_network_lists_the_valid_ones(run):
    run(_misspelled)


def _misspelled():
    with pytest.raises(ValueError) as e:
        net.listen("TCP", "127.0.0.1:0")
    msg = str(e.value)
    assert msg.startswith('unknown network "TCP"')
    assert 'did you mean "tcp"' in msg
    assert "tcp, tcp4, tcp6, unix" in msg
    with pytest.raises(ValueError, match='unknown network "tcpx": valid networks here are'):
        net.listen_packet("tcpx", "127.0.0.1:0")


def test_listen_on_a_name_that_does_not_resolve_is_wrapped_go_style(run):
    run(_unresolvable)


def _unresolvable():
    # .invalid never resolves (RFC 6761) and fails without any network.
    with pytest.raises(OSError) as e:
        net.listen("tcp", "example.invalid:7000")
    assert isinstance(e.value, socket.gaierror)
    assert str(e.value) == ("listen tcp example.invalid:7000: "
                            "lookup example.invalid: no such host")
    with pytest.raises(socket.gaierror,
                       match=r"^listen udp example.invalid:7000: lookup example.invalid: "):
        net.listen_packet("udp", "example.invalid:7000")


def test_deadline_given_as_a_duration_hints_at_monotonic(run):
    def main():
        client, server = _tcp_pair()
        try:
            far = time.monotonic() - 2 * 86400    # what set_read_deadline(5) is
            server.set_read_deadline(far)         # after two days of uptime
            with pytest.raises(netpoll.DeadlineExceededError) as e:
                server.read()
            msg = str(e.value)
            assert msg.endswith("i/o timeout")
            assert "s in the past" in msg
            assert f"time.monotonic() + {far:g}" in msg
            # An ordinary passed deadline keeps Go's message.
            server.set_read_deadline(time.monotonic() - 1)
            with pytest.raises(netpoll.DeadlineExceededError) as e:
                server.read()
            assert "in the past" not in str(e.value)
            assert str(e.value).endswith(": i/o timeout")
            # The write side was never set far in the past.
            client.set_deadline(time.monotonic() - 2 * 86400)
            client.set_write_deadline(time.monotonic() - 1)
            with pytest.raises(netpoll.DeadlineExceededError) as e:
                client.write(b"x")
            assert "in the past" not in str(e.value)
            with pytest.raises(netpoll.DeadlineExceededError, match="s in the past"):
                client.read()
        finally:
            client.close()
            server.close()
    run(main)


def test_listener_deadline_far_in_the_past_hints_too(run):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            ln.set_deadline(time.monotonic() - 3 * 86400)
            with pytest.raises(netpoll.DeadlineExceededError,
                               match=r"^accept tcp .*s in the past.*: i/o timeout$"):
                ln.accept()
    run(main)


def test_failed_close_read_changes_nothing(run):
    def main():
        pc = net.listen_packet("udp", "127.0.0.1:0")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with pytest.raises(OSError) as e:
                pc.close_read()          # unconnected UDP: ENOTCONN
            assert e.value.errno == 107 or "not connected" in str(e.value)
            sender.sendto(b"dgram", (pc.local_addr.host, pc.local_addr.port))
            pc.set_read_deadline(time.monotonic() + 10)
            data, addr = pc.read_from()
            assert data == b"dgram"      # before: (b"", None) at once, forever
            assert addr is not None
        finally:
            sender.close()
            pc.close()
    run(main)
