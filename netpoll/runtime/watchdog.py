"""The blocked-runtime detector (opt-in): reports a goroutine that holds its
thread for longer than a threshold without parking.

A netpoll runtime is cooperative: a goroutine that computes for a second, or
calls a blocking function that is not netpoll's, stalls every other
goroutine of its thread for that second.  Go preempts such a goroutine; we
cannot, but we can say which one it is.  The scheduler counts its batches
(``Runtime.ticks``), counts down the goroutines left in the current batch
(``Runtime.batch``: each park hands over to the next one) and marks when it
is blocked in the poller (``Runtime.polling``).  A watchdog thread samples
them; if neither count has moved for ``threshold`` seconds while the
runtime is not polling, it prints the running goroutine's stack (taken
from ``sys._current_frames``) to stderr, once per stall.

Enable it with ``NETPOLL_WATCHDOG=SECONDS`` (read when a runtime is created)
or ``netpoll.set_watchdog(seconds)``; ``set_watchdog(None)`` stops it.  In
Python's development mode (``python -X dev``) or with ``NETPOLL_DEBUG=1`` it
is on with a 1 s threshold unless ``NETPOLL_WATCHDOG`` says otherwise.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import IO, TYPE_CHECKING

from .goroutine import where

if TYPE_CHECKING:
    from types import FrameType

    from .scheduler import Runtime


class Watchdog:
    def __init__(self, rt: Runtime, threshold: float, stream: IO[str] | None = None) -> None:
        if threshold <= 0:
            raise ValueError(f"watchdog threshold must be > 0 seconds, not {threshold!r}")
        self.rt = rt
        self.threshold = threshold
        self.stream = stream
        self.reports = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="netpoll-watchdog",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        rt = self.rt
        interval = min(self.threshold / 4, 0.25)
        last = (rt.ticks, rt.batch)
        since = time.monotonic()
        reported = False
        while not self._stop.wait(interval):
            if rt.closed:
                return
            now = time.monotonic()
            ticks = (rt.ticks, rt.batch)
            if ticks != last or rt.polling:
                last, since, reported = ticks, now, False
                continue
            if not reported and now - since >= self.threshold:
                reported = True
                self._report(now - since)

    def _report(self, held: float) -> None:
        frame = sys._current_frames().get(self.rt.thread_id)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "  (no stack)\n"
        out = self.stream or sys.stderr
        try:
            out.write(
                f"netpoll watchdog: a goroutine has held the runtime's thread for "
                f"{held:.2f} s without yielding (threshold {self.threshold} s); "
                f"every other goroutine of this thread is stalled. Its stack:\n{stack}"
                f"{_lock_report(frame, self.rt)}")
            out.flush()
        except Exception:
            pass
        self.reports += 1


def _lock_report(frame: FrameType | None, rt: Runtime) -> str:
    """When the stalled goroutine is blocked acquiring a lock (``with x:``
    calling a C ``__enter__``, or a call of ``acquire``), say so and list
    the parked goroutines: if one of them holds that lock, nothing can
    release it, as threading locks park the thread, not the goroutine
    (netpoll.patch does not patch threading; docs/compatibility.md)."""
    what = _lock_call(frame)
    if what is None:
        return ""
    # (frame: not None, as _lock_call found a call in it; hence the ignores)
    lines = [f"It is blocked acquiring a lock ({what} at {frame.f_code.co_filename}:"  # type: ignore[union-attr]
             f"{frame.f_lineno}). A threading lock blocks the whole thread: if a goroutine "  # type: ignore[union-attr]
             f"of this thread holds it, this is a deadlock no goroutine can break. "
             f"Parked goroutines (the holder is among them, if it is one):"]
    try:
        for g in sorted(rt.goroutines, key=lambda g: g.id):
            if g.waitreason not in ("running", "runnable"):
                lines.append(f"  goroutine {g.id} [{g.waitreason}]{where(g)}")
    except Exception as exc:              # the runtime's thread is stuck, but be safe
        lines.append(f"  (could not list goroutines: {exc!r})")
    return "\n".join(lines) + "\n"


def _lock_call(frame: FrameType | None) -> str | None:
    """'with <name>' or '<name>.acquire()' if ``frame`` is stopped in one."""
    if frame is None:
        return None
    try:
        import dis
        instrs = [i for i in dis.get_instructions(frame.f_code) if i.offset <= frame.f_lasti]
    except Exception:
        return None
    if not instrs:
        return None
    op = instrs[-1].opname
    before = [i for i in instrs[-6:-1] if i.opname.startswith("LOAD")]
    name = before[-1].argval if before else "?"
    if op in ("BEFORE_WITH", "SETUP_WITH"):
        return f"with {name}"
    if op.startswith(("CALL", "PRECALL")):
        for i in reversed(before):
            if i.argval == "acquire":
                return "acquire()"
    return None


def threshold_from_env() -> float | None:
    """The threshold in ``$NETPOLL_WATCHDOG``, or None; ValueError if malformed.
    Unset, it is 1 s in development mode (-X dev, NETPOLL_DEBUG=1), else None."""
    value = os.environ.get("NETPOLL_WATCHDOG")
    if not value:
        debug = sys.flags.dev_mode or os.environ.get("NETPOLL_DEBUG", "0") not in ("", "0")
        return 1.0 if debug else None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"NETPOLL_WATCHDOG must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"NETPOLL_WATCHDOG must be > 0 seconds, not {value!r}")
    return seconds
