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

from __future__ import annotations

import socket as _stdsocket
import ssl as _ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

from ..poller import MODE_READ, MODE_WRITE
from .sockets import socket as _coopsocket

_WantRead = _ssl.SSLWantReadError
_WantWrite = _ssl.SSLWantWriteError
_monotonic = time.monotonic
_T = TypeVar("_T")


# (typeshed's ssl.SSLSocket and socket.socket disagree on accept, recvmsg,
# recvmsg_into and sendmsg, which SSLSocket refuses at run time: misc.)
class SSLSocket(_ssl.SSLSocket, _coopsocket):  # type: ignore[misc]
    """``ssl.SSLSocket`` that parks the goroutine instead of blocking."""

    # ssl's C-level _ssl._SSLSocket, or None once unwrapped (not in typeshed).
    _sslobj: Any

    def _np_ssl(self, op: Callable[..., _T], *args: Any) -> _T:
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

    # (typeshed's type: with ``buffer`` the count read, an int)
    def read(self, len: int = 1024, buffer: WriteableBuffer | None = None) -> bytes:
        return self._np_ssl(_ssl.SSLSocket.read, self, len, buffer)

    def write(self, data: ReadableBuffer) -> int:
        return self._np_ssl(_ssl.SSLSocket.write, self, data)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        return self._np_ssl(_ssl.SSLSocket.send, self, data, flags)

    def do_handshake(self, block: bool = False) -> None:
        self._check_connected()             # type: ignore[attr-defined]
        t = self._np_timeout
        if t == 0.0 and not block:
            return self._sslobj.do_handshake()  # type: ignore[no-any-return]
        saved = t
        try:
            if t == 0.0:
                self._np_timeout = None
            return self._np_ssl(self._sslobj.do_handshake)  # type: ignore[no-any-return]
        finally:
            self._np_timeout = saved

    def unwrap(self) -> _stdsocket.socket:
        if self._sslobj:
            s = self._np_ssl(self._sslobj.shutdown)
            self._sslobj = None
            return s                        # type: ignore[no-any-return]
        raise ValueError("No SSL wrapper around " + str(self))


for _name in ("read", "write", "send", "do_handshake", "unwrap"):
    getattr(SSLSocket, _name).__doc__ = getattr(_ssl.SSLSocket, _name).__doc__
