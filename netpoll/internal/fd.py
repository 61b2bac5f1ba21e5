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
(from ``write``/``writev`` with ``written`` too).  ``netpoll.net`` adds
the operation and the addresses to the message.

``close()`` marks the mutex closed, evicts the PollDesc (every parked
goroutine wakes with ClosedError), waits until the last in-flight operation
has returned, and only then unregisters the descriptor from the poller and
closes it, so a recycled descriptor number never sees a stale wake-up.

An FD belongs to the runtime of the thread that opened it; every method
checks the thread first and raises RuntimeError on any other.

Three departures from Go's loop, all in the read path:

* The drained-read shortcut (nginx does the same with EPOLLET).  When a read
  of a TCP socket under an edge-triggered poller returns fewer bytes than
  asked, the socket's receive queue was empty at that moment, and any byte
  that arrives later raises a new edge.  So the next read skips the system
  call that would only fail with EAGAIN (in Python, an exception raised and
  caught: the dearest part of a read) and waits for the edge at once; if the
  edge already came, ``pd.wait`` returns without parking.  EOF and errors
  raise one edge only, possibly the one already consumed, and a read stops
  short at an urgent mark with data still queued, so once the poller has
  reported hang-up or urgent data (``pd.hup``) reads always try the system
  call.  AF_UNIX streams never use the shortcut: their reads also stop
  early after a message carrying descriptors (SCM_RIGHTS) or at a change of
  sender, with no edge to announce what is left.
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

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable, Iterable
from math import isnan
from os import read as _sysread
from os import sendfile as _os_sendfile
from os import strerror as _strerror
from threading import get_ident
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, SupportsIndex

from greenlet import getcurrent

from ..errors import ClosedError, DeadlineExceededError
from ..poller import MODE_READ, MODE_WRITE
from ..runtime.goroutine import Worker
from ..runtime.polldesc import POLL_ERR_TIMEOUT, READY, PollDesc, poll_open
from ..runtime.scheduler import Runtime, gosched
from ..speedups import ACCEL
from .fdmutex import CLOSED, DRAINED, REF, RLOCK, RSHUT, WLOCK, FDMutex

if TYPE_CHECKING:
    import _socket

    from _typeshed import ReadableBuffer, WriteableBuffer

_MSG_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
_IOV_MAX = min(getattr(socket, "IOV_MAX", 1024) or 1024, 1024)
_RBUSY = CLOSED | RLOCK | RSHUT
_WBUSY = CLOSED | WLOCK
_CONNECTING = (errno.EINPROGRESS, errno.EALREADY, errno.EINTR)
_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_NOT_DRAINED = ~DRAINED
_RLOCK_REF = RLOCK + REF           # one addition takes the lock and a reference
_WLOCK_REF = WLOCK + REF
_INF = float("inf")

# Reads in a row that found data without waiting before a read yields.
FAIR_READS = 32
# The smallest size FD.read asks the kernel for (see "Adaptive read size").
READ_MIN = 4096
# The most one read asks the kernel for, whatever ``n`` says: more than any
# datagram Linux delivers with its default limits (UDP's 64 KiB, a unix
# datagram's send buffer), so ``read(1 << 40)`` cannot cut one short, and
# small enough to allocate.
READ_MAX = 1 << 26
# A deadline set this far in the past (seconds) is probably a duration
# passed where a time.monotonic() value was meant: its timeout says so.
FAR_PAST = 86400.0


