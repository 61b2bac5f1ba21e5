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


def sendfile(fd, infd, offset, count):
    """Send up to ``count`` bytes of ``infd`` from ``offset``; returns how
    many were sent (fewer only if the file ended first)."""
    fd._write_lock()
    try:
        pd = fd.pd
        code = pd.prepare(MODE_WRITE)
        if code:
            raise fd._poll_error(code, MODE_WRITE)
        sent = 0
        while sent < count:
            try:
                n = os.sendfile(fd.sysfd, infd, offset + sent, count - sent)
            except BlockingIOError:
                code = pd.wait(MODE_WRITE)
                if code:
                    raise fd._poll_error(code, MODE_WRITE, sent) from None
                continue
            if not n:                     # the file is shorter than count
                break
            sent += n
        return sent
    finally:
        fd._write_unlock()
