"""Values at the edges: netpoll's exceptions cross pickle and copy intact,
deadlines of nan / inf / far future on every kind of end point, huge
datagram reads, IPv6 zones given by interface name."""

import copy
import pickle
import socket
import time

import pytest

import netpoll
from netpoll import ClosedError, DeadlineExceededError, net


@pytest.mark.parametrize("clone", [
    lambda e: pickle.loads(pickle.dumps(e)), copy.copy, copy.deepcopy],
    ids=["pickle", "copy", "deepcopy"])
def test_errors_pickle_and_copy_with_message_and_written(clone):
    e = DeadlineExceededError("write tcp 1.2.3.4:5->6.7.8.9:10: i/o timeout", written=42)
    e._netpoll_op = True
    c = clone(e)
    assert type(c) is DeadlineExceededError
    assert str(c) == str(e)
    assert c.written == 42
    assert c.errno == e.errno
    assert c._netpoll_op
    c = clone(DeadlineExceededError())
    assert str(c) == "i/o timeout" and c.written == 0
    closed = ClosedError("read tcp a->b: use of closed network connection")
    c = clone(closed)
    assert type(c) is ClosedError
    assert str(c) == str(closed)
    assert c.errno == closed.errno
    assert str(clone(ClosedError())) == "use of closed network connection"


def test_errors_from_real_operations_pickle(run):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            ln.set_deadline(time.monotonic() - 1)
            with pytest.raises(DeadlineExceededError) as e:
                ln.accept()
        c = pickle.loads(pickle.dumps(e.value))
        assert str(c) == str(e.value)
        assert str(c).startswith("accept tcp 127.0.0.1:")
    run(main)


def _endpoints():
    ln = net.listen("tcp", "127.0.0.1:0")
    g = netpoll.go(ln.accept)
    client = net.dial("tcp", str(ln.addr))
    server = g.join()
    pc = net.listen_packet("udp", "127.0.0.1:0")
    return ln, client, server, pc


def test_nan_deadline_is_refused_everywhere(run):
    def main():
        ln, client, server, pc = _endpoints()
        try:
            nan = float("nan")
            setters = [client.set_deadline, client.set_read_deadline,
                       client.set_write_deadline, ln.set_deadline,
                       pc.set_deadline, pc.set_read_deadline, pc.set_write_deadline]
            for setter in setters:
                with pytest.raises(ValueError, match="nan"):
                    setter(nan)
            # Refused means unchanged: no deadline, the read waits for data.
            client.write(b"still")
            server.set_read_deadline(time.monotonic() + 10)
            assert server.read(10) == b"still"
            with pytest.raises(TypeError, match=r"time\.monotonic"):
                client.set_deadline("5")
        finally:
            for c in (client, server, pc, ln):
                c.close()
    run(main)


def test_inf_deadline_means_none_and_far_future_waits(run):
    def main():
        ln, client, server, pc = _endpoints()
        try:
            for conn in (server, pc):
                conn.set_read_deadline(time.monotonic() - 1)
                conn.set_read_deadline(float("inf"))          # clears it
                assert conn.fd.pd.deadline[1] == 0
            ln.set_deadline(float("inf"))
            assert ln.fd.pd.deadline[1] == 0
            server.set_deadline(time.monotonic() + 1e12)
            # The goroutine's far deadline and a short sleep coexist.
            g = netpoll.go(server.read, 10)
            netpoll.sleep(0.05)
            client.write(b"hi")
            assert g.join(10) == b"hi"
        finally:
            for c in (client, server, pc, ln):
                c.close()
    run(main)


def test_huge_datagram_read_is_capped(run):
    def main():
        pc = net.listen_packet("udp", "127.0.0.1:0")
        c = net.dial("udp", str(pc.local_addr))
        try:
            c.write(b"one")
            pc.set_read_deadline(time.monotonic() + 10)
            data, addr = pc.read_from(1 << 40)       # before: MemoryError
            assert data == b"one"
            pc.write_to(b"two", addr)
            c.set_read_deadline(time.monotonic() + 10)
            assert c.read(1 << 40) == b"two"
            pc.write_to(b"x" * 60000, addr)         # still whole after the cap
            assert c.read(1 << 40) == b"x" * 60000
        finally:
            c.close()
            pc.close()
    run(main)


def test_ipv6_zone_by_interface_name(run):
    try:
        lo = socket.if_indextoname(1)
    except OSError:
        pytest.fail("no network interface with index 1 (the loopback)")

    def main():
        for address in (f"[::1%{lo}]:0", "[::1%1]:0"):
            pc = net.listen_packet("udp6", address)
            try:
                assert pc.local_addr.host.startswith("::1")
            finally:
                pc.close()
        with pytest.raises(ValueError, match="no such network interface"):
            net.listen_packet("udp6", "[::1%nosuchif0]:0")
    run(main)