class FD(FDMutex):
    """A socket that parks the calling goroutine instead of blocking.

    The FD *is* its mutex (Go embeds ``fdmu`` in FD): one object less per
    connection and one attribute lookup less per operation."""

    __slots__ = ("sock", "pd", "tid", "sysfd", "drain_hint", "streak", "rsize",
                 "far_past")

    # sock and pd are None only once the FD is destroyed, when the CLOSED
    # bit keeps every operation from reaching them: typed as never None, so
    # the hot paths need no test to please the checker.
    sock: _socket.socket              # a socket.socket, or _socket.socket (accept)
    pd: PollDesc
    tid: int
    sysfd: int
    drain_hint: int
    streak: int
    rsize: int
    far_past: tuple[int, float, float] | None

    def __init__(self, sock: _socket.socket, accepted_by: FD | None = None) -> None:
        """``accepted_by``: the listening FD that accepted ``sock``, whose
        thread, runtime, family and type are this one's, so that what they
        decide is not worked out again for every connection."""
        # Speed trick: FDMutex.__init__, inlined (one call less per connection).
        self.state = 0
        self.read_waiters = self.write_waiters = self.close_waiters = None
        sock.setblocking(False)
        self.sock = sock
        self.sysfd = sysfd = sock.fileno()
        self.streak = 0
        # (modes, deadline, seconds) of a deadline set more than FAR_PAST
        # seconds in the past, for the hint in its timeout; else None.
        self.far_past = None
        if accepted_by is not None:
            self.tid = accepted_by.tid
            self.pd = poll_open(sysfd, accepted_by.pd.rt)
            self.drain_hint = accepted_by.drain_hint
            self.rsize = READ_MIN                 # a stream, as below
            return
        self.tid = get_ident()
        self.pd = pd = poll_open(sysfd)
        # DRAINED if the drained-read shortcut applies to this socket: a TCP
        # stream under an edge-triggered poller.  Not AF_UNIX streams: their
        # reads stop early at a message carrying SCM_RIGHTS, at a change of
        # sender credentials and at an OOB mark, with data still queued.
        self.drain_hint = DRAINED if (sock.type == socket.SOCK_STREAM and not pd.level_triggered
                                      and sock.family in _TCP_FAMILIES) else 0
        # A datagram read must ask for all n bytes (the kernel discards what
        # does not fit), so only streams adapt their request size.
        self.rsize = READ_MIN if sock.type == socket.SOCK_STREAM else sys.maxsize

    # -- reads ---------------------------------------------------------------

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; b"" at EOF or after ``shutdown_read``."""
        s = self.state                    # speed trick: _read_lock, inlined
        if s & _RBUSY or self.tid != get_ident():
            if not self._read_lock_slow():
                return b""
            s = self.state
        else:
            self.state = s + _RLOCK_REF
        try:
            asked = self.rsize            # adaptive read size
            if n < asked:                 # a small read, or any datagram read
                asked = n if 0 < n <= READ_MAX and type(n) is int else _read_size(n)
                if not asked:
                    return b""
            pd = self.pd
            if s & DRAINED and not pd.hup:
                code = pd.wait(MODE_READ)         # the drained-read shortcut
                self.streak = 0
            else:
                code = pd.prepare(MODE_READ)      # fairness: yield now and then
                self.streak = self.streak + 1 if self.streak < FAIR_READS else _yield_turn()
            if code:
                raise self._poll_error(code, MODE_READ)
            try:                          # speed trick: os.read parses no tuple
                data = _sysread(self.sysfd, asked)
            except BlockingIOError:       # (the C read returns None instead)
                data = None
            if data is None:
                data = self._read_wait(asked)
            if len(data) < asked:         # the common case needs no bookkeeping
                if asked > READ_MIN or not s & DRAINED:
                    self._after_short_read(s, asked, len(data))
            elif s & DRAINED or asked < n:
                self._after_full_read(s, asked, n)
            return data
        finally:                          # speed trick: _read_unlock, inlined
            s = self.state - _RLOCK_REF
            self.state = s
            if s & CLOSED or self.read_waiters:
                self._unlock_slow(RLOCK, s)

    def _after_short_read(self, s: int, asked: int, got: int) -> None:
        """A read got less than it asked for: the queue is empty (DRAINED,
        where the shortcut applies), and a request four times too big
        halves the read size."""
        if not s & DRAINED:
            self.state |= self.drain_hint
        if asked > READ_MIN and got <= asked >> 2 and asked == self.rsize:
            self.rsize = asked >> 1

    def _after_full_read(self, s: int, asked: int, n: int) -> None:
        """A read filled its request: more may be queued (not DRAINED), and
        a request smaller than ``n`` doubles the read size."""
        if s & DRAINED:
            self.state &= _NOT_DRAINED
        if asked < n:
            self.rsize = asked << 1

    def _read_wait(self, asked: int) -> bytes:
        """FD.read's slow path: nothing to read, park until there is."""
        self.streak = 0
        pd = self.pd
        while True:
            code = pd.wait(MODE_READ)
            if code:
                raise self._poll_error(code, MODE_READ) from None
            try:
                data = _sysread(self.sysfd, asked)
            except BlockingIOError:
                continue
            if data is not None:
                return data

    def read_into(self, buf: WriteableBuffer, nbytes: int = 0) -> int:
        """Read into ``buf``; the byte count, 0 at EOF.  Spells read's steps
        out again (a shared call costs more): change both or neither."""
        s = self.state                    # speed trick: _read_lock, inlined
        if s & _RBUSY or self.tid != get_ident():
            if not self._read_lock_slow():
                return 0
            s = self.state
        else:
            self.state = s + _RLOCK_REF
        try:
            want = nbytes or len(buf)     # type: ignore[arg-type]  # a Buffer has a len
            if not want:
                return 0
            # read's steps again from here, on purpose (see the docstring).
            pd = self.pd
            if s & DRAINED and not pd.hup:
                code = pd.wait(MODE_READ)         # the drained-read shortcut
                self.streak = 0
            else:
                code = pd.prepare(MODE_READ)      # fairness: yield now and then
                self.streak = self.streak + 1 if self.streak < FAIR_READS else _yield_turn()
            if code:
                raise self._poll_error(code, MODE_READ)
            try:
                got = self.sock.recv_into(buf, nbytes)
            except BlockingIOError:
                got = self._read_into_wait(buf, nbytes)
            if got < want:
                if not s & DRAINED:
                    self.state |= self.drain_hint
            elif s & DRAINED:
                self.state &= _NOT_DRAINED
            return got
        finally:                          # speed trick: _read_unlock, inlined
            s = self.state - _RLOCK_REF
            self.state = s
            if s & CLOSED or self.read_waiters:
                self._unlock_slow(RLOCK, s)

    def _read_into_wait(self, buf: WriteableBuffer, nbytes: int) -> int:
        """FD.read_into's slow path: nothing to read, park until there is."""
        self.streak = 0
        got: int = self._attempt_wait(MODE_READ, self.sock.recv_into, buf, nbytes)
        return got

    def recvfrom(self, n: int) -> tuple[bytes, Any]:
        """One datagram of up to ``n`` bytes and its sender's address."""
        if not 0 < n <= READ_MAX or type(n) is not int:
            n = _read_size(n)
        if not self._read_lock():
            return b"", None
        try:
            return self._attempt(MODE_READ, self.sock.recvfrom, n)    # type: ignore[no-any-return]
        finally:
            self._read_unlock()

    def accept(self) -> tuple[int, Any]:
        """A new connection: (fd number, address).  ECONNABORTED (the peer
        gave up while queued) is retried; EMFILE / ENFILE are raised and the
        listener stays usable.  Once per connection: the lock, pd.prepare
        and the first attempt are spelled out, the rest is _accept_slow."""
        s = self.state                    # speed trick: _read_lock, inlined
        if s & _RBUSY or self.tid != get_ident():
            if not self._read_lock_slow():
                raise ClosedError()
        else:
            self.state = s + _RLOCK_REF
        try:
            pd = self.pd
            # Speed trick: pd.prepare inlined: its checks, then a stale
            # READY dropped (the attempt sees what made the socket ready).
            if pd.closing or pd.deadline[MODE_READ] < 0:
                raise self._poll_error(pd.prepare(MODE_READ), MODE_READ)
            gs = pd.g
            if gs[MODE_READ] is READY:
                gs[MODE_READ] = None
            try:
                return self.sock._accept()    # type: ignore[attr-defined,no-any-return]
            except BlockingIOError:
                return self._accept_slow(False)
            except ConnectionAbortedError:
                return self._accept_slow(True)
        finally:                          # speed trick: _read_unlock, inlined
            s = self.state - _RLOCK_REF
            self.state = s
            if s & CLOSED or self.read_waiters:
                self._unlock_slow(RLOCK, s)

    def _accept_slow(self, aborted: bool) -> tuple[int, Any]:
        """FD.accept's loop after its first attempt: park until a connection
        is queued (EAGAIN), or try again at once after one that was aborted
        (ECONNABORTED), as often as it takes."""
        accept = self.sock._accept            # type: ignore[attr-defined]
        while True:
            try:
                if aborted:
                    return self._attempt(MODE_READ, accept)    # type: ignore[no-any-return]
                return self._attempt_wait(MODE_READ, accept)   # type: ignore[no-any-return]
            except ConnectionAbortedError:
                aborted = True

    # -- writes --------------------------------------------------------------

    def write(self, data: ReadableBuffer) -> int:
        """Send all of ``data``, parking while the socket buffer is full.
        A deadline that passes meanwhile raises DeadlineExceededError with
        ``written`` set to the bytes already sent."""
        s = self.state                    # speed trick: _write_lock, inlined
        if s & _WBUSY or self.tid != get_ident():
            self._write_lock_slow()
        else:
            self.state = s + _WLOCK_REF
        try:
            pd = self.pd
            # Speed trick: pd.prepare inlined; a stale READY is left in
            # place, as it costs at most one more send that finds the
            # buffer full.
            if pd.closing or pd.deadline[MODE_WRITE] < 0:
                raise self._poll_error(pd.prepare(MODE_WRITE), MODE_WRITE)
            if type(data) is bytes:
                total = len(data)
            else:
                data = _byte_view(data, "write")
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
                e.written = 0             # type: ignore[attr-defined]
                raise
            return self._write_rest(data, n, total)
        finally:                          # speed trick: _write_unlock, inlined
            s = self.state - _WLOCK_REF
            self.state = s
            if s & CLOSED or self.write_waiters:
                self._unlock_slow(WLOCK, s)

    def _write_rest(self, data: ReadableBuffer, n: int, total: int) -> int:
        """FD.write's slow path: the socket took ``n`` of ``total`` bytes;
        send the rest, parking while its buffer is full."""
        send = self.sock.send
        view = memoryview(data)
        pd = self.pd
        while True:
            try:
                n += send(view[n:], _MSG_NOSIGNAL)
                if n >= total:
                    return n
            except BlockingIOError:
                code = pd.wait(MODE_WRITE)
                if code:
                    raise self._poll_error(code, MODE_WRITE, n) from None
            except OSError as e:
                # Go's Write returns (n, err): what the kernel took before
                # it failed (ETIMEDOUT, ECONNRESET...).
                e.written = n             # type: ignore[attr-defined]
                raise

    def writev(self, buffers: Iterable[ReadableBuffer]) -> int:
        """Send every buffer, in order, with sendmsg (one system call for up
        to IOV_MAX buffers when the socket has room)."""
        if isinstance(buffers, (bytes, bytearray, memoryview, str)):
            raise TypeError(
                f"Conn.writev() takes a list of bytes-like objects, not one "
                f"{type(buffers).__name__}; use write() for a single buffer")
        bufs: list[ReadableBuffer] = []
        for b in buffers:
            m = b if isinstance(b, bytes) else _byte_view(b, "writev")
            if len(m):
                bufs.append(m)
        self._write_lock()
        try:
            code = self.pd.prepare(MODE_WRITE)
            if code:
                raise self._poll_error(code, MODE_WRITE)
            return self._sendmsg_all(bufs)
        finally:
            self._write_unlock()

    def _sendmsg_all(self, bufs: list[ReadableBuffer]) -> int:
        """writev's loop: sendmsg up to IOV_MAX buffers at a time, dropping
        what went out, parking while the socket buffer is full."""
        sendmsg = self.sock.sendmsg
        written = 0
        i = 0
        while i < len(bufs):
            try:
                n = sendmsg(bufs[i:i + _IOV_MAX], (), _MSG_NOSIGNAL)
            except BlockingIOError:
                code = self.pd.wait(MODE_WRITE)
                if code:
                    raise self._poll_error(code, MODE_WRITE, written) from None
                continue
            except OSError as e:
                e.written = written       # type: ignore[attr-defined]
                raise
            written += n
            while n:
                k = len(bufs[i])          # type: ignore[arg-type]  # bytes or a memoryview
                if n >= k:
                    n -= k
                    i += 1
                else:
                    bufs[i] = memoryview(bufs[i])[n:]
                    n = 0
        return written

    def sendfile(self, infd: int, offset: int, count: int) -> int:
        """Send up to ``count`` bytes of the file ``infd`` from ``offset``
        with sendfile(2), in the kernel, parking while the socket buffer is
        full (Go: internal/poll/sendfile_linux.go).  Returns how many were
        sent: fewer only if the file ended first.  Errors carry ``written``
        as write's do."""
        self._write_lock()
        try:
            pd = self.pd
            code = pd.prepare(MODE_WRITE)
            if code:
                raise self._poll_error(code, MODE_WRITE)
            sysfd = self.sysfd
            sent = 0
            while sent < count:
                try:
                    n = _os_sendfile(sysfd, infd, offset + sent, count - sent)
                except BlockingIOError:
                    code = pd.wait(MODE_WRITE)
                    if code:
                        raise self._poll_error(code, MODE_WRITE, sent) from None
                    continue
                except OSError as e:
                    e.written = sent      # type: ignore[attr-defined]
                    raise
                if not n:                 # the file is shorter than count
                    break
                sent += n
            return sent
        finally:
            self._write_unlock()

    def sendto(self, data: ReadableBuffer, addr: Any) -> int:
        """Send one datagram to ``addr`` (a socket address)."""
        self._write_lock()
        try:
            sent: int = self._attempt(MODE_WRITE, self.sock.sendto, data, _MSG_NOSIGNAL, addr)
            return sent
        finally:
            self._write_unlock()

    # -- connect (Go: netFD.connect) -------------------------------------------

    def connect(self, sockaddr: Any, deadline: float | None = None) -> None:
        """Connect to ``sockaddr``, parking until the handshake completes
        or ``deadline`` (monotonic) passes."""
        self._write_lock()
        try:
            err = self.sock.connect_ex(sockaddr)
            if err in (0, errno.EISCONN):
                return
            if err not in _CONNECTING:
                raise OSError(err, _strerror(err))
            pd = self.pd
            if deadline is not None:
                pd.set_deadline(deadline, MODE_WRITE)
            try:
                self._connect_wait()
            finally:
                if deadline is not None and not self.state & CLOSED:
                    pd.set_deadline(None, MODE_WRITE)
        finally:
            self._write_unlock()

    def _connect_wait(self) -> None:
        """Park until a connect in progress completes or fails."""
        sock = self.sock
        while True:
            code = self.pd.wait(MODE_WRITE)
            if code:
                raise self._poll_error(code, MODE_WRITE)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err in _CONNECTING:
                continue
            if err == errno.EISCONN:
                return
            if err:
                raise OSError(err, _strerror(err))
            # The poller can wake us spuriously (Go issues 14548, 19289):
            # connected only if there is a peer.
            try:
                sock.getpeername()
                return
            except OSError:
                continue

    # -- everything else -----------------------------------------------------

    def set_deadline(self, t: float | None, mode: int) -> None:
        """Set the read (MODE_READ), write (MODE_WRITE) or both deadlines to
        the monotonic time ``t`` (None or inf: none; nan: ValueError).  It
        never parks, so unlike Go it takes no reference: checking closed and
        the thread suffices (servers renew a deadline per request)."""
        if self.state & CLOSED or self.tid != get_ident():
            self._ref()             # raises ClosedError or RuntimeError
            self._unref()
        if t is not None:
            if not t < _INF:            # inf or nan: one test for both
                t = _infinite_deadline(t)
            elif t < _monotonic() - FAR_PAST:
                self.far_past = (mode, t, _monotonic() - t)
            elif self.far_past is not None:
                self._forget_far_past(mode)
        elif self.far_past is not None:
            self._forget_far_past(mode)
        self.pd.set_deadline(t, mode)

    def shutdown(self, how: int) -> None:
        """shutdown(2); after SHUT_RD (or SHUT_RDWR) reads return EOF.  A
        failed shutdown changes nothing."""
        self._ref()
        try:
            self.sock.shutdown(how)
            if how != socket.SHUT_WR:
                self.state |= RSHUT
        finally:
            self._unref()

    def setsockopt(self, level: int, opt: int, value: int | bytes) -> None:
        self._with_ref("setsockopt", level, opt, value)

    def getsockopt(self, level: int, opt: int) -> int:
        value: int = self._with_ref("getsockopt", level, opt)
        return value

    # A socket address: Any, as in typeshed (a tuple, str or bytes by family).
    def getsockname(self) -> Any:
        return self._with_ref("getsockname")

    def getpeername(self) -> Any:
        return self._with_ref("getpeername")

    def _with_ref(self, method: str, *args: Any) -> Any:
        """The socket's ``method`` called while holding a reference (Go:
        incref / decref around a call that needs no lock); ClosedError
        once closing."""
        self._ref()
        try:
            return getattr(self.sock, method)(*args)
        finally:
            self._unref()

    def fileno(self) -> int:
        if self.state & CLOSED:
            raise ClosedError()
        return self.sysfd

    @property
    def closed(self) -> bool:
        return bool(self.state & CLOSED)

    def close(self) -> None:
        """Close: evict waiters, wait for in-flight operations to return,
        unregister, close the descriptor.  Idempotent; returns only once the
        descriptor is closed (Go: FD.Close)."""
        if self.tid != get_ident():
            self._check_thread()          # raises
        if self.incref_and_close():
            self.pd.evict()
            s = self.state - REF          # speed trick: _unref, inlined
            self.state = s
            if s < REF:                   # the last reference (CLOSED is set)
                self._destroy()
        if self.sock is not None:         # not destroyed yet: operations in flight
            if self.pd.rt.closed:
                # The runtime that would run the in-flight operations has
                # stopped (its run() returned, or this is a forked child):
                # they will never return, so close our descriptor now.
                self._destroy()
            self.wait_destroyed(self._destroyed)

    # -- locks and references (Go: readLock, readUnlock, writeLock,
    #    writeUnlock, incref, decref).  read, read_into and write inline the
    #    uncontended paths of the first four, for speed.

    def _read_lock(self) -> bool:
        """Take the read lock and a reference; False if the read side is
        shut (the caller returns EOF); ClosedError or RuntimeError (wrong
        thread) otherwise."""
        s = self.state
        if s & _RBUSY or self.tid != get_ident():
            return self._read_lock_slow()
        self.state = s + _RLOCK_REF
        return True

    def _read_lock_slow(self) -> bool:
        """Wrong thread, closed, read side shut (False) or contended (park)."""
        self._check_thread()
        s = self.state
        if s & CLOSED:
            raise ClosedError()
        if s & RSHUT:
            return False
        if not self.rwlock(RLOCK):
            raise ClosedError()
        return True

    def _read_unlock(self) -> None:
        if self.rwunlock(RLOCK):
            self._destroy()

    def _write_lock(self) -> None:
        """Take the write lock and a reference; ClosedError or RuntimeError."""
        s = self.state
        if s & _WBUSY or self.tid != get_ident():
            self._write_lock_slow()
        else:
            self.state = s + _WLOCK_REF

    def _write_lock_slow(self) -> None:
        self._check_thread()
        if not self.rwlock(WLOCK):
            raise ClosedError()

    def _write_unlock(self) -> None:
        if self.rwunlock(WLOCK):
            self._destroy()

    def _unlock_slow(self, lock: int, s: int) -> None:
        """The rest of an inlined unlock that found waiters or CLOSED."""
        if self.after_unlock(lock, s):
            self._destroy()

    def _ref(self) -> None:
        """A reference for an operation that needs no lock: ClosedError or
        RuntimeError (wrong thread) where FDMutex.incref only says False."""
        self._check_thread()
        if not self.incref():
            raise ClosedError()

    def _unref(self) -> None:
        if self.decref():
            self._destroy()

    # -- internals -----------------------------------------------------------

    # _attempt and _attempt_wait return what ``call`` returns: Any, as the
    # socket methods they run return different types.
    def _attempt(self, mode: int, call: Callable[..., Any], *args: Any) -> Any:
        """Go's loop for one system call: check closing and the deadline,
        try the call, and on EAGAIN park until ready and try again.  The
        caller holds the lock of ``mode``.  (read, read_into and write spell
        this loop out for speed, with their own additions.)"""
        code = self.pd.prepare(mode)
        if code:
            raise self._poll_error(code, mode)
        try:
            return call(*args)
        except BlockingIOError:
            return self._attempt_wait(mode, call, *args)

    def _attempt_wait(self, mode: int, call: Callable[..., Any], *args: Any) -> Any:
        """After EAGAIN: park until ready for ``mode``, try again."""
        pd = self.pd
        while True:
            code = pd.wait(mode)
            if code:
                raise self._poll_error(code, mode) from None
            try:
                return call(*args)
            except BlockingIOError:
                pass

    def _poll_error(self, code: int, mode: int, written: int = 0) -> OSError:
        """The exception for a PollDesc error code: ClosedError, or
        DeadlineExceededError (with a hint if the deadline of ``mode`` was
        set far in the past)."""
        if code != POLL_ERR_TIMEOUT:
            return ClosedError()
        far = self.far_past
        if far is not None and far[0] & mode:
            _, t, ago = far
            return DeadlineExceededError(
                f"deadline {t:g} was {ago:.0f} s in the past (a deadline is a "
                f"time.monotonic() value: {t:g} s from now is "
                f"time.monotonic() + {t:g}): i/o timeout", written=written)
        return DeadlineExceededError(written=written)

    def _forget_far_past(self, mode: int) -> None:
        far = self.far_past
        assert far is not None              # the callers test it
        modes, t, ago = far
        modes &= ~mode
        self.far_past = (modes, t, ago) if modes else None

    def _destroyed(self) -> bool:
        return self.sock is None

    def _destroy(self) -> None:
        """The last reference is gone after close (Go: FD.destroy)."""
        pd, sock = self.pd, self.sock
        self.pd = self.sock = None          # type: ignore[assignment]  # see the slots
        try:
            pd.close()
        finally:
            try:
                sock.close()
            finally:
                if self.close_waiters:    # speed trick: wake_closers' test, inlined
                    self.wake_closers()

    def _check_thread(self) -> None:
        if self.tid != get_ident():
            raise RuntimeError(
                f"netpoll: this connection belongs to the runtime of thread "
                f"{self.tid} and cannot be used from thread {get_ident()}; "
                f"use it only from the thread that created it")

    def __repr__(self) -> str:
        return f"<FD {self.sysfd} state={self.state:#x}>"


