"""The kqueue backend, edge-triggered with EV_CLEAR (Go: netpoll_kqueue.go).

Both filters (EVFILT_READ, EVFILT_WRITE) are added once per descriptor, in
one kevent call, with EV_CLEAR so that each is reported once per change, as
epoll's EPOLLET.  EV_EOF on a filter wakes that direction; the retried system
call reports EOF or the error.  Registration is dropped before the
descriptor is closed (closing would drop it too, but an explicit delete keeps
the fd → PollDesc table honest).
"""

import select
import sys

from . import MAX_WAIT, MODE_HUP, MODE_READ, MODE_WRITE
from .base import PollerBase

# macOS flags a read event EV_OOBAND (its EV_FLAG1) when urgent data is
# queued: a read then stops short at the mark with data after it, so, as
# epoll's EPOLLPRI, it is reported with MODE_HUP (no drained-read shortcut).
# Other BSDs have no such flag.  Untested (the suite runs on Linux).
_EV_OOBAND = getattr(select, "KQ_EV_FLAG1", 0) if sys.platform == "darwin" else 0


class KqueuePoller(PollerBase):
    name = "kqueue"

    def __init__(self):
        super().__init__()
        self._kq = select.kqueue()
        self._kq.control([select.kevent(self._wakeup.fd, select.KQ_FILTER_READ,
                                        select.KQ_EV_ADD | select.KQ_EV_CLEAR)], 0)

    def open(self, fd, pd):
        self._pds[fd] = pd
        flags = select.KQ_EV_ADD | select.KQ_EV_CLEAR
        self.ctl += 1
        self._kq.control([select.kevent(fd, select.KQ_FILTER_READ, flags),
                          select.kevent(fd, select.KQ_FILTER_WRITE, flags)], 0)

    def close(self, fd):
        self._pds.pop(fd, None)
        self.ctl += 1
        try:
            self._kq.control([select.kevent(fd, select.KQ_FILTER_READ, select.KQ_EV_DELETE),
                              select.kevent(fd, select.KQ_FILTER_WRITE, select.KQ_EV_DELETE)], 0)
        except OSError:
            pass

    def wait(self, timeout):
        self.polls += 1
        try:
            ready = self._kq.control(None, 1024, timeout if timeout is None or
                                     timeout < MAX_WAIT else MAX_WAIT)
        except InterruptedError:
            return
        pds = self._pds
        n = 0
        for kev in ready:
            fd = kev.ident
            pd = pds.get(fd)
            if pd is None:
                if fd == self._wakeup.fd:
                    self._wakeup.drain()
                continue
            mode = MODE_READ if kev.filter == select.KQ_FILTER_READ else MODE_WRITE
            if kev.flags & (select.KQ_EV_EOF | select.KQ_EV_ERROR):
                mode |= MODE_HUP | (MODE_READ if mode == MODE_WRITE else 0)
            elif kev.flags & _EV_OOBAND and mode == MODE_READ:
                mode |= MODE_HUP        # urgent data: see _EV_OOBAND
            n += 1
            pd.netpollready(mode)
        self.events += n

    def _release(self):
        # A kqueue is not inherited across fork; only our wake-up pipe is.
        try:
            self._kq.close()
        except OSError:
            pass
