"""A minimal stand-in for ``netpoll serve --patch MODULE:APP`` until the
HTTP engineer's server is on main: patch first, then import the app, then
serve HTTP/1.1 keep-alive GETs, one goroutine per connection.  Only what
the benchmark needs (no request bodies, no chunked answers)."""

import argparse
import importlib
import os
import sys

import netpoll

netpoll.patch()

from netpoll import net  # noqa: E402


def serve_conn(conn, app, port):
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.read(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            path, _, query = target.partition("?")
            environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                       "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port),
                       "SERVER_PROTOCOL": version, "wsgi.version": (1, 0),
                       "wsgi.url_scheme": "http", "wsgi.input": None, "wsgi.errors": sys.stderr,
                       "wsgi.multithread": False, "wsgi.multiprocess": False,
                       "wsgi.run_once": False}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                environ["HTTP_" + k.strip().upper().replace("-", "_")] = v.strip()
            status_headers = []

            def start_response(status, headers, exc_info=None, _sh=status_headers):
                _sh.append((status, headers))
            body = b"".join(app(environ, start_response))
            status, headers = status_headers[0]
            out = [f"HTTP/1.1 {status}\r\n"]
            out += [f"{k}: {v}\r\n" for k, v in headers]
            conn.write(("".join(out) + "\r\n").encode("latin-1") + body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("app")
    p.add_argument("--listen", default="127.0.0.1:8080")
    args = p.parse_args()
    sys.path.insert(0, os.getcwd())
    mod, _, name = args.app.partition(":")
    app = getattr(importlib.import_module(mod), name)

    def run():
        ln = net.listen("tcp", args.listen)
        print(f"listening on {ln.addr}", flush=True)
        while True:
            netpoll.go(serve_conn, ln.accept(), app, ln.addr.port)

    netpoll.run(run)


if __name__ == "__main__":
    main()
