"""Fixtures for the netpoll.http tests: a Server running in a thread of its
own (its own runtime, under the parametrized poller), so that blocking
clients -- http.client, requests, raw sockets, curl -- drive it from the
test's thread.  The test controls the server through a second listener:
``shutdown`` and ``close`` run inside the server's runtime."""

import json
import queue
import socket
import threading
import wsgiref.validate

import pytest

import netpoll
from netpoll import net


class ServerThread:
    """``Server(app, **settings)`` serving 127.0.0.1:PORT in a thread."""

    def __init__(self, app, poller=None, validate=True, **settings):
        from netpoll.http import Server as server_class
        self.errors = []
        if validate:
            app = wsgiref.validate.validator(app)
        self._ready = queue.Queue()
        self._thread = threading.Thread(
            target=self._run, args=(server_class, app, poller, settings), daemon=True)
        self._thread.start()
        got = self._ready.get(timeout=10)
        if isinstance(got, BaseException):
            raise got
        self.port, self._ctl_port = got
        self.address = ("127.0.0.1", self.port)

    def _run(self, server_class, app, poller, settings):
        try:
            netpoll.run(self._main, server_class, app, settings, poller=poller)
        except BaseException as exc:        # reported to the test thread
            self._ready.put(exc)

    def _main(self, server_class, app, settings):
        ln = net.listen("tcp", "127.0.0.1:0")
        ctl = net.listen("tcp", "127.0.0.1:0")
        self.server = srv = server_class(app, **settings)
        self.server.error_log = _Log(self.errors)
        netpoll.go(srv.serve, ln)
        self._ready.put((ln.addr.port, ctl.addr.port))
        stop = netpoll.Chan(1)

        def command(c):
            with c:
                cmd = json.loads(c.read())
                try:
                    if cmd["op"] == "shutdown":
                        srv.shutdown(cmd.get("timeout"))
                        answer = {"ok": True}
                    elif cmd["op"] == "close":
                        srv.close()
                        answer = {"ok": True}
                        stop.try_send(None)
                    else:
                        answer = {"connections": srv.connections}
                except TimeoutError as exc:
                    answer = {"ok": False, "error": str(exc)}
                c.write(json.dumps(answer).encode())

        def accept():
            while True:
                try:
                    c = ctl.accept()
                except netpoll.ClosedError:
                    return
                netpoll.go(command, c)
        netpoll.go(accept)
        stop.recv()
        ctl.close()

    def command(self, op, **args):
        with socket.create_connection(("127.0.0.1", self._ctl_port), timeout=30) as s:
            s.sendall(json.dumps(dict(op=op, **args)).encode())
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data)

    def connections(self):
        return self.command("stats")["connections"]

    def close(self):
        if self._thread.is_alive():
            self.command("close")
            self._thread.join(10)
        assert not self._thread.is_alive()


class _Log:
    """wsgi.errors for the tests: keeps what the server logs."""

    def __init__(self, lines):
        self.lines = lines

    def write(self, s):
        self.lines.append(s)

    def writelines(self, seq):
        self.lines.extend(seq)

    def flush(self):
        pass


@pytest.fixture
def http_serve(poller):
    """``http_serve(app, **settings) -> ServerThread``, closed after the test."""
    servers = []

    def start(app, **settings):
        s = ServerThread(app, poller=poller, **settings)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def raw(address, data, timeout=10.0, shut=False):
    """Send raw bytes, read everything until the server closes."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            chunks.append(b"<RST>")
        return b"".join(chunks)


def split_answers(data):
    """Raw answers -> [(status line, {header: value}, body)], by Content-Length
    or chunked framing."""
    out = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        if "Content-Length" in headers and not lines[0].startswith("HTTP/1.1 1"):
            n = int(headers["Content-Length"])
            body, data = data[:n], data[n:]
        elif headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while True:
                size, _, data = data.partition(b"\r\n")
                n = int(size, 16)
                body, data = body + data[:n], data[n + 2:]
                if not n:
                    break
        else:
            body = b""
        out.append((lines[0], headers, body))
    return out


@pytest.fixture
def answers():
    return split_answers


@pytest.fixture
def hello_app():
    return hello


@pytest.fixture
def raw_http():
    return raw
