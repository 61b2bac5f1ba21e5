"""Bad input and request smuggling: each gets the status docs/reference.md §6 names and
a closed connection; what follows a bad request is never answered as a
request; other connections are served meanwhile; no descriptor leaks.
Slow clients (slowloris, a slow uploader, a client that never reads) are
bounded by Go's timeouts."""

import socket
import threading
import time

import pytest

from support import open_fds, wait_until

GET = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def app(environ, start_response):
    n = 0
    while chunk := environ["wsgi.input"].read(65536):
        n += len(chunk)
    data = b"path=%s body=%d" % (environ["PATH_INFO"].encode("latin-1"), n)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


BAD = {
    "conflicting content-lengths": (
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc" + SMUGGLED, 400),
    "content-length with transfer-encoding": (
        b"POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n" + SMUGGLED, 400),
    "transfer-encoding gzip, chunked": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 501),
    "transfer-encoding gzip": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + SMUGGLED, 501),
    "transfer-encoding chunked twice": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
        400),
    "obs-fold": (b"GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n" + SMUGGLED, 400),
    "bare LF": (b"GET / HTTP/1.1\nHost: x\n\n" + SMUGGLED, 400),
    "bare LF in a header": (b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n" + SMUGGLED, 400),
    "space before colon": (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    "empty header name": (b"GET / HTTP/1.1\r\n: x\r\n\r\n", 400),
    "garbage": (b"GARBAGE\r\n\r\n", 400),
    "negative content-length": (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    "chunk size overflow": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n" + SMUGGLED,
        400),
    "bad chunk framing": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n" + SMUGGLED,
        400),
    "HTTP/2.0 request line": (b"GET / HTTP/2.0\r\n\r\n", 505),
    "header of 70 KiB": (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (70 << 10) + b"\r\n\r\n", 431),
    "header of 70 KiB, no end": (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (70 << 10), 431),
    "10,000 headers": (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i
                                                         for i in range(10_000)) + b"\r\n", 431),
    "request line of 1 MiB": (b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n", 431),
    "body over max_body_bytes": (b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 413),
    "trailer section of 70 KiB": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, b"t" * 100) for i in range(700)) + b"\r\n" + SMUGGLED,
        431),
    "trailer of 300 KiB, no end": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: " + b"t" * (300 << 10),
        431),
    "chunked body over max_body_bytes": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"b" * 1024
        + b"\r\n" + b"400\r\n" + b"b" * 1024 + b"\r\n0\r\n\r\n" + SMUGGLED, 413),
}


def read_answer(address, data):
    """Send ``data`` (a good request first), read until the server closes."""
    with socket.create_connection(address, timeout=10) as s:
        try:
            s.sendall(GET + data)
        except (BrokenPipeError, ConnectionResetError):
            pass                       # closed while we still sent: fine, read the answer
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize("name", BAD)
def test_bad_input_gets_its_status_and_a_closed_connection(http_serve, name):
    data, status = BAD[name]
    fds = len(open_fds())
    srv = http_serve(app, max_body_bytes=1500)
    with socket.create_connection(srv.address, timeout=10) as other:
        answer = read_answer(srv.address, data)
        # the good request before it was answered, then the status, then EOF
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
        assert b"path=/ok" in answer
        second = answer.split(b"path=/ok body=0", 1)[1]
        assert second.startswith(b"HTTP/1.1 %d " % status), second[:200]
        assert b"Connection: close\r\n" in second
        assert b"smuggled" not in answer
        # another connection, open all along, is served
        other.sendall(GET)
        assert b"path=/ok" in other.recv(65536)
    wait_until(lambda: srv.connections() == 0, what="the server to close both connections")
    srv.close()
    wait_until(lambda: len(open_fds()) <= fds, what="no descriptor leaked")


