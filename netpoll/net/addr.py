"""Addresses: the TCPAddr / UDPAddr / UnixAddr objects and Go-style parsing
of ``"host:port"`` strings (Go: net/ipsock.go, tcpsock.go, unixsock.go).

Parsing never blocks: literal IPs are recognised with inet_pton, ports are
numbers (or service names from /etc/services).  Host names are resolved by
``netpoll.net.dial`` through ``to_thread``.
"""

import socket

_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_V4MAPPED = "::ffff:"

# network name -> (kind, address families allowed, socket type)
NETWORKS = {
    "tcp": ("ip", (_AF_INET, _AF_INET6), socket.SOCK_STREAM),
    "tcp4": ("ip", (_AF_INET,), socket.SOCK_STREAM),
    "tcp6": ("ip", (_AF_INET6,), socket.SOCK_STREAM),
    "udp": ("ip", (_AF_INET, _AF_INET6), socket.SOCK_DGRAM),
    "udp4": ("ip", (_AF_INET,), socket.SOCK_DGRAM),
    "udp6": ("ip", (_AF_INET6,), socket.SOCK_DGRAM),
    "unix": ("unix", (socket.AF_UNIX,), socket.SOCK_STREAM),
    "unixgram": ("unix", (socket.AF_UNIX,), socket.SOCK_DGRAM),
}


def parse_network(network, allowed):
    """Validate ``network`` against the names ``allowed`` for an operation."""
    if network not in NETWORKS:
        hint = ""
        if isinstance(network, str) and network.strip().lower() in allowed:
            hint = f' (did you mean "{network.strip().lower()}"?)'
        raise ValueError(f'unknown network "{network}"{hint}: valid networks '
                         f'here are {", ".join(allowed)}')
    if network not in allowed:
        raise ValueError(f"network {network!r} not supported here "
                         f"(use one of {', '.join(allowed)})".replace("'", '"'))
    return NETWORKS[network]


class _IPAddr:
    """An IP address and port; ``host`` is a literal IP ('' for none)."""

    __slots__ = ("host", "port")
    network = ""

    def __init__(self, host, port):
        self.host = host
        self.port = port

    @property
    def family(self):
        return _AF_INET6 if ":" in self.host else _AF_INET

    def __str__(self):
        return join_host_port(self.host, self.port)

    def __repr__(self):
        return f"{type(self).__name__}({str(self)!r})"

    def __eq__(self, other):
        return (type(other) is type(self) and other.host == self.host
                and other.port == self.port)

    def __hash__(self):
        return hash((type(self), self.host, self.port))

    def __iter__(self):
        # Unpacks like a socket address: host, port = addr
        yield self.host
        yield self.port


class TCPAddr(_IPAddr):
    """The address of a TCP end point; ``str()`` is ``"127.0.0.1:54321"``
    or ``"[::1]:54321"``."""

    __slots__ = ()
    network = "tcp"


class UDPAddr(_IPAddr):
    """The address of a UDP end point."""

    __slots__ = ()
    network = "udp"


class UnixAddr:
    """The address of a Unix domain socket: a path, ``@name`` for Linux's
    abstract namespace, or '' for an unnamed socket."""

    __slots__ = ("path", "network")

    def __init__(self, path, network="unix"):
        self.path = path
        self.network = network

    def __str__(self):
        return self.path

    def __repr__(self):
        return f"UnixAddr({self.path!r})"

    def __eq__(self, other):
        return (type(other) is UnixAddr and other.path == self.path
                and other.network == self.network)

    def __hash__(self):
        return hash((UnixAddr, self.path, self.network))


# -- host:port strings (Go: SplitHostPort / JoinHostPort) ---------------------

def split_host_port(hostport):
    """Split ``"host:port"``, ``"[v6]:port"`` or ``":port"`` into host and
    port strings; ValueError saying what is wrong otherwise."""
    def bad(why):
        return ValueError(f"address {hostport}: {why}")

    i = hostport.rfind(":")
    if i < 0:
        raise bad("missing port in address")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise bad("missing ']' in address")
        if end + 1 == len(hostport):
            raise bad("missing port in address")
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise bad("too many colons in address")
            raise bad("missing port in address")
        host = hostport[1:end]
        if "[" in hostport[1:end + 1]:
            raise bad("unexpected '[' in address")
        if "]" in hostport[end + 1:]:
            raise bad("unexpected ']' in address")
    else:
        host = hostport[:i]
        if ":" in host:
            raise bad("too many colons in address")
        if "[" in hostport:
            raise bad("unexpected '[' in address")
        if "]" in hostport:
            raise bad("unexpected ']' in address")
    return host, hostport[i + 1:]