# -- the C accelerator (netpoll/speedups.py) ---------------------------------
#
# Speed trick: with netpoll._speedups built (and NETPOLL_PURE unset) the
# plain write, the read, and the steps of a read's park on either side of
# its switch are done in C; the switch stays in Python.  The methods above
# stay the reference and take every other case.  Conn.read and Conn.write
# (net/conn.py) use the same pieces inline.

def _write_accel(self: FD, data: ReadableBuffer) -> int:
    """FD.write, the C fast path first: the whole write when the lock is
    free and the socket takes every byte at once (what FD.write does then,
    without the interpreter); the Python path otherwise."""
    try:
        n: int | None = write_fast(self, data)
    except OSError as e:              # as FD.write: nothing went out
        e.written = 0                 # type: ignore[attr-defined]
        raise
    if n is not None and n >= 0:
        return n
    return write_rest(self, data, n)


def write_rest(fd: FD, data: ReadableBuffer, n: int | None) -> int:
    """After write_fast returned ``n``, not a whole write: None (nothing
    was sent: FD.write's Python path), or ~sent (the rest parks)."""
    if n is None:
        return _write_py(fd, data)
    fd._write_lock()                  # nothing ran since: the lock is free
    try:
        return fd._write_rest(data, ~n, len(data))   # type: ignore[arg-type]  # bytes-like: has a len
    finally:
        fd._write_unlock()


