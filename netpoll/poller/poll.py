"""The poll(2) backend, level-triggered.

poll passes the whole interest set to the kernel on every call, and the
kernel walks all of it: the cost of a wait grows with the number of watched
descriptors, not with the number that are ready.  To keep that set as small
as possible, and because a level-triggered descriptor that is ready but has
no waiter would make every wait return at once, a descriptor is watched only
while a goroutine is parked on it: ``arm`` before parking, and the poller
stops watching a direction as soon as it reports it.

Registering with a ``select.poll`` object only edits a table in this process;
no system call happens until ``poll()``, so ``ctl`` stays 0.
"""

import select

from . import MAX_WAIT, MODE_READ, MODE_WRITE
from .base import PollerBase

# Bound at import (netpoll.patch() imports this module before it replaces
# select.poll; see select.py).
_new_poll = select.poll

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLLRDHUP = getattr(select, "POLLRDHUP", 0)
_READ_EVENTS = select.POLLIN | select.POLLPRI | _POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL
_WRITE_EVENTS = select.POLLOUT | select.POLLHUP | select.POLLERR | select.POLLNVAL


class PollPoller(PollerBase):
    name = "poll"
    edge_triggered = False

    def __init__(self):
        super().__init__()
        self._poll = _new_poll()
        self._armed = {}         # fd -> MODE_READ|MODE_WRITE bits watched
        self._poll.register(self._wakeup.fd, _POLLIN)

    def open(self, fd, pd):
        self._pds[fd] = pd

    def close(self, fd):
        self._pds.pop(fd, None)
        if self._armed.pop(fd, 0):
            self._poll.unregister(fd)

    def arm(self, fd, mode):
        armed = self._armed
        old = armed.get(fd, 0)
        new = old | mode
        if new != old:
            armed[fd] = new
            self._poll.register(fd, (_POLLIN if new & MODE_READ else 0)
                                | (_POLLOUT if new & MODE_WRITE else 0))

    def disarm(self, fd, mode):
        armed = self._armed
        old = armed.get(fd, 0)
        new = old & ~mode
        if new == old:
            return
        if new:
            armed[fd] = new
            self._poll.register(fd, _POLLIN if new & MODE_READ else _POLLOUT)
        else:
            del armed[fd]
            self._poll.unregister(fd)

    def wait(self, timeout):
        self.polls += 1
        # poll() takes milliseconds (an int: MAX_WAIT at most); CPython
        # rounds a float up.
        try:
            ready = self._poll.poll(None if timeout is None else
                                    timeout * 1000.0 if timeout < MAX_WAIT else MAX_WAIT * 1000.0)
        except InterruptedError:
            return
        pds = self._pds
        armed = self._armed
        n = 0
        for fd, ev in ready:
            pd = pds.get(fd)
            if pd is None:
                if fd == self._wakeup.fd:
                    self._wakeup.drain()
                continue
            mode = 0
            if ev & _READ_EVENTS:
                mode = MODE_READ
            if ev & _WRITE_EVENTS:
                mode |= MODE_WRITE
            mode &= armed.get(fd, 0)
            if mode:
                self.disarm(fd, mode)
                n += 1
                pd.netpollready(mode)
        self.events += n

    def _release(self):
        self._armed.clear()
