"""What every poller backend shares: the fd → PollDesc table, the counters
``stats()`` reports, and the cross-thread wake-up descriptor.  Each backend
adds its kernel object and its ``open`` / ``close`` / ``wait`` (and, for the
level-triggered ones, ``arm`` / ``disarm``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .wakeup import Wakeup

if TYPE_CHECKING:
    from ..runtime.polldesc import PollDesc


class PollerBase:
    edge_triggered = True       # epoll and kqueue; poll and select say False
    name: str                   # each backend's
    _pds: dict[int, PollDesc]
    _wakeup: Wakeup
    polls: int
    events: int
    ctl: int

    def __init__(self) -> None:
        self._pds = {}
        self._wakeup = Wakeup()
        self.polls = 0
        self.events = 0
        self.ctl = 0

    def arm(self, fd: int, mode: int) -> None:
        pass                    # edge-triggered: watched from open to close

    def disarm(self, fd: int, mode: int) -> None:
        pass

    def wakeup(self) -> None:
        self._wakeup.wakeup()

    @property
    def wakeup_fd(self) -> int:
        return self._wakeup.fd

    def shutdown(self) -> None:
        self._pds.clear()
        self._wakeup.close()
        self._release()

    def forget(self) -> None:
        # After fork: only closing our references is safe (see the backends).
        self.shutdown()

    def _release(self) -> None:
        """Close the backend's kernel object, if it has one."""
