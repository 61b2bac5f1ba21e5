"""netpoll.net: Go's net package for goroutines (Go: net).

    ln = net.listen("tcp", "127.0.0.1:0")
    conn = net.dial("tcp", str(ln.addr), timeout=5)

``listen`` / ``dial`` / ``listen_packet`` build a socket, an ``FD``
(netpoll.internal) and a Conn, Listener or PacketConn around it.  Blocking
calls park the calling goroutine; deadlines, closing and errors follow Go
(see docs/reference.md, "Network", "Deadlines", "Closing", "Errors").
"""

from ..errors import ClosedError, DeadlineExceededError
from .addr import TCPAddr, UDPAddr, UnixAddr, join_host_port, split_host_port
from .conn import Conn, TCPConn, UnixConn
from .dial import dial, listen, listen_packet
from .listener import Listener
from .packet import PacketConn

__all__ = [
    "listen", "dial", "listen_packet",
    "Conn", "TCPConn", "UnixConn", "PacketConn", "Listener",
    "TCPAddr", "UDPAddr", "UnixAddr", "split_host_port", "join_host_port",
    "ClosedError", "DeadlineExceededError",
]
