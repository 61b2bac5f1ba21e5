"""FD: one non-blocking socket, its PollDesc and its FDMutex (Go:
internal/poll/fd_unix.go and fd_poll_runtime.go).

Every I/O method has the same shape, Go's::

    lock (read or write side, + one reference)
    pd.prepare(mode)              closed? deadline passed? drop stale READY
    loop:
        try the system call       most calls succeed here, without parking
        except BlockingIOError:   EAGAIN
            pd.wait(mode)         park until ready, deadline or close
    unlock (- one reference; the last one out of a closed FD destroys it)

Errors leave here as exceptions without addresses: ``ClosedError`` when the
FD is closing, ``DeadlineExceededError`` when a deadline passed (``written``
says how much of a write went out), and the OS's own OSError subclasses
(from ``write``/``writev`` with ``written`` too).
``netpoll.net`` adds the operation and the addresses to the message.

``close()`` marks the mutex closed, evicts the PollDesc (every parked
goroutine wakes with ClosedError), waits until the last in-flight operation
has returned, and only then unregisters the descriptor from the poller and
closes it, so a recycled descriptor number never sees a stale wake-up.

An FD belongs to the runtime of the thread that opened it; every method
checks the thread first and raises RuntimeError on any other.

Three departures from Go's loop, all in the read path:

* The drained-read shortcut (nginx does the same with EPOLLET).  When a read
  of a stream socket under an edge-triggered poller returns fewer bytes than
  asked, the socket's receive queue was empty at that moment, and any byte
  that arrives later raises a new edge.  So the next read skips the system
  call that would only fail with EAGAIN (in Python, an exception raised and
  caught: the dearest part of a read) and waits for the edge at once; if the
  edge already came, ``pd.wait`` returns without parking.  EOF and errors
  raise one edge only, possibly the one already consumed, so once the poller
  has reported hang-up (``pd.hup``) reads always try the system call.
* Adaptive read size.  ``read(65536)`` does not ask the kernel for 64 KiB
  at once: CPython's ``recv(n)`` mallocs an n-byte bytes object and shrinks
  it to what arrived, and a 64 KiB malloc/realloc pair per 64-byte message
  cost more than a microsecond of the server's CPU per message (glibc
  consolidates its free lists for every large request).  Each stream FD
  asks for ``rsize`` bytes (at least ``READ_MIN``), doubles it after a read
  that filled it and halves it after one that used a quarter or less, so a
  bulk stream soon reads in 64 KiB pieces and a chatty one in small ones.
  A read may return fewer bytes than are queued, as a stream read may
  anyway.  A datagram read asks for all ``n`` bytes, as a datagram bigger
  than the request would be cut short.
* Fairness.  A goroutine whose reads always find data (a flooding peer)
  would never park and so never let another goroutine run.  After
  ``FAIR_READS`` reads in a row that did not wait, a read yields first
  (``gosched``), as Go's scheduler would preempt it.
"""

import errno
import socket
import sys
from os import read as _sysread
from os import strerror as _strerror
from threading import get_ident

from ..errors import ClosedError, DeadlineExceededError
from ..poller import MODE_READ, MODE_WRITE
from ..runtime.polldesc import POLL_ERR_TIMEOUT, poll_open
from ..runtime.scheduler import gosched
from .fdmutex import CLOSED, DRAINED, REF, RLOCK, RSHUT, WLOCK, FDMutex, _ready_one

_MSG_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
_IOV_MAX = min(getattr(socket, "IOV_MAX", 1024) or 1024, 1024)
_RBUSY = CLOSED | RLOCK | RSHUT
_WBUSY = CLOSED | WLOCK
_CONNECTING = (errno.EINPROGRESS, errno.EALREADY, errno.EINTR)
_NOT_DRAINED = ~DRAINED
_RLOCK_REF = RLOCK + REF           # one addition takes the lock and a reference
_WLOCK_REF = WLOCK + REF

# Reads in a row that found data without waiting before a read yields.
FAIR_READS = 32
# The smallest size FD.read asks the kernel for (see "Adaptive read size").
READ_MIN = 4096


def _poll_error(code, written=0):
    if code == POLL_ERR_TIMEOUT:
        return DeadlineExceededError(written=written)
    return ClosedError()


