"""FDMutex: the read lock, write lock, reference count and closed flag of one
descriptor (Go: internal/poll/fd_mutex.go).

Go packs all of it into one atomic word; a netpoll runtime is a single OS
thread, so here the word is a plain int and no compare-and-swap is needed.
The uncontended paths are one bit test and one addition.

``state`` bit layout::

    bit 0      CLOSED   close() has begun: every later lock or incref fails
    bit 1      RLOCK    a reader holds the read lock
    bit 2      WLOCK    a writer holds the write lock
    bit 3      RSHUT    the read side was shut down (close_read): reads
                        return EOF without touching the socket (an FD flag,
                        kept here so the read fast path tests one word)
    bit 4      DRAINED  the last read of this edge-triggered stream socket
                        was short, so the socket was empty: the next read
                        waits for an edge instead of trying (an FD flag too,
                        see fd.py)
    bits 5..   refs     operations in flight, in units of REF: each lock
                        holder holds one, each incref holds one, and
                        close() holds one while it evicts

Waiters are not counted in the word (Go counts them in bits 20.. and 43..
and sleeps on semaphores); they queue in ``read_waiters`` / ``write_waiters``,
FIFO, as parked goroutines::

    rwlock(read) ──free──▶ holds lock + 1 ref ──rwunlock──▶ wakes the first
         │                                                   read waiter
         └──taken──▶ parked in read_waiters ◀── (lock taken again: │
                          │                back to the head) ──────┘
                          └── close(): woken, sees CLOSED, fails

When the last reference goes away after CLOSED, ``decref`` / ``rwunlock``
return True and the caller (FD) destroys the descriptor: unregisters it from
the poller and closes it, then wakes the goroutines waiting in ``close``
(``close_waiters``).

``incref`` / ``rwlock`` only *report* failure (False); the FD's wrappers
(``FD._ref``, ``FD._read_lock``...) turn it into ClosedError.
"""

from __future__ import annotations

from collections.abc import Callable

from greenlet import getcurrent, greenlet

from ..runtime.scheduler import get_runtime

CLOSED = 1
RLOCK = 2
WLOCK = 4
RSHUT = 8
DRAINED = 16
REF = 32


class FDMutex:
    __slots__ = ("state", "read_waiters", "write_waiters", "close_waiters")

    state: int
    read_waiters: list[greenlet] | None
    write_waiters: list[greenlet] | None
    close_waiters: list[greenlet] | None

    def __init__(self) -> None:
        self.state = 0
        # Parked goroutines, FIFO lists created on first contention.
        self.read_waiters = None      # for the read lock
        self.write_waiters = None     # for the write lock
        self.close_waiters = None     # in close(), for destruction

    # -- references (Go: incref / decref) ------------------------------------

    def incref(self) -> bool:
        """Take a reference for an operation that needs the descriptor but
        no lock (setsockopt, deadlines).  False if closing."""
        s = self.state
        if s & CLOSED:
            return False
        self.state = s + REF
        return True

    def decref(self) -> bool:
        """Drop a reference; True if it was the last one of a closing
        mutex, and the caller must destroy the descriptor."""
        s = self.state - REF
        self.state = s
        return bool(s & CLOSED) and s < REF

    def incref_and_close(self) -> bool:
        """Mark closing and take a reference; wake every goroutine waiting
        for a lock so it fails.  False if close had already begun (Go:
        increfAndClose)."""
        s = self.state
        if s & CLOSED:
            return False
        self.state = (s | CLOSED) + REF
        if self.read_waiters:
            _ready_all(self.read_waiters)
        if self.write_waiters:
            _ready_all(self.write_waiters)
        return True

    # -- locks (Go: rwlock / rwunlock) ---------------------------------------

    def rwlock(self, lock: int) -> bool:
        """Take the read lock (``lock`` = RLOCK) or the write lock (WLOCK)
        and a reference, parking behind the current holder.  False if
        closing."""
        s = self.state
        if s & (CLOSED | lock):
            return self._lock_slow(lock)
        self.state = s + lock + REF
        return True

    def rwunlock(self, lock: int) -> bool:
        """Release ``lock`` and its reference; True if the caller must now
        destroy the descriptor."""
        s = self.state - lock - REF
        self.state = s
        return self.after_unlock(lock, s)

    def after_unlock(self, lock: int, s: int) -> bool:
        """The second half of ``rwunlock``, once ``state`` is ``s``: hand
        ``lock`` to the next waiter; True if the caller must destroy the
        descriptor.  (FD's read and write inline the first half.)"""
        q = self.read_waiters if lock == RLOCK else self.write_waiters
        if q:
            _ready_one(q)
        return bool(s & CLOSED) and s < REF

    def _lock_slow(self, lock: int) -> bool:
        if lock == RLOCK:
            if self.read_waiters is None:
                self.read_waiters = []
            q = self.read_waiters
        else:
            if self.write_waiters is None:
                self.write_waiters = []
            q = self.write_waiters
        me = getcurrent()
        first = True
        while True:
            s = self.state
            if s & CLOSED:
                return False
            if not s & lock:
                self.state = s + lock + REF
                return True
            # FIFO: a waiter that was woken but lost the lock to a goroutine
            # that barged in goes back to the head of the queue.
            if first:
                q.append(me)
                first = False
            else:
                q.insert(0, me)
            try:
                _park("fd lock")
            except BaseException:
                try:
                    q.remove(me)
                except ValueError:
                    # An unlock had already woken us: pass the turn on.
                    if q and not self.state & lock:
                        _ready_one(q)
                raise

    # -- close ---------------------------------------------------------------

    def wait_destroyed(self, destroyed: Callable[[], bool]) -> None:
        """Park until ``destroyed()`` is true; the FD calls ``wake_closers``
        when it destroys the descriptor."""
        if destroyed():
            return
        if self.close_waiters is None:
            self.close_waiters = []
        me = getcurrent()
        self.close_waiters.append(me)
        try:
            while not destroyed():
                _park("fd close")
        finally:
            if me in self.close_waiters:
                self.close_waiters.remove(me)

    def wake_closers(self) -> None:
        if self.close_waiters:
            _ready_all(self.close_waiters)


def _park(reason: str) -> None:
    get_runtime().park(reason)


def _ready_one(q: list[greenlet]) -> None:
    get_runtime().ready(q.pop(0))


def _ready_all(q: list[greenlet]) -> None:
    ready = get_runtime().ready
    for g in q:
        ready(g)
    q.clear()
