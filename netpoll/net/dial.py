"""listen, dial and listen_packet: turn a network name and an address into
a socket with an FD (Go: net/dial.go, sock_posix.go, ipsock_posix.go).

Literal IPs never leave the runtime thread.  A host name is resolved with
getaddrinfo in a thread of netpoll's resolver pool (``threads.lookup``, not
the shared to_thread pool); ``dial`` then tries its addresses in order,
each within a share of the remaining timeout (Go's partialDeadline), and
reports the first error if none answers.

``dial(..., ctx=)`` (Go: DialContext): the context's deadline joins the
timeout (the earlier wins); while the name is resolved the dialer waits in
a ``select`` on the lookup, ``ctx.done()`` and a timer, and gives the
lookup up (its thread finishes alone); while it connects, cancelling the
context sets the socket's write deadline in the past (Go: the same trick,
in net/fd_unix.go's connect), which wakes the connect at once, and the
socket is closed.  The error is then an instance of ``ctx.err()``'s class
with Go's message (``dial tcp 10.0.0.1:80: operation was canceled``).
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..context import interrupted
from ..errors import DeadlineExceededError
from ..internal.fd import FD
from ..poller import MODE_WRITE
from ..runtime.chan import Chan
from ..runtime.scheduler import go
from ..runtime.select import Recv, select
from ..runtime.threads import lookup
from ..runtime.timer import Timer
from .addr import (UDPAddr, UnixAddr, TCPAddr, ip_family, parse_network,
                   split_address, unix_path)
from .conn import TCPConn, UnixConn, setup_tcp
from .errors import op_error
from .listener import Listener
from .packet import PacketConn

if TYPE_CHECKING:
    from ..context import Context

# What dial returns, by network.
DialConn = TCPConn | UnixConn | PacketConn
# (family, socket address) pairs; a socket address is Any, as in typeshed.
_Targets = list[tuple[int, Any]]
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6

LISTEN_NETWORKS = ("tcp", "tcp4", "tcp6", "unix")
DIAL_NETWORKS = ("tcp", "tcp4", "tcp6", "unix", "udp", "udp4", "udp6", "unixgram")
PACKET_NETWORKS = ("udp", "udp4", "udp6", "unixgram")

_somaxconn: int | None = None


def max_listener_backlog() -> int:
    """Go's default backlog: /proc/sys/net/core/somaxconn, else 4096."""
    global _somaxconn
    if _somaxconn is None:
        try:
            with open("/proc/sys/net/core/somaxconn") as f:
                n = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            n = 4096
        _somaxconn = min(max(n, 1), 65535)
    return _somaxconn


_ipv6: bool | None = None


def _ipv6_available() -> bool:
    global _ipv6
    if _ipv6 is None:
        try:
            with socket.socket(_AF_INET6, socket.SOCK_STREAM) as s:
                s.bind(("::1", 0))
            _ipv6 = True
        except OSError:
            _ipv6 = False
    return _ipv6


def _display(address: object) -> str:
    """The address as Go prints it in errors."""
    if isinstance(address, tuple) and len(address) >= 2:
        from .addr import join_host_port
        return join_host_port(str(address[0]), address[1])
    return str(address)


# -- resolution -----------------------------------------------------------------

def _resolve(network: str, address: object, families: tuple[int, ...], socktype: int,
             listening: bool, deadline: float | None,
             ctx: Context | None = None) -> _Targets:
    """[(family, sockaddr)] for an IP network."""
    host, port = split_address(address, network)
    if host == "":
        if listening:
            if families == (_AF_INET,) or not _ipv6_available():
                return [(_AF_INET, ("0.0.0.0", port))]
            return [(_AF_INET6, ("::", port))]
        if families == (_AF_INET6,):
            return [(_AF_INET6, ("::1", port))]
        return [(_AF_INET, ("127.0.0.1", port))]
    fam = ip_family(host)
    if fam is not None:
        if fam not in families:
            raise ValueError(f"address {host}: no suitable address found")
        return [(fam, (host, port))]
    infos = _lookup(host, port, socktype, deadline, ctx)
    addrs = [(fam, sa) for fam, _, _, _, sa in infos if fam in families]
    if not addrs:
        raise socket.gaierror(socket.EAI_NONAME,
                              f"lookup {host}: no suitable address found")
    if listening and len(families) > 1:
        v4 = [a for a in addrs if a[0] == _AF_INET]
        return v4[:1] or addrs[:1]
    return addrs