class FD(FDMutex):
    """A socket that parks the calling goroutine instead of blocking.

    The FD *is* its mutex (Go embeds ``fdmu`` in FD): one object less per
    connection and one attribute lookup less per operation."""

    __slots__ = ("sock", "pd", "tid", "sysfd", "drain_hint", "streak", "rsize")

    def __init__(self, sock):
        FDMutex.__init__(self)
        sock.setblocking(False)
        self.sock = sock
        self.sysfd = sock.fileno()
        self.tid = get_ident()
        self.pd = pd = poll_open(self.sysfd)
        # DRAINED if the drained-read shortcut applies to this socket.
        self.drain_hint = DRAINED if sock.type == socket.SOCK_STREAM and not pd.lt else 0
        self.streak = 0
        # A datagram read must ask for all n bytes (the kernel discards what
        # does not fit), so only streams adapt their request size.
        self.rsize = READ_MIN if sock.type == socket.SOCK_STREAM else sys.maxsize

    # -- reads ---------------------------------------------------------------

    def read(self, n):
        """Up to ``n`` bytes; b"" at EOF or after ``shutdown_read``."""
        s = self.state
        if s & _RBUSY or self.tid != get_ident():
            if not self._rlock_slow():
                return b""
            s = self.state
        else:
            self.state = s + _RLOCK_REF
        try:
            asked = self.rsize
            if n < asked:
                if n <= 0:
                    if n < 0:
                        raise ValueError("negative read size")
                    return b""
                asked = n
            pd = self.pd
            if s & DRAINED and not pd.hup:
                code = pd.wait(MODE_READ)
                streak = 0
            else:
                code = pd.prepare(MODE_READ)
                streak = self.streak + 1
                if streak > FAIR_READS:
                    streak = 0
                    gosched()
            if code:
                raise _poll_error(code)
            sysfd = self.sysfd
            while True:
                try:
                    # read(2), not sock.recv: os.read parses its arguments
                    # without building a tuple, sock.recv does not.
                    data = _sysread(sysfd, asked)
                    break
                except BlockingIOError:
                    streak = 0
                    code = pd.wait(MODE_READ)
                    if code:
                        raise _poll_error(code) from None
            self.streak = streak
            got = len(data)
            if got < asked:
                if not s & DRAINED:
                    self.state |= self.drain_hint
                if asked > READ_MIN and got <= asked >> 2 and asked == self.rsize:
                    self.rsize = asked >> 1
            else:
                if s & DRAINED:
                    self.state &= _NOT_DRAINED
                if asked < n:
                    self.rsize = asked << 1
            return data
        finally:
            s = self.state - _RLOCK_REF
            self.state = s
            if s & CLOSED or self.rq:
                self._unlock_slow(RLOCK, s)

    def read_into(self, buf, nbytes=0):
        """Read into ``buf``; the number of bytes read, 0 at EOF.

        The steps of ``read`` (lock, drained-read shortcut, fairness, retry,
        drained bookkeeping) spelled out again rather than shared through a
        helper: both are hot paths, and a call per read costs more than the
        repetition.  A change to one belongs in the other."""
        s = self.state
        if s & _RBUSY or self.tid != get_ident():
            if not self._rlock_slow():
                return 0
            s = self.state
        else:
            self.state = s + _RLOCK_REF
        try:
            want = nbytes or len(buf)
            if not want:
                return 0
            pd = self.pd
            if s & DRAINED and not pd.hup:
                code = pd.wait(MODE_READ)
                streak = 0
            else:
                code = pd.prepare(MODE_READ)
                streak = self.streak + 1
                if streak > FAIR_READS:
                    streak = 0
                    gosched()
            if code:
                raise _poll_error(code)
            recv_into = self.sock.recv_into
            while True:
                try:
                    got = recv_into(buf, nbytes)
                    break
                except BlockingIOError:
                    streak = 0
                    code = pd.wait(MODE_READ)
                    if code:
                        raise _poll_error(code) from None
            self.streak = streak
            if got < want:
                if not s & DRAINED:
                    self.state |= self.drain_hint
            elif s & DRAINED:
                self.state &= _NOT_DRAINED
            return got
        finally:
            s = self.state - _RLOCK_REF
            self.state = s
            if s & CLOSED or self.rq:
                self._unlock_slow(RLOCK, s)

    def recvfrom(self, n):
        """One datagram of up to ``n`` bytes and its sender's address."""
        if not self._rlock():
            return b"", None
        try:
            return self._attempt(MODE_READ, self.sock.recvfrom, n)
        finally:
            self._runlock()

    def accept(self):
        """A new connection: (fd number, address).  ECONNABORTED (the peer
        gave up while queued) is retried; EMFILE / ENFILE are raised and the
        listener stays usable."""
        if not self._rlock():
            raise ClosedError()
        try:
            while True:
                try:
                    return self._attempt(MODE_READ, self.sock._accept)
                except ConnectionAbortedError:
                    continue
        finally:
            self._runlock()

    # -- writes --------------------------------------------------------------

    def write(self, data):
        """Send all of ``data``, parking while the socket buffer is full.
        A deadline that passes meanwhile raises DeadlineExceededError with
        ``written`` set to the bytes already sent."""
        s = self.state
        if s & _WBUSY or self.tid != get_ident():
            self._wlock_slow()
        else:
            self.state = s + _WLOCK_REF
        try:
            pd = self.pd
            # pd.prepare, inlined; a stale READY is left in place, as it
            # costs at most one more send that finds the buffer full.
            if pd.closing or pd.d[2] < 0:
                raise _poll_error(pd.prepare(MODE_WRITE))
            if type(data) is bytes:
                total = len(data)
            else:
                data = memoryview(data).cast("B")
                total = data.nbytes
            if not total:
                return 0
            try:
                n = self.sock.send(data, _MSG_NOSIGNAL)
                if n == total:
                    return n
            except BlockingIOError:
                n = 0
            except OSError as e:
                e.written = 0
                raise
            send = self.sock.send
            view = memoryview(data)
            while True:
                try:
                    n += send(view[n:], _MSG_NOSIGNAL)
                    if n >= total:
                        return n
                except BlockingIOError:
                    code = pd.wait(MODE_WRITE)
                    if code:
                        raise _poll_error(code, n) from None
                except OSError as e:
                    # Go's Write returns (n, err): what the kernel took
                    # before it failed (ETIMEDOUT, ECONNRESET...).
                    e.written = n
                    raise
        finally:
            s = self.state - _WLOCK_REF
            self.state = s
            if s & CLOSED or self.wq:
                self._unlock_slow(WLOCK, s)

    def writev(self, buffers):
        """Send every buffer, in order, with sendmsg (one system call for up
        to IOV_MAX buffers when the socket has room)."""
        s = self.state
        if s & _WBUSY or self.tid != get_ident():
            self._wlock_slow()
        else:
            self.state = s + _WLOCK_REF
        try:
            pd = self.pd
            code = pd.prepare(MODE_WRITE)
            if code:
                raise _poll_error(code)
            bufs = []
            for b in buffers:
                m = memoryview(b).cast("B") if not isinstance(b, bytes) else b
                if len(m):
                    bufs.append(m)
            sendmsg = self.sock.sendmsg
            written = 0
            i = 0
            while i < len(bufs):
                try:
                    n = sendmsg(bufs[i:i + _IOV_MAX], (), _MSG_NOSIGNAL)
                except BlockingIOError:
                    code = pd.wait(MODE_WRITE)
                    if code:
                        raise _poll_error(code, written) from None
                    continue
                except OSError as e:
                    e.written = written
                    raise
                written += n
                while n:
                    k = len(bufs[i])
                    if n >= k:
                        n -= k
                        i += 1
                    else:
                        bufs[i] = memoryview(bufs[i])[n:]
                        n = 0
            return written
        finally:
            s = self.state - _WLOCK_REF
            self.state = s
            if s & CLOSED or self.wq:
                self._unlock_slow(WLOCK, s)

    def sendto(self, data, addr):
        """Send one datagram to ``addr`` (a socket address)."""
        s = self.state
        if s & _WBUSY or self.tid != get_ident():
            self._wlock_slow()
        else:
            self.state = s + _WLOCK_REF
        try:
            return self._attempt(MODE_WRITE, self.sock.sendto, data, _MSG_NOSIGNAL, addr)
        finally:
            s = self.state - _WLOCK_REF
            self.state = s
            if s & CLOSED or self.wq:
                self._unlock_slow(WLOCK, s)

    # -- connect (Go: netFD.connect) -------------------------------------------

    def connect(self, sockaddr, deadline=None):
        """Connect to ``sockaddr``, parking until the handshake completes
        or ``deadline`` (monotonic) passes."""
        self._wlock_slow()
        try:
            pd = self.pd
            sock = self.sock
            err = sock.connect_ex(sockaddr)
            if err in (0, errno.EISCONN):
                return
            if err not in _CONNECTING:
                raise OSError(err, _strerror(err))
            if deadline is not None:
                pd.set_deadline(deadline, MODE_WRITE)
            try:
                while True:
                    code = pd.wait(MODE_WRITE)
                    if code:
                        raise _poll_error(code)
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err in _CONNECTING:
                        continue
                    if err == errno.EISCONN:
                        return
                    if err:
                        raise OSError(err, _strerror(err))
                    # The poller can wake us spuriously (Go issues 14548,
                    # 19289): connected only if there is a peer.
                    try:
                        sock.getpeername()
                        return
                    except OSError:
                        continue
            finally:
                if deadline is not None and not self.state & CLOSED:
                    pd.set_deadline(None, MODE_WRITE)
        finally:
            s = self.state - _WLOCK_REF
            self.state = s
            if s & CLOSED or self.wq:
                self._unlock_slow(WLOCK, s)

    # -- everything else -----------------------------------------------------

    def set_deadline(self, t, mode):
        """Set the read (MODE_READ), write (MODE_WRITE) or both deadlines to
        the monotonic time ``t`` (None: none).  It never parks, so unlike
        Go it takes no reference: checking closed and the thread suffices
        (servers renew a deadline per request)."""
        if self.state & CLOSED or self.tid != get_ident():
            self._incref()          # raises ClosedError or RuntimeError
            self._decref()
        self.pd.set_deadline(t, mode)

    def shutdown(self, how):
        """shutdown(2); after SHUT_RD (or SHUT_RDWR) reads return EOF."""
        self._incref()
        try:
            if how != socket.SHUT_WR:
                self.state |= RSHUT
            self.sock.shutdown(how)
        finally:
            self._decref()

    def setsockopt(self, level, opt, value):
        self._incref()
        try:
            self.sock.setsockopt(level, opt, value)
        finally:
            self._decref()

    def getsockopt(self, level, opt):
        self._incref()
        try:
            return self.sock.getsockopt(level, opt)
        finally:
            self._decref()

    def getsockname(self):
        self._incref()
        try:
            return self.sock.getsockname()
        finally:
            self._decref()

    def getpeername(self):
        self._incref()
        try:
            return self.sock.getpeername()
        finally:
            self._decref()

    def fileno(self):
        if self.state & CLOSED:
            raise ClosedError()
        return self.sysfd

    @property
    def closed(self):
        return bool(self.state & CLOSED)

    def close(self):
        """Close: evict waiters, wait for in-flight operations to return,
        unregister, close the descriptor.  Idempotent; returns only once the
        descriptor is closed (Go: FD.Close)."""
        self._check_thread()
        if self.incref_and_close():
            self.pd.evict()
            self._decref()
        if self.sock is not None and self.pd.rt.closed:
            # The runtime that would run the in-flight operations has stopped
            # (its run() returned, or this is a forked child): they will
            # never return, so close our descriptor now.
            self._destroy()
        self.wait_destroyed(self._destroyed)

    # -- internals -----------------------------------------------------------

    def _attempt(self, mode, call, *args):
        """Go's loop for one system call: check closing and the deadline,
        try the call, and on EAGAIN park until ready and try again.  The
        caller holds the lock of ``mode``.  (read, read_into and write spell
        this loop out for speed, with their own additions.)"""
        pd = self.pd
        code = pd.prepare(mode)
        if code:
            raise _poll_error(code)
        while True:
            try:
                return call(*args)
            except BlockingIOError:
                code = pd.wait(mode)
                if code:
                    raise _poll_error(code) from None

    def _destroyed(self):
        return self.sock is None

    def _destroy(self):
        """The last reference is gone after close (Go: FD.destroy)."""
        pd, sock = self.pd, self.sock
        self.pd = self.sock = None
        try:
            pd.close()
        finally:
            try:
                sock.close()
            finally:
                self.wake_closers()

    def _check_thread(self):
        if self.tid != get_ident():
            raise RuntimeError(
                f"netpoll: this connection belongs to the runtime of thread "
                f"{self.tid} and cannot be used from thread {get_ident()}; "
                f"use it only from the thread that created it")

    def _rlock(self):
        s = self.state
        if s & _RBUSY or self.tid != get_ident():
            return self._rlock_slow()
        self.state = s + _RLOCK_REF
        return True

    def _rlock_slow(self):
        """Slow path of the read lock: wrong thread, closed, read side shut
        (False: the caller returns EOF) or contended (park)."""
        self._check_thread()
        s = self.state
        if s & CLOSED:
            raise ClosedError()
        if s & RSHUT:
            return False
        if not self.rwlock(RLOCK):
            raise ClosedError()
        return True

    def _wlock_slow(self):
        self._check_thread()
        if not self.rwlock(WLOCK):
            raise ClosedError()

    def _runlock(self):
        s = self.state - _RLOCK_REF
        self.state = s
        if s & CLOSED or self.rq:
            self._unlock_slow(RLOCK, s)

    def _unlock_slow(self, lock, s):
        q = self.rq if lock == RLOCK else self.wq
        if q:
            _ready_one(q)
        if s & CLOSED and s < REF:
            self._destroy()

    def _incref(self):
        self._check_thread()
        if not self.incref():
            raise ClosedError()

    def _decref(self):
        if self.decref():
            self._destroy()

    def __repr__(self):
        return f"<FD {self.sysfd} state={self.state:#x}>"
