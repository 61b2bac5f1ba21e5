"""Each example started as a real process and checked with a real client."""

import http.client
import importlib.util
import os
import socket
import threading
import time

import pytest

import netpoll

from support import ROOT, ServerProcess, example, recv_all, recv_exactly

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


# -- http_server.py -------------------------------------------------------------

@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("http")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("file contents\n")
    (root / "sub" / "page.html").write_text("<p>hi</p>")
    (base / "secret.txt").write_text("SECRET")
    os.symlink(base / "secret.txt", root / "escape.txt")
    with ServerProcess(example("http_server", "--root", str(root), "--timeout", "1")) as server:
        yield server


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*server.address, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def raw(server, data, timeout=10.0):
    """Send raw bytes, then read the whole answer until the server closes."""
    with socket.create_connection(server.address, timeout=timeout) as s:
        s.sendall(data)
        return recv_all(s, timeout)


def test_http_hello_and_keep_alive(http_server):
    conn = http.client.HTTPConnection(*http_server.address, timeout=10)
    sockets = set()
    try:
        for _ in range(3):
            conn.request("GET", "/")
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, b"Hello, World!")
            assert r.getheader("Content-Length") == "13"
            sockets.add(conn.sock)
    finally:
        conn.close()
    assert len(sockets) == 1          # all three on one connection


def test_http_pipelining(http_server):
    reqs = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
    with socket.create_connection(http_server.address, timeout=10) as s:
        s.sendall(reqs)
        s.sendall(b"Connection: close\r\n\r\n")          # the last one split across writes
        answer = recv_all(s)
    assert answer.count(b"HTTP/1.1 200 OK") == 4
    assert answer.count(b"Hello, World!") == 3
    assert answer.endswith(b"file contents\n")


def test_http_files(http_server):
    status, headers, body = request(http_server, "GET", "/hello.txt")
    assert (status, body) == (200, b"file contents\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Content-Length"] == str(len(body))
    status, headers, body = request(http_server, "GET", "/sub/page.html?x=1")
    assert (status, body, headers["Content-Type"]) == (200, b"<p>hi</p>", "text/html")
    status, headers, body = request(http_server, "HEAD", "/hello.txt")
    assert (status, body, headers["Content-Length"]) == (200, b"", "14")
    assert request(http_server, "GET", "/missing.txt")[0] == 404
    assert request(http_server, "GET", "/sub")[0] == 404           # a directory
    assert request(http_server, "POST", "/", body=b"x")[0] == 405


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "//etc/passwd", "/%2Fetc%2Fpasswd",
    "/escape.txt", "/%00", "/%ff", "http://example.com/../secret.txt", "secret.txt",
])
def test_http_no_path_escape(http_server, target):
    answer = raw(http_server, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                 .encode())
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404), answer
    assert b"SECRET" not in answer and b"root:" not in answer


@pytest.mark.parametrize("data, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 10_000, 431),     # no end of head in sight
    (b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"b" * 2_000_000, 413),
])
def test_http_bad_requests(http_server, data, status):
    answer = raw(http_server, data)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    assert b"Connection: close" in answer


HELLO_200 = b"HTTP/1.1 200 OK\r\n"
HELLO_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: 13\r\n\r\nHello, World!")


@pytest.mark.parametrize("data, answers, close", [
    # heads that look almost like the fast path's plain `GET /` but are not
    (b"GET / HTTP/1.1\r\nHost: x\r\nCONNECTION: close\r\n\r\nGET / HTTP/1.1\r\n\r\n", 1, True),
    (b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 1, True),
    (b"GET / HTTP/1.1\r\ncontent-length: 5\r\n\r\nGET /"        # a body that looks
     b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 2, True),   # like a request
    (b"GET /?q=1 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nX-A: 1\r\nX-B:\r\n\r\n"
     b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 3, True),
])
def test_http_fast_path_boundaries(http_server, data, answers, close):
    answer = raw(http_server, data)
    assert answer.count(HELLO_200) == answers, answer
    assert answer.count(b"Hello, World!") == answers
    assert (b"Connection: close" in answer) == close