def _read_accel(self: FD, n: int) -> bytes:
    """FD.read with the C fast path: the whole read when it needs no
    parking.  To park, C takes the read lock, records this goroutine as the
    PollDesc's read waiter and returns the greenlet to switch to (the steps
    of PollDesc.wait before its switch); the switch is made in Python, so
    that no C frame is on the parked goroutine's stack, and read_woke does
    the steps after it, the read and the unlock."""
    r: Any = read_fast(self, n)       # bytes, None or a greenlet
    if type(r) is bytes:
        return r
    return read_rest(self, n, r)


def read_rest(fd: FD, n: int, r: Any) -> bytes:
    """A read after read_fast or read_woke returned ``r``, not bytes:
    None (FD.read's Python path), a greenlet (parked as the read waiter,
    the read lock held: switch to it), ``(data,)`` (read, the lock held: its
    unlock has someone to wake) or an int (woken without readiness: a
    deadline or evict; PollDesc.wait decides)."""
    if r is None:
        return _read_py(fd, n)
    try:
        while not isinstance(r, (tuple, int)):
            try:
                r.switch()            # parked until the read edge
            except BaseException:
                read_unpark(fd)
                raise
            r = read_woke(fd, n)
            if type(r) is bytes:      # read and unlocked in C
                return r
        data: bytes = r[0] if isinstance(r, tuple) else _read_wait_py(fd, n, r)
    except BaseException:
        fd._read_unlock()
        raise
    fd._read_unlock()
    return data


