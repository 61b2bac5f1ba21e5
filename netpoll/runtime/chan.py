"""Channels and wait groups (Go: runtime/chan.go, sync.WaitGroup).

A channel keeps a buffer and two queues of parked goroutines, each waiter a
small ``_Waiter`` (Go: sudog) that carries the value handed over.  A send to
a parked receiver hands the value over directly; a receive from a full
buffer takes the oldest value and moves one parked sender's value in.

A goroutine parked in ``select`` (runtime/select.py) has one waiter per case,
queued on every channel involved; they share a ``sel`` (the select's list of
waiters).  Whoever takes one of them off a queue (a send, a receive, a close)
calls ``_fire``, which takes the others off their queues there and then, so
a queue only ever holds waiters that can still proceed: no stale waiter,
and the plain send/recv paths need no "already taken?" check, only the
``w.sel`` test.

A channel or wait group is bound to the thread whose runtime first parks or
wakes a goroutine through it: goroutines of one runtime cannot be woken from
another thread, so that use raises RuntimeError instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from threading import get_ident
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent, greenlet

from .local import get_runtime

if TYPE_CHECKING:
    from .scheduler import Runtime


def _bind(obj: Any) -> Runtime:  # Any: a Chan, WaitGroup or sync object (its _tid, _rt)
    """This thread's runtime, after checking that ``obj`` (a Chan, a
    WaitGroup, a sync object) belongs to this thread; the first call binds
    it.  The runtime is kept on ``obj``: the common case is one thread-id
    comparison, no lookup (speed: every wake-up and park comes here)."""
    rt: Runtime | None = obj._rt
    if rt is not None and rt.thread_id == get_ident() and not rt.closed:
        return rt
    tid = get_ident()
    if obj._tid != tid:
        if obj._tid is not None:
            raise RuntimeError(
                f"netpoll: this {type(obj).__name__} belongs to the runtime of "
                f"another thread (thread {obj._tid}); use it only from that thread")
        obj._tid = tid
    rt = obj._rt = get_runtime()
    return rt


class ChanClosed(Exception):
    """Receive from a closed and drained channel, or send on a closed one."""


class _Waiter:
    """A goroutine parked on a channel queue (Go: sudog).  ``ok`` says the
    operation happened (False: the channel was closed).  ``sel`` is None
    here, a class attribute so that a plain waiter sets three slots only
    (speed); a select's waiters are _SelectWaiters."""

    __slots__ = ("g", "value", "ok")
    # The select's list: its winner (or None), then its _SelectWaiters.
    sel: list[Any] | None = None

    g: greenlet
    value: Any                   # the value sent or received
    ok: bool

    def __init__(self, g: greenlet, value: Any = None) -> None:
        self.g = g
        self.value = value
        self.ok = False


class _SelectWaiter(_Waiter):
    """A select's waiter for one case: ``sel`` is the select's list of
    waiters (its first slot the winner, once there is one), ``case`` this
    waiter's case index, ``queue`` the channel queue it is on."""

    __slots__ = ("sel", "case", "queue")

    case: int
    queue: deque[_Waiter]

    def __init__(self, g: greenlet, value: Any, sel: list[Any], case: int,
                 queue: deque[_Waiter]) -> None:
        self.g = g
        self.value = value
        self.ok = False
        self.sel = sel
        self.case = case
        self.queue = queue


def _fire(w: _Waiter) -> None:
    """``w``, a select's waiter, has just been taken off its queue: take
    its siblings off theirs and record it as the select's winner (the
    list's first slot)."""
    sel: list[Any] = w.sel  # type: ignore[assignment]  # called for a select's waiter only
    for other in sel[1:]:
        if other is not w:
            try:
                other.queue.remove(other)
            except ValueError:
                pass
    sel[0] = w


