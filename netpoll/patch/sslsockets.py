"""The cooperative ``ssl.SSLSocket`` (gevent: ``ssl.py``).

``netpoll.patch(ssl=True)`` sets ``ssl.SSLContext.sslsocket_class`` to
this class, so every ``wrap_socket`` (of any context, made before or after
the patch) returns one.  It is a patched socket (``sockets.socket``) as
well as an ``ssl.SSLSocket``: the descriptor stays non-blocking, so
OpenSSL answers "want read" / "want write" instead of blocking, and each
of those parks the goroutine on the socket's FD (``_np_wait``: the
PollDesc of the direction OpenSSL asked for) until it is ready or the
socket's timeout, counted from the start of the call, passes.  Handshake
(client and server side, on connect or explicit), reads, writes and
``unwrap`` all go through one loop, ``_np_ssl``.

``netpoll.tls`` drives a memory BIO over a ``net.Conn`` instead; this
class keeps ``ssl``'s own object model (``getpeercert``, ``unwrap``,
``makefile``...) that libraries expect of a wrapped socket.
"""

import ssl as _ssl
import time

from ..poller import MODE_READ, MODE_WRITE
from .sockets import socket as _coopsocket

_WantRead = _ssl.SSLWantReadError
_WantWrite = _ssl.SSLWantWriteError
_monotonic = time.monotonic


class SSLSocket(_ssl.SSLSocket, _coopsocket):
    """``ssl.SSLSocket`` that parks the goroutine instead of blocking."""

    def _np_ssl(self, op, *args):
        t = self._np_timeout
        if t == 0.0:
            return op(*args)
        deadline = None if t is None else _monotonic() + t
        while True:
            try:
                return op(*args)
            except _WantRead:
                self._np_wait(MODE_READ, deadline)
            except _WantWrite:
                self._np_wait(MODE_WRITE, deadline)

    def read(self, len=1024, buffer=None):
        return self._np_ssl(_ssl.SSLSocket.read, self, len, buffer)

    def write(self, data):
        return self._np_ssl(_ssl.SSLSocket.write, self, data)

    def send(self, data, flags=0):
        return self._np_ssl(_ssl.SSLSocket.send, self, data, flags)

    def do_handshake(self, block=False):
        self._check_connected()
        t = self._np_timeout
        if t == 0.0 and not block:
            return self._sslobj.do_handshake()
        saved = t
        try:
            if t == 0.0:
                self._np_timeout = None
            return self._np_ssl(self._sslobj.do_handshake)
        finally:
            self._np_timeout = saved

    def unwrap(self):
        if self._sslobj:
            s = self._np_ssl(self._sslobj.shutdown)
            self._sslobj = None
            return s
        raise ValueError("No SSL wrapper around " + str(self))


for _name in ("read", "write", "send", "do_handshake", "unwrap"):
    getattr(SSLSocket, _name).__doc__ = getattr(_ssl.SSLSocket, _name).__doc__
