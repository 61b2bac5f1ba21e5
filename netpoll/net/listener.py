"""Listener (Go: net.Listener, TCPListener, UnixListener).

``accept`` parks until a connection arrives; the new connection gets Go's
defaults (non-blocking, close-on-exec, TCP_NODELAY, keep-alive 15 s) and its
own FD, registered once with the poller.  Closing a listener leaves the
connections it accepted open; closing a unix listener removes the socket
file it created.
"""

from __future__ import annotations

import os
import sys
from _socket import socket as _rawsocket
from typing import TypeVar

from ..internal.fd import FD
from ..poller import MODE_READ
from .addr import Addr, TCPAddr, UnixAddr, to_addr
from .conn import TCPConn, UnixConn, check_deadline_type, setup_tcp
from .errors import op_error

_L = TypeVar("_L", bound="Listener")

# Linux gives an accepted TCP socket the listening socket's TCP_NODELAY and
# keep-alive settings (the new socket is a clone of the listener's).
_INHERITS_TCP_OPTIONS = sys.platform.startswith("linux")


def _inherited_setup(fd: FD) -> bool:
    """Speed trick: give the listening socket Go's defaults for accepted
    connections (setup_tcp), where the kernel copies them into every
    accepted socket: four system calls once instead of per connection
    (tests/net checks the options of accepted connections).  False where
    they are not inherited, or could not be set: then accept sets them."""
    if not _INHERITS_TCP_OPTIONS:
        return False
    try:
        setup_tcp(fd)
    except OSError:
        return False
    return True


class Listener:
    """A listening stream socket."""

    __slots__ = ("fd", "net", "_addr", "_unlink", "_tcp", "_conn_laddr", "_sockargs",
                 "_setup_per_conn")

    fd: FD
    net: str
    _addr: Addr
    _unlink: tuple[str, int] | None
    _tcp: bool
    _conn_laddr: Addr | None
    _sockargs: tuple[int, int, int]
    _setup_per_conn: bool

    def __init__(self, fd: FD, net: str, unlink: tuple[str, int] | None = None) -> None:
        self.fd = fd
        self.net = net
        self._tcp = net != "unix"
        self._addr = to_addr(TCPAddr if self._tcp else UnixAddr, fd.sock.getsockname())
        self._unlink = unlink          # (path, inode) to remove at close
        # An accepted connection's local address is the listener's, unless
        # the listener is bound to a wildcard: then it is looked up lazily.
        wildcard = self._tcp and self._addr.host in ("0.0.0.0", "::", "")  # type: ignore[union-attr]  # a TCPAddr when _tcp
        self._conn_laddr = None if wildcard else self._addr
        ls = fd.sock
        self._sockargs = (ls.family, ls.type, ls.proto)
        self._setup_per_conn = self._tcp and not _inherited_setup(fd)

    def accept(self) -> TCPConn | UnixConn:
        """The next connection: a TCPConn or UnixConn."""
        try:
            sysfd, raddr = self.fd.accept()
        except OSError as e:
            raise op_error("accept", self.net, None, self._addr, e) from None
        # The C-level socket type: the FD needs only its methods, and
        # socket.socket's Python-level __init__ and close cost every accept.
        family, type_, proto = self._sockargs
        sock = _rawsocket(family, type_, proto, sysfd)
        try:
            fd = FD(sock, self.fd)
        except BaseException as e:
            sock.close()
            if isinstance(e, OSError):
                raise op_error("accept", self.net, None, self._addr, e) from None
            raise
        if self._tcp:
            if self._setup_per_conn:
                setup_tcp(fd)
            return TCPConn(fd, self.net, self._conn_laddr, raddr)
        return UnixConn(fd, self.net, self._addr, raddr)

    def close(self) -> None:
        """Stop listening; a goroutine blocked in accept wakes with
        ClosedError.  Idempotent."""
        try:
            self.fd.close()
        except OSError as e:
            raise op_error("close", self.net, None, self._addr, e) from None
        unlink, self._unlink = self._unlink, None
        if unlink is not None:
            path, ino = unlink
            try:
                if os.stat(path).st_ino == ino:
                    os.unlink(path)
            except OSError:
                pass

    @property
    def addr(self) -> Addr:
        """The address listened on: a TCPAddr or UnixAddr."""
        return self._addr

    def set_deadline(self, t: float | None) -> None:
        """Deadline for ``accept``: a time.monotonic() value, None (or inf)
        for none; ValueError for nan."""
        if t is not None:
            check_deadline_type(t)
        try:
            self.fd.set_deadline(t, MODE_READ)
        except OSError as e:
            raise op_error("set", self.net, None, self._addr, e) from None

    def fileno(self) -> int:
        return self.fd.fileno()

    def __enter__(self: _L) -> _L:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Listener {self.net} {self._addr}{' closed' if self.fd.closed else ''}>"
