"""Datagram end points: PacketConn (Go: net.PacketConn, UDPConn, and
UnixConn over unixgram).

``listen_packet`` returns an unconnected PacketConn (``read_from`` /
``write_to``); ``dial("udp", ...)`` returns a connected one, which also
``read``s and ``write``s like any Conn.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from ..errors import ClosedError
from ..runtime.threads import to_thread
from .addr import (Addr, UDPAddr, UnixAddr, _IPAddr, ip_family, split_address,
                   to_addr, unix_path)
from .conn import _ADDR_CLASS, Conn
from .errors import op_error

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class PacketConn(Conn):
    """A UDP or unixgram socket."""

    __slots__ = ()

    def read_from(self, n: int = 65536) -> tuple[bytes, Addr | None]:
        """One datagram (at most ``n`` bytes of it) and its sender's address."""
        try:
            data, addr = self.fd.recvfrom(n)
        except OSError as e:
            raise self._error("read", e) from None
        if addr is None:
            return data, None
        return data, to_addr(_ADDR_CLASS[self.net], addr, self.net)

    def write_to(self, data: ReadableBuffer, addr: object) -> int:
        """Send ``data`` as one datagram to ``addr``: an address returned by
        ``read_from``, a ``"host:port"`` string, a (host, port) tuple, or a
        unix path.  Returns its length."""
        try:
            sockaddr = self._sockaddr(addr)
        except OSError as e:
            raise op_error_to(self, addr, e) from None
        try:
            return self.fd.sendto(data, sockaddr)
        except OSError as e:
            raise op_error_to(self, addr, e) from None

    def _sockaddr(self, addr: object) -> Any:       # a socket address (Any in typeshed)
        if self.net == "unixgram":
            return unix_path(addr)
        host, port = split_address(addr, self.net)
        sock = self.fd.sock
        if sock is None:
            raise ClosedError()
        family = sock.family
        fam = ip_family(host) if host else socket.AF_INET
        if fam is None:
            # A host name: resolve off the runtime thread, as dial does.
            infos = to_thread(socket.getaddrinfo, host, port, family, socket.SOCK_DGRAM)
            return infos[0][4]
        if not host:
            host = "127.0.0.1"
        if family == socket.AF_INET6 and fam == socket.AF_INET:
            host = "::ffff:" + host           # an IPv4 peer of a dual-stack socket
        elif family == socket.AF_INET and fam == socket.AF_INET6:
            raise ValueError(f"address {addr}: an IPv6 address on an IPv4 socket")
        return (host, port)


def op_error_to(conn: PacketConn, addr: object, exc: OSError) -> OSError:
    if not isinstance(addr, (_IPAddr, UnixAddr, str)):
        addr = str(addr)
    return op_error("write", conn.net, conn._addr_or_none(True), addr, exc)


__all__ = ["PacketConn", "UDPAddr"]