def _read_wait_py(fd: FD, n: int, r: int) -> bytes:
    """The rest of a read woken without readiness (a deadline, evict):
    PollDesc.wait decides; the read lock is held (the caller drops it);
    ``r`` is what read_resume needs."""
    pd = fd.pd
    while True:
        code = pd.wait(MODE_READ)
        if code:
            raise fd._poll_error(code, MODE_READ) from None
        data: bytes | None = _read_resume(fd, n, r)
        if data is not None:
            return data


def read_unpark(fd: FD) -> None:
    """An exception was thrown in at a park C prepared: undo its steps as
    PollDesc.wait does when that happens (the read lock stays held)."""
    pd = fd.pd
    pd.rt.nwait -= 1
    pd._abandon_wait(MODE_READ, getcurrent())


def not_accelerated(*args: Any) -> Any:
    """Stands in for an accelerator function when the accelerator is not
    in use (nothing calls it then)."""
    raise RuntimeError("netpoll._speedups is not in use")


# The accelerator's functions, for FD and Conn (stand-ins that raise when
# it is not in use: then nothing calls them).
read_fast: Callable[[FD, int], Any] = not_accelerated
read_woke: Callable[[FD, int], Any] = not_accelerated
write_fast: Callable[[FD, ReadableBuffer], int | None] = not_accelerated

