"""What every poller backend shares: the fd → PollDesc table, the counters
``stats()`` reports, and the cross-thread wake-up descriptor.  Each backend
adds its kernel object and its ``open`` / ``close`` / ``wait`` (and, for the
level-triggered ones, ``arm`` / ``disarm``)."""

from .wakeup import Wakeup


class PollerBase:
    edge_triggered = True       # epoll and kqueue; poll and select say False

    def __init__(self):
        self._pds = {}
        self._wakeup = Wakeup()
        self.polls = 0
        self.events = 0
        self.ctl = 0

    def arm(self, fd, mode):
        pass                    # edge-triggered: watched from open to close

    def disarm(self, fd, mode):
        pass

    def wakeup(self):
        self._wakeup.wakeup()

    @property
    def wakeup_fd(self):
        return self._wakeup.fd

    def shutdown(self):
        self._pds.clear()
        self._wakeup.close()
        self._release()

    def forget(self):
        # After fork: only closing our references is safe (see the backends).
        self.shutdown()

    def _release(self):
        """Close the backend's kernel object, if it has one."""
