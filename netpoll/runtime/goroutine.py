"""Goroutines: one greenlet each (Go: the g struct and newproc/goexit).

A goroutine's greenlet has the scheduler's hub as its parent, so when its
function returns the greenlet switches back to the hub, which goes on with
the next runnable goroutine.  An exception that escapes the function is
printed (a standard traceback on stderr, as Go prints a panic) and kept for
``join``; it does not stop the runtime.
"""

import sys
import traceback
from itertools import count

from greenlet import GreenletExit, getcurrent, greenlet

_ids = count(1)


class GoroutineExit(GreenletExit):
    """Raised at a goroutine's park point when ``run()`` returns and tears the
    runtime down, so its ``with`` and ``finally`` blocks run.  A
    BaseException, like GreenletExit, so ``except Exception`` does not stop
    it."""


class Goroutine(greenlet):
    """A goroutine started by ``netpoll.go``."""

    __slots__ = ("id", "waitreason", "_rt", "_fn", "_args", "_kwargs",
                 "_done", "_result", "_exc", "_joiners")

    def __init__(self, rt, fn, args, kwargs):
        greenlet.__init__(self, parent=rt.hub)
        self.id = next(_ids)
        self.waitreason = "runnable"
        self._rt = rt
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._done = False
        self._result = None
        self._exc = None
        self._joiners = None

    def run(self):
        fn, args = self._fn, self._args
        try:
            # A call with a fixed argument count is inlined by CPython's
            # interpreter; fn(*args) goes through C and leaves one more C
            # frame on this goroutine's stack, which greenlet copies to the
            # heap at every park (~0.8 KiB per parked goroutine).
            if self._kwargs:
                self._result = fn(*args, **self._kwargs)
            elif not args:
                self._result = fn()
            elif len(args) == 1:
                self._result = fn(args[0])
            elif len(args) == 2:
                self._result = fn(args[0], args[1])
            else:
                self._result = fn(*args)
        except GreenletExit as exc:
            self._exc = exc
        except Exception as exc:
            self._exc = exc
            _print_uncaught(self, exc)
        except BaseException as exc:
            # KeyboardInterrupt, SystemExit: the program's business, not this
            # goroutine's; hand it to the main goroutine.
            self._exc = exc
            self._rt.interrupt_main(exc)
        finally:
            self._finish()

    def _finish(self):
        self._fn = self._args = self._kwargs = None
        self._done = True
        self.waitreason = "dead"
        rt = self._rt
        rt.goroutine_exited(self)
        joiners = self._joiners
        if joiners:
            self._joiners = None
            rt.runq.extend(joiners)

    def finish_unstarted(self, exc):
        """Finish a goroutine killed before it ever ran."""
        self._exc = exc
        self._finish()

    @property
    def done(self):
        """True once the goroutine's function has returned or raised."""
        return self._done

    def join(self, timeout=None):
        """Wait for the goroutine to finish; return its result or re-raise its
        exception.  TimeoutError if ``timeout`` seconds pass first."""
        if not self._done:
            if getcurrent() is self:
                raise RuntimeError("a goroutine cannot join itself")
            rt = self._rt
            rt.check_thread()
            me = getcurrent()
            if self._joiners is None:
                self._joiners = []
            self._joiners.append(me)
            expired = []
            timer = None
            if timeout is not None:
                timer = rt.timers.add(rt.now() + max(0.0, timeout), _expire, (self, me, expired))
            try:
                while not self._done and not expired:
                    rt.park("join")
            finally:
                if timer is not None:
                    rt.timers.cancel(timer)
                if not self._done and self._joiners and me in self._joiners:
                    self._joiners.remove(me)
            if not self._done:
                raise TimeoutError(
                    f"goroutine {self.id} did not finish within {timeout} s")
        if self._exc is not None:
            raise self._exc
        return self._result

    def __repr__(self):
        state = "done" if self._done else self.waitreason
        fn = getattr(self._fn, "__qualname__", None) if self._fn else None
        return f"<Goroutine {self.id} {fn or ''} [{state}]>"


def _expire(arg):
    """A join timeout is due.  The joiner is readied by exactly one of this
    timer and the goroutine finishing, never both (a second wake-up would
    resume it later, parked on something else)."""
    target, g, expired = arg
    if target._done:
        return                 # finishing has readied the joiner already
    expired.append(True)
    target._joiners.remove(g)  # so finishing will not ready it again
    target._rt.runq.append(g)


def _print_uncaught(g, exc):
    try:
        sys.stderr.write(f"netpoll: uncaught exception in goroutine {g.id}:\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
    except Exception:
        pass
