"""Connections: Conn and its kinds (Go: net.Conn, netFD, TCPConn, UnixConn,
UDPConn).

A Conn is a thin shell around an ``FD``: every method calls the FD and, only
when something goes wrong, re-raises the error with a Go-style message
naming the operation and both addresses.  Addresses are looked up lazily
(and saved before close, for messages).  Instances use ``__slots__``: an
idle connection costs a Conn, an FD, a socket object and a PollDesc.
"""

from __future__ import annotations

import errno
import math
import socket
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from ..internal.fd import (
    not_accelerated,
    read_fast,
    read_rest,
    read_unpark,
    read_woke,
    write_fast,
    write_rest,
)
from ..poller import MODE_READ, MODE_WRITE
from .addr import Addr, TCPAddr, UDPAddr, UnixAddr, to_addr
from .errors import op_error

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from ..internal.fd import FD

_BOTH = MODE_READ | MODE_WRITE
_SOL_SOCKET = socket.SOL_SOCKET
_IPPROTO_TCP = socket.IPPROTO_TCP
_TCP_NODELAY = socket.TCP_NODELAY        # module constants: setup_tcp runs per connection
_SO_KEEPALIVE = socket.SO_KEEPALIVE
_ADDR_CLASS: dict[str, type[Addr]] = {
    "tcp": TCPAddr, "tcp4": TCPAddr, "tcp6": TCPAddr,
    "udp": UDPAddr, "udp4": UDPAddr, "udp6": UDPAddr,
    "unix": UnixAddr, "unixgram": UnixAddr,
}

# What the socket module returns for an address, before conversion.
_RAW_ADDRS: tuple[type[Any], ...] = (tuple, str, bytes)

# Keep-alive as Go sets it on dialed and accepted TCP connections.
KEEPALIVE_PERIOD = 15
KEEPALIVE_COUNT = 9           # Go 1.23's default probe count (Linux's too)

_C = TypeVar("_C", bound="Conn")


