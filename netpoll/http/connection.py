"""One HTTP/1.x connection: parse requests, call the WSGI application,
write the answers (Go: net/http/server.go, ``conn.serve`` and ``response``).

A goroutine per connection runs ``Connection.serve``: a loop of "wait for a
request, answer it".  Bytes read from the socket go to httptools' parser
(llhttp, the parser of Node.js and uvicorn), whose callbacks build each
request's environ as its head arrives and queue it; pipelined requests
queue up behind the one being answered and are answered in order.  Nothing
is read ahead beyond one ``read``: the body of the request being answered
is parsed only when the application reads ``wsgi.input`` (see body.py).

Timeouts are Go's, all on the connection's read and write deadlines:

* ``read_header_timeout``: a request head must arrive within it, from the
  accept for the first request, from its first byte for later ones; a
  connection that never sends a byte is closed too.
* ``read_timeout``: the whole request, head and body, from its first byte.
* ``write_timeout``: answering, from the end of the request's head.
* ``idle_timeout``: waiting for the next request of a keep-alive
  connection (``read_timeout`` if None, as in Go).

Bad input gets a status and a closed connection (``fail``): 400 malformed
or conflicting framing (llhttp rejects Content-Length with
Transfer-Encoding, duplicate lengths, obs-fold, bare LF, chunk size
overflow), 431 head over ``max_header_bytes`` or over ``MAX_HEADERS``
fields, 413 body over ``max_body_bytes``, 501 a transfer coding other than
``chunked``, 505 an HTTP major version other than 1.  Requests queued
before the bad one are answered first; nothing after it is.

The per-request path is the benchmarks' hot path; the speed tricks are
labelled where they are.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
    parse_url,
)

from ..errors import DeadlineExceededError
from .body import EMPTY, BodyError, FileWrapper, Input, _Empty

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from ..net import Conn as NetConn
    from ..tls import Conn as TLSConn
    from .server import Server

# At most this many header fields in one request head (431 beyond).
MAX_HEADERS = 1000
# An unread request body up to this size is read and discarded after the
# answer so the connection can be kept; a larger one closes it (Go: 256 KiB).
MAX_DRAIN = 256 * 1024
# How long the error answer's connection is drained before it closes, so
# that unread input does not make the kernel reset the answer away.
LINGER = 1.0
READ_SIZE = 65536

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 408: "Request Timeout",
    413: "Content Too Large", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented",
    505: "HTTP Version Not Supported",
}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

# -- cached conversions (speed: bounded caches of names, never of requests) --

# Header name as sent -> environ key, or None for a name WSGI cannot carry
# unambiguously (an underscore would collide with a dash: dropped, as nginx
# and gunicorn do).
_HEADER_KEYS: dict[bytes, str | None] = {
    b"Content-Type": "CONTENT_TYPE", b"Content-Length": "CONTENT_LENGTH",
    b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
_MAX_CACHED = 1024


def _header_key(name: bytes) -> str | None:
    text = name.decode("latin-1")
    if "_" in text:
        key = None
    else:
        key = text.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
    if len(_HEADER_KEYS) < _MAX_CACHED:
        _HEADER_KEYS[name] = key
    return key


_METHODS: dict[bytes, str] = {}              # b"GET" -> "GET"


# The Date header, formatted once a second (speed): valid until _date_next.
_date = ""
_date_next = 0.0
_time = time.time


def _date_line() -> str:
    """``Date: ...`` for now (no CRLF)."""
    global _date, _date_next
    now = _time()
    if now >= _date_next:
        sec = int(now)
        _date = "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(sec))
        _date_next = sec + 1.0
    return _date


class HTTPError(Exception):
    """Raised in a parser callback: answer ``status`` and close."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def error_answer(status: int) -> bytes:
    """The whole answer for an error status, closing the connection."""
    reason = REASONS.get(status, "Error")
    body = f"{status} {reason}\n"
    return (f"HTTP/1.1 {status} {reason}\r\n{_date_line()}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n{body}").encode("latin-1")