if ACCEL is not None:
    try:
        ACCEL.setup_polldesc(PollDesc, READY)
        ACCEL.setup_fd(FD, CLOSED, RLOCK, WLOCK, RSHUT, DRAINED, REF, READ_MIN, READ_MAX,
                       FAIR_READS)
        ACCEL.setup_park(Runtime, Worker, getcurrent)
    except (AttributeError, TypeError, ValueError) as exc:
        # The classes changed shape (a slot renamed...) and the C code was
        # not updated: pure Python, said loudly.
        import warnings
        warnings.warn(f"netpoll._speedups does not fit this netpoll ({exc}): "
                      f"running pure Python", RuntimeWarning, stacklevel=1)
        ACCEL = None
if ACCEL is not None:
    read_fast = ACCEL.read_fast
    read_woke = ACCEL.read_woke
    _read_resume = ACCEL.read_resume
    _read_py = FD.read
    FD.read = _read_accel             # type: ignore[method-assign]
    _sysread = ACCEL.read             # os.read without the GIL round trip; None for EAGAIN
    write_fast = ACCEL.write_fast
    _write_py = FD.write
    FD.write = _write_accel           # type: ignore[method-assign]


def _yield_turn() -> int:
    """Fairness: a goroutine whose reads kept finding data lets the others
    run (Go's scheduler would preempt it); its streak starts again."""
    gosched()
    return 0


