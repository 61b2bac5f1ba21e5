"""Response splitting: what the application puts in its status line and
headers cannot add a header or a second answer.  A CR or LF anywhere, a
header name that is not an HTTP token (a space, a colon: ``Content-Length ``
is not Content-Length to us but is to a lenient proxy), or a Content-Length
that is not all digits answers 500 and closes, and the error is logged."""

import pytest

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

BAD_HEADERS = {
    "LF in a value": ("200 OK", [("X-A", "a\nX-Injected: 1")]),
    "CRLF in a value": ("200 OK", [("X-A", "a\r\nX-Injected: 1")]),
    "CRLF in the status": ("200 OK\r\nX-Injected: 1", []),
    "CRLF in a name": ("200 OK", [("X-Injected: 1\r\nX-A", "a")]),
    "space in a name": ("200 OK", [("Content-Length ", "2")]),
    "colon in a name": ("200 OK", [("X-Injected: 1", "a")]),
    "empty name": ("200 OK", [("", "a")]),
    # int() takes these; a proxy reading the header as sent would not
    "Content-Length -1": ("200 OK", [("Content-Length", "-1")]),
    "Content-Length +2": ("200 OK", [("Content-Length", "+2")]),
    "Content-Length 0_2": ("200 OK", [("Content-Length", "0_2")]),
    "Content-Length with spaces": ("200 OK", [("Content-Length", " 2 ")]),
}


@pytest.mark.parametrize("name", BAD_HEADERS)
def test_bad_status_or_header_answers_500(http_serve, raw_http, name):
    status, headers = BAD_HEADERS[name]

    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/plain"), *headers])
        return [b"ok"]
    srv = http_serve(app, validate=False)     # wsgiref.validate would refuse them first
    answer = raw_http(srv.address, GET)
    assert answer.startswith(b"HTTP/1.1 500 "), answer
    assert b"X-Injected" not in answer and b"\r\n\r\nok" not in answer, answer
    assert b"Connection: close\r\n" in answer
    assert srv.errors, "the application's error was not logged"


def test_good_token_names_pass(http_serve, raw_http):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("X-Odd!#$%&'*+.^_`|~9", "v: with colon")])
        return [b"ok"]
    srv = http_serve(app, validate=False)
    answer = raw_http(srv.address, GET + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 2, answer
    assert b"\r\nX-Odd!#$%&'*+.^_`|~9: v: with colon\r\n" in answer
