"""An HTTP/1.1 server: keep-alive, pipelining, static files, limits, deadlines.

    python examples/http_server.py --listen 127.0.0.1:8080 --root ./public
    curl -i http://127.0.0.1:8080/            # Hello, World!
    curl -i http://127.0.0.1:8080/notes.txt   # ./public/notes.txt

One goroutine per connection reads requests with plain blocking calls.
Pipelined requests that arrive together are answered with one write.
GET (and HEAD) of ``/`` answers ``Hello, World!``; any other path is a file
under ``--root`` (``..``, encoded or not, and symlinks leading outside get
404).  Malformed requests get 400, oversized heads 431, oversized bodies
413, then the connection closes.  A request must arrive whole within
``--timeout`` seconds of its start (and an idle keep-alive connection is
dropped after as long), so a client trickling bytes (slowloris) cannot hold
a goroutine forever; each write of answers must be taken by the client
within as long, so a client that never reads is dropped too.  (Deadlines
are renewed lazily, so "as long" may be up to a tenth shorter.)  Answers to
pipelined requests are written as they are built (small ones batched up to
64 KiB), so a connection holds at most one large answer in memory.
"""

import argparse
import mimetypes
import os
import re
import time
from urllib.parse import unquote

import netpoll
from netpoll import net
from netpoll.server import serve   # accept loop; backs off on EMFILE like Go's http.Server

MAX_HEAD = 8192            # request line + headers
MAX_BODY = 1 << 20
MAX_BATCH = 64 * 1024      # pipelined answers gathered into one write, at most
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 505: "HTTP Version Not Supported"}


