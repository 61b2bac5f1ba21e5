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

import signal
import socket
import threading

from ..poller import MODE_READ


class SignalWakeup:
    """A socketpair whose write end is the process's signal wake-up fd and
    whose read end the poller watches for the runtime's whole life."""

    __slots__ = ("fd", "_r", "_w", "_poller", "_lt", "_previous")

    def __init__(self, poller, lt):
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self.fd = self._r.fileno()
        self._poller = poller
        self._lt = lt
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
        poller.open(self.fd, self)
        if lt:
            poller.arm(self.fd, MODE_READ)

    @property
    def active(self):
        return self.fd >= 0

    def netpollready(self, mode):
        """Called by the poller: drain the signal numbers (their Python
        handlers run on their own) and keep watching."""
        try:
            while self._r.recv(4096):
                pass
        except OSError:
            pass
        if self._lt:
            self._poller.arm(self.fd, MODE_READ)

    def close(self, poller_alive=True):
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


def install(poller, lt):
    """A SignalWakeup for the main thread's runtime, or None elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if not hasattr(signal, "set_wakeup_fd"):
        return None
    wakeup = SignalWakeup(poller, lt)
    return wakeup if wakeup.active else None


def forget_after_fork(wakeup):
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


