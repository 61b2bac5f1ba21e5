"""Timers and tickers (Go: time.After, time.Timer, time.Ticker,
time.AfterFunc; runtime/time.go).

Each is an entry in the runtime's timer heap (runtime/timers.py) whose
callback runs on the scheduler when it is due: a Timer puts the time into
its channel of capacity 1 (``try_send``, so the scheduler never blocks), an
``after_func`` timer starts a goroutine, a Ticker puts the time into its
channel if there is room (a slow receiver misses ticks, as in Go) and
re-arms itself for the next multiple of its period.  Stopping cancels the
heap entry (the heap drops cancelled entries lazily and compacts itself
when they pile up, so 10,000 stopped timers leave it small).

``stop()`` and ``reset()`` return what Go's do (the pre-1.23 semantics, as
the channel has capacity 1): True if the timer was still pending.  A value
already delivered stays in the channel, so Go's idiom works as written::

    if not t.stop():
        t.c.recv()          # drain the value it fired with
    t.reset(d)

A timer belongs to the runtime of the thread that created it.  ``inf``
seconds means never; ``nan`` raises ValueError.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .chan import Chan
from .local import get_runtime
from .timers import FN, WHEN, TimerEntry

if TYPE_CHECKING:
    from .scheduler import Runtime

# A pending timer that will never fire (inf seconds): never in the heap.
_NEVER: TimerEntry = [math.inf, -1, True, None]


def check_seconds(seconds: object, what: str = "duration") -> float:
    """``seconds`` as a float; ValueError for nan or a non-number."""
    try:
        s = float(seconds)  # type: ignore[arg-type]  # any number, else TypeError below
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number of seconds, not {seconds!r}") from None
    if s != s:
        raise ValueError(f"{what} must not be nan")
    return s


class Timer:
    """Go's time.Timer: ``.c`` receives ``time.monotonic()`` once after
    ``seconds``.  ``after_func`` makes one that runs a function instead."""

    __slots__ = ("c", "_rt", "_t", "_fn", "_args")

    c: Chan | None          # None for an after_func timer
    _rt: Runtime
    _t: TimerEntry | None
    _fn: Callable[..., object] | None
    _args: tuple[Any, ...]

    def __init__(self, seconds: float, _fn: Callable[..., object] | None = None,
                 _args: tuple[Any, ...] = ()) -> None:
        seconds = check_seconds(seconds)
        self._rt = get_runtime()
        self._fn = _fn
        self._args = _args
        self.c = Chan(1) if _fn is None else None
        self._t = None
        self._start(seconds)

    def _start(self, seconds: float) -> None:
        if seconds == math.inf:
            self._t = _NEVER
        else:
            self._t = self._rt.timers.add(time.monotonic() + seconds, _fire_timer, self)

    def stop(self) -> bool:
        """Prevent the timer from firing.  True if it was pending; False if
        it had fired already or was stopped."""
        t = self._t
        if t is None or t[FN] is None:
            return False
        self._t = None
        if t is not _NEVER:
            self._rt.timers.cancel(t)
        return True

    def reset(self, seconds: float) -> bool:
        """Make the timer fire after ``seconds`` from now.  True if it was
        pending (then it will fire once, at the new time)."""
        seconds = check_seconds(seconds)
        active = self.stop()
        self._start(seconds)
        return active

    @property
    def when(self) -> float | None:
        """The monotonic time it is due, or None when not pending."""
        t = self._t
        return t[WHEN] if t is not None and t[FN] is not None else None

    def __repr__(self) -> str:
        state = "pending" if self.when is not None else "stopped/fired"
        return f"<Timer {state}>"


def _fire_timer(timer: Timer) -> None:
    """On the scheduler: the timer is due."""
    if timer._fn is None:
        timer.c.try_send(time.monotonic())  # type: ignore[union-attr]  # c is a Chan when _fn is None
    else:
        timer._rt.go(timer._fn, timer._args, {})


def after(seconds: float) -> Chan:
    """A channel that receives ``time.monotonic()`` once after ``seconds``
    (Go: time.After)."""
    return Timer(seconds).c  # type: ignore[return-value]  # a Timer without _fn has a Chan


def after_func(seconds: float, fn: Callable[..., object], *args: Any) -> Timer:
    """Run ``fn(*args)`` in its own goroutine after ``seconds``, unless the
    returned Timer is stopped first (Go: time.AfterFunc)."""
    return Timer(seconds, fn, args)


class Ticker:
    """Go's time.Ticker: ``.c`` receives ``time.monotonic()`` every
    ``seconds``; a receiver that falls behind misses ticks (capacity 1)."""

    __slots__ = ("c", "period", "_rt", "_t")

    c: Chan
    period: float
    _rt: Runtime
    _t: TimerEntry | None

    def __init__(self, seconds: float) -> None:
        self.c = Chan(1)
        self._rt = get_runtime()
        self._t = None
        self._start(seconds)

    def _start(self, seconds: float) -> None:
        seconds = check_seconds(seconds, "ticker period")
        if seconds <= 0:
            raise ValueError("non-positive interval for Ticker")
        self.period = seconds
        if seconds != math.inf:
            self._t = self._rt.timers.add(time.monotonic() + seconds, _fire_ticker, self)

    def stop(self) -> None:
        """Stop ticking (a tick already in the channel stays there)."""
        t = self._t
        if t is not None:
            self._t = None
            self._rt.timers.cancel(t)

    def reset(self, seconds: float) -> None:
        """Tick every ``seconds`` from now on; also restarts a stopped
        ticker."""
        self.stop()
        self._start(seconds)

    def __repr__(self) -> str:
        return f"<Ticker every {self.period} s{'' if self._t else ' stopped'}>"


def _fire_ticker(ticker: Ticker) -> None:
    """On the scheduler: a tick is due.  Deliver it if there is room and
    re-arm for the next multiple of the period after now (ticks the
    scheduler was too late for are skipped, as Go does)."""
    now = time.monotonic()
    ticker.c.try_send(now)
    period = ticker.period
    when = ticker._t[WHEN] + period  # type: ignore[index]  # a firing ticker's _t is its entry
    if when <= now:
        when += period * ((now - when) // period + 1)
    ticker._t = ticker._rt.timers.add(when, _fire_ticker, ticker)


__all__ = ["after", "after_func", "Timer", "Ticker"]
