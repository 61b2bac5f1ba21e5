"""The cross-thread wake-up descriptor (Go: netpollBreak's eventfd or pipe).

A thread that hands work back to a runtime (``to_thread``, a signal) must
wake that runtime's poller if it is blocked.  Writing to a descriptor the
poller watches does it.  ``pending`` makes a burst of wake-ups cost one write:
it is set before the write and cleared by the poller *after* it drains (Go:
netpollWakeSig).  A wake-up that races with the drain either comes before the
flag is cleared, and so before the poller's wait returns and the scheduler
looks at its remote queue (nothing is lost), or after it, and writes.
Clearing before draining would be wrong: a racing write could be consumed by
the drain while its wake-up left the flag set, and every later wake-up would
then be skipped.
"""

from __future__ import annotations

import os


class Wakeup:
    __slots__ = ("fd", "_wfd", "pending", "_eventfd")

    fd: int
    _wfd: int
    pending: bool
    _eventfd: bool

    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._wfd = self.fd
            self._eventfd = True
        else:
            r, w = os.pipe()
            for fd in (r, w):
                os.set_blocking(fd, False)
                os.set_inheritable(fd, False)
            self.fd, self._wfd = r, w
            self._eventfd = False
        self.pending = False

    def wakeup(self) -> None:
        if self.pending:
            return
        self.pending = True
        try:
            if self._eventfd:
                os.eventfd_write(self._wfd, 1)
            else:
                os.write(self._wfd, b"\0")
        except (BlockingIOError, OSError):
            # Full (the poller will wake anyway) or closed during shutdown.
            pass

    def drain(self) -> None:
        """Called by the poller when ``fd`` is readable."""
        try:
            if self._eventfd:
                os.eventfd_read(self.fd)
            else:
                while os.read(self.fd, 4096):
                    pass
        except (BlockingIOError, OSError):
            pass
        self.pending = False

    def close(self) -> None:
        for fd in {self.fd, self._wfd}:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fd = self._wfd = -1