def _lookup(host: str, port: int, socktype: int, deadline: float | None,
            ctx: Context | None) -> list[tuple[Any, ...]]:
    """getaddrinfo in a resolver thread, given up at ``deadline`` or when
    ``ctx`` is done (DeadlineExceededError either way; dial tells them
    apart by ``ctx.err()``)."""
    try:
        done = ctx.done() if ctx is not None else None
        if deadline is None and done is None:
            infos: list[tuple[Any, ...]] = lookup(socket.getaddrinfo, host, port, 0, socktype)
            return infos
        left = math.inf if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceededError()
        result = Chan(1)
        go(_lookup_into, result, host, port, socktype)
        timer = Timer(left)
        try:
            i, value, _ = select(Recv(result), Recv(done), Recv(timer.c))
        finally:
            timer.stop()
        if i != 0:
            raise DeadlineExceededError()
        if isinstance(value, BaseException):
            raise value
        infos = value
        return infos
    except socket.gaierror as e:
        msg = e.strerror or str(e)
        if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
            msg = "no such host"
        raise socket.gaierror(e.errno, f"lookup {host}: {msg}") from None


def _lookup_into(result: Chan, host: str, port: int, socktype: int) -> None:
    """A goroutine: the lookup, its result or exception into ``result`` (of
    capacity 1, so it never blocks, even once the dialer has given up)."""
    value: object
    try:
        value = lookup(socket.getaddrinfo, host, port, 0, socktype)
    except Exception as e:      # handed to the dialer, not printed
        value = e
    result.send(value)


# -- listen -------------------------------------------------------------------

