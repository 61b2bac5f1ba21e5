"""A peer that vanishes without a word (no FIN, no RST): keep-alive ends a
read parked on it, TCP_USER_TIMEOUT a write parked on it.

Each test makes two network namespaces joined by a veth pair
(support.netns.VethPair): the netpoll server runs in namespace a (its
runtime thread switched in with setns), the vanishing client in b, and
taking b's end of the link down makes the client disappear silently.  A
well-behaved client on a's loopback keeps being served meanwhile.  Root
only: skipped with the reason elsewhere, never under CI."""

import errno
import queue
import socket
import threading
import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, net
from netpoll.server import serve

from support import fd_count, recv_exactly, wait_parked, wait_until
from support.netns import VethPair

BIG = 64 << 20                     # far more than any socket buffers hold


@pytest.fixture
def pair():
    with VethPair() as p:
        yield p


class Server:
    """netpoll.server.serve in namespace a, in a thread with a runtime of
    its own.  ``handler(conn, events)`` runs per connection;
    ``goroutines()`` asks the runtime how many goroutines it has."""

    def __init__(self, pair, poller, handler):
        self.events = queue.Queue()
        self.port = queue.Queue()
        self.stop = threading.Event()
        self.asks = queue.Queue()
        self.error = None
        self.handler = handler
        self.thread = pair.thread("a", self.run, poller, name="netns-server")
        self.port = self.port.get(timeout=10)

    def main(self):
        with net.listen("tcp", "0.0.0.0:0") as ln:
            self.port.put(ln.addr.port)
            netpoll.go(serve, ln, self.handler, self.events)
            while not self.stop.is_set():
                while not self.asks.empty():
                    self.asks.get().put(netpoll.stats()["goroutines"])
                netpoll.sleep(0.01)

    def goroutines(self):
        answer = queue.Queue()
        self.asks.put(answer)
        return answer.get(timeout=10)

    def run(self, poller):
        try:
            netpoll.run(self.main, poller=poller)
        except BaseException as exc:
            self.error = exc
            self.port.put(None)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


class Pinger:
    """A client on a's loopback that must keep getting its echoes."""

    def __init__(self, pair, port):
        self.sock = pair.socket("a")
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.n = 0

    def ping(self):
        self.n += 1
        msg = b"ping %d\n" % self.n
        self.sock.sendall(msg)
        assert recv_exactly(self.sock, len(msg)) == msg


def wait_event(server, pinger, timeout):
    """The next handler event, pinging the good client meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        pinger.ping()
        try:
            return server.events.get(timeout=0.1)
        except queue.Empty:
            assert time.monotonic() < deadline, "no event from the server's handler"


def echo_with_keepalive(conn, events):
    """Echo; keep-alive probes after 1 s idle, every 1 s, 2 unanswered end it."""
    peer = conn.remote_addr
    try:
        with conn:
            conn.set_keepalive_config(idle=1, interval=1, count=2)
            while data := conn.read():
                conn.write(data)
        events.put((peer, "EOF", time.monotonic()))
    except OSError as exc:
        events.put((peer, exc, time.monotonic()))


def test_keepalive_ends_a_read_parked_on_a_vanished_peer(pair, poller):
    server = Server(pair, poller, echo_with_keepalive)
    try:
        pinger = Pinger(pair, server.port)
        pinger.ping()
        goroutines_before = server.goroutines()
        fds_before = fd_count()

        lost = pair.socket("b")
        lost.settimeout(10)
        lost.connect((pair.addr["a"], server.port))
        lost.sendall(b"hello")
        assert recv_exactly(lost, 5) == b"hello"   # the server reads again: parked
        cport = lost.getsockname()[1]
        pair.down("b")
        t0 = time.monotonic()

        peer, exc, t = wait_event(server, pinger, timeout=20)
        elapsed = t - t0
        assert str(peer) == f"{pair.addr['b']}:{cport}"
        assert isinstance(exc, TimeoutError) and not isinstance(exc, DeadlineExceededError), exc
        assert exc.errno == errno.ETIMEDOUT
        assert str(exc) == (f"read tcp {pair.addr['a']}:{server.port}->"
                            f"{pair.addr['b']}:{cport}: connection timed out")
        # idle 1 s + 2 probes 1 s apart, from the last byte exchanged
        print(f"read failed {elapsed:.2f} s after the link went down")
        assert 2.0 <= elapsed <= 6.0, elapsed
        pinger.ping()

        # the goroutine ended and its `with` closed the connection
        lost.close()
        wait_until(lambda: server.goroutines() == goroutines_before,
                   what="the goroutine to end")
        assert fd_count() == fds_before, "a descriptor leaked"
        pinger.ping()
        pinger.sock.close()
    finally:
        server.close()


def write_until_stuck(conn, events):
    """Write far more than the buffers hold to a client that never reads,
    with a 2 s user timeout."""
    peer = conn.remote_addr
    try:
        with conn:
            conn.set_user_timeout(2)
            conn.write(b"w" * BIG)
        events.put((peer, "wrote it all", time.monotonic()))
    except OSError as exc:
        events.put((peer, exc, time.monotonic()))


def test_user_timeout_ends_a_write_parked_on_a_vanished_peer(pair, poller):
    parked = threading.Event()

    def handler(conn, events):
        if conn.remote_addr.host == "127.0.0.1":
            return echo_with_keepalive(conn, events)
        g = netpoll.go(write_until_stuck, conn, events)
        wait_parked(g)                     # the send buffer is full
        parked.set()

    server = Server(pair, poller, handler)
    try:
        pinger = Pinger(pair, server.port)
        pinger.ping()
        goroutines_before = server.goroutines()
        fds_before = fd_count()

        lost = pair.socket("b")
        lost.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        lost.settimeout(10)
        lost.connect((pair.addr["a"], server.port))
        cport = lost.getsockname()[1]
        assert parked.wait(10)
        pair.down("b")
        t0 = time.monotonic()

        peer, exc, t = wait_event(server, pinger, timeout=20)
        elapsed = t - t0
        assert str(peer) == f"{pair.addr['b']}:{cport}"
        assert isinstance(exc, TimeoutError) and not isinstance(exc, DeadlineExceededError), exc
        assert exc.errno == errno.ETIMEDOUT
        assert str(exc) == (f"write tcp {pair.addr['a']}:{server.port}->"
                            f"{pair.addr['b']}:{cport}: connection timed out")
        print(f"write failed {elapsed:.2f} s after the link went down, written {exc.written}")
        assert 1.0 <= elapsed <= 6.0, elapsed
        # written: what the kernel took before it gave up; the client holds
        # part of it (what reached its receive buffer), the rest died in
        # the server's send queue
        lost.setblocking(False)
        received = 0
        try:
            while chunk := lost.recv(1 << 20):
                received += len(chunk)
        except BlockingIOError:
            pass
        assert 0 < received <= exc.written < BIG, (received, exc.written)
        pinger.ping()

        lost.close()
        wait_until(lambda: server.goroutines() == goroutines_before,
                   what="the goroutine to end")
        assert fd_count() == fds_before, "a descriptor leaked"
        pinger.sock.close()
    finally:
        server.close()
