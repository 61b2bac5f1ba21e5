"""Mutex, RWMutex, Once and Semaphore (Go: sync.Mutex, sync.RWMutex,
sync.Once, golang.org/x/sync/semaphore.Weighted).

Each keeps a FIFO queue of parked goroutines, each entry a small
``_Waiter`` ([greenlet, granted]).  Releasing hands the lock straight to
the longest waiter (it is *granted* before it runs, as in Go's starvation
mode, always), so a goroutine that unlocks and locks again queues behind
the waiters and nobody is starved.  Parking and waking go through the
runtime's ``park`` / ``ready``, as channels do; the waitreason names the
call (``sync.Mutex.Lock``...) for the deadlock report.

A goroutine that leaves its park point by an exception (GoroutineExit at
teardown) takes itself off the queue; if the lock had already been handed
to it, it passes the lock on, so teardown leaves no stale waiter and no
lock held by a dead goroutine.

Like channels, each object belongs to the runtime of the thread that first
parks a goroutine on it.
"""

from collections import deque

from greenlet import getcurrent

from .runtime.chan import _bind


def _wait(obj, queue, reason, release):
    """Park the calling goroutine on ``queue`` until it is granted the
    lock.  On an exception at the park point: leave the queue, or, if
    already granted, give the lock back with ``release()``."""
    rt = _bind(obj)
    w = [getcurrent(), False]
    queue.append(w)
    try:
        rt.park(reason)
    except BaseException:
        if w[1]:
            release()
        else:
            try:
                queue.remove(w)
            except ValueError:
                pass
        raise


def _grant(obj, w):
    w[1] = True
    _bind(obj).ready(w[0])


class Mutex:
    """Go's sync.Mutex, with FIFO hand-off: ``lock()``, ``unlock()``,
    ``try_lock()``, and ``with mutex:``."""

    __slots__ = ("_locked", "_waiters", "_tid", "_rt")

    def __init__(self):
        self._locked = False
        self._waiters = deque()
        self._tid = None
        self._rt = None

    def lock(self):
        if not self._locked:          # uncontended: no runtime involved
            self._locked = True
            return
        _wait(self, self._waiters, "sync.Mutex.Lock", self.unlock)

    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        if not self._locked:
            raise RuntimeError("sync: unlock of unlocked mutex")
        if self._waiters:
            _grant(self, self._waiters.popleft())     # stays locked, for it
        else:
            self._locked = False

    def locked(self):
        return self._locked

    __enter__ = lock

    def __exit__(self, *exc):
        self.unlock()

    def __repr__(self):
        return (f"<Mutex {'locked' if self._locked else 'unlocked'}"
                f" waiters={len(self._waiters)}>")


class RWMutex:
    """Go's sync.RWMutex: one writer or many readers.  A waiting writer
    keeps new readers out; a writer's unlock lets every waiting reader in
    before the next writer, so neither side starves."""

    __slots__ = ("_readers", "_writer", "_wq", "_rq", "_tid", "_rt")

    def __init__(self):
        self._readers = 0          # readers holding it
        self._writer = False       # a writer holds it
        self._wq = deque()         # waiting writers
        self._rq = deque()         # waiting readers
        self._tid = None
        self._rt = None

    def lock(self):
        if not self._writer and not self._readers and not self._wq:
            self._writer = True
            return
        _wait(self, self._wq, "sync.RWMutex.Lock", self.unlock)

    def try_lock(self):
        if self._writer or self._readers or self._wq:
            return False
        self._writer = True
        return True

    def unlock(self):
        if not self._writer:
            raise RuntimeError("sync: unlock of unlocked RWMutex")
        if self._rq:
            self._writer = False
            rq = self._rq
            self._readers += len(rq)
            while rq:
                _grant(self, rq.popleft())
        elif self._wq:
            _grant(self, self._wq.popleft())          # stays write-locked
        else:
            self._writer = False

    def rlock(self):
        if not self._writer and not self._wq:
            self._readers += 1
            return
        _wait(self, self._rq, "sync.RWMutex.RLock", self.runlock)

    def try_rlock(self):
        if self._writer or self._wq:
            return False
        self._readers += 1
        return True

    def runlock(self):
        if self._readers <= 0:
            raise RuntimeError("sync: RUnlock of unlocked RWMutex")
        self._readers -= 1
        if not self._readers and self._wq:
            self._writer = True
            _grant(self, self._wq.popleft())

    def rlocker(self):
        """A context manager that read-locks (Go: RLocker)."""
        return _RLocker(self)

    __enter__ = lock

    def __exit__(self, *exc):
        self.unlock()

    def __repr__(self):
        return (f"<RWMutex writer={self._writer} readers={self._readers} "
                f"waiting writers={len(self._wq)} readers={len(self._rq)}>")


class _RLocker:
    __slots__ = ("_rw",)

    def __init__(self, rw):
        self._rw = rw

    def __enter__(self):
        self._rw.rlock()
        return self

    def __exit__(self, *exc):
        self._rw.runlock()

    lock = __enter__

    def unlock(self):
        self._rw.runlock()


class Once:
    """Go's sync.Once: ``do(fn, *args)`` calls ``fn`` the first time only;
    callers arriving meanwhile wait for that call to return.  A call that
    raised counts as done (the exception reaches its own caller only)."""

    __slots__ = ("_done", "_m")

    def __init__(self):
        self._done = False
        self._m = Mutex()

    def do(self, fn, *args):
        if self._done:
            return
        with self._m:
            if not self._done:
                try:
                    fn(*args)
                finally:
                    self._done = True

    @property
    def done(self):
        return self._done


class Semaphore:
    """A weighted semaphore (Go: golang.org/x/sync/semaphore.Weighted):
    ``acquire(weight=1)`` waits, in arrival order, until ``weight`` units
    are free; ``release(weight=1)``; ``try_acquire``; ``with sem:``."""

    __slots__ = ("size", "_cur", "_waiters", "_tid", "_rt")

    def __init__(self, n):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"semaphore size must be an int >= 0, not {n!r}")
        self.size = n
        self._cur = 0
        self._waiters = deque()     # [greenlet, granted, weight]
        self._tid = None
        self._rt = None

    def acquire(self, weight=1):
        if weight > self.size:
            raise ValueError(f"semaphore: acquire of {weight} > size {self.size}"
                             " would block forever")
        if self.size - self._cur >= weight and not self._waiters:
            self._cur += weight
            return
        rt = _bind(self)
        w = [getcurrent(), False, weight]
        self._waiters.append(w)
        try:
            rt.park("semacquire")
        except BaseException:
            if w[1]:
                self.release(weight)
            else:
                try:
                    self._waiters.remove(w)
                except ValueError:
                    pass
                self._notify()   # it may have been the head blocking others
            raise

    def try_acquire(self, weight=1):
        if self.size - self._cur >= weight and not self._waiters:
            self._cur += weight
            return True
        return False

    def release(self, weight=1):
        if weight > self._cur:
            raise RuntimeError("semaphore: released more than held")
        self._cur -= weight
        self._notify()

    def _notify(self):
        """Grant waiters in order while the head fits (a big head waits for
        room rather than be overtaken, as in Go)."""
        waiters = self._waiters
        while waiters:
            w = waiters[0]
            if self.size - self._cur < w[2]:
                break
            waiters.popleft()
            self._cur += w[2]
            w[1] = True
            _bind(self).ready(w[0])

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return f"<Semaphore {self._cur}/{self.size} waiters={len(self._waiters)}>"


__all__ = ["Mutex", "RWMutex", "Once", "Semaphore"]