class Chan:
    """A Go channel: ``Chan()`` is unbuffered, ``Chan(n)`` buffers n values."""

    def __init__(self, capacity: int = 0) -> None:
        if not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"channel capacity must be an int >= 0, not {capacity!r}")
        self.capacity = capacity
        self._buf: deque[Any] = deque()
        self._recvq: deque[_Waiter] = deque()
        self._sendq: deque[_Waiter] = deque()
        self.closed = False
        self._tid: int | None = None          # the thread of the runtime it is used by
        self._rt: Runtime | None = None  # that runtime, once bound

    def __len__(self) -> int:
        return len(self._buf)

    def send(self, value: Any) -> None:
        """Send ``value``; block until a receiver takes it or buffer space
        frees.  ChanClosed if the channel is (or gets) closed."""
        if self.closed:
            raise ChanClosed("send on closed channel")
        recvq = self._recvq
        if recvq:
            rt = _bind(self)
            w = recvq.popleft()
            w.value = value
            w.ok = True
            if w.sel is not None:
                _fire(w)
            rt.ready(w.g)
            return
        if len(self._buf) < self.capacity:
            self._buf.append(value)
            return
        rt = _bind(self)
        w = _Waiter(getcurrent(), value)
        self._sendq.append(w)
        self._park(rt, w, self._sendq, "chan send")
        if not w.ok:
            raise ChanClosed("send on closed channel")

    def recv(self) -> Any:
        """Receive a value; block until one is sent.  ChanClosed once the
        channel is closed and drained."""
        value, ok = self.recv_ok()
        if not ok:
            raise ChanClosed("receive from closed channel")
        return value

    def recv_ok(self) -> tuple[Any, bool]:
        """Go's ``v, ok := <-ch``: ``(value, True)``, or ``(None, False)``
        once the channel is closed and drained."""
        buf = self._buf
        sendq = self._sendq
        if buf:
            if sendq:
                rt = _bind(self)
                value = buf.popleft()
                w = sendq.popleft()
                buf.append(w.value)
                w.ok = True
                if w.sel is not None:
                    _fire(w)
                rt.ready(w.g)
                return value, True
            return buf.popleft(), True
        if sendq:
            rt = _bind(self)
            w = sendq.popleft()
            w.ok = True
            if w.sel is not None:
                _fire(w)
            rt.ready(w.g)
            return w.value, True
        if self.closed:
            return None, False
        rt = _bind(self)
        w = _Waiter(getcurrent())
        self._recvq.append(w)
        self._park(rt, w, self._recvq, "chan receive")
        if w.ok:
            return w.value, True
        return None, False

    def try_send(self, value: Any) -> bool:
        """Send without blocking; False if no receiver waits and the buffer
        is full.  ChanClosed if closed."""
        if self.closed:
            raise ChanClosed("send on closed channel")
        if self._recvq or len(self._buf) < self.capacity:
            self.send(value)
            return True
        return False

    def try_recv(self) -> tuple[Any, bool]:
        """``(value, True)`` if one is available now, else ``(None, False)``
        (also when closed and drained)."""
        if self._buf or self._sendq:
            return self.recv_ok()
        return None, False

    def close(self) -> None:
        """Close: waiting receivers get ChanClosed, waiting senders too."""
        if self.closed:
            raise ChanClosed("close of closed channel")
        rt = _bind(self)
        self.closed = True
        for q in (self._recvq, self._sendq):
            while q:
                w = q.popleft()
                w.ok = False
                if w.sel is not None:
                    _fire(w)
                rt.ready(w.g)

    def __iter__(self) -> Iterator[Any]:
        while True:
            value, ok = self.recv_ok()
            if not ok:
                return
            yield value

    @staticmethod
    def _park(rt: Runtime, w: _Waiter, queue: deque[_Waiter], reason: str) -> None:
        try:
            rt.park(reason)
        except BaseException:
            try:
                queue.remove(w)
            except ValueError:
                pass
            raise

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<Chan {len(self._buf)}/{self.capacity}{state}>"


class WaitGroup:
    """Go's sync.WaitGroup: ``add(n)``, ``done()``, ``wait()``."""

    def __init__(self) -> None:
        self._count = 0
        self._waiters: list[greenlet] = []
        self._tid: int | None = None
        self._rt: Runtime | None = None

    @property
    def count(self) -> int:
        return self._count

    def add(self, n: int = 1) -> None:
        count = self._count + n
        if count < 0:
            raise ValueError("negative WaitGroup counter")
        if count == 0 and self._waiters:
            rt = _bind(self)
            self._count = count
            waiters, self._waiters = self._waiters, []
            for g in waiters:
                rt.ready(g)
        else:
            self._count = count

    def done(self) -> None:
        self.add(-1)

    def wait(self) -> None:
        if not self._count:
            return
        rt = _bind(self)
        while self._count:
            me = getcurrent()
            self._waiters.append(me)
            try:
                rt.park("WaitGroup wait")
            except BaseException:
                if me in self._waiters:
                    self._waiters.remove(me)
                raise
