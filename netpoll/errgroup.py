"""A group of goroutines working on one task (Go:
golang.org/x/sync/errgroup).

``g.go(fn, *args)`` starts ``fn`` in a goroutine; ``g.wait()`` waits for all
of them and raises the first exception any raised.  ``set_limit(n)`` caps
how many run at once (``go`` waits for a slot, on a Semaphore);
``ErrGroup.with_context(ctx)`` also returns a child context that the first
exception (or ``wait`` returning) cancels, so the others can give up.

An exception caught by the group is the group's result: it is not printed
as an uncaught goroutine exception.  BaseExceptions (GoroutineExit at
teardown, KeyboardInterrupt) pass through untouched.
"""

from . import context as _context
from .runtime.chan import WaitGroup
from .runtime.scheduler import go as _go
from .sync import Semaphore


class ErrGroup:
    """Go's errgroup.Group.  ``ErrGroup(ctx=None)``: with a context, the
    group cancels nothing (use ``with_context`` for that) but is bound to
    it for the reader's sake."""

    __slots__ = ("_wg", "_err", "_cancel", "_sem", "ctx")

    def __init__(self, ctx=None):
        self._wg = WaitGroup()
        self._err = None
        self._cancel = None
        self._sem = None
        self.ctx = ctx

    @classmethod
    def with_context(cls, ctx):
        """``(group, group_ctx)``: group_ctx, a child of ``ctx``, is
        cancelled by the first exception in the group or when ``wait``
        returns."""
        gctx, cancel = _context.with_cancel(ctx)
        g = cls(gctx)
        g._cancel = cancel
        return g, gctx

    def set_limit(self, n):
        """At most ``n`` goroutines of the group run at once (None or a
        negative n: no limit).  Not while goroutines of the group run."""
        if self._wg.count:
            raise RuntimeError("errgroup: modify limit while goroutines are active")
        self._sem = None if n is None or n < 0 else Semaphore(n)

    def go(self, fn, *args):
        """Start ``fn(*args)`` in a goroutine of the group; with a limit,
        wait for a slot first."""
        if self._sem is not None:
            self._sem.acquire()
        self._wg.add(1)
        return _go(self._run, fn, args)

    def try_go(self, fn, *args):
        """Start ``fn(*args)`` only if a slot is free now; True if started."""
        if self._sem is not None and not self._sem.try_acquire():
            return False
        self._wg.add(1)
        _go(self._run, fn, args)
        return True

    def _run(self, fn, args):
        try:
            fn(*args)
        except Exception as exc:
            if self._err is None:
                self._err = exc
                if self._cancel is not None:
                    self._cancel()
        finally:
            if self._sem is not None:
                self._sem.release()
            self._wg.done()

    def wait(self):
        """Wait for every goroutine of the group; raise the first exception
        one raised, else return None."""
        self._wg.wait()
        if self._cancel is not None:
            self._cancel()
        if self._err is not None:
            raise self._err


__all__ = ["ErrGroup"]
