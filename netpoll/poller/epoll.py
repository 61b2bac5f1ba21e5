"""The epoll backend, edge-triggered (Go: runtime/netpoll_epoll.go).

Facts about epoll this backend relies on:

* A descriptor is registered once, with
  EPOLLIN|EPOLLPRI|EPOLLOUT|EPOLLRDHUP|EPOLLET, when it is opened, and
  deleted once before it is closed: no epoll_ctl per read or write.  That
  is why ``ctl`` grows by two per descriptor life.
* Edge-triggered means epoll reports a *change* to readable or writable, once.
  A goroutine that reads until EAGAIN and then parks will be woken by the
  next edge; an edge with no waiter is latched in the PollDesc so the next
  wait returns at once (no lost wake-ups).
* EPOLLHUP and EPOLLERR are reported whether asked for or not, and wake both
  directions: the retried system call then reports EOF or the socket error.
  EPOLLRDHUP (peer shut down its write side) wakes readers, who read EOF.
* EPOLLPRI (urgent data: TCP's MSG_OOB, AF_UNIX's on Linux >= 5.15) wakes
  readers too, and is reported with MODE_HUP: a read stops short at the
  urgent mark while data is still queued after it, so the FD's drained-read
  shortcut is no longer safe for this descriptor.
* epoll_wait's timeout is in milliseconds; CPython rounds a float timeout up,
  so a wait never returns before the timer it waits for is due.  A longer
  timeout than MAX_WAIT (which CPython would refuse with OverflowError past
  about 24.8 days) waits MAX_WAIT.
* Python's binding carries only the descriptor number as epoll's user data
  (Go stores a tagged pointer to the pollDesc).  The fd → PollDesc table is
  the tag here; it cannot go stale because a descriptor is deleted from epoll
  before it is closed, and the events of one wait are dispatched before any
  goroutine runs (and so before any descriptor can be closed or reused).
"""

import select

from ..speedups import ACCEL
from . import MAX_WAIT, MODE_HUP, MODE_READ, MODE_WRITE
from .base import PollerBase

_EPOLLIN = select.EPOLLIN
_EPOLLPRI = select.EPOLLPRI
_EPOLLOUT = select.EPOLLOUT
_EPOLLRDHUP = getattr(select, "EPOLLRDHUP", 0x2000)
_EPOLLHUP = select.EPOLLHUP
_EPOLLERR = select.EPOLLERR
_EPOLLET = select.EPOLLET

_REGISTER = _EPOLLIN | _EPOLLPRI | _EPOLLOUT | _EPOLLRDHUP | _EPOLLET
_READ_EVENTS = _EPOLLIN | _EPOLLPRI | _EPOLLRDHUP | _EPOLLHUP | _EPOLLERR
_WRITE_EVENTS = _EPOLLOUT | _EPOLLHUP | _EPOLLERR
# Events after which a short read no longer means "queue empty".
_HUP_EVENTS = _EPOLLPRI | _EPOLLRDHUP | _EPOLLHUP | _EPOLLERR


def _modes(ev):
    """The MODE_* bits a PollDesc is readied with for the epoll events ``ev``."""
    mode = 0
    if ev & _READ_EVENTS:
        mode = MODE_READ
        if ev & _HUP_EVENTS:
            mode = MODE_READ | MODE_HUP
    if ev & _WRITE_EVENTS:
        mode |= MODE_WRITE
    return mode


# epoll reports only the events registered (_REGISTER) plus EPOLLERR and
# EPOLLHUP: a table of every combination turns the events of a wake-up
# into modes with one dict lookup each.
_EVENT_BITS = (_EPOLLIN, _EPOLLPRI, _EPOLLOUT, _EPOLLRDHUP, _EPOLLHUP, _EPOLLERR)
_MODES = {}
for _i in range(1 << len(_EVENT_BITS)):
    _ev = sum(bit for k, bit in enumerate(_EVENT_BITS) if _i >> k & 1)
    _MODES[_ev] = _modes(_ev)
del _i, _ev


_epoll_dispatch = ACCEL.epoll_dispatch if ACCEL is not None else None


class EpollPoller(PollerBase):
    name = "epoll"

    def __init__(self):
        super().__init__()
        self._ep = select.epoll()
        self._ep.register(self._wakeup.fd, _EPOLLIN | _EPOLLET)
        # internal.fd checked at import that the C code fits the classes.
        from ..internal import fd as _fd

        if _fd.ACCEL is not None:
            # Speed trick (C, netpoll/speedups.py): the wait and the
            # dispatch of its events in one call; same behaviour as below.
            self._epfd = self._ep.fileno()
            self.wait = self._wait_accel

    def open(self, fd, pd):
        self._pds[fd] = pd
        self.ctl += 1
        try:
            self._ep.register(fd, _REGISTER)
        except FileExistsError:
            # The number was reused while an older registration of another
            # file description sharing it is still alive: take it over.
            self.ctl += 1
            self._ep.modify(fd, _REGISTER)
        except BaseException:
            del self._pds[fd]
            raise

    def close(self, fd):
        self._pds.pop(fd, None)
        self.ctl += 1
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    def wait(self, timeout):
        self.polls += 1
        try:
            # Speed trick: a conditional, not min(), on this per-wait path.
            ready = self._ep.poll(-1 if timeout is None else
                                  timeout if timeout < MAX_WAIT else MAX_WAIT)
        except InterruptedError:
            return
        pds = self._pds
        modes = _MODES
        n = len(ready)
        for fd, ev in ready:
            try:
                pd = pds[fd]
            except KeyError:          # not a PollDesc's: the wake-up descriptor
                n -= 1
                if fd == self._wakeup.fd:
                    self._wakeup.drain()
                continue
            try:
                mode = modes[ev]
            except KeyError:          # a bit epoll is not known to report
                mode = _modes(ev)
            pd.netpollready(mode)
        self.events += n

    def _wait_accel(self, timeout):
        """``wait`` done by the C accelerator: epoll_wait, the fd → PollDesc
        lookup and netpollready's state change in one call (the Python loop
        above is the reference: same events, same modes, same order)."""
        self.polls += 1
        n = _epoll_dispatch(self._epfd, timeout, self._pds, self._wakeup.fd)
        if n < 0:                     # the wake-up descriptor was among them
            n = ~n
            self._wakeup.drain()
        self.events += n

    def _release(self):
        # After fork the epoll instance and the eventfd are shared with the
        # parent: closing our references is safe, epoll_ctl or reading is not.
        self._ep.close()