# Response header name as the app spells it -> what the server does with
# it: 0 pass it on, 1 Content-Length, 2 Connection, 3 Transfer-Encoding
# (ours to set), 4 Date.  A bounded cache of names (speed: one dict lookup
# per header instead of lower() and a set test).
_KINDS: dict[str, int] = {}
_KIND_OF = {"content-length": 1, "connection": 2, "transfer-encoding": 3, "date": 4}


# An HTTP field name (RFC 9110 5.1): a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _kind(name: str) -> int:
    """The kind of a response header name not seen before; ValueError for
    a name that is not a token (``Content-Length `` would pass our framing
    and reach a lenient proxy as Content-Length)."""
    if type(name) is not str or not _TOKEN.fullmatch(name):
        raise ValueError(f"bad response header name: {name!r}")
    kind = _KIND_OF.get(name.lower(), 0)
    if len(_KINDS) < _MAX_CACHED:
        _KINDS[name] = kind
    return kind


# Statuses whose answers have no body.
_BODYLESS = frozenset({"100", "101", "102", "103", "204", "304"})
# Pipelined answers are gathered into one write up to this size.
MAX_BATCH = 65536


class Connection:
    """The state of one connection: its parser, the queued requests, the
    answer being written."""

    __slots__ = (
        "server", "conn", "parser", "queue", "base", "env", "url", "body",
        "in_head", "head_size", "head_raw", "plain", "dead", "body_dl", "completed",
        "pending", "pending_size", "timeouts", "error", "closing", "idle", "served",
        "rdl", "max_header", "max_body", "chunk_at", "trailer_raw",
        # the answer being written
        "status", "headers", "sent", "keep", "chunked", "no_body", "left", "renv", "rinp",
    )

    server: Server
    conn: NetConn | TLSConn
    parser: HttpRequestParser
    queue: deque[tuple[WSGIEnvironment, bool]]
    base: WSGIEnvironment
    # env is None only between heads, when no header callback runs.
    env: WSGIEnvironment
    url: bytes
    # The Input being filled, EMPTY or None: Any, as the parser calls
    # on_body only while it is an Input, which a checker cannot see.
    body: Any
    in_head: bool
    head_size: int
    head_raw: int
    plain: bool
    dead: bool
    body_dl: float | None
    completed: int
    pending: list[bytes]
    pending_size: int
    timeouts: bool
    error: int
    closing: bool
    idle: bool
    served: int
    rdl: float | None
    max_header: int
    max_body: int | None
    # the answer being written (status is set by start_response before
    # make_head and write run, which test it first)
    status: str | None
    headers: list[tuple[str, str]]
    sent: bool
    keep: bool
    chunked: bool
    no_body: bool
    left: int | None
    renv: WSGIEnvironment
    rinp: Input | _Empty

    def __init__(self, server: Server, conn: NetConn | TLSConn,
                 base: WSGIEnvironment) -> None:
        self.server = server
        self.conn = conn
        self.parser = HttpRequestParser(self)
        self.queue = deque()     # (environ, keep-alive) of parsed heads, in order
        self.base = base         # the environ keys common to this connection
        self.env = None          # type: ignore[assignment]  # the environ of the head being parsed
        self.url = b""
        self.body = None         # the Input the parser is filling
        self.in_head = False     # a head has begun and not ended
        self.head_size = 0
        self.head_raw = 0
        self.pending = []        # answers not written yet (pipelined requests follow)
        self.pending_size = 0
        # any of the timeouts that need a deadline per request
        self.timeouts = server.write_timeout is not None or server.read_timeout is not None
        self.plain = server.tls_context is None
        self.completed = 0       # requests parsed whole so far
        self.dead = False        # our socket failed: no answer can be sent
        self.body_dl = None      # the read deadline of the body being read
        self.error = 0           # a status to answer once the queue is empty
        self.closing = False     # answer the queued requests, then close
        self.idle = False        # waiting for a request's first byte
        self.served = 0
        self.rdl = None          # the read deadline last set
        self.max_header = server.max_header_bytes
        self.max_body = server.max_body_bytes
        self.chunk_at = -1       # body bytes parsed at the last chunk header
        self.trailer_raw = 0     # bytes read wholly inside a trailer section
        self.status = None
        self.sent = False

    # -- parser callbacks (llhttp -> httptools -> here) ------------------------

    # The head's size is checked where it ends (on_headers_complete) and,
    # for a head that spans reads, after each read (feed): not per header.

    def on_message_begin(self) -> None:
        # speed: one dict copy gives every constant key of the environ
        self.env = self.base.copy()
        self.url = b""
        self.in_head = True
        self.head_size = 0
        self.head_raw = -1       # the head began in the read being parsed

    def on_url(self, url: bytes) -> None:
        self.url += url          # may come in pieces when the line spans reads

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if not self.in_head:
            # A trailer field of a chunked body: the application already
            # has the environ, so it is dropped, never merged (RFC 9110
            # 6.5.1).  Head and trailer fields share max_header_bytes; an
            # unfinished trailer field is bounded in feed().
            if self.head_size > self.max_header:
                raise HTTPError(431)
            return
        key = _HEADER_KEYS.get(name, 0)
        if key == 0:
            key = _header_key(name)
        if key:
            text = value.decode("latin-1")
            # speed: one lookup for the common case, a header seen once
            old = self.env.setdefault(key, text)   # type: ignore[arg-type]  # key: a str by now
            if old is not text:
                self.env[key] = old + ("; " if key == "HTTP_COOKIE" else ",") + text  # type: ignore[index]

    def on_headers_complete(self) -> None:
        self.in_head = False
        env = self.env
        url = self.url
        if self.head_size + len(url) > self.max_header or len(env) > MAX_HEADERS:
            raise HTTPError(431)
        parser = self.parser
        version = parser.get_http_version()
        if version == "1.1":
            env["SERVER_PROTOCOL"] = "HTTP/1.1"
        elif version[:2] == "1.":
            env["SERVER_PROTOCOL"] = "HTTP/" + version
        else:
            raise HTTPError(505)
        method = parser.get_method()
        try:
            env["REQUEST_METHOD"] = _METHODS[method]
        except KeyError:
            env["REQUEST_METHOD"] = _METHODS[method] = method.decode("ascii")
        if url[:1] != b"/":
            self._absolute_url(env, url)
        else:
            path, q, query = url.partition(b"?")
            if b"%" in path:
                path = unquote_to_bytes(path)
            env["PATH_INFO"] = path.decode("latin-1")
            if q:
                env["QUERY_STRING"] = query.decode("latin-1")
        if "CONTENT_LENGTH" in env or "HTTP_TRANSFER_ENCODING" in env:
            inp = self._body(env)
        else:
            inp = EMPTY
        env["wsgi.input"] = inp
        self.body = inp
        self.queue.append((env, parser.should_keep_alive()))

    def _body(self, env: WSGIEnvironment) -> Input | _Empty:
        """The wsgi.input of a request that says it has a body."""
        expect = env.get("HTTP_EXPECT", "").lower() == "100-continue"
        if "HTTP_TRANSFER_ENCODING" in env:
            if env["HTTP_TRANSFER_ENCODING"].strip().lower() != "chunked":
                raise HTTPError(501)       # gzip, chunked; identity; ...
            return Input(self, expect)
        length = int(env["CONTENT_LENGTH"])    # llhttp checked the digits
        if self.max_body is not None and length > self.max_body:
            raise HTTPError(413)
        return Input(self, expect) if length else EMPTY

    def _absolute_url(self, env: WSGIEnvironment, url: bytes) -> None:
        if url == b"*":
            env["PATH_INFO"] = ""
            return
        try:
            u = parse_url(url)
        except HttpParserError:
            raise HTTPError(400) from None
        path = u.path or b"/"
        env["PATH_INFO"] = (unquote_to_bytes(path) if b"%" in path else path).decode("latin-1")
        if u.query:
            env["QUERY_STRING"] = u.query.decode("latin-1")

    def on_body(self, data: bytes) -> None:
        inp = self.body
        inp.received += len(data)
        if self.max_body is not None and inp.received > self.max_body:
            raise HTTPError(413)          # a chunked body grew too large
        inp.buf += data

    def on_chunk_header(self) -> None:
        # Maybe the last chunk (size 0), with a trailer section after it.
        self.chunk_at = self.body.received
        self.trailer_raw = 0

    def on_message_complete(self) -> None:
        self.chunk_at = -1
        body = self.body
        if body is not EMPTY:
            body.done = True
        self.body = None
        self.completed += 1

    # -- reading ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse ``data``; a parse error is kept (``error`` or the body's)
        to be answered in order."""
        completed = self.completed
        chunk_at = self.chunk_at
        try:
            self.parser.feed_data(data)
        except HttpParserCallbackError as exc:
            ctx = exc.__context__
            self._failed(ctx.status if isinstance(ctx, HTTPError) else 400, exc)
        except HttpParserUpgrade:
            self.closing = True      # no protocol switch: answer, then close
        except HttpParserError as exc:
            self._failed(400, exc)
        else:
            # A head that has not ended yet: httptools holds an unfinished
            # header line we have not been told about, so count the raw
            # bytes too: in the read where the head began, what the
            # callbacks saw; in every later read, all of it (all head).
            if self.in_head:
                raw = self.head_raw
                if raw >= 0:
                    raw += len(data)
                elif self.completed != completed:
                    raw = self.head_size    # after pipelined requests: what we saw
                else:
                    raw = len(data)         # the read holds this head only

                self.head_raw = raw
                if raw > self.max_header:
                    self._failed(431, None)
            elif chunk_at >= 0 and chunk_at == self.chunk_at and self.body.received == chunk_at:
                # Since a chunk header seen in an earlier read, no body byte
                # and no end: all of this read is trailer section, which
                # httptools buffers field by field.  Bounded like a head.
                self.trailer_raw += len(data)
                if self.trailer_raw > self.max_header:
                    self._failed(431, None)

    def _failed(self, status: int, exc: BaseException | None) -> None:
        body = self.body
        if body is not None and body is not EMPTY and not body.done:
            # the body of a queued request broke: that request answers it
            body.error = BodyError(status, f"bad request body: {exc}" if exc else
                                   "request body too large")
            self.body = None
        else:
            self.error = status
        self.closing = True
        self.in_head = False

    def fill_body(self, inp: Input) -> None:
        """Read and parse more of ``inp``, the body of the request being
        answered (called by ``Input`` when its buffer runs out)."""
        conn = self.conn
        if self.pending:
            self.flush()             # the client may wait for them before sending more
        if inp.expect:
            inp.expect = False
            if not self.sent:
                conn.write(CONTINUE)
        if self.rdl != self.body_dl:
            self.rdl = self.body_dl
            conn.set_read_deadline(self.body_dl)
        try:
            data = conn.read(READ_SIZE)
        except DeadlineExceededError:
            inp.error = BodyError(408, "request body read timeout")
            self.closing = True
            return
        except OSError as exc:
            inp.error = BodyError(400, f"reading the request body: {exc}")
            self.closing = self.dead = True
            return
        if not data:
            inp.error = BodyError(400, "the client closed before the end of the body")
            self.closing = True
            return
        self.feed(data)

    def wait_request(self) -> bool:
        """Read until a request is queued; False if the connection is done
        (EOF, a timeout, an error answered, shutting down)."""
        conn = self.conn
        srv = self.server
        queue = self.queue
        while not queue:
            if self.error or self.closing:
                if self.error:
                    self.fail(self.error)
                return False
            if not self.in_head:
                # Nothing of the next request yet: idle (Go: StateIdle).
                if srv.shutting_down:
                    return False
                t = srv.idle_timeout if self.served else srv.header_timeout
                if t is not None:
                    d = time.monotonic() + t
                    # speed: an idle deadline moves later only once it is a
                    # tenth of the timeout old (it may be up to 10 % early);
                    # earlier (an idle timeout shorter than the header
                    # timeout set at accept) always
                    if self.rdl is None or d < self.rdl or d - self.rdl > t * 0.1:
                        self.rdl = d
                        conn.set_read_deadline(d)
                elif self.rdl is not None:
                    self.rdl = None
                    conn.set_read_deadline(None)
                self.idle = True     # (a read that raises ends the connection)
                data = conn.read(READ_SIZE)
                self.idle = False
                if not data:
                    return False
                self.feed(data)
                if self.in_head and self.served and srv.header_timeout is not None:
                    # the head began and did not end: it has the header
                    # timeout from now (the first one's counts from accept)
                    self.rdl = d = time.monotonic() + srv.header_timeout
                    conn.set_read_deadline(d)
            else:
                data = conn.read(READ_SIZE)
                if not data:
                    return False
                self.feed(data)
        return True

    # -- the request loop ------------------------------------------------------

    def serve(self) -> None:
        """Answer requests until the connection ends."""
        conn = self.conn
        srv = self.server
        queue = self.queue
        app = srv.app
        try:
            while queue or self.wait_request():
                env, keep = queue.popleft()
                if self.closing and not queue and not self.error:
                    keep = False     # an upgrade or broken body follows: close after
                if self.timeouts:
                    if srv.write_timeout is not None:
                        conn.set_write_deadline(time.monotonic() + srv.write_timeout)
                    if srv.read_timeout is not None:
                        self.body_dl = time.monotonic() + srv.read_timeout
                if not self.respond(app, env, keep) or srv.shutting_down:
                    return
                self.served += 1
        except OSError:
            pass                     # a timeout (Go: no answer), reset, closed by shutdown
        finally:
            if self.pending and not self.dead:
                try:
                    self.flush()
                except OSError:
                    pass
            conn.close()

    def respond(self, app: WSGIApplication, env: WSGIEnvironment, keep: bool) -> bool:
        """Run the application for one request and write its answer.
        Returns whether the connection is kept for the next request."""
        inp = env["wsgi.input"]
        if inp.error is not None:        # its body is already known to be broken
            self.fail(inp.error.status)
            return False
        self.status = None
        self.sent = False
        self.keep = keep
        self.chunked = False
        self.left = None
        self.renv = env
        self.rinp = inp                  # (the app may replace env["wsgi.input"])
        result = None
        try:
            result = app(env, self.start_response)
            if inp.error is not None:
                raise inp.error          # the app caught it: its answer is not sent
            if type(result) is list and self.status is not None and not self.sent:
                # speed: the common answer, a list of byte strings: head and
                # body go out in one write
                n = len(result)
                body = result[0] if n == 1 else b"".join(result)
                head = self.make_head(len(body))
                if not self.no_body:
                    left = self.left
                    if left is not None and left != len(body):
                        self.keep = False    # declared length and body disagree
                        body = body[:left]
                    head += body
                # speed: answers to pipelined requests already parsed are
                # gathered into one write (the order is kept)
                if self.queue and self.keep and self.pending_size < MAX_BATCH:
                    self.pending.append(head)
                    self.pending_size += len(head)
                else:
                    self.out(head)
            elif type(result) is FileWrapper and self.can_sendfile(result):
                self.send_file(result)
            else:
                # Hold the first piece back: if it is the only one, the
                # answer gets a Content-Length and goes out in one write
                # (Go buffers the start of a body the same way).
                first = None
                for data in result:
                    if data:
                        if first is None and not self.sent:
                            first = data
                            continue
                        if first is not None:
                            self.write(first)
                            first = None
                        self.write(data)
                if not self.sent:
                    if self.status is None:
                        raise AssertionError("the application did not call start_response")
                    n = 0 if first is None else len(first)
                    head = self.make_head(n)
                    if self.left is not None and self.left != n and not self.no_body:
                        self.keep = False
                        first = first[:self.left] if first else first
                    self.out(head if self.no_body or not first else head + first)
                    self.left = None
                if self.chunked:
                    self.out(b"0\r\n\r\n")
                elif self.left:
                    self.keep = False    # shorter than its Content-Length
        except BodyError:
            pass                             # answered below with its status
        except Exception:
            if self.dead:
                raise                        # our socket failed: nothing to answer
            self.app_error(env)
            return False
        finally:
            if type(result) is not list and hasattr(result, "close"):
                try:
                    result.close()             # type: ignore[union-attr]  # not None: hasattr
                except Exception:
                    self.log_exception(env)
                    self.keep = False
        if srv_log := self.server.access_log:
            srv_log(env, self.status, self.sent)
        if inp.error is not None:
            if not self.sent:
                self.fail(inp.error.status)
            return False
        if not inp.done:
            return self.keep and self.discard(inp)
        return self.keep

    def out(self, data: bytes) -> None:
        """Write to the client (after the answers gathered in ``pending``);
        a failure marks the connection dead, so an OSError from it is not
        taken for the application's."""
        pending = self.pending
        if pending:
            pending.append(data)
            data = b"".join(pending)
            pending.clear()
            self.pending_size = 0
        try:
            self.conn.write(data)
        except OSError:
            self.dead = True
            raise

    def flush(self) -> None:
        if self.pending:
            self.out(b"")

    def discard(self, inp: Input) -> bool:
        """Read and drop the unread rest of a body (up to MAX_DRAIN) so the
        connection can be reused; False if it cannot be."""
        if inp.expect:
            return False              # the client may still be waiting to send it
        limit = inp.received + MAX_DRAIN
        while not inp.done:
            inp.buf.clear()
            if inp.received > limit:
                return False
            self.fill_body(inp)
            if inp.error is not None:
                return False
        inp.buf.clear()
        return True

    # -- answering -------------------------------------------------------------

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: OptExcInfo | None = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])  # type: ignore[union-attr]
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        self.status = status
        self.headers = headers
        return self.write

    def make_head(self, length: int | None) -> bytes:
        """The status line and headers of the answer, as bytes; ``length``
        is the body's length if known, else None (chunked or close)."""
        status: str = self.status   # type: ignore[assignment]  # set: callers test it
        lines = ["HTTP/1.1 " + status]        # joined with CRLF at the end
        append = lines.append
        declared = None
        has_date = False
        for name, value in self.headers:
            kind = _KINDS.get(name)
            if kind is None:
                kind = _kind(name)
            if kind:
                if kind == 1:
                    declared = value
                elif kind == 2:
                    if "close" in value.lower():
                        self.keep = False
                    continue                 # ours to set
                elif kind == 3:
                    continue                 # ours to set (hop-by-hop)
                else:
                    has_date = True
            append(f"{name}: {value}")
        env = self.renv
        if status[:3] in _BODYLESS:
            bodyless = no_body = True
        else:
            bodyless = False
            no_body = env["REQUEST_METHOD"] == "HEAD"
        self.no_body = no_body
        if declared is not None:
            # Digits only: int() also takes "-1", "+2", " 2 " and "0_2",
            # which go out as written and frame the body differently for
            # whoever reads them next.
            if not (type(declared) is str and declared.isascii() and declared.isdigit()):
                raise ValueError(f"bad Content-Length header: {declared!r}")
            self.left = int(declared)
        elif length is not None:
            # HEAD: the length of the body a GET would get, if the app gave one
            if not no_body or (length and not bodyless):
                append(f"Content-Length: {length}")
        elif not no_body:
            if env["SERVER_PROTOCOL"] == "HTTP/1.1":
                self.chunked = True
                append("Transfer-Encoding: chunked")
            else:
                self.keep = False            # HTTP/1.0: the end of the body is the close
        if not has_date:
            append(_date if _time() < _date_next else _date_line())
        # Go: doKeepAlives() is false once shutting down; and an answer
        # sent while 100-continue is owed leaves the body's fate unknown.
        if self.keep and (self.server.shutting_down or self.rinp.expect):
            self.keep = False
        if not self.keep:
            append("Connection: close")
        elif env["SERVER_PROTOCOL"] != "HTTP/1.1":
            append("Connection: keep-alive")
        append("\r\n")
        head = "\r\n".join(lines)
        # No CR or LF inside a header (response splitting): count them in
        # C instead of testing every value (speed).
        n = len(lines)
        if head.count("\n") != n or head.count("\r") != n:
            self._check_lines(lines)
        self.sent = True
        return head.encode("latin-1")

    def _check_lines(self, lines: list[str]) -> None:
        # The lines as the application gave them, not the joined head: a
        # CRLF inside a value would split into two clean-looking lines.
        for line in lines[:-1]:
            if "\r" in line or "\n" in line:
                raise ValueError(f"CR or LF inside a response header: {line!r}")

    def write(self, data: bytes) -> None:
        """The ``write`` callable of start_response, and the body writer."""
        if not self.sent:
            if self.status is None:
                raise AssertionError("write() before start_response()")
            head = self.make_head(None)
        else:
            head = None
        if self.left is not None:
            if len(data) > self.left:
                data = data[:self.left]      # more than its Content-Length
                self.keep = False
            self.left -= len(data)
        if self.no_body or not data:
            if head:
                self.out(head)
            return
        if self.chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        self.out(head + data if head else data)

    def can_sendfile(self, wrapper: FileWrapper) -> bool:
        """sendfile(2) needs a plain socket and a regular file."""
        if not self.plain or self.sent or self.status is None:
            return False
        try:
            return stat.S_ISREG(os.fstat(wrapper.filelike.fileno()).st_mode)
        except (AttributeError, OSError, ValueError):
            return False

    def send_file(self, wrapper: FileWrapper) -> None:
        """Answer with a file: the head, then sendfile(2) from the file's
        current position to its end (or the declared length)."""
        f = wrapper.filelike
        fileno = f.fileno()
        offset = f.tell() if hasattr(f, "tell") else 0
        size = max(os.fstat(fileno).st_size - offset, 0)
        head = self.make_head(size)
        count = size if self.left is None else min(size, self.left)
        self.out(head)
        if self.no_body or count <= 0:
            return
        try:
            sent = self.conn.fd.sendfile(fileno, offset, count)  # type: ignore[union-attr]  # plain: a net.Conn
        except OSError:
            self.dead = True
            raise
        if self.left is not None:
            self.left -= sent
            if self.left:
                self.keep = False

    def app_error(self, env: WSGIEnvironment) -> None:
        """The application raised: log it; 500 if nothing was sent."""
        self.log_exception(env)
        if not self.sent:
            self.status = "500 Internal Server Error"
            try:
                self.out(error_answer(500))
            except OSError:
                pass

    def log_exception(self, env: WSGIEnvironment) -> None:
        errors = env.get("wsgi.errors") or sys.stderr
        try:
            errors.write(f"netpoll.http: error in the application serving "
                         f"{env.get('REQUEST_METHOD')} {env.get('PATH_INFO')}:\n")
            errors.write(traceback.format_exc())
            errors.flush()
        except Exception:
            pass

    def fail(self, status: int) -> None:
        """Answer a bad request with ``status``, then close: stop reading
        new requests, and drain the client's input for a moment so the
        kernel does not reset the answer away."""
        self.status = str(status)
        conn = self.conn
        try:
            self.flush()
            conn.set_write_deadline(time.monotonic() + LINGER)
            conn.write(error_answer(status))
            conn.close_write()
            deadline = time.monotonic() + LINGER
            conn.set_read_deadline(deadline)
            drained = 0
            while drained < 4 * READ_SIZE * 16 and (data := conn.read(READ_SIZE)):
                drained += len(data)
        except OSError:
            pass

