"""FD's named lock helpers, through the methods that use them (writev,
sendto, recvfrom, accept, connect): a released lock goes to the next
waiter, and the last reference of a closed FD destroys the descriptor
(FDMutex.rwunlock as production runs it)."""

import os
import socket

import pytest

import netpoll
from netpoll.internal import FD
from netpoll.internal.fdmutex import REF

from support import wait_parked


def test_writev_hands_the_write_lock_to_the_next_writer(run):
    def main():
        a, b = socket.socketpair()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        fa, fb = FD(a), FD(b)
        try:
            big = b"x" * (1 << 20)
            first = netpoll.go(fa.writev, [big])          # fills the buffer, parks
            wait_parked(first)
            second = netpoll.go(fa.writev, [b"tail"])     # parks on the write lock
            wait_parked(second, reason="fd lock")
            got = 0
            while got < len(big) + 4:
                got += len(fb.read(1 << 16))
            assert first.join(10) == len(big)
            assert second.join(10) == 4
            assert fa.state == 0 and not fa.write_waiters  # lock and refs released
        finally:
            fa.close()
            fb.close()
    run(main)


def test_close_while_recvfrom_waits_destroys_on_its_unlock(run):
    def main():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        fd = FD(s)
        sysfd = fd.sysfd
        g = netpoll.go(fd.recvfrom, 100)
        wait_parked(g)
        assert fd.state >= REF                 # the reader holds a reference
        fd.close()                             # returns once destroyed
        assert fd.sock is None
        with pytest.raises(netpoll.ClosedError):
            g.join(10)
        with pytest.raises(OSError):
            os.fstat(sysfd)                    # the descriptor is closed
    run(main)


def test_sendto_and_accept_release_their_locks(run):
    def main():
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        fu = FD(u)
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        fl = FD(ls)
        c = socket.socket()
        try:
            assert fu.sendto(b"hi", u.getsockname()) == 2
            assert fu.recvfrom(10)[0] == b"hi"
            assert fu.state == 0
            g = netpoll.go(fl.accept)
            wait_parked(g)
            c.connect(ls.getsockname())
            sysfd, _ = g.join(10)
            socket.socket(fileno=sysfd).close()
            assert fl.state == 0
        finally:
            c.close()
            fu.close()
            fl.close()
    run(main)
