"""Cooperative ``select.select``, ``select.poll`` and ``selectors`` (gevent:
``select.py``, ``selectors.py``).

Libraries that wait on their sockets themselves (urllib3's
``wait_for_read``, redis-py's health checks, ``socket.sendfile``) call
these.  Each one keeps the original's answer: it asks the original call
with a zero timeout, and only when nothing is ready parks the goroutine
until something probably changed, then asks again.  The park goes through
a PollDesc, the runtime's one way to wait for a descriptor:

* one patched socket, whose lock for that direction is free: park on its
  own FD (no system call beyond the checks);
* anything else: a private epoll instance (level-triggered) holding the
  descriptors; its own descriptor becomes readable when any of them is
  ready, so a temporary PollDesc for it is registered with the runtime's
  poller, waited on with the deadline, and closed.  An epoll selector is
  itself such an instance and is waited on directly.  Where epoll does not
  exist, the original call runs in a worker thread (``to_thread``).

Outside a running runtime, or with a zero timeout, the originals run.
``select.epoll`` / ``kqueue`` objects are not patched (netpoll's own
pollers use them): waiting in them blocks the thread.
"""

from __future__ import annotations

import math
import select as _select_mod
import selectors as _selectors
import time
from collections.abc import Iterable
from typing import Any, Protocol

from ..errors import ClosedError
from ..poller import MODE_READ, MODE_WRITE
from ..runtime.polldesc import poll_open
from ..runtime.scheduler import sleep as _np_sleep
from ..runtime.threads import to_thread
from .sockets import RLOCK_WLOCK, coop_runtime
from .sockets import socket as _coopsocket

_orig_select = _select_mod.select
_orig_poll = _select_mod.poll
_orig_epoll = getattr(_select_mod, "epoll", None)
_monotonic = time.monotonic
_POLLIN = _select_mod.POLLIN
_POLLPRI = _select_mod.POLLPRI
_POLLOUT = _select_mod.POLLOUT


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


# The objects select() and poll() take are descriptors or _HasFileno; the
# lists of them are list[Any], as the originals' (typeshed) take and return.
def _fileno(obj: int | _HasFileno) -> int:
    if isinstance(obj, int):
        return obj
    return obj.fileno()


# rt: the calling thread's Runtime (Any: the runtime is not annotated yet).
def _wait_pd(rt: Any, sysfd: int, deadline: float | None) -> bool:
    """Park on a temporary PollDesc for ``sysfd`` (readable); False if the
    deadline passed first."""
    pd = poll_open(sysfd, rt)
    try:
        if deadline is not None:
            pd.set_deadline(deadline, MODE_READ)
        code: int = pd.prepare(MODE_READ)
        if not code:
            code = pd.wait(MODE_READ)
        return code == 0
    finally:
        pd.evict()
        pd.close()


def wait_ready(rt: Any, reads: list[Any], writes: list[Any], excepts: list[Any],
               deadline: float | None) -> bool:
    """Park until one of the objects (or descriptors) is probably ready or
    ``deadline`` (monotonic, None: none) passes; False on timeout."""
    objs = len(reads) + len(writes)
    if objs == 1 and not excepts:
        obj = reads[0] if reads else writes[0]
        if isinstance(obj, _coopsocket):
            mode = MODE_READ if reads else MODE_WRITE
            fd = obj._np_here()
            if fd is not None and not fd.state & RLOCK_WLOCK[mode]:
                try:
                    return obj._np_park(fd, mode, deadline)
                except ClosedError:
                    return True     # closed meanwhile: the check reports it

    if not objs and not excepts:
        _np_sleep(math.inf if deadline is None else max(0.0, deadline - _monotonic()))
        return False
    if _orig_epoll is None:
        left = None if deadline is None else max(0.0, deadline - _monotonic())
        return any(to_thread(_orig_select, reads, writes, excepts, left))
    masks: dict[int, int] = {}
    for objs_, bit in ((reads, _select_mod.EPOLLIN), (writes, _select_mod.EPOLLOUT),
                       (excepts, _select_mod.EPOLLPRI)):
        for obj in objs_:
            f = _fileno(obj)
            masks[f] = masks.get(f, 0) | bit
    ep = _orig_epoll()
    try:
        for f, mask in masks.items():
            try:
                ep.register(f, mask)
            except PermissionError:
                return True         # a regular file: always ready
        return _wait_pd(rt, ep.fileno(), deadline)
    finally:
        ep.close()


def _deadline(timeout: float | None, scale: float = 1.0) -> float | None:
    if timeout is None:
        return None
    return _monotonic() + timeout * scale


