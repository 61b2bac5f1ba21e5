"""sendfile(2) on an FD (Go: internal/poll/sendfile_linux.go).

``sendfile(fd, infd, offset, count)`` copies ``count`` bytes of the file
``infd`` from ``offset`` to the socket of ``fd`` inside the kernel, parking
the calling goroutine while the socket buffer is full.  Same frame as
``FD.write``: write lock and a reference, prepare, loop of the system call
and ``pd.wait``, unlock.  A passed write deadline raises
DeadlineExceededError with ``written`` set.
"""

import os

from ..poller import MODE_WRITE
from .fd import _WBUSY, _WLOCK_REF, _poll_error
from .fdmutex import CLOSED, WLOCK
from threading import get_ident


def sendfile(fd, infd, offset, count):
    """Send up to ``count`` bytes of ``infd`` from ``offset``; returns how
    many were sent (fewer only if the file ended first)."""
    s = fd.state
    if s & _WBUSY or fd.tid != get_ident():
        fd._wlock_slow()
    else:
        fd.state = s + _WLOCK_REF
    try:
        pd = fd.pd
        code = pd.prepare(MODE_WRITE)
        if code:
            raise _poll_error(code)
        sent = 0
        while sent < count:
            try:
                n = os.sendfile(fd.sysfd, infd, offset + sent, count - sent)
            except BlockingIOError:
                code = pd.wait(MODE_WRITE)
                if code:
                    raise _poll_error(code, sent) from None
                continue
            if not n:                     # the file is shorter than count
                break
            sent += n
        return sent
    finally:
        s = fd.state - _WLOCK_REF
        fd.state = s
        if s & CLOSED or fd.wq:
            fd._unlock_slow(WLOCK, s)
