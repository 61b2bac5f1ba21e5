"""The exception classes shared by every layer of netpoll.

They live in one leaf module so that the runtime (which reports deadlines and
closing as plain error codes, as Go's runtime does) and the layers above it
(which turn those codes into exceptions) can name the same classes without
importing each other.
"""

from __future__ import annotations

import errno
from typing import Any


class DeadlineExceededError(TimeoutError):
    """An I/O operation passed its deadline (Go: os.ErrDeadlineExceeded).

    The message ends with ``i/o timeout``.  ``written`` is how many bytes a
    write sent before its deadline passed (0 for reads)."""

    def __init__(self, message: str = "i/o timeout", written: int = 0) -> None:
        super().__init__(errno.ETIMEDOUT, message)
        self.written = written

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:
        # OSError's would call __init__(errno, message): rebuild from ours,
        # so pickle and copy (multiprocessing, logging queues) keep the
        # message and ``written``.
        return type(self), (self.strerror, self.written), self.__dict__ or None


class ClosedError(OSError):
    """An operation on a closed connection or listener (Go: net.ErrClosed)."""

    def __init__(self, message: str = "use of closed network connection") -> None:
        super().__init__(errno.EBADF, message)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.strerror,), self.__dict__ or None


class DeadlockError(RuntimeError):
    """Every goroutine is parked and nothing (timer, descriptor, thread) can
    ever wake one of them (Go: "all goroutines are asleep - deadlock!")."""