def join_host_port(host, port):
    """``"host:port"``, with brackets around an IPv6 host."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def parse_port(port, network, where):
    """A port number from an int, a decimal string or a service name."""
    if isinstance(port, int) and not isinstance(port, bool):
        n = port
    elif isinstance(port, str):
        if port.isdigit() and port.isascii():
            n = int(port)
        elif port == "":
            raise ValueError(f"address {where}: missing port in address")
        else:
            proto = "udp" if network.startswith("udp") else "tcp"
            try:
                return socket.getservbyname(port, proto)
            except OSError:
                raise ValueError(f"address {where}: unknown port") from None
    else:
        raise ValueError(f"address {where}: invalid port {port!r}")
    if not 0 <= n <= 65535:
        raise ValueError(f"address {where}: invalid port")
    return n


def ip_family(host):
    """AF_INET or AF_INET6 if ``host`` is a literal IP (IPv6 with an
    optional %zone), else None (a host name)."""
    try:
        socket.inet_pton(_AF_INET, host)
        return _AF_INET
    except (OSError, ValueError):
        pass
    base = host.split("%", 1)[0] if "%" in host else host
    try:
        socket.inet_pton(_AF_INET6, base)
        return _AF_INET6
    except (OSError, ValueError):
        return None


def split_address(address, network):
    """``(host, port)`` from a Go-style string, a tuple or an address
    object; the port as an int."""
    if isinstance(address, _IPAddr):
        return address.host, address.port
    if isinstance(address, tuple):
        if len(address) < 2 or not isinstance(address[0], str):
            raise ValueError(f"address {address!r}: expected (host, port)")
        where = join_host_port(address[0], address[1])
        return address[0], parse_port(address[1], network, where)
    if not isinstance(address, str):
        raise TypeError(f"address must be a str or a (host, port) tuple, "
                        f"not {type(address).__name__}")
    host, port = split_host_port(address)
    if "%" in host:
        host = _numeric_zone(host, address)
    return host, parse_port(port, network, address)


def _numeric_zone(host, where):
    """``fe80::1%eth0`` -> ``fe80::1%2``: the socket module parses a zone
    given as an interface index only; Go accepts names too."""
    base, zone = host.split("%", 1)
    if zone.isdigit() or ip_family(base) != _AF_INET6:
        return host
    try:
        return f"{base}%{socket.if_nametoindex(zone)}"
    except OSError:
        raise ValueError(f"address {where}: no such network interface "
                         f"{zone!r}") from None


def unix_path(address):
    """A socket path from a unix address: '@name' is the abstract
    namespace (Linux)."""
    if isinstance(address, UnixAddr):
        address = address.path
    if isinstance(address, bytes):
        address = address.decode()
    if not isinstance(address, str):
        raise TypeError(f"unix address must be a path, not {type(address).__name__}")
    if address.startswith("@"):
        return "\0" + address[1:]
    return address


# -- socket addresses -> address objects ---------------------------------------

def unmap(host):
    """'::ffff:1.2.3.4' (an IPv4 peer of a dual-stack socket) -> '1.2.3.4'."""
    if host.startswith(_V4MAPPED) and "." in host:
        return host[len(_V4MAPPED):]
    return host


def to_addr(cls, sockaddr, network="unix"):
    """An address object from what the socket module returns (``network``
    names the kind of a UnixAddr: unix or unixgram)."""
    if cls is UnixAddr:
        if isinstance(sockaddr, bytes):
            sockaddr = sockaddr.decode(errors="replace")
        if sockaddr and sockaddr[0] == "\0":
            sockaddr = "@" + sockaddr[1:]
        return UnixAddr(sockaddr or "", network)
    host, port = sockaddr[0], sockaddr[1]
    if len(sockaddr) == 4 and sockaddr[3] and "%" not in host:
        try:
            host = f"{host}%{socket.if_indextoname(sockaddr[3])}"
        except OSError:
            host = f"{host}%{sockaddr[3]}"
    return cls(unmap(host), port)
