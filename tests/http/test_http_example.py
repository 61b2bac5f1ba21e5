"""examples/http_server.py, the example WSGI application, started as a real
process and checked with real clients: hello, files (no path escape), the
JSON and upload endpoints, and its limits (431, 413, 400, timeouts)."""

import hashlib
import http.client
import json
import os
import socket
import time

import pytest

from support import ServerProcess, example, recv_all


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
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
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


def test_http_pipelining_split_anywhere(http_server):
    reqs = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 49 + b"GET /hello.txt HTTP/1.1\r\n\r\n"
    with socket.create_connection(http_server.address, timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(reqs), 7):
            s.sendall(reqs[i:i + 7])
        s.shutdown(socket.SHUT_WR)
        answer = recv_all(s)
    assert answer.count(b"HTTP/1.1 200 OK") == 50
    assert answer.count(b"Hello, World!") == 49
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


def test_http_json_and_upload(http_server):
    status, headers, body = request(http_server, "GET", "/api/echo?name=go&x=1",
                                    headers={"User-Agent": "t"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    got = json.loads(body)
    assert got["query"] == {"name": "go", "x": "1"} and got["user_agent"] == "t"
    data = os.urandom(700_000)
    status, _, body = request(http_server, "POST", "/upload", body=data)
    assert json.loads(body) == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert request(http_server, "GET", "/upload")[0] == 405


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
    (b"POST /upload HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"b" * 2_000_000, 413),
    (b"GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),                 # space before the colon
])
def test_http_bad_requests(http_server, data, status):
    answer = raw(http_server, data)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    assert b"Connection: close" in answer


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