def _read_size(n: SupportsIndex) -> int:
    """What a read of ``n`` bytes asks the kernel for when ``n`` is not a
    plain positive int up to READ_MAX: 0 (return at once), READ_MAX, or
    TypeError / ValueError raised at the call, before any parking."""
    if type(n) is not int:
        try:
            n = n.__index__()
        except (AttributeError, TypeError):
            raise TypeError(f"Conn.read() takes an int size, not "
                            f"{type(n).__name__}") from None
    if n < 0:
        raise ValueError(f"Conn.read() size must not be negative, not {n}")
    return min(n, READ_MAX)


def _byte_view(data: Any, op: str) -> memoryview:     # Any: checked here
    """``data`` (any bytes-like object) as a memoryview of bytes;
    TypeError naming the Conn method otherwise."""
    try:
        return memoryview(data).cast("B")
    except TypeError:
        hint = "; encode text first, e.g. s.encode()" if isinstance(data, str) else ""
        raise TypeError(f"Conn.{op}() takes bytes (or bytearray, memoryview), "
                        f"not {type(data).__name__}{hint}") from None


def _infinite_deadline(t: float) -> float | None:
    """A deadline that is not below inf: inf means none (None); nan is
    refused."""
    if isnan(t):
        raise ValueError("deadline is nan: give a time.monotonic() value, "
                         "or None for no deadline")
    return None
