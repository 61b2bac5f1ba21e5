"""Signals never wait for I/O: the main thread's runtime owns Python's
signal wake-up descriptor (``signal.set_wakeup_fd``).

CPython runs a Python-level signal handler in the main thread "between
bytecodes".  When that thread is blocked in epoll_wait, the signal interrupts
the wait (EINTR); CPython runs the handler, and if the handler returns
normally it restarts the wait (PEP 475) — so a goroutine the handler readied
(say by ``Chan.try_send``) would sit in the run queue until some unrelated I/O
arrived.  The C-level handler also writes the signal number to the wake-up
descriptor, which the poller watches: the restarted wait returns at once and
the scheduler runs the readied goroutine.  A handler that raises
(``KeyboardInterrupt`` from the default SIGINT handler) escapes the wait
itself; the scheduler hands it to the main goroutine.

Only the main thread can own the wake-up descriptor, and only if nobody else
(asyncio, another library) set one: then netpoll leaves it alone.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections import deque
from typing import TYPE_CHECKING

from ..poller import MODE_READ
from .local import current_runtime, get_runtime

if TYPE_CHECKING:
    from signal import _HANDLER
    from types import FrameType

    from ..poller import Poller
    from .chan import Chan


class SignalWakeup:
    """A socketpair whose write end is the process's signal wake-up fd and
    whose read end the poller watches for the runtime's whole life."""

    __slots__ = ("fd", "_r", "_w", "_poller", "_level_triggered", "_previous")

    fd: int
    _r: socket.socket
    _w: socket.socket
    _poller: Poller
    _level_triggered: bool
    _previous: int | None

    def __init__(self, poller: Poller, level_triggered: bool) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self.fd = self._r.fileno()
        self._poller = poller
        self._level_triggered = level_triggered
        try:
            self._previous = signal.set_wakeup_fd(self._w.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            self._previous = None
        if self._previous not in (None, -1):
            # Someone else owns it: give it back and stay out of the way.
            signal.set_wakeup_fd(self._previous)
            self._previous = None
        if self._previous is None:
            self._r.close()
            self._w.close()
            self.fd = -1
            return
        poller.open(self.fd, self)  # type: ignore[arg-type]  # a PollDesc to the poller: netpollready
        if level_triggered:
            poller.arm(self.fd, MODE_READ)

    @property
    def active(self) -> bool:
        return self.fd >= 0

    def netpollready(self, mode: int) -> None:
        """Called by the poller: drain the signal numbers (their Python
        handlers run on their own) and keep watching."""
        try:
            while self._r.recv(4096):
                pass
        except OSError:
            pass
        if self._level_triggered:
            self._poller.arm(self.fd, MODE_READ)

    def close(self, poller_alive: bool = True) -> None:
        if self.fd < 0:
            return
        try:
            if signal.set_wakeup_fd(-1) != self._w.fileno():
                pass
        except (ValueError, OSError):
            pass
        if poller_alive:
            self._poller.close(self.fd)
        self._r.close()
        self._w.close()
        self.fd = -1


def install(poller: Poller, level_triggered: bool) -> SignalWakeup | None:
    """A SignalWakeup for the main thread's runtime, or None elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if not hasattr(signal, "set_wakeup_fd"):
        return None
    wakeup = SignalWakeup(poller, level_triggered)
    return wakeup if wakeup.active else None


def forget_after_fork(wakeup: SignalWakeup | None) -> None:
    """In a forked child: the parent's wake-up socketpair is inherited;
    release our copies and the process-wide setting."""
    if wakeup is None:
        return
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for s in (wakeup._r, wakeup._w):
        try:
            s.close()
        except OSError:
            pass
    wakeup.fd = -1



# -- signal_notify / signal_stop (Go: os/signal.Notify, Stop) -------------------
#
# Go's runtime catches a notified signal in its handler, queues it (sigsend)
# and a goroutine of os/signal delivers it to the channels.  Here the Python
# handler (which CPython runs between two bytecodes of whatever greenlet is
# current, possibly in the middle of a channel operation) only appends the
# signal number to a queue and readies the runtime's Relay; the hub then
# delivers the queued signals into the channels with try_send, never
# blocking: a full channel misses the signal, as in Go.

_channels: dict[int, list[Chan]] = {}           # signal number -> [Chan, ...] in registration order
_previous: dict[int, _HANDLER] = {}           # signal number -> the handler before signal_notify
_pending: deque[int] = deque()       # signal numbers caught and not yet delivered


class Relay:
    """The run-queue entry that delivers caught signals (Go: os/signal's
    loop goroutine).  Not a greenlet: the hub calls its ``switch`` like a
    goroutine's, and it runs right there, in the hub; it is false, like a
    worker not yet started, so a park never hands over to it."""

    __slots__ = ("queued",)

    queued: bool

    def __init__(self) -> None:
        self.queued = False

    def __bool__(self) -> bool:
        return False

    def switch(self) -> None:
        self.queued = False
        while _pending:
            signum = _pending.popleft()
            for ch in list(_channels.get(signum, ())):
                if not ch.closed:      # a closed channel just stops receiving
                    ch.try_send(_signal_value(signum))


def _signal_value(signum: int) -> signal.Signals | int:
    try:
        return signal.Signals(signum)
    except ValueError:
        return signum


def _handler(signum: int, frame: FrameType | None) -> None:
    """The real signal handler: record, and ready the relay.  It touches no
    channel and never raises."""
    _pending.append(signum)
    rt = current_runtime()
    if rt is None or rt.closed:
        return                    # delivered once a runtime runs the relay
    relay = rt.signal_relay
    if relay is None:
        relay = rt.signal_relay = Relay()
    if not relay.queued:
        relay.queued = True
        # The remote queue: safe from a handler.  (A Relay stands in for a
        # greenlet there: its switch, and false like a worker not started.)
        rt.ready_from_thread(relay)  # type: ignore[arg-type]


def relaying() -> bool:
    """True while some channel is notified of a signal: the runtime then
    waits for signals instead of reporting a deadlock."""
    return bool(_channels)


def signal_notify(ch: Chan, *signals: int) -> None:
    """Relay each of ``signals`` to Chan ``ch`` (Go: signal.Notify): the
    signal's number (a ``signal.Signals``) is sent without blocking, and
    dropped if ``ch`` is full, so give it a capacity of at least 1.  A
    goroutine waiting on ``ch`` is not a deadlock.  Main thread only."""
    if not signals:
        raise ValueError("signal_notify: name the signals to relay "
                         "(signal_notify(ch, signal.SIGTERM, ...))")
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("signal_notify: signals are handled in the main thread only")
    nums = [signal.Signals(s) for s in signals]     # ValueError for a bad one
    rt = get_runtime()
    if rt.signal_relay is None:
        rt.signal_relay = Relay()
    for num in nums:
        if num not in _channels:
            previous = signal.signal(num, _handler)
            _previous[num] = previous
            _channels[num] = []
        if ch not in _channels[num]:
            _channels[num].append(ch)


def signal_stop(ch: Chan) -> None:
    """Stop relaying signals to ``ch`` (Go: signal.Stop).  A signal no
    channel is notified of any more gets back the handler it had before."""
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("signal_stop: signals are handled in the main thread only")
    for num in list(_channels):
        chans = _channels[num]
        if ch in chans:
            chans.remove(ch)
        if not chans:
            del _channels[num]
            previous = _previous.pop(num)
            signal.signal(num, previous if previous is not None else signal.SIG_DFL)