class Conn:
    """A stream (or connected datagram) connection."""

    __slots__ = ("fd", "net", "_laddr", "_raddr")

    fd: FD
    net: str
    # An address object, a raw socket address (what the socket module
    # returns: Any, as in typeshed) or None; local_addr / remote_addr
    # convert it, by type() tests a checker cannot follow.
    _laddr: Any
    _raddr: Any

    def __init__(self, fd: FD, net: str, laddr: Any = None, raddr: Any = None) -> None:
        self.fd = fd
        self.net = net
        # Each an address object, a raw socket address (converted on first
        # use), or None (looked up on first use).
        self._laddr = laddr
        self._raddr = raddr

    # -- I/O -----------------------------------------------------------------

    def read(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes as soon as any are available; b"" at EOF.
        TypeError for a size that is not an int, at the call."""
        try:
            return self.fd.read(n)
        except OSError as e:
            raise self._error("read", e) from None

    def read_into(self, buffer: WriteableBuffer) -> int:
        """Read into a writable buffer; the byte count, 0 at EOF."""
        try:
            return self.fd.read_into(buffer)
        except OSError as e:
            raise self._error("read", e) from None

    def write(self, data: ReadableBuffer) -> int:
        """Send all of ``data``, a bytes-like object (parking while the peer
        is slow); returns its length.  TypeError for text, at the call."""
        try:
            return self.fd.write(data)
        except OSError as e:
            raise self._error("write", e) from None

    def writev(self, buffers: Iterable[ReadableBuffer]) -> int:
        """Send every buffer in order, in one system call where possible;
        returns the total length."""
        try:
            return self.fd.writev(buffers)
        except OSError as e:
            raise self._error("writev", e) from None

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """Close the connection, waking blocked operations with ClosedError.
        Idempotent; returns once the descriptor is closed."""
        fd = self.fd
        if self._laddr is None and not fd.closed:
            try:
                self._laddr = fd.getsockname()
            except OSError:
                pass
        try:
            fd.close()
        except OSError as e:
            raise self._error("close", e) from None

    def close_read(self) -> None:
        """Shut down the reading side: later reads return b""."""
        self._shutdown(socket.SHUT_RD)

    def close_write(self) -> None:
        """Shut down the writing side: the peer reads EOF, and can still
        send to us."""
        self._shutdown(socket.SHUT_WR)

    def _shutdown(self, how: int) -> None:
        try:
            self.fd.shutdown(how)
        except OSError as e:
            raise self._error("close", e) from None

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -------------------------------------------------------------

    # local_addr and remote_addr: the same lazy conversion of one address
    # each (a property per address, as Go's LocalAddr / RemoteAddr).

    @property
    def local_addr(self) -> Addr:
        a: Addr = self._laddr           # (or raw or None until converted)
        if a is None or type(a) in _RAW_ADDRS:
            a = self._laddr = self._address(a, True)
        return a

    @property
    def remote_addr(self) -> Addr | None:
        """The peer's address; None if the socket is not connected."""
        a: Addr | None = self._raddr
        if a is None or type(a) in _RAW_ADDRS:
            a = self._raddr = self._address(a, False)
        return a

    @overload
    def _address(self, a: Any, local: Literal[True]) -> Addr: ...
    @overload
    def _address(self, a: Any, local: Literal[False]) -> Addr | None: ...

    def _address(self, a: Any, local: bool) -> Addr | None:
        """The address object for the raw socket address ``a``, looked up
        first if ``a`` is None (None for the peer of an unconnected socket)."""
        if a is None:
            try:
                a = self.fd.getsockname() if local else self.fd.getpeername()
            except OSError as e:
                if not local:
                    return None
                raise self._error("getsockname", e) from None
        return to_addr(_ADDR_CLASS[self.net], a, self.net)

    def fileno(self) -> int:
        try:
            return self.fd.fileno()
        except OSError as e:
            raise self._error("fileno", e) from None

    # -- deadlines and options -----------------------------------------------

    def set_deadline(self, t: float | None) -> None:
        """Read and write deadline: a time.monotonic() value (a point in
        time, not a duration: ``time.monotonic() + 5``); None or inf for
        none; ValueError for nan."""
        self._set_deadline(t, _BOTH)

    def set_read_deadline(self, t: float | None) -> None:
        """The read deadline (as ``set_deadline``)."""
        self._set_deadline(t, MODE_READ)

    def set_write_deadline(self, t: float | None) -> None:
        """The write deadline (as ``set_deadline``)."""
        self._set_deadline(t, MODE_WRITE)

    def _set_deadline(self, t: float | None, mode: int) -> None:
        # The float test first: a deadline is nearly always a float, and
        # servers set one per request; isinstance costs more.
        if t is not None and type(t) is not float:
            check_deadline_type(t)
        try:
            self.fd.set_deadline(t, mode)
        except OSError as e:
            raise self._error("set", e) from None

    def set_read_buffer(self, n: int) -> None:
        """SO_RCVBUF: the kernel's receive buffer size."""
        self._setsockopt(_SOL_SOCKET, socket.SO_RCVBUF, n)

    def set_write_buffer(self, n: int) -> None:
        """SO_SNDBUF: the kernel's send buffer size."""
        self._setsockopt(_SOL_SOCKET, socket.SO_SNDBUF, n)

    def _setsockopt(self, level: int, opt: int, value: int | bytes) -> None:
        try:
            self.fd.setsockopt(level, opt, value)
        except OSError as e:
            raise self._error("set", e) from None

    # -- errors ----------------------------------------------------------------

    def _error(self, op: str, exc: OSError) -> OSError:
        return op_error(op, self.net, self._addr_or_none(True),
                        self._addr_or_none(False), exc)

    def _addr_or_none(self, local: bool) -> Addr | None:
        try:
            return self.local_addr if local else self.remote_addr
        except OSError:
            return None

    def __repr__(self) -> str:
        state = "closed" if self.fd.closed else f"fd={self.fd.sysfd}"
        return (f"<{type(self).__name__} {self.net} "
                f"{self._addr_or_none(True)}->{self._addr_or_none(False)} {state}>")


class TCPConn(Conn):
    """A TCP connection: Conn plus the TCP options."""

    __slots__ = ()

    def set_nodelay(self, enabled: bool = True) -> None:
        """TCP_NODELAY: send small writes at once (on by default, as in Go)."""
        self._setsockopt(_IPPROTO_TCP, socket.TCP_NODELAY, 1 if enabled else 0)

    def set_keepalive(self, enabled: bool = True, period: float | None = None) -> None:
        """SO_KEEPALIVE, probing every ``period`` seconds of idleness (Go:
        SetKeepAlive + SetKeepAlivePeriod; on by default with 15 s)."""
        self._setsockopt(_SOL_SOCKET, socket.SO_KEEPALIVE, 1 if enabled else 0)
        if enabled and period is not None:
            secs = max(1, int(-(-period // 1)))      # round up, at least 1 s
            if hasattr(socket, "TCP_KEEPIDLE"):
                self._setsockopt(_IPPROTO_TCP, socket.TCP_KEEPIDLE, secs)
            elif hasattr(socket, "TCP_KEEPALIVE"):    # macOS
                self._setsockopt(_IPPROTO_TCP, socket.TCP_KEEPALIVE, secs)
            if hasattr(socket, "TCP_KEEPINTVL"):
                self._setsockopt(_IPPROTO_TCP, socket.TCP_KEEPINTVL, secs)

    def set_linger(self, seconds: float | None) -> None:
        """SO_LINGER, Go's SetLinger: < 0 (the default) closes in the
        background; 0 discards unsent data and resets the connection on
        close; > 0 lingers that many seconds for unsent data."""
        if seconds is None or seconds < 0:
            value = struct.pack("ii", 0, 0)
        else:
            value = struct.pack("ii", 1, int(seconds))
        self._setsockopt(_SOL_SOCKET, socket.SO_LINGER, value)

    def set_keepalive_config(self, idle: float | None = None, interval: float | None = None,
                             count: int | None = None, *, enable: bool = True) -> None:
        """Keep-alive as Go 1.23's SetKeepAliveConfig: after ``idle`` seconds
        without traffic the kernel probes the peer every ``interval``
        seconds, and after ``count`` unanswered probes drops the connection:
        a read or write parked on it fails with TimeoutError (ETIMEDOUT,
        ``read tcp A->B: connection timed out``) about
        idle + interval * count seconds after the peer vanished.

        None or 0 (Go's zero value) means Go's default: 15 s, 15 s, 9 probes;
        a negative value leaves the OS's setting as it is (Go does the
        same).  Seconds round up to whole seconds.  ``enable=False`` turns
        keep-alive off (Go's ``Enable``).  A setting the OS has no option
        for raises OSError (ENOPROTOOPT) when given, and is skipped when
        left to its default."""
        settings = [(_keepalive_value("idle", idle, KEEPALIVE_PERIOD, True), idle,
                     _KEEPIDLE, "idle"),
                    (_keepalive_value("interval", interval, KEEPALIVE_PERIOD, True), interval,
                     _KEEPINTVL, "interval"),
                    (_keepalive_value("count", count, KEEPALIVE_COUNT, False), count,
                     _KEEPCNT, "count")]
        self._setsockopt(_SOL_SOCKET, socket.SO_KEEPALIVE, 1 if enable else 0)
        if not enable:
            return
        for value, given, opt, name in settings:
            if value is None:
                continue                          # negative: leave it as it is
            if opt is None:
                if not given:
                    continue                      # a default the OS has no option for
                raise self._error("set", OSError(
                    errno.ENOPROTOOPT, f"keep-alive {name} is not supported on this OS"))
            self._setsockopt(_IPPROTO_TCP, opt, value)

    def set_user_timeout(self, seconds: float | None) -> None:
        """TCP_USER_TIMEOUT (Linux): how long sent data may stay
        unacknowledged, or the peer's closed window unprobed, before the
        kernel drops the connection; a parked write (or read) then fails
        with TimeoutError (ETIMEDOUT, ``write tcp A->B: connection timed
        out``).  Without it the kernel retransmits for about 15 minutes
        (``tcp_retries2``).  It bounds keep-alive too: once set, keep-alive
        gives up when the peer has been silent that long and a probe went
        unanswered, whatever the count.  0 or None: the kernel's default.
        Rounded up to whole milliseconds; OSError (ENOPROTOOPT) where the
        OS has no TCP_USER_TIMEOUT."""
        if seconds is None:
            millis = 0
        else:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise TypeError(f"user timeout must be a number of seconds, "
                                f"not {type(seconds).__name__}")
            if math.isnan(seconds):
                raise ValueError("user timeout is nan")
            if seconds < 0:
                raise ValueError(f"user timeout must be >= 0 seconds, not {seconds!r}")
            # inf (or anything past the kernel's int): as long as it goes
            millis = _INT_MAX if seconds * 1000 >= _INT_MAX else math.ceil(seconds * 1000)
        if _USER_TIMEOUT is None:
            raise self._error("set", OSError(
                errno.ENOPROTOOPT, "TCP_USER_TIMEOUT is not supported on this OS (Linux only)"))
        self._setsockopt(_IPPROTO_TCP, _USER_TIMEOUT, millis)


class UnixConn(Conn):
    """A Unix domain stream connection."""

    __slots__ = ()


def check_deadline_type(t: object) -> None:
    """TypeError unless ``t`` is a number (a time.monotonic() value)."""
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        raise TypeError(f"deadline must be a time.monotonic() value or None, "
                        f"not {type(t).__name__}")


def setup_tcp(fd: FD) -> None:
    """Go's defaults for a dialed or accepted TCP connection: no Nagle,
    keep-alive every 15 s."""
    setsockopt = fd.sock.setsockopt
    setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
    setsockopt(_SOL_SOCKET, _SO_KEEPALIVE, 1)
    if _KEEPIDLE is not None:
        setsockopt(_IPPROTO_TCP, _KEEPIDLE, KEEPALIVE_PERIOD)
    if _KEEPINTVL is not None:
        setsockopt(_IPPROTO_TCP, _KEEPINTVL, KEEPALIVE_PERIOD)


_KEEPIDLE = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))
_KEEPINTVL = getattr(socket, "TCP_KEEPINTVL", None)
_KEEPCNT = getattr(socket, "TCP_KEEPCNT", None)
_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", None)
_INT_MAX = 2**31 - 1          # socket options are C ints


def _keepalive_value(name: str, value: float | None, default: int,
                     seconds: bool) -> int | None:
    """A keep-alive setting as the kernel takes it: Go's default for None
    or 0, None (leave it) for a negative value, whole seconds rounded up."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float) if seconds else int):
        kind = "a number of seconds" if seconds else "an int"
        raise TypeError(f"keep-alive {name} must be {kind}, not {type(value).__name__}")
    if math.isnan(value):
        raise ValueError(f"keep-alive {name} is nan")
    if value == 0:
        return default
    if value < 0:
        return None
    # Beyond a C int (inf included) the kernel's range check answers EINVAL.
    return _INT_MAX if value >= _INT_MAX else math.ceil(value)


# -- the C accelerator (netpoll/speedups.py) ---------------------------------
#
# Speed trick: with the accelerator in use, Conn.read and Conn.write do
# what FD.read and FD.write do (internal/fd.py, "the C accelerator") in
# their own frame rather than calling them: the two Python calls saved
# took callgrind's count from 7,869 to 7,260 instructions per echoed
# message (bench/RESULTS.md).  Only the plain
# cases are inline (a whole read or write, and a read's plain park); the
# rest goes to the FD's helpers, and errors get Conn's message as above.

def _read_accel(self: Conn, n: int = 65536) -> bytes:
    """Conn.read, accelerated (see Conn.read)."""
    fd = self.fd
    try:
        r = read_fast(fd, n)          # bytes, None or a greenlet
        if type(r) is bytes:
            return r
        if r is not None:             # parked as the read waiter, the read lock held
            try:
                r.switch()            # until the read edge (FD.read: read_rest)
            except BaseException:
                read_unpark(fd)
                fd._read_unlock()
                raise
            try:
                r = read_woke(fd, n)
            except BaseException:
                fd._read_unlock()
                raise
            if type(r) is bytes:      # read and unlocked in C
                return r
        return read_rest(fd, n, r)
    except OSError as e:
        raise self._error("read", e) from None


def _write_accel(self: Conn, data: ReadableBuffer) -> int:
    """Conn.write, accelerated (see Conn.write)."""
    fd = self.fd
    try:
        n = write_fast(fd, data)
    except OSError as e:              # as FD.write: nothing went out
        e.written = 0                 # type: ignore[attr-defined]
        raise self._error("write", e) from None
    if n is not None and n >= 0:
        return n
    try:
        return write_rest(fd, data, n)
    except OSError as e:
        raise self._error("write", e) from None


if read_fast is not not_accelerated:      # the accelerator is in use
    _read_accel.__doc__ = Conn.read.__doc__
    _write_accel.__doc__ = Conn.write.__doc__
    Conn.read = _read_accel           # type: ignore[method-assign]
    Conn.write = _write_accel         # type: ignore[method-assign]