@pytest.mark.parametrize("data, status", [
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),                 # space before the colon
    (b"GET / HTTP/1.1\r\nHost: x\r\n: empty name\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n", 501),
])
def test_http_fast_path_leaves_errors_to_the_general_path(http_server, data, status):
    answer = raw(http_server, data)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]


def test_http_repeated_head_is_answered_like_the_first(http_server):
    """The server remembers the last plain head of a connection and answers
    the same bytes again without checking them: alone, pipelined, split
    across reads, and followed by a head that differs (asks to close)."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(http_server.address, timeout=10) as s:
        for send, answers in [
            ([head], 1),                   # checked and remembered
            ([head], 1),                   # the same bytes, alone
            ([head * 3], 3),               # the same bytes, pipelined
            ([head[:9], head[9:]], 1),     # split: not the same read
            ([head + head[:-2] + b"X-A: 1\r\n\r\n"], 2),   # a longer head after it
        ]:
            for part in send:
                s.sendall(part)
            answer = recv_exactly(s, len(HELLO_ANSWER) * answers)
            assert answer == HELLO_ANSWER * answers
        s.sendall(head + head[:-2] + b"Connection: close\r\n\r\n")
        answer = recv_all(s)
    assert answer.count(HELLO_200) == 2, answer
    assert answer.endswith(b"Connection: close\r\n\r\nHello, World!")


def test_http_pipelined_answers_are_written_in_bounded_batches():
    """However many pipelined requests one read holds, repeated heads or
    not, the answers go out in writes of at most MAX_BATCH (+ one answer)."""
    spec = importlib.util.spec_from_file_location(
        "http_server_example", os.path.join(ROOT, "examples",
                                            "http_server.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    class Recorder:
        def __init__(self):
            self.writes = []

        def write(self, data):
            self.writes.append(len(data))
            return len(data)

        def set_deadline(self, t):
            pass

    head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    buf = head * 3000
    for plain in (None, head):           # checked once then remembered, or remembered
        conn = Recorder()
        pos, close, remembered = mod.answer(conn, buf, "/", mod.Deadline(conn, 10.0), plain)
        assert (pos, close, remembered) == (len(buf), False, head)
        assert sum(conn.writes) == 3000 * len(mod.HELLO)
        assert len(conn.writes) > 1
        assert max(conn.writes) < mod.MAX_BATCH + len(mod.HELLO)


def test_http_pipelined_requests_split_anywhere(http_server):
    """50 pipelined requests sent 7 bytes at a time: each read ends inside a
    request, and every request is still answered once, in order."""
    reqs = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 49 + b"GET /hello.txt HTTP/1.1\r\n\r\n"
    with socket.create_connection(http_server.address, timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(reqs), 7):
            s.sendall(reqs[i:i + 7])
        s.shutdown(socket.SHUT_WR)
        answer = recv_all(s)
    assert answer.count(HELLO_200) == 50
    assert answer.count(b"Hello, World!") == 49
    assert answer.endswith(b"file contents\n")


def test_http_drops_idle_and_slowloris_clients(http_server):
    """--timeout 1: a client that sends nothing, or trickles a request byte by
    byte, is disconnected after about a second; a normal client is not
    affected."""
    idle = socket.create_connection(http_server.address, timeout=10)
    slow = socket.create_connection(http_server.address, timeout=10)
    start = time.monotonic()
    request_bytes = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: 1\r\n" * 100
    closed_after = None
    try:
        for i in range(len(request_bytes)):
            try:
                slow.send(request_bytes[i:i + 1])
            except OSError:                      # reset: dropped while we wrote
                closed_after = time.monotonic() - start
                break
            slow.settimeout(0.05)                # a byte every 50 ms, paced by recv
            try:
                if slow.recv(1024) == b"":
                    closed_after = time.monotonic() - start
                    break
            except TimeoutError:
                pass
        assert closed_after is not None and 0.9 <= closed_after < 3.0, closed_after
        assert recv_all(idle, timeout=5) == b""
        assert time.monotonic() - start < 3.5
        assert request(http_server, "GET", "/")[0] == 200
    finally:
        idle.close()
        slow.close()


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
