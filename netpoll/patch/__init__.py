"""``netpoll.patch()``: existing blocking libraries run in goroutines
(gevent: ``monkey.py``; Go needs none, as every library uses ``net``).

``patch(*, socket=True, ssl=True, select=True, time=True, dns=True)``
replaces, in the standard library's modules:

=========  ==============================================================
socket     ``socket.socket`` (a cooperative subclass, see ``sockets``);
           ``create_connection``, ``socketpair``, ``fromfd`` and
           ``socket.accept`` build it through ``socket.py``'s globals
ssl        ``ssl.SSLContext.sslsocket_class`` (every ``wrap_socket``)
select     ``select.select``, ``select.poll``, ``selectors.*Selector``
           and ``selectors.DefaultSelector`` (see ``waiting``)
time       ``time.sleep``: ``netpoll.sleep`` in a goroutine
dns        ``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr``,
           ``getnameinfo``: in the resolver pool's threads (``resolver``)
=========  ==============================================================

Every replacement decides per call: in a thread that has a netpoll runtime
(inside ``run``, or created by an earlier blocking netpoll call), it parks
the calling goroutine; in any other thread (a ``to_thread`` worker, a
library's own thread pool, a program that never uses netpoll's runtime)
it behaves like the original and blocks that thread only.

Patch before importing the libraries: one that did ``from socket import
socket`` or ``from time import sleep`` earlier keeps the original.
``patch`` is idempotent and a later call may patch more; ``patched()``
names what is patched.  ``NETPOLL_PATCH=1`` (or a comma list such as
``socket,dns``) applies it when ``netpoll`` is imported.

``threading`` is not patched: a ``threading.Lock`` that one goroutine holds
across I/O blocks the whole thread when a second goroutine of the same
thread tries to take it (nothing can then release it).  The watchdog
(``NETPOLL_WATCHDOG`` / ``netpoll.set_watchdog``) reports such a stall:
the blocked goroutine's stack, the lock call, and the parked goroutines,
the holder among them; see docs/compatibility.md.
"""

import threading
import time as _time_mod

_lock = threading.Lock()
_saved = {}                  # (module, attribute) -> original value
_patched = set()
NAMES = ("socket", "ssl", "select", "time", "dns")


def _set(module, name, value):
    key = (module, name)
    if key not in _saved:
        _saved[key] = getattr(module, name, _MISSING)
    setattr(module, name, value)


_MISSING = object()
_orig_sleep = _time_mod.sleep


def sleep(secs):
    """``time.sleep`` that parks only the calling goroutine (``netpoll.sleep``)
    in a running runtime, and blocks the thread elsewhere."""
    from ..runtime.scheduler import _local
    from ..runtime.scheduler import sleep as np_sleep
    rt = getattr(_local, "rt", None)
    if rt is None or rt.closed:
        return _orig_sleep(secs)
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    if secs != secs:
        raise ValueError("Invalid value NaN (not a number)")
    np_sleep(secs)


def patch(*, socket=True, ssl=True, select=True, time=True, dns=True):
    """Make the standard library cooperative (docs/reference.md §7); returns
    ``patched()``."""
    with _lock:
        # netpoll's level-triggered backends bind select.select / select.poll
        # when imported; import them now, while those are the originals.
        from ..poller import poll as _p  # noqa: F401
        from ..poller import select as _s  # noqa: F401
        if socket and "socket" not in _patched:
            import socket as m

            from .sockets import socket as cls
            _set(m, "socket", cls)
            _patched.add("socket")
        if dns and "dns" not in _patched:
            import socket as m

            from . import resolver
            for name in resolver._orig:
                _set(m, name, getattr(resolver, name))
            _patched.add("dns")
        if ssl and "ssl" not in _patched:
            import ssl as m

            from .sslsockets import SSLSocket
            # Not ssl.SSLSocket itself: ssl.py's own code names it through
            # its globals (super(SSLSocket, self)); ours is its subclass, so
            # isinstance checks against it still hold.
            _set(m.SSLContext, "sslsocket_class", SSLSocket)
            _patched.add("ssl")
        if select and "select" not in _patched:
            import select as m
            import selectors

            from . import waiting
            _set(m, "select", waiting.select)
            _set(m, "poll", waiting.poll)
            for name, cls in waiting.COOP_SELECTORS.items():
                _set(selectors, name, cls)
            _patched.add("select")
        if time and "time" not in _patched:
            _set(_time_mod, "sleep", sleep)
            _patched.add("time")
    return patched()


def patched():
    """The names of what is patched: a subset of ``socket``, ``ssl``,
    ``select``, ``time``, ``dns``."""
    return frozenset(_patched)


def unpatch():
    """Put every original back (for tests).  Objects already created by
    the patched classes keep working: outside a runtime they behave like
    the originals."""
    with _lock:
        for (module, name), value in reversed(list(_saved.items())):
            if value is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, value)
        _saved.clear()
        _patched.clear()


def patch_from_env(value):
    """Apply ``NETPOLL_PATCH``: ``1``/``all``/``true`` for everything, or a
    comma list of names; ``0``/empty for nothing."""
    value = value.strip().lower()
    if value in ("", "0", "false", "no"):
        return patched()
    if value in ("1", "all", "true", "yes"):
        return patch()
    names = {n.strip() for n in value.split(",") if n.strip()}
    unknown = names - set(NAMES)
    if unknown:
        raise ValueError(f"NETPOLL_PATCH: unknown name(s) {sorted(unknown)}; "
                         f"valid: {', '.join(NAMES)}")
    return patch(**{n: n in names for n in NAMES})
