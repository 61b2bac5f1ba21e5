"""netpoll.http.Server and HTTP/1.1 as clients expect it, under every
poller: keep-alive, pipelining, HTTP/1.0, request bodies streamed through
wsgi.input (Content-Length and chunked), chunked answers, 100-continue,
HEAD, Connection: close both ways, wsgi.file_wrapper, write(), close() on
the application's iterable, 500 for an application that raises.  Every
application is wrapped in wsgiref.validate.validator."""

import http.client
import json
import os
import socket
import threading

from support import recv_exactly


def echo_app(environ, start_response):
    """Answers what it saw: method, path, query, body (read in pieces)."""
    body = b""
    inp = environ["wsgi.input"]
    while chunk := inp.read(7):
        body += chunk
    data = json.dumps({
        "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"], "protocol": environ["SERVER_PROTOCOL"],
        "body": body.decode("latin-1"), "length": environ.get("CONTENT_LENGTH", ""),
        "host": environ.get("HTTP_HOST"), "x": environ.get("HTTP_X_MULTI"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


def get(address, method, path, body=None, headers=None):
    c = http.client.HTTPConnection(*address, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_keep_alive_and_environ(http_serve):
    srv = http_serve(echo_app)
    c = http.client.HTTPConnection(*srv.address, timeout=10)
    socks = set()
    try:
        for i in range(3):
            c.request("POST", f"/p%20q/{i}?a=1&b=%20", body=b"x" * i,
                      headers={"X-Multi": "1"})
            r = c.getresponse()
            got = json.loads(r.read())
            socks.add(c.sock)
            assert r.status == 200
            assert got["path"] == f"/p q/{i}" and got["query"] == "a=1&b=%20"
            assert got["body"] == "x" * i and got["protocol"] == "HTTP/1.1"
            assert r.getheader("Date")
    finally:
        c.close()
    assert len(socks) == 1                     # one connection for all three


def test_repeated_headers_are_joined(http_serve, raw_http):
    srv = http_serve(echo_app)
    answer = raw_http(srv.address, b"GET / HTTP/1.1\r\nHost: h\r\nX-Multi: a\r\n"
                      b"X-Multi: b\r\nX_Multi: spoofed\r\nConnection: close\r\n\r\n")
    got = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert got["x"] == "a,b"                   # the underscore spelling is dropped


def test_pipelining_answers_in_order(http_serve, answers):
    srv = http_serve(echo_app)
    reqs = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(20))
    reqs += b"POST /post HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    reqs += b"GET /last HTTP/1.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(srv.address, timeout=10) as s:
        for i in range(0, len(reqs), 11):        # split anywhere
            s.sendall(reqs[i:i + 11])
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    bodies = [json.loads(body) for _, _, body in answers(answer)]
    assert [b["path"] for b in bodies] == [f"/{i}" for i in range(20)] + ["/post", "/last"]
    assert bodies[20]["body"] == "hello"
    assert answer.count(b"Connection: close") == 1


def test_http10_closes_unless_keep_alive(http_serve, raw_http):
    srv = http_serve(echo_app)
    answer = raw_http(srv.address, b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
    assert answer.count(b"200 OK") == 1 and b"Connection: close" in answer
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head = s.recv(65536)
        assert b"Connection: keep-alive" in head
        s.sendall(b"GET /b HTTP/1.0\r\n\r\n")
        rest = b""
        while chunk := s.recv(65536):
            rest += chunk
    assert b'"/b"' in rest


def test_connection_close_from_client_and_from_app(http_serve, raw_http):
    srv = http_serve(echo_app)
    answer = raw_http(srv.address, b"GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n"
                                   b"GET /2 HTTP/1.1\r\n\r\n")
    assert answer.count(b"200 OK") == 1 and b"Connection: close\r\n" in answer

    def closing(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
        return [b"bye"]
    srv2 = http_serve(closing)
    answer = raw_http(srv2.address, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
    assert answer.count(b"200 OK") == 1 and answer.endswith(b"\r\n\r\nbye")


def test_chunked_request_body(http_serve, raw_http):
    srv = http_serve(echo_app)
    body = b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n"
    answer = raw_http(srv.address, b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                      b"Connection: close\r\n\r\n" + body)
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body"] == "wikipedia"


def test_input_readline_readlines_iteration(http_serve):
    seen = {}

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        seen["line"] = inp.readline()
        seen["part"] = inp.readline(3)
        seen["lines"] = inp.readlines()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    srv = http_serve(app)
    status, _, body = get(srv.address, "POST", "/", body=b"one\ntwothree\nfour\nfive")
    assert (status, body) == (200, b"ok")
    assert seen == {"line": b"one\n", "part": b"two", "lines": [b"three\n", b"four\n", b"five"]}

    def iterating(environ, start_response):
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d" % len(lines)]
    srv2 = http_serve(iterating, validate=False)    # the validator hides __iter__'s pieces
    assert get(srv2.address, "POST", "/", body=b"a\nb\nc\n")[2] == b"3"


def test_chunked_answer_when_no_length(http_serve):
    def gen(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        n = int(environ["QUERY_STRING"])
        return (b"part%d " % i for i in range(n))
    srv = http_serve(gen)
    status, headers, body = get(srv.address, "GET", "/?5")
    assert status == 200 and headers.get("Transfer-Encoding") == "chunked"
    assert body == b"part0 part1 part2 part3 part4 "
    # one piece only: it gets a length instead (Go does the same)
    status, headers, body = get(srv.address, "GET", "/?1")
    assert headers.get("Content-Length") == "6" and body == b"part0 "
    status, headers, body = get(srv.address, "GET", "/?0")
    assert headers.get("Content-Length") == "0" and body == b""


def test_write_callable_and_close_always_called(http_serve):
    closed = []

    class Body:
        def __init__(self, fail):
            self.fail = fail

        def __iter__(self):
            yield b"second"
            if self.fail:
                raise RuntimeError("boom in the middle")

        def close(self):
            closed.append(self.fail)

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"first ")
        return Body(environ["PATH_INFO"] == "/fail")
    srv = http_serve(app, validate=False)   # the validator forbids write()+iterable mixing checks
    assert get(srv.address, "GET", "/")[2] == b"first second"
    try:
        get(srv.address, "GET", "/fail")    # answer cut short: the client sees an error
    except http.client.HTTPException:
        pass
    assert closed == [False, True]
    assert any("boom in the middle" in line for line in srv.errors)


def test_app_raising_answers_500_and_logs(http_serve):
    def app(environ, start_response):
        raise ValueError("the application broke")
    srv = http_serve(app)
    status, headers, _ = get(srv.address, "GET", "/")
    assert status == 500 and headers["Connection"] == "close"
    assert any("the application broke" in line for line in srv.errors)


def test_head_has_no_body(http_serve, raw_http):
    srv = http_serve(echo_app)
    answer = raw_http(srv.address, b"HEAD /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n"
                                   b"Connection: close\r\n\r\n")
    first, second = answer.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"\r\n\r\n")               # headers only
    length = int(first.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert length > 0
    assert b'"/y"' in second


def test_expect_100_continue(http_serve):
    srv = http_serve(echo_app)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"POST /u HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert recv_exactly(s, 25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        data = s.recv(65536)
    assert b"200 OK" in data and b'"hello"' in data


def test_expect_100_continue_unread_closes(http_serve):
    """The app answers without reading the body: no 100 Continue is sent,
    the answer says Connection: close and the connection closes (the
    client may or may not send the body now)."""
    srv = http_serve(lambda e, sr: (sr("403 Forbidden", [("Content-Type", "text/plain")]),
                                    [b"no"])[1])
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"POST /u HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403 ") and b"100 Continue" not in answer
    assert b"Connection: close" in answer and answer.endswith(b"no")


def test_unread_body_is_discarded_and_connection_kept(http_serve):
    srv = http_serve(lambda e, sr: (sr("200 OK", [("Content-Type", "text/plain")]), [b"ok"])[1])
    c = http.client.HTTPConnection(*srv.address, timeout=10)
    try:
        for _ in range(2):
            c.request("POST", "/", body=b"z" * 100_000)
            r = c.getresponse()
            assert r.read() == b"ok" and not r.will_close
    finally:
        c.close()


def test_file_wrapper_sendfile(http_serve, tmp_path):
    data = os.urandom(3 << 20)
    (tmp_path / "f.bin").write_bytes(data)

    def app(environ, start_response):
        f = open(tmp_path / "f.bin", "rb")    # noqa: SIM115 -- closed by the server
        f.seek(10)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f)
    # Unwrapped, the server sees its FileWrapper: sendfile(2), with a length.
    srv = http_serve(app, validate=False)
    status, headers, body = get(srv.address, "GET", "/")
    assert status == 200 and body == data[10:]
    assert headers["Content-Length"] == str(len(data) - 10)
    # Wrapped by the validator, it is an iterable like any other.
    srv = http_serve(app)
    status, headers, body = get(srv.address, "GET", "/")
    assert status == 200 and body == data[10:]


def test_slow_uploader_parks_only_its_goroutine(http_serve):
    srv = http_serve(echo_app)
    with socket.create_connection(srv.address, timeout=10) as slow:
        slow.sendall(b"POST /slow HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc")
        for _ in range(3):                     # others are served meanwhile
            assert get(srv.address, "GET", "/other")[0] == 200
        slow.sendall(b"def")
        answer = slow.recv(65536)
    assert b'"abcdef"' in answer


def test_many_concurrent_clients(http_serve, hello_app):
    srv = http_serve(hello_app)
    results = []

    def client():
        c = http.client.HTTPConnection(*srv.address, timeout=10)
        for _ in range(20):
            c.request("GET", "/")
            results.append(c.getresponse().read())
        c.close()
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [b"Hello, World!"] * 160
