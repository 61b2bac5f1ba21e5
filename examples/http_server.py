"""An example WSGI application served by netpoll.http: static files, a JSON
endpoint, an upload endpoint.

    python examples/http_server.py --listen 127.0.0.1:8080 --root ./public
    curl -i http://127.0.0.1:8080/                      # Hello, World!
    curl -i http://127.0.0.1:8080/notes.txt             # ./public/notes.txt
    curl -i 'http://127.0.0.1:8080/api/echo?name=go'    # JSON
    curl -i -T big.iso http://127.0.0.1:8080/upload     # size and sha256 of the body

The application is plain PEP 3333 (no framework); ``netpoll.http.Server``
runs it, one goroutine per connection, so the upload handler reads its
body with blocking-style calls and a slow uploader parks only its own
goroutine.  Files are sent with ``wsgi.file_wrapper`` (sendfile(2)); a
path that would leave ``--root`` (``..``, encoded or not, a symlink
leading outside) gets 404.  ``--timeout`` is every one of Go's timeouts
(head, whole request, answer, idle keep-alive), so slowloris clients and
clients that never read are dropped; heads over 8 KiB get 431, bodies
over ``--max-body`` 413, malformed requests 400.
"""

import argparse
import hashlib
import json
import mimetypes
import os
from urllib.parse import parse_qs

import netpoll
from netpoll import net
from netpoll.http import Server

MAX_HEAD = 8192


def text(start_response, status, body, extra=()):
    body = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *extra])
    return [body]


def resolve(root, path):
    """The file under ``root`` that the (already decoded) ``path`` names, or
    None if it would leave ``root``."""
    if "\0" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    real = os.path.realpath(os.path.join(root, *parts))
    if not real.startswith(root + os.sep):
        return None              # the root itself, or a symlink leading outside
    return real


def make_app(root):
    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        if path == "/upload":
            if method != "POST" and method != "PUT":
                return text(start_response, "405 Method Not Allowed", "POST or PUT\n",
                            [("Allow", "POST, PUT")])
            digest, size = hashlib.sha256(), 0
            body = environ["wsgi.input"]
            while chunk := body.read(65536):       # streamed: never all in memory
                digest.update(chunk)
                size += len(chunk)
            return json_answer(start_response, {"size": size, "sha256": digest.hexdigest()})
        if method != "GET" and method != "HEAD":
            return text(start_response, "405 Method Not Allowed", "only GET and HEAD\n",
                        [("Allow", "GET, HEAD")])
        if path == "/":
            return text(start_response, "200 OK", "Hello, World!")
        if path == "/api/echo":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            return json_answer(start_response, {
                "method": method, "query": {k: v[-1] for k, v in query.items()},
                "remote": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT")})
        real = resolve(root, path)
        if real is None or not os.path.isfile(real):
            return text(start_response, "404 Not Found", "not found\n")
        try:
            f = open(real, "rb")    # noqa: SIM115 -- the server closes it (file_wrapper)
        except OSError:
            return text(start_response, "404 Not Found", "not found\n")
        ctype = mimetypes.guess_type(real)[0] or "application/octet-stream"
        start_response("200 OK", [("Content-Type", ctype),
                                  ("Content-Length", str(os.fstat(f.fileno()).st_size))])
        return environ["wsgi.file_wrapper"](f, 65536)
    return app


def json_answer(start_response, obj):
    body = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def main(address, root, timeout, max_body):
    server = Server(make_app(root), read_header_timeout=timeout, read_timeout=timeout,
                    write_timeout=timeout, idle_timeout=timeout,
                    max_header_bytes=MAX_HEAD, max_body_bytes=max_body)
    ln = net.listen("tcp", address)
    print(f"listening on {ln.addr} (serving {root})", flush=True)
    server.serve(ln)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll.http example application")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    p.add_argument("--root", default=".", help="directory to serve files from (default: .)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds a request, an answer or an idle connection may take "
                        "(default: 10)")
    p.add_argument("--max-body", type=int, default=1 << 20,
                   help="largest upload in bytes (default: 1 MiB)")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    args = p.parse_args()
    try:
        netpoll.run(main, args.listen, os.path.realpath(args.root), args.timeout,
                    args.max_body, poller=args.poller)
    except KeyboardInterrupt:
        pass