def listen(network: str, address: object, *, backlog: int | None = None,
           reuse_port: bool = False) -> Listener:
    """A Listener on ``address`` for ``tcp``, ``tcp4``, ``tcp6`` or ``unix``."""
    kind, families, socktype = parse_network(network, LISTEN_NETWORKS)
    if backlog is None:
        backlog = max_listener_backlog()
    if kind == "unix":
        path = unix_path(address)
        unlink: tuple[str, int] | None = None

        def setup_unix(sock: socket.socket) -> None:
            nonlocal unlink
            _bind(sock, path, network, address, reuse_port=False)
            sock.listen(backlog)
            if path and path[0] != "\0":
                unlink = (path, os.stat(path).st_ino)
        fd = _bound_fd(network, address, socket.AF_UNIX, socktype, setup_unix)
        return Listener(fd, network, unlink)
    family, sockaddr = _listen_address(network, address, families, socktype)

    def setup(sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _bind(sock, sockaddr, network, address, reuse_port)
        sock.listen(backlog)
    return Listener(_bound_fd(network, address, family, socktype, setup), network)


def listen_packet(network: str, address: object) -> PacketConn:
    """A PacketConn bound to ``address`` for ``udp``, ``udp4``, ``udp6`` or
    ``unixgram``."""
    kind, families, socktype = parse_network(network, PACKET_NETWORKS)
    family: int
    sockaddr: Any
    if kind == "unix":
        family, sockaddr = socket.AF_UNIX, unix_path(address)
    else:
        family, sockaddr = _listen_address(network, address, families, socktype)
    fd = _bound_fd(network, address, family, socktype,
                   lambda sock: _bind(sock, sockaddr, network, address, False))
    return PacketConn(fd, network)


def _listen_address(network: str, address: object, families: tuple[int, ...],
                    socktype: int) -> tuple[int, Any]:
    """The (family, sockaddr) to bind; a failed lookup is a "listen"
    OpError (``listen tcp example.invalid:7000: lookup example.invalid:
    no such host``), as dial's is a "dial" one."""
    try:
        return _resolve(network, address, families, socktype, True, None)[0]
    except OSError as e:
        raise op_error("listen", network, None, _display(address), e) from None


def _bound_fd(network: str, address: object, family: int, socktype: int,
              setup: Callable[[socket.socket], None]) -> FD:
    """A new socket, set up (bound, listening) by ``setup(sock)``, as an FD.
    On an OSError the socket is closed and the error becomes a "listen"
    OpError."""
    sock = socket.socket(family, socktype)
    try:
        setup(sock)
        return FD(sock)
    except OSError as e:
        sock.close()
        raise op_error("listen", network, None, _display(address), e,
                       getattr(e, "_syscall", None)) from None


def _bind(sock: socket.socket, sockaddr: Any, network: str, address: object,
          reuse_port: bool) -> None:
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if sock.family == _AF_INET6:
        # Go: a wildcard address on "tcp"/"udp" is dual-stack; "tcp6" is
        # IPv6 only.
        v6only = 1 if network.endswith("6") else 0
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    try:
        sock.bind(sockaddr)
    except OSError as e:
        e._syscall = "bind"             # type: ignore[attr-defined]  # for _bound_fd's message
        raise


# -- dial ---------------------------------------------------------------------

def dial(network: str, address: object, *, timeout: float | None = None,
         ctx: Context | None = None) -> DialConn:
    """Connect to ``address``: a TCPConn, UnixConn, or a connected
    PacketConn for ``udp*`` / ``unixgram``.  ``timeout`` in seconds (None or
    inf: no limit; <= 0: fails at once with DeadlineExceededError; nan:
    ValueError).  ``ctx`` (netpoll.context): give up when it is done,
    raising an instance of ``ctx.err()``'s class."""
    kind, families, socktype = parse_network(network, DIAL_NETWORKS)
    shown = _display(address)
    deadline = _dial_deadline(network, shown, timeout, ctx)
    targets: _Targets
    if kind == "unix":
        targets = [(socket.AF_UNIX, unix_path(address))]
    else:
        try:
            targets = _resolve(network, address, families, socktype, False, deadline, ctx)
        except OSError as e:
            if ctx is not None and (err := ctx.err()) is not None:
                raise interrupted(f"dial {network} {shown}", err) from None
            raise op_error("dial", network, None, shown, e) from None
    first_error: OSError | None = None
    for i, (family, sockaddr) in enumerate(targets):
        try:
            return _dial_one(network, kind, family, socktype, sockaddr,
                             _partial_deadline(deadline, len(targets) - i), ctx)
        except OSError as e:
            if ctx is not None and (err := ctx.err()) is not None:
                raise interrupted(f"dial {network} {shown}", err) from None
            if first_error is None:
                first_error = e
            if isinstance(e, DeadlineExceededError) and deadline is not None \
                    and time.monotonic() >= deadline:
                break
    raise op_error("dial", network, None, shown,
                   first_error) from None  # type: ignore[arg-type]  # set: targets is never empty


def _dial_deadline(network: str, shown: str, timeout: float | None,
                   ctx: Context | None) -> float | None:
    """The monotonic time the dial must finish by (None: no limit): the
    earlier of ``timeout`` from now and the context's deadline.  Fails at
    once for a timeout <= 0 or a context already done."""
    deadline = None
    if timeout is not None:
        timeout = _check_timeout(timeout)
        if timeout <= 0:
            raise op_error("dial", network, None, shown, DeadlineExceededError())
        if timeout != math.inf:
            deadline = time.monotonic() + timeout
    if ctx is not None:
        if (err := ctx.err()) is not None:
            raise interrupted(f"dial {network} {shown}", err)
        d = ctx.deadline()
        if d is not None and (deadline is None or d < deadline):
            deadline = d
    return deadline


def _check_timeout(timeout: Any) -> float:        # Any: checked here
    if isinstance(timeout, (str, bytes)):
        raise TypeError(f"dial timeout must be a number of seconds, not {timeout!r}")
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        raise TypeError(f"dial timeout must be a number of seconds, not {timeout!r}") from None
    if t != t:
        raise ValueError("dial timeout must not be nan")
    return t


def _abort_connect(fd: FD) -> None:
    """The dial's context is done: wake its connect (a write deadline in
    the past), unless the connect has finished and closed the socket."""
    try:
        fd.set_deadline(0, MODE_WRITE)
    except (OSError, RuntimeError):
        pass


def _partial_deadline(deadline: float | None, remaining: int) -> float | None:
    """A share of the time left for one of ``remaining`` addresses (Go:
    partialDeadline: an equal share, but at least 2 s if there is that much)."""
    if deadline is None or remaining <= 1:
        return deadline
    now = time.monotonic()
    left = deadline - now
    share = left / remaining
    if share < 2.0:
        share = min(left, 2.0)
    return now + share


def _dial_one(network: str, kind: str, family: int, socktype: int, sockaddr: Any,
              deadline: float | None, ctx: Context | None = None) -> DialConn:
    sock = socket.socket(family, socktype)
    try:
        fd = FD(sock)
    except BaseException:
        sock.close()
        raise
    stop = None
    try:
        if ctx is not None:
            stop = ctx.on_done(lambda: _abort_connect(fd))
        fd.connect(sockaddr, deadline)
        if socktype == socket.SOCK_STREAM and kind == "ip":
            laddr = fd.getsockname()
            if laddr[:2] == fd.getpeername()[:2]:
                # Go's selfConnect: dialing a free local port can connect
                # the socket to itself.
                raise ConnectionRefusedError(111, "connection refused")
            setup_tcp(fd)
            return TCPConn(fd, network, laddr, sockaddr)
    except BaseException:
        fd.close()
        raise
    finally:
        if stop is not None:
            stop()
    if kind == "unix" and socktype == socket.SOCK_STREAM:
        return UnixConn(fd, network, None, sockaddr)
    return PacketConn(fd, network, None, sockaddr)


__all__ = ["listen", "dial", "listen_packet", "max_listener_backlog",
           "TCPAddr", "UDPAddr", "UnixAddr"]
