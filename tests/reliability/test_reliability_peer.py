"""Peer faults: resets mid-read and mid-write, a peer that
vanishes during a large write, half-closed and silent peers, connections
reset before accept() gets them.  Each gives the documented error to its own
goroutine only; the server keeps serving a well-behaved client throughout;
no descriptor leaks.

The server is netpoll.server.serve running in a thread of its own (one
runtime per thread), so the test drives plain blocking sockets."""

import queue
import socket
import struct
import threading
import time

import pytest

import netpoll
from netpoll import net
from netpoll.server import serve
from support import fd_count

IDLE = 0.5                          # the server's read deadline (silent peers)
BIG = 16 << 20                      # more than loopback buffers hold
EXPECTED = {                        # what each fault may give the server's goroutine
    "reset-mid-read": {"ConnectionResetError"},
    "reset-mid-write": {"ConnectionResetError", "BrokenPipeError"},
    "vanish-during-big-write": {"ConnectionResetError", "BrokenPipeError"},
    "half-close": {"EOF"},
    "silent": {"DeadlineExceededError"},
    "reset-before-accept": {"ConnectionResetError", "EOF"},
}


class ServerThread(threading.Thread):
    """An echo server with an idle read deadline; a first message b"BIG\\n"
    gets 16 MiB back instead.  Every handler reports (client port, outcome)
    on ``events`` after its connection is closed."""

    def __init__(self, poller):
        super().__init__(daemon=True)
        self.poller = poller
        self.events = queue.Queue()
        self.address = queue.Queue()
        self.start_accepting = threading.Event()
        self.stop = threading.Event()
        self.error = None

    def handle(self, conn):
        port = conn.remote_addr.port
        outcome = "EOF"
        try:
            with conn:
                first = True
                while True:
                    conn.set_read_deadline(time.monotonic() + IDLE)
                    data = conn.read(65536)
                    if not data:
                        break
                    if first and data == b"BIG\n":
                        conn.write(b"b" * BIG)
                    else:
                        conn.write(data)
                    first = False
        except OSError as exc:
            outcome = type(exc).__name__
        self.events.put((port, outcome))

    def main(self):
        with net.listen("tcp", "127.0.0.1:0", backlog=64) as ln:
            self.address.put(ln.addr)
            netpoll.to_thread(self.start_accepting.wait)
            netpoll.go(serve, ln, self.handle)
            netpoll.to_thread(self.stop.wait)

    def run(self):
        try:
            netpoll.run(self.main, poller=self.poller)
        except BaseException as exc:      # noqa: BLE001 - reported to the test
            self.error = exc


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "EOF"
        buf += chunk
    return buf


class Good:
    """A well-behaved client that must keep getting answers."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=10)
        self.n = 0

    def ping(self):
        self.n += 1
        msg = b"ping %d" % self.n
        self.sock.sendall(msg)
        assert recv_exactly(self.sock, len(msg)) == msg


def collect(server, good, got, n, timeout=10.0):
    """Gather handler outcomes until there are ``n``, pinging meanwhile."""
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, got
        good.ping()
        try:
            port, outcome = server.events.get(timeout=0.1)
        except queue.Empty:
            continue
        got[port] = outcome


@pytest.mark.parametrize("poller", [p for p in ("select", "poll", "epoll")
                                    if p in netpoll.pollers()])
def test_peer_faults_hit_only_their_goroutine(poller):
    fds_before = fd_count()
    server = ServerThread(poller)
    server.start()
    try:
        addr = server.address.get(timeout=10)
        address = (addr.host, addr.port)
        outcomes = {}

        def connect(kind):
            s = socket.create_connection(address, timeout=10)
            outcomes[s.getsockname()[1]] = kind
            return s

        # reset before accept(): queued in the backlog, reset, then accepted
        for _ in range(5):
            s = connect("reset-before-accept")
            linger0(s)
            s.close()
        server.start_accepting.set()
        good = Good(address)
        good.ping()
        got = {}
        collect(server, good, got, len(outcomes))
        fds_serving = fd_count()                   # listener + the good conn's two ends

        # reset while the server's goroutine is parked in read
        s = connect("reset-mid-read")
        s.sendall(b"hello")
        assert recv_exactly(s, 5) == b"hello"      # now parked in read again
        linger0(s)
        s.close()
        good.ping()

        # reset while the server's goroutine is parked in write: we never read,
        # so once our sends block, it is stuck writing the echo
        s = connect("reset-mid-write")
        s.setblocking(False)
        try:
            while True:
                s.send(b"w" * 65536)
        except BlockingIOError:
            pass
        linger0(s)
        s.close()
        good.ping()

        # a peer that vanishes (plain close with unread data: RST) in the
        # middle of a 16 MiB response
        s = connect("vanish-during-big-write")
        s.sendall(b"BIG\n")
        assert recv_exactly(s, 100_000) == b"b" * 100_000
        s.close()
        good.ping()

        # half close: the peer stops sending and still reads every echoed byte
        s = connect("half-close")
        s.sendall(b"x" * 300_000)
        s.shutdown(socket.SHUT_WR)
        echoed = b""
        while chunk := s.recv(65536):
            echoed += chunk
        assert echoed == b"x" * 300_000
        s.close()
        good.ping()

        # a silent peer (half-open: it will never send or close) is dropped
        # by the server's read deadline
        silent = connect("silent")

        # every faulty connection was handled and closed: collect outcomes
        # while the good client keeps pinging
        collect(server, good, got, len(outcomes))
        for port, kind in outcomes.items():
            assert got[port] in EXPECTED[kind], (kind, got[port])
        assert silent.recv(1) == b""               # the server closed it
        silent.close()
        good.ping()
        assert fd_count() == fds_serving, "a descriptor leaked"
        good.sock.close()
        assert server.events.get(timeout=10)[1] == "EOF"
    finally:
        server.start_accepting.set()
        server.stop.set()
        server.join(10)
    assert not server.is_alive()
    assert server.error is None, server.error
    assert fd_count() == fds_before