def test_trailer_fields_do_not_reach_the_environ(http_serve):
    """A chunked body's trailer fields come after the application has its
    environ: they are dropped, never merged into it (RFC 9110 6.5.1), so a
    client cannot add or change a header behind the application's back."""
    def trailer_app(environ, start_response):
        body = b""
        while chunk := environ["wsgi.input"].read(65536):
            body += chunk
        data = b"body=%s user=%r cookie=%r" % (
            body, environ.get("HTTP_X_USER"), environ.get("HTTP_COOKIE"))
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(data)))])
        return [data]
    srv = http_serve(trailer_app)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\nX-User: admin\r\n"
                  b"Cookie: role=admin\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answer.endswith(b"body=abc user=None cookie='a=1'"), answer


def test_transfer_encoding_with_bad_chunk_inside_the_app(http_serve):
    """Bad framing found inside the application's wsgi.input.read answers
    400 even though the application catches the error."""
    seen = []
    first_chunk = threading.Event()

    def catching(environ, start_response):
        try:
            while environ["wsgi.input"].read(100):
                first_chunk.set()
        except OSError as exc:
            seen.append(exc)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app answer"]
    srv = http_serve(catching)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        assert first_chunk.wait(10)     # the app reads the good chunk first, then waits
        s.sendall(b"zz\r\n" + SMUGGLED)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"app answer" not in answer and b"smuggled" not in answer
    assert len(seen) == 1 and getattr(seen[0], "status", None) == 400


def test_slowloris_is_closed_by_the_header_timeout(http_serve):
    srv = http_serve(app, read_header_timeout=0.5)
    start = time.monotonic()
    with socket.create_connection(srv.address, timeout=10) as silent, \
            socket.create_connection(srv.address, timeout=10) as slow:
        closed = None
        for byte in GET[:-2]:          # never the end of the head
            try:
                slow.send(bytes([byte]))
            except OSError:
                closed = time.monotonic() - start
                break
            slow.settimeout(0.2)       # a byte every 0.2 s, paced by recv
            try:
                if slow.recv(1024) == b"":
                    closed = time.monotonic() - start
                    break
            except TimeoutError:
                pass
        assert closed is not None and 0.4 <= closed < 5, closed
        silent.settimeout(10)
        assert silent.recv(1024) == b""        # never sent a byte: closed too
        # meanwhile and after, others are served
        with socket.create_connection(srv.address, timeout=10) as s:
            s.sendall(GET)
            assert b"path=/ok" in s.recv(65536)


def test_keep_alive_idle_timeout_closes(http_serve):
    srv = http_serve(app, idle_timeout=0.3)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(GET)
        assert b"path=/ok" in s.recv(65536)
        start = time.monotonic()
        assert s.recv(1024) == b""
        assert time.monotonic() - start < 5


def test_slow_uploader_bounded_by_read_timeout(http_serve):
    srv = http_serve(app, read_timeout=0.5)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
        start = time.monotonic()
        answer = b""
        try:
            for _ in range(50):
                s.sendall(b"x")
                s.settimeout(0.2)
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    continue
                answer += chunk
                if not chunk:
                    break
        except OSError:
            pass
        assert time.monotonic() - start < 8
        assert answer.startswith(b"HTTP/1.1 408 ") or answer == b"", answer


def test_client_that_never_reads_is_dropped_by_the_write_timeout(http_serve):
    big = b"x" * (16 << 20)

    def bigapp(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(big)))])
        return [big]
    fds = len(open_fds())
    srv = http_serve(bigapp, write_timeout=0.5)
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect(srv.address)
    hog.sendall(GET)
    wait_until(lambda: srv.connections() == 1, what="the hog to be served")
    with socket.create_connection(srv.address, timeout=10) as other:
        other.sendall(GET)
        assert other.recv(65536).startswith(b"HTTP/1.1 200 OK")
    wait_until(lambda: srv.connections() == 0, timeout=10,
               what="the non-reading client to be dropped")
    hog.close()
    srv.close()
    wait_until(lambda: len(open_fds()) <= fds, what="no descriptor leaked")