def select(rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any],
           timeout: float | None = None) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select`` that parks only the calling goroutine."""
    rt = coop_runtime()
    if rt is None or timeout == 0:
        return _orig_select(rlist, wlist, xlist, timeout)
    if timeout is not None:
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
        if timeout != timeout:
            raise ValueError("Invalid value NaN (not a number)")
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
    ready = _orig_select(rlist, wlist, xlist, 0)
    if ready[0] or ready[1] or ready[2]:
        return ready
    deadline = _deadline(timeout)
    while True:
        if not wait_ready(rt, rlist, wlist, xlist, deadline):
            return [], [], []
        ready = _orig_select(rlist, wlist, xlist, 0)
        if ready[0] or ready[1] or ready[2]:
            return ready


class poll:  # noqa: N801 (it replaces select.poll)
    """``select.poll()`` whose ``poll`` parks only the calling goroutine."""

    def __init__(self) -> None:
        self._p = _orig_poll()
        self._objs: dict[int, tuple[Any, int]] = {}   # fd -> (object, eventmask)

    def register(self, fd: Any, eventmask: int = _POLLIN | _POLLPRI | _POLLOUT) -> None:
        self._p.register(fd, eventmask)
        self._objs[_fileno(fd)] = (fd, eventmask)

    def modify(self, fd: Any, eventmask: int) -> None:
        self._p.modify(fd, eventmask)
        self._objs[_fileno(fd)] = (fd, eventmask)

    def unregister(self, fd: Any) -> None:
        self._p.unregister(fd)
        del self._objs[_fileno(fd)]

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        rt = coop_runtime()
        if rt is None or timeout == 0:
            return self._p.poll(timeout)
        ready = self._p.poll(0)
        if ready:
            return ready
        if timeout is not None and timeout < 0:
            timeout = None
        deadline = _deadline(timeout, 0.001)
        while True:
            reads: list[Any] = []
            writes: list[Any] = []
            excepts: list[Any] = []
            for obj, mask in self._objs.values():
                if mask & _POLLIN:
                    reads.append(obj)
                if mask & _POLLOUT:
                    writes.append(obj)
                if mask & _POLLPRI and not mask & _POLLIN:
                    excepts.append(obj)
            if not wait_ready(rt, reads, writes, excepts, deadline):
                return []
            ready = self._p.poll(0)
            if ready:
                return ready


class _CoopSelector:
    """Mixed into each selector class: ``select`` parks the goroutine."""

    # A mixin: super() is the selector class it is mixed into.
    def select(self, timeout: float | None = None
               ) -> list[tuple[_selectors.SelectorKey, int]]:
        rt = coop_runtime()
        if rt is None or (timeout is not None and timeout <= 0):
            return super().select(timeout)        # type: ignore[misc,no-any-return]
        ready: list[tuple[_selectors.SelectorKey, int]] = super().select(0)  # type: ignore[misc]
        if ready:
            return ready
        deadline = _deadline(timeout)
        own = getattr(self, "_selector", None)
        pollable = own is not None and hasattr(own, "fileno")
        while True:
            if pollable and self.get_map():     # type: ignore[attr-defined]
                ok = _wait_pd(rt, own.fileno(), deadline)    # type: ignore[union-attr]
            else:
                reads: list[Any] = []
                writes: list[Any] = []
                for key in self.get_map().values():     # type: ignore[attr-defined]
                    if key.events & _selectors.EVENT_READ:
                        reads.append(key.fd)
                    if key.events & _selectors.EVENT_WRITE:
                        writes.append(key.fd)
                ok = wait_ready(rt, reads, writes, [], deadline)
            if not ok:
                return []
            ready = super().select(0)         # type: ignore[misc]
            if ready:
                return ready


def _coop_class(cls: type[_selectors.BaseSelector]) -> type[_selectors.BaseSelector]:
    return type(cls.__name__, (_CoopSelector, cls),
                {"__doc__": f"{cls.__name__} whose select() parks only the calling goroutine.",
                 "__module__": __name__})


SELECTOR_NAMES = [n for n in ("SelectSelector", "PollSelector", "EpollSelector",
                              "DevpollSelector", "KqueueSelector")
                  if hasattr(_selectors, n)]
COOP_SELECTORS = {n: _coop_class(getattr(_selectors, n)) for n in SELECTOR_NAMES}
COOP_SELECTORS["DefaultSelector"] = COOP_SELECTORS[_selectors.DefaultSelector.__name__]
