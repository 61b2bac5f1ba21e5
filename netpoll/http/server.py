"""Server: serve a WSGI application (Go: net/http.Server).

``Server(app, ...)`` holds the settings and the live connections;
``serve(listener)`` runs the accept loop of ``netpoll.server`` (with its
EMFILE back-off) and starts a goroutine per connection, which runs
``Connection.serve`` (connection.py).  ``shutdown`` is Go's
``Server.Shutdown``: close the listeners, close the idle keep-alive
connections at once, then poll (1 ms, doubling to 500 ms) until the
connections with a request in flight have finished it and closed, or
raise TimeoutError when ``timeout`` passes (they go on; ``close()`` ends
them).  A connection that finishes a request while shutting down answers
with ``Connection: close`` and closes.
"""

import sys
import time

from .. import sleep
from ..net import listen
from ..server import serve as accept_loop
from .body import FileWrapper
from .connection import Connection

# Go: shutdownPollIntervalMax.
POLL_MAX = 0.5


class Server:
    """An HTTP/1.1 server for one WSGI application."""

    def __init__(self, app, *, read_header_timeout=None, read_timeout=None,
                 write_timeout=None, idle_timeout=None, max_header_bytes=65536,
                 max_body_bytes=None, tls_context=None):
        self.app = app
        self.read_header_timeout = read_header_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.idle_timeout = idle_timeout
        # Go: a zero ReadHeaderTimeout uses ReadTimeout, and a zero
        # IdleTimeout uses ReadTimeout.
        self.header_timeout = read_header_timeout if read_header_timeout is not None \
            else read_timeout
        if idle_timeout is None:
            self.idle_timeout = read_timeout
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.tls_context = tls_context
        if tls_context is not None:
            from .. import tls  # netpoll.tls (docs/reference.md §5): imported only for HTTPS
            self._tls_server = tls.server
        self.error_log = sys.stderr        # wsgi.errors
        self.access_log = None             # callable(environ, status, sent) or None
        self.multiprocess = False          # wsgi.multiprocess (the CLI's workers)
        self.shutting_down = False
        self._listeners = set()
        self._conns = set()

    # -- serving ---------------------------------------------------------------

    def serve(self, listener):
        """Accept connections on ``listener`` and serve each in its own
        goroutine; returns once the server is shut down or closed."""
        if self.shutting_down:
            listener.close()
            return
        self._listeners.add(listener)
        try:
            accept_loop(listener, self._serve_conn)
        finally:
            self._listeners.discard(listener)

    def listen_and_serve(self, address):
        """Listen on TCP ``address`` ("host:port") and serve."""
        self.serve(listen("tcp", address))

    def _serve_conn(self, conn):
        if self.shutting_down:
            conn.close()
            return
        scheme = "http"
        if self.tls_context is not None:
            # the handshake runs on the first read, in this goroutine
            conn = self._tls_server(conn, self.tls_context)
            scheme = "https"
        c = Connection(self, conn, self._base_environ(conn, scheme))
        self._conns.add(c)
        try:
            c.serve()
        finally:
            self._conns.discard(c)
            conn.close()

    def _base_environ(self, conn, scheme):
        """The environ keys every request of ``conn`` shares."""
        try:
            local = conn.local_addr
            host, port = str(getattr(local, "host", "")), str(getattr(local, "port", ""))
        except OSError:
            host, port = "", ""
        remote = conn.remote_addr
        env = {
            "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": host or "localhost", "SERVER_PORT": port or "0",
            "REMOTE_ADDR": str(getattr(remote, "host", "") or ""),
            "wsgi.version": (1, 0), "wsgi.url_scheme": scheme,
            "wsgi.errors": self.error_log, "wsgi.multithread": False,
            "wsgi.multiprocess": self.multiprocess, "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            # wsgi.input returns b"" at the end of the body, chunked or not
            # (werkzeug reads a chunked body only when this says so)
            "wsgi.input_terminated": True,
        }
        if getattr(remote, "port", None) is not None:
            env["REMOTE_PORT"] = str(remote.port)
        return env

    # -- stopping --------------------------------------------------------------

    def shutdown(self, timeout=None):
        """Stop accepting, close idle connections, wait for the requests in
        flight; TimeoutError if some still run after ``timeout`` seconds."""
        self.shutting_down = True
        for ln in list(self._listeners):
            ln.close()
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = 0.001
        while True:
            self._close_idle()
            if not self._conns:
                return
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"shutdown: {len(self._conns)} connections still "
                                       f"serving a request after {timeout} s")
                sleep(min(interval, left))
            else:
                sleep(interval)
            interval = min(interval * 2, POLL_MAX)

    def _close_idle(self):
        for c in list(self._conns):
            if c.idle:
                c.conn.close()

    def close(self):
        """Close the listeners and every connection at once."""
        self.shutting_down = True
        for ln in list(self._listeners):
            ln.close()
        for c in list(self._conns):
            c.conn.close()

    @property
    def connections(self):
        """How many connections are open."""
        return len(self._conns)