class HTTPError(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def response(status, body=b"", content_type="text/plain; charset=utf-8", close=False,
             head_only=False):
    connection = "Connection: close\r\n" if close else ""
    head = (f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{connection}\r\n").encode()
    return head if head_only else head + body


HELLO = response(200, b"Hello, World!")
ONLY_HELLO = [HELLO]

# The fast path.  The request a benchmark sends over and over is a plain
# ``GET / HTTP/1.1`` with a few ordinary headers, and parsing it in Python --
# decoding, splitting lines, a dict of headers, a Request object -- costs
# about as much CPU as the network round trip.  One regular expression checks
# such a head whole at C speed instead, and finds where it ends: the request
# line, header lines of the form ``Name: value`` (none of the three that
# change how the request is read or answered), the empty line.  Anything it
# does not match (other targets, bodies, ``Connection``, HTTP/1.0, malformed
# or incomplete heads) takes the general path below, which decides what to
# answer.
PLAIN_HELLO_REQUEST = re.compile(rb"""
    GET\ /\ HTTP/1\.1
    (?: \r\n (?! (?i: content-length | transfer-encoding | connection ) : )
        [!-9;-~]+ : [^\r\n]*          # a header line: token name, colon, value
    )*
    \r\n\r\n""", re.VERBOSE)


class Request:
    __slots__ = ("method", "target", "version", "headers", "body", "close")

    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version = method, target, version
        self.headers, self.body = headers, body
        # HTTP/1.1 keeps the connection open unless asked not to; HTTP/1.0
        # keep-alive is not worth supporting here.
        self.close = version == "HTTP/1.0" or "close" in headers.get("connection", "").lower()


def parse_head(head):
    """Request line and headers -> (method, target, version, headers)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise HTTPError(400)
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPError(505 if version.startswith("HTTP/") else 400)
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HTTPError(400)
        headers[name.lower()] = value.strip()
    return method, target, version, headers


def parse_request(buf, pos, end):
    """The general path: ``(request, where it ends)`` for the request whose
    head is ``buf[pos:end]``, or ``(None, pos)`` if its body is not all
    buffered yet."""
    method, target, version, headers = parse_head(buf[pos:end])
    if "transfer-encoding" in headers:
        raise HTTPError(501)     # chunked request bodies are not supported
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise HTTPError(400)
    length = int(length)
    if length > MAX_BODY:
        raise HTTPError(413)
    start = end + 4
    if len(buf) - start < length:
        return None, pos
    return Request(method, target, version, headers, buf[start:start + length]), start + length


def resolve(root, target):
    """The file under ``root`` that ``target`` names; HTTPError if none may."""
    if not target.startswith("/"):
        raise HTTPError(400)     # absolute-form ("http://...") or garbage
    try:
        path = unquote(target.partition("?")[0], errors="strict")
    except UnicodeDecodeError:
        raise HTTPError(400) from None
    if "\0" in path:
        raise HTTPError(400)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HTTPError(404)
    real = os.path.realpath(os.path.join(root, *parts))
    if not real.startswith(root + os.sep):
        raise HTTPError(404)     # the root itself, or a symlink leading outside
    return real


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def respond(req, root):
    """The response bytes for one request."""
    head_only = req.method == "HEAD"
    if req.method not in ("GET", "HEAD"):
        return response(405, b"only GET and HEAD\n", close=req.close)
    if req.target.partition("?")[0] == "/":
        if not (req.close or head_only):
            return HELLO                             # prebuilt: the benchmarks' path
        return response(200, b"Hello, World!", close=req.close, head_only=head_only)
    path = resolve(root, req.target)
    try:
        body = netpoll.to_thread(read_file, path)    # disk I/O off the poller thread
    except OSError:                                  # missing, a directory, no permission
        return response(404, b"not found\n", close=req.close, head_only=head_only)
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return response(200, body, ctype, close=req.close, head_only=head_only)


def linger(conn, seconds=1.0):
    """Close our side, then discard what the client still sends for a while:
    closing with unread data would make the kernel send a RST, which can
    destroy the error response before the client reads it."""
    try:
        conn.close_write()
        conn.set_read_deadline(time.monotonic() + seconds)
        while conn.read(65536):
            pass
    except OSError:
        pass


class Deadline:
    """The connection's read and write deadline, ``timeout`` from the last
    renewal, renewed lazily: moving a deadline costs a few Python calls,
    about as much as the rest of answering ``GET /``, so ``renew`` moves it
    only once it is a tenth of ``timeout`` old (nginx does the same with its
    timers).  After ``renew`` the deadline is 0.9 to 1 ``timeout`` away."""

    __slots__ = ("conn", "timeout", "renew_at")

    def __init__(self, conn, timeout):
        self.conn, self.timeout, self.renew_at = conn, timeout, 0.0

    def renew(self):
        now = time.monotonic()
        if now >= self.renew_at:
            self.conn.set_deadline(now + self.timeout)
            self.renew_at = now + self.timeout / 10


def send(conn, answers, deadline):
    """Write the answers; the client must take them in time.  Then the
    next request starts: it must arrive in time too."""
    deadline.renew()
    conn.write(answers[0] if len(answers) == 1 else b"".join(answers))
    deadline.renew()


def answer(conn, buf, root, deadline, plain):
    """Answer every complete request in ``buf``, pipelined ones in one write.
    ``plain`` is the connection's last plain ``GET /`` head (see ``handle``).
    Returns where the unanswered rest of ``buf`` starts, whether the client
    asked to close, and the last plain head.  Requests are found by offset,
    without slicing ``buf``."""
    out, size, pos, close = [], 0, 0, False
    while pos < len(buf):
        if plain and buf.startswith(plain, pos):       # the same head again
            out.append(HELLO)
            size += len(HELLO)
            pos += len(plain)
        elif m := PLAIN_HELLO_REQUEST.match(buf, pos, pos + MAX_HEAD + 4):  # the fast path
            out.append(HELLO)
            size += len(HELLO)
            plain = m.group()
            pos = m.end()
        else:                                           # the general path
            end = buf.find(b"\r\n\r\n", pos, pos + MAX_HEAD + 4)
            if end < 0:                                 # the head is not all here
                if len(buf) - pos > MAX_HEAD:
                    raise HTTPError(431)
                break
            req, pos = parse_request(buf, pos, end)
            if req is None:                             # its body is not all here
                break
            out.append(respond(req, root))
            size += len(out[-1])
            if req.close:
                close = True
                break
        if size >= MAX_BATCH:                           # bounded memory: write them now
            send(conn, out, deadline)
            out, size = [], 0
    if out:
        send(conn, out, deadline)
    return pos, close, plain


def handle(conn, root, timeout):
    buf = b""
    # A keep-alive client tends to send the same head again and again
    # (wrk does, and so do health checks and API clients).  Once a head has
    # passed the fast path's check, the same bytes again are the same plain
    # GET /: comparing them costs 40 ns, the check 1 µs (wrk's head).
    plain = None
    with conn:
        try:
            # A request must arrive within `timeout`; send() renews the
            # deadline for the next one each time it answers.
            deadline = Deadline(conn, timeout)
            deadline.renew()
            while True:
                data = conn.read(65536)
                if not data:
                    return
                if data == plain and not buf:           # the same head, alone
                    send(conn, ONLY_HELLO, deadline)
                    continue
                buf = buf + data if buf else data
                pos, close, plain = answer(conn, buf, root, deadline, plain)
                if close:
                    return
                buf = buf[pos:]
        except HTTPError as exc:
            try:
                conn.set_write_deadline(time.monotonic() + timeout)
                conn.write(response(exc.status, f"{REASONS[exc.status]}\n".encode(), close=True))
            except OSError:
                return
            linger(conn)
        except OSError:        # deadline exceeded (DeadlineExceededError), reset, ...
            pass


def main(address, root, timeout):
    with net.listen("tcp", address) as ln:
        print(f"listening on {ln.addr} (serving {root})", flush=True)
        serve(ln, handle, root, timeout)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll HTTP/1.1 server example")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    p.add_argument("--root", default=".", help="directory to serve files from (default: .)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds a request (or an idle connection) may take (default: 10)")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    args = p.parse_args()
    try:
        netpoll.run(main, args.listen, os.path.realpath(args.root), args.timeout,
                    poller=args.poller)
    except KeyboardInterrupt:
        pass
