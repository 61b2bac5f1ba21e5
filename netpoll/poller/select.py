"""The select(2) backend, level-triggered, the oldest interface.

select passes three bitmaps of FD_SETSIZE (1024) bits on every call: the
kernel scans every bit up to the highest descriptor given, and a descriptor
numbered 1024 or more cannot be represented at all.  ``arm`` therefore
refuses such a descriptor with an OSError that names the limit, instead of
letting select fail or hang, and so does creating the poller when its own
wake-up descriptor is past the limit (the runtime cannot start).  Like
poll, a descriptor is watched only while a goroutine is parked on it;
``ctl`` stays 0 since nothing is registered with the kernel between calls.
"""

import errno
import select

from . import MAX_WAIT, MODE_READ, MODE_WRITE
from .base import PollerBase

# Bound at import (netpoll.patch() imports this module before it replaces
# select.select): this backend runs in the scheduler and must never park.
_select = select.select

FD_SETSIZE = 1024


def _too_big(what):
    return OSError(
        errno.EINVAL,
        f"the select poller cannot watch {what}: select() only "
        f"handles descriptors below FD_SETSIZE ({FD_SETSIZE}); use the "
        f"epoll or poll poller (NETPOLL_POLLER=epoll)")


class SelectPoller(PollerBase):
    name = "select"
    edge_triggered = False

    def __init__(self):
        super().__init__()
        wfd = self._wakeup.fd
        if wfd >= FD_SETSIZE:
            # The runtime's own wake-up descriptor is watched on every wait:
            # fail once, here, rather than at every park.
            self._wakeup.close()
            raise _too_big(f"its own wake-up descriptor {wfd}")
        self._rset = {wfd}
        self._wset = set()

    def open(self, fd, pd):
        self._pds[fd] = pd

    def close(self, fd):
        self._pds.pop(fd, None)
        self._rset.discard(fd)
        self._wset.discard(fd)

    def arm(self, fd, mode):
        if fd >= FD_SETSIZE:
            raise _too_big(f"descriptor {fd}")
        if mode & MODE_READ:
            self._rset.add(fd)
        if mode & MODE_WRITE:
            self._wset.add(fd)

    def disarm(self, fd, mode):
        if mode & MODE_READ:
            self._rset.discard(fd)
        if mode & MODE_WRITE:
            self._wset.discard(fd)

    def wait(self, timeout):
        self.polls += 1
        rset, wset = self._rset, self._wset
        try:
            r, w, _ = _select(rset, wset, (), timeout if timeout is None or
                              timeout < MAX_WAIT else MAX_WAIT)
        except InterruptedError:
            return
        pds = self._pds
        wfd = self._wakeup.fd
        n = 0
        for fd in r:
            if fd == wfd:
                self._wakeup.drain()
                continue
            rset.discard(fd)
            pd = pds.get(fd)
            if pd is not None:
                n += 1
                pd.netpollready(MODE_READ)
        for fd in w:
            wset.discard(fd)
            pd = pds.get(fd)
            if pd is not None:
                n += 1
                pd.netpollready(MODE_WRITE)
        self.events += n

    def _release(self):
        self._rset.clear()
        self._wset.clear()
