"""Each example started as a real process and checked with a real client."""

import os
import socket
import threading
import time

import pytest

import netpoll

from support import ServerProcess, example, recv_all, recv_exactly

POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]


# -- echo_server.py -------------------------------------------------------------

@pytest.mark.parametrize("poller", POLLERS)
def test_echo_server(poller):
    with ServerProcess(example("echo_server", "--poller", poller)) as server:
        clients = [socket.create_connection(server.address, timeout=10) for _ in range(5)]
        for i, s in enumerate(clients):
            s.sendall(b"hello %d" % i)
        for i, s in enumerate(clients):
            assert recv_exactly(s, len(b"hello %d" % i)) == b"hello %d" % i
        big = os.urandom(1 << 20)
        s = clients[0]
        s.sendall(big)
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == big
        for s in clients:
            s.close()


# -- proxy.py -------------------------------------------------------------------

def test_proxy_forwards_and_propagates_half_close():
    with ServerProcess(example("echo_server")) as upstream:
        target = "%s:%d" % upstream.address
        with ServerProcess(example("proxy", "--to", target)) as proxy:
            payload = os.urandom(3 << 20)
            with socket.create_connection(proxy.address, timeout=10) as s:
                s.sendall(payload)
                # the echo server closes only after seeing our EOF through the proxy,
                # and we still read the whole echo after our half close
                s.shutdown(socket.SHUT_WR)
                assert recv_all(s) == payload
            # several at once
            clients = [socket.create_connection(proxy.address, timeout=10) for _ in range(20)]
            for i, c in enumerate(clients):
                c.sendall(b"n%d" % i)
                c.shutdown(socket.SHUT_WR)
            for i, c in enumerate(clients):
                assert recv_all(c) == b"n%d" % i
                c.close()


def test_proxy_half_close_towards_the_client():
    """Upstream answers and closes its side first; the client, still writing,
    sees the EOF and its later data still reaches upstream."""
    upstream = socket.create_server(("127.0.0.1", 0))
    got = []

    def serve_once():
        conn, _ = upstream.accept()
        with conn:
            conn.sendall(b"greeting")
            conn.shutdown(socket.SHUT_WR)
            got.append(recv_all(conn))
    t = threading.Thread(target=serve_once)
    t.start()
    try:
        target = "127.0.0.1:%d" % upstream.getsockname()[1]
        with ServerProcess(example("proxy", "--to", target)) as proxy:
            with socket.create_connection(proxy.address, timeout=10) as s:
                assert recv_all(s) == b"greeting"       # EOF passed on
                s.sendall(b"after your EOF")
                s.shutdown(socket.SHUT_WR)
                t.join(10)
                assert got == [b"after your EOF"]
    finally:
        upstream.close()
        t.join(10)


def test_proxy_upstream_down():
    spare = socket.create_server(("127.0.0.1", 0))
    target = "127.0.0.1:%d" % spare.getsockname()[1]
    spare.close()                                    # nobody listens there now
    with ServerProcess(example("proxy", "--to", target)) as proxy:
        with socket.create_connection(proxy.address, timeout=10) as s:
            assert recv_all(s) == b""
        assert "connection refused" in proxy.errors()


# -- chat.py --------------------------------------------------------------------

class Reader(threading.Thread):
    """Reads lines from a chat connection in the background."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.lines = []
        self.changed = threading.Condition()

    def run(self):
        buf = b""
        self.sock.settimeout(30)
        try:
            while data := self.sock.recv(65536):
                *lines, buf = (buf + data).split(b"\n")
                with self.changed:
                    self.lines += [line.decode() for line in lines]
                    self.changed.notify_all()
        except OSError:
            pass

    def wait_for(self, predicate, timeout=20.0):
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.lines), timeout), self.lines[-5:]


def name_of(sock):
    return "%s:%d" % sock.getsockname()


def test_chat_broadcasts_and_drops_a_slow_reader():
    with ServerProcess(example("chat")) as server:
        a = socket.create_connection(server.address, timeout=10)
        b = socket.create_connection(server.address, timeout=10)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(server.address)                  # and never reads
        reader = Reader(b)
        reader.start()
        reader.wait_for(lambda lines: f"* {name_of(slow)} joined" in lines)
        a.sendall(b"hello\n")
        reader.wait_for(lambda lines: f"{name_of(a)}: hello" in lines)

        # flood until the slow client is dropped; b keeps receiving everything
        line = "x" * 1000
        sent = 0
        dropped = f"* {name_of(slow)} left"
        deadline = time.monotonic() + 20
        while dropped not in reader.lines:
            assert time.monotonic() < deadline, "the slow reader was never dropped"
            a.sendall(b"".join(b"%d %s\n" % (sent + i, line.encode()) for i in range(100)))
            sent += 100
            reader.wait_for(lambda lines, last=sent - 1: f"{name_of(a)}: {last} {line}" in lines)
        got = [m.split(": ", 1)[1] for m in reader.lines if m.startswith(name_of(a) + ": ")]
        assert got == ["hello"] + [f"{i} {line}" for i in range(sent)]

        a_name = name_of(a)
        a.close()
        reader.wait_for(lambda lines: f"* {a_name} left" in lines)
        # the slow client's connection was closed by the server: after what it
        # had buffered, it reads EOF (or a reset)
        try:
            data = recv_all(slow, timeout=10)
            assert len(data) < sent * 1000
        except ConnectionResetError:
            pass
        slow.close()
        b.shutdown(socket.SHUT_RDWR)      # wakes the reader thread's recv
        reader.join(10)
        b.close()
