"""The per-OS pollers, one module per backend (Go: runtime/netpoll_*.go).

Every backend implements the interface below, written once here as Go writes
it once at the top of ``runtime/netpoll.go``.  The runtime talks to a poller
only through these methods; a poller talks back only through
``PollDesc.netpollready(mode)``.

Edge-triggered backends (epoll, kqueue) register a descriptor once, for its
whole life, watching both directions; a readiness edge that arrives while no
goroutine waits is latched in the PollDesc.  Level-triggered backends (poll,
select) pass their whole interest set to the kernel on every wait, so they
watch a descriptor only while a goroutine is parked on it (``arm``) and stop
as soon as it is woken (``disarm``): a ready descriptor nobody waits for
would otherwise make every wait return at once.
"""

import os
import select as _select
from typing import Optional, Protocol

MODE_READ = 1
MODE_WRITE = 2
# Passed to netpollready with MODE_READ when the kernel reported hang-up or
# an error (EPOLLRDHUP/HUP/ERR, EV_EOF): EOF or an error is pending and no
# further edge will announce it; or urgent data (EPOLLPRI): a read stops
# short at its mark with data still queued.  Either way a short read no
# longer proves the receive queue empty (PollDesc.hup, FD's drained-read
# shortcut).
MODE_HUP = 4


# The longest a poller waits in one call, in seconds: every backend clamps
# a longer timeout (a far-future deadline, inf) to it and the scheduler
# simply waits again.  epoll_wait and poll take an int of milliseconds
# (about 24.8 days at most) and select and kqueue a timeval / timespec that
# CPython refuses past about 292 years; Go caps its wait at 1e9 ms too.
MAX_WAIT = 1e6


class Poller(Protocol):
    """What a poller backend must provide (Go: netpollinit, netpollopen, ...)."""

    name: str
    """The backend's name: ``epoll``, ``kqueue``, ``poll`` or ``select``."""

    edge_triggered: bool
    """True if ``open`` watches the descriptor for its life and ``arm`` /
    ``disarm`` are never needed (the runtime skips calling them)."""

    polls: int
    """Waits so far (``stats()['polls']``)."""

    events: int
    """Readiness events delivered to PollDescs so far."""

    ctl: int
    """Kernel registration system calls so far (add, modify, delete).
    Always 0 for level-triggered backends."""

    def open(self, fd: int, pd) -> None:
        """Start tracking ``fd`` for ``pd`` (Go: netpollopen).  Called once
        per descriptor life.  Edge-triggered backends register both
        directions here, once."""

    def close(self, fd: int) -> None:
        """Stop tracking ``fd`` (Go: netpollclose).  Called before the OS
        descriptor is closed, so no event for it can arrive afterwards."""

    def arm(self, fd: int, mode: int) -> None:
        """Level-triggered only: watch ``fd`` for ``mode`` (MODE_READ or
        MODE_WRITE) until the next event or ``disarm``.  May raise OSError if
        the backend cannot watch this descriptor (select and FD_SETSIZE)."""

    def disarm(self, fd: int, mode: int) -> None:
        """Level-triggered only: stop watching ``fd`` for ``mode``; idempotent."""

    def wait(self, timeout: Optional[float]) -> None:
        """Block until a descriptor is ready, ``timeout`` seconds pass
        (None: no limit; 0: do not block; more than MAX_WAIT, inf included:
        MAX_WAIT) or ``wakeup`` is called (Go:
        netpoll(delay)).  Calls ``pd.netpollready(mode)`` for each ready
        descriptor before returning, and nothing else: no goroutine runs
        inside ``wait``."""

    def wakeup(self) -> None:
        """Make a blocked or the next ``wait`` return; callable from any
        thread (Go: netpollBreak).  A burst of calls costs one write."""

    def shutdown(self) -> None:
        """Release the kernel object and the wake-up descriptor."""

    def forget(self) -> None:
        """After fork, in the child: drop this process's references to the
        kernel objects without touching state shared with the parent."""


def _available():
    names = []
    if hasattr(_select, "epoll"):
        names.append("epoll")
    if hasattr(_select, "kqueue"):
        names.append("kqueue")
    if hasattr(_select, "poll"):
        names.append("poll")
    names.append("select")
    return names


_AVAILABLE = tuple(_available())
VALID_NAMES = ("epoll", "kqueue", "poll", "select", "auto")


def pollers():
    """The poller backends this OS offers, best first."""
    return list(_AVAILABLE)


def resolve(name=None):
    """Turn a poller name (None: ``$NETPOLL_POLLER``, else ``auto``) into the
    name of an available backend; ValueError for an unknown or missing one."""
    if name is None:
        name = os.environ.get("NETPOLL_POLLER") or "auto"
    if not isinstance(name, str):
        raise TypeError(f"poller must be a str, not {type(name).__name__}")
    key = name.strip().lower()
    if key == "auto":
        return _AVAILABLE[0]
    if key not in VALID_NAMES:
        raise ValueError(
            f"unknown poller {name!r}: valid pollers are "
            f"{', '.join(_AVAILABLE + ('auto',))}")
    if key not in _AVAILABLE:
        raise ValueError(
            f"poller {key!r} is not available on this OS: available pollers "
            f"are {', '.join(_AVAILABLE)}")
    return key


def new_poller(name=None):
    """Create the backend ``name`` (see ``resolve``)."""
    key = resolve(name)
    if key == "epoll":
        from .epoll import EpollPoller as cls
    elif key == "kqueue":
        from .kqueue import KqueuePoller as cls
    elif key == "poll":
        from .poll import PollPoller as cls
    else:
        from .select import SelectPoller as cls
    return cls()
