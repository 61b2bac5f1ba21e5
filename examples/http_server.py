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
within as long, so a client that never reads is dropped too.  Answers to
pipelined requests are written as they are built (small ones batched up to
64 KiB), so a connection holds at most one large answer in memory.
"""

import argparse
import mimetypes
import os
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


def next_request(buf, pos):
    """``(request, end)`` for the complete request at ``buf[pos:]``, or
    ``(None, pos)`` if it is not all there yet."""
    end = buf.find(b"\r\n\r\n", pos, pos + MAX_HEAD + 4)
    if end < 0:
        if len(buf) - pos > MAX_HEAD:
            raise HTTPError(431)
        return None, pos
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


def send(conn, answers, timeout):
    """Write the answers; the client must take them within ``timeout``."""
    conn.set_write_deadline(time.monotonic() + timeout)
    conn.write(answers[0] if len(answers) == 1 else b"".join(answers))


def handle(conn, root, timeout):
    buf = b""
    with conn:
        try:
            conn.set_read_deadline(time.monotonic() + timeout)
            while True:
                out, size, answered = [], 0, False
                req, pos = next_request(buf, 0)
                while req is not None:                  # every complete request buffered
                    answer = respond(req, root)
                    out.append(answer)
                    size += len(answer)
                    answered = True
                    if req.close:
                        break
                    if size >= MAX_BATCH:               # bounded memory: write them now
                        send(conn, out, timeout)
                        out, size = [], 0
                    req, pos = next_request(buf, pos)
                buf = buf[pos:]
                if out:
                    send(conn, out, timeout)            # pipelined answers in one write
                if req is not None:                     # the client asked to close
                    return
                if answered:
                    # a new request starts: it gets `timeout` seconds to arrive
                    conn.set_read_deadline(time.monotonic() + timeout)
                data = conn.read(65536)
                if not data:
                    return
                buf += data
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
