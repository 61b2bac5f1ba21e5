"""Name resolution without stopping other goroutines: the patched
``getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr``
and ``getnameinfo`` (gevent: its threaded resolver; Go: net's cgo
resolver on its own threads).

In a goroutine, a call that could touch the network (a host name, a
reverse lookup) runs in a thread of netpoll's resolver pool
(``threads.lookup``, the pool ``net.dial`` uses, apart from ``to_thread``'s,
so a to_thread pool full of blocked calls cannot starve it); a literal
IP address, or a call outside a running runtime, calls the original at
once.
"""

import socket as _stdsocket

from ..runtime.threads import lookup
from .sockets import _is_ip, coop_runtime

_orig = {name: getattr(_stdsocket, name) for name in
         ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
          "getnameinfo")}


def resolve(fn, *args):
    """``fn(*args)`` in a resolver thread when called in a goroutine, else
    directly."""
    if coop_runtime() is None:
        return fn(*args)
    return lookup(fn, *args)


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    fn = _orig["getaddrinfo"]
    if _is_ip(host) or host is None or coop_runtime() is None:
        return fn(host, port, family, type, proto, flags)
    return lookup(fn, host, port, family, type, proto, flags)


def gethostbyname(hostname):
    fn = _orig["gethostbyname"]
    if _is_ip(hostname) or coop_runtime() is None:
        return fn(hostname)
    return lookup(fn, hostname)


def gethostbyname_ex(hostname):
    return resolve(_orig["gethostbyname_ex"], hostname)


def gethostbyaddr(ip_address):
    return resolve(_orig["gethostbyaddr"], ip_address)


def getnameinfo(sockaddr, flags):
    fn = _orig["getnameinfo"]
    numeric = _stdsocket.NI_NUMERICHOST | _stdsocket.NI_NUMERICSERV
    if type(sockaddr) is not tuple or flags & numeric == numeric or coop_runtime() is None:
        try:
            return fn(sockaddr, flags)
        except BaseException:
            sockaddr = None     # the traceback keeps this frame: drop our reference
            raise
    return lookup(fn, sockaddr, flags)


for _name in _orig:
    globals()[_name].__doc__ = _orig[_name].__doc__
