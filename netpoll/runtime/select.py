"""select over channels (Go: runtime/select.go, selectgo).

``select(Recv(a), Send(b, v), default=False) -> (index, value, ok)``.

Go's selectgo in three passes, without the locks (a runtime is one thread
and nothing runs between two statements of a goroutine unless it parks):

  1. look at every case; collect those that can proceed now (a buffered
     value, a parked partner, a closed channel, free buffer space) and
     perform one of them chosen uniformly at random;
  2. none: with ``default`` return at once; otherwise queue one waiter
     (Go: sudog) per case on its channel, all sharing one ``sel`` list,
     and park with waitreason ``select``;
  3. woken: the goroutine that took one of our waiters off its queue has
     done the transfer and, in ``chan._fire``, taken the other waiters off
     theirs, so nothing is left behind.  If we leave the park point by an
     exception instead (GoroutineExit at teardown), we take them off here.

A ``None`` channel (Go's nil channel) never proceeds; a select whose cases
are all ``None``, or that has none, parks forever, and the deadlock report
names it (``select (no cases)`` for the latter, as Go does).
"""

from __future__ import annotations

from random import random as _random
from typing import TYPE_CHECKING, Any, Literal

from greenlet import getcurrent

from .chan import ChanClosed, _bind, _SelectWaiter
from .local import get_runtime

if TYPE_CHECKING:
    from .chan import Chan
    from .scheduler import Runtime


class Recv:
    """A receive case: ``Recv(ch)``; ``ch`` may be None (never proceeds)."""

    __slots__ = ("ch",)
    is_send: Literal[False] = False

    ch: Chan | None

    def __init__(self, ch: Chan | None) -> None:
        self.ch = ch

    def __repr__(self) -> str:
        return f"Recv({self.ch!r})"


class Send:
    """A send case: ``Send(ch, value)``; ``ch`` may be None (never proceeds)."""

    __slots__ = ("ch", "value")
    is_send: Literal[True] = True

    ch: Chan | None
    value: Any

    def __init__(self, ch: Chan | None, value: Any) -> None:
        self.ch = ch
        self.value = value

    def __repr__(self) -> str:
        return f"Send({self.ch!r}, {self.value!r})"


def select(*cases: Recv | Send, default: bool = False) -> tuple[int, Any, bool]:
    """Block until one case can proceed, perform exactly that one and
    return ``(index, value, ok)``: ``(i, value, True)`` for a receive,
    ``(i, None, False)`` for a receive from a closed and drained channel,
    ``(i, None, True)`` for a send (ChanClosed if its channel is closed).
    With ``default=True`` and nothing ready: ``(-1, None, False)``."""
    # 1. the cases that can proceed now, one chosen uniformly at random:
    # the first ready case in a random order, as Go does.
    if len(cases) == 2:
        # Two cases, the common select (speed): a random order of two is
        # one of its two rotations, so look at them in that order and stop
        # at the first ready one.
        j = 1 if _random() < 0.5 else 0
        for i in (j, 1 - j):
            case = cases[i]
            ch = case.ch
            if ch is None:
                continue
            if case.is_send:
                if ch.closed or ch._recvq or len(ch._buf) < ch.capacity:
                    ch.send(case.value)      # cannot park: it is ready
                    return i, None, True
            else:
                buf = ch._buf
                if buf and not ch._sendq:    # a buffered value: inline (speed)
                    return i, buf.popleft(), True
                if buf or ch._sendq or ch.closed:
                    value, ok = ch.recv_ok()     # cannot park either
                    return i, value, ok
    else:
        # Any other number: reservoir sampling (the k-th ready case
        # replaces the pick with probability 1/k) needs no list (speed)
        # and comes to the same.
        nready = 0
        pick = -1
        for i, case in enumerate(cases):
            ch = case.ch
            if ch is not None and (
                    (ch.closed or ch._recvq or len(ch._buf) < ch.capacity) if case.is_send
                    else (ch._buf or ch._sendq or ch.closed)):
                nready += 1
                if nready == 1 or _random() * nready < 1.0:
                    pick = i
        if nready:
            case = cases[pick]
            if case.is_send:
                case.ch.send(case.value)     # type: ignore[union-attr]  # a ready case has a channel; cannot park
                return pick, None, True
            value, ok = case.ch.recv_ok()    # type: ignore[union-attr]  # (as above) cannot park either
            return pick, value, ok
    if default:
        return -1, None, False
    # 2. park on every channel
    rt: Runtime | None = None
    for case in cases:                       # every channel of this thread,
        if case.ch is not None:              # checked before queueing any
            rt = _bind(case.ch)
    if rt is None:
        rt = get_runtime()
    me = getcurrent()
    sel: list[Any] = [None]  # Any: the winner (None until there is one), then the waiters
    for i, case in enumerate(cases):
        ch = case.ch
        if ch is not None:
            if case.is_send:
                q = ch._sendq
                w = _SelectWaiter(me, case.value, sel, i, q)
            else:
                q = ch._recvq
                w = _SelectWaiter(me, None, sel, i, q)
            sel.append(w)
            q.append(w)
    try:
        rt.park("select" if cases else "select (no cases)")
    except BaseException:
        if sel[0] is None:
            for w in sel[1:]:
                try:
                    w.queue.remove(w)
                except ValueError:
                    pass
        raise
    # 3. the winner (its siblings are off their queues already)
    w = sel[0]
    if cases[w.case].is_send:
        if not w.ok:
            raise ChanClosed("send on closed channel")
        return w.case, None, True
    if w.ok:
        return w.case, w.value, True
    return w.case, None, False


__all__ = ["select", "Recv", "Send"]
