"""Goroutines, and the greenlets that run them (Go: the g struct, newproc,
goexit, and gfput/gfget, the free list of dead g's kept with their stacks).

A ``Goroutine`` is the handle ``netpoll.go`` returns: its function, result,
exception and joiners.  A ``Worker`` is the greenlet that runs it.  When the
function returns, the worker does not die: it goes back to the runtime's
idle list and runs the next goroutine started with ``go``.  Creating a
greenlet costs its first frame a fresh 16 KiB data-stack chunk (an mmap, a
page fault, a munmap when it dies); reusing one makes ``go`` several times
cheaper for the common server pattern of one short goroutine per
connection.  The list is bounded (``MAX_IDLE``); past it, workers end.

A worker's parent is the scheduler's hub, so a worker that ends (idle list
full, runtime closing) switches back to the hub, which goes on.  An
exception that escapes a goroutine's function is printed (a standard
traceback on stderr, as Go prints a panic) and kept for ``join``; it does
not stop the runtime.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from inspect import CO_ASYNC_GENERATOR, CO_COROUTINE
from itertools import count
from typing import TYPE_CHECKING, Any

from greenlet import GreenletExit, getcurrent, greenlet

if TYPE_CHECKING:
    from types import FrameType, TracebackType

    from .scheduler import Runtime

MAX_IDLE = 256

_ids = count(1)


class GoroutineExit(GreenletExit):
    """Raised at a goroutine's park point when ``run()`` returns and tears the
    runtime down, so its ``with`` and ``finally`` blocks run.  A
    BaseException, like GreenletExit, so ``except Exception`` does not stop
    it."""


class Goroutine:
    """A goroutine started by ``netpoll.go``."""

    __slots__ = ("id", "worker", "started", "_rt", "_fn", "_args", "_kwargs",
                 "_done", "_result", "_exc", "_tb", "_joiners", "__weakref__")

    id: int
    worker: Worker | None
    started: bool
    _rt: Runtime
    _fn: Callable[..., Any] | None
    _args: tuple[Any, ...] | None
    _kwargs: dict[str, Any] | None
    _done: bool
    _result: Any            # whatever the goroutine's function returned
    _exc: BaseException | None
    _tb: TracebackType | None
    _joiners: list[greenlet] | None

    def __init__(self, rt: Runtime, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any] | None) -> None:
        self.id = next(_ids)
        self._rt = rt
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self.worker = None
        self.started = False
        self._done = False
        self._result = None
        self._exc = None
        self._tb = None
        self._joiners = None

    def _run(self) -> None:
        """Run the function, in its worker; record how it ended."""
        fn, args = self._fn, self._args
        self.started = True
        try:
            # A call with a fixed argument count is inlined by CPython's
            # interpreter; fn(*args) goes through C and leaves one more C
            # frame on the worker's stack, which greenlet copies to the heap
            # at every park (~0.8 KiB per parked goroutine).
            if self._kwargs:
                self._result = fn(*args, **self._kwargs)  # type: ignore[misc]  # set until _finish
            elif not args:
                self._result = fn()  # type: ignore[misc]  # fn: set until _finish
            elif len(args) == 1:
                self._result = fn(args[0])  # type: ignore[misc]  # fn: set until _finish
            elif len(args) == 2:
                self._result = fn(args[0], args[1])  # type: ignore[misc]  # fn: set until _finish
            else:
                self._result = fn(*args)  # type: ignore[misc]  # fn: set until _finish
        except GreenletExit as exc:
            self._exc = exc
            self._tb = exc.__traceback__
        except Exception as exc:
            self._exc = exc
            self._tb = exc.__traceback__
            _print_uncaught(self, exc)
        except BaseException as exc:
            # KeyboardInterrupt, SystemExit: the program's business, not this
            # goroutine's; hand it to the main goroutine.
            self._exc = exc
            self._tb = exc.__traceback__
            self._rt.interrupt_main(exc)
        finally:
            self._finish()

    def _finish(self) -> None:
        self._fn = self._args = self._kwargs = None
        self._done = True
        rt = self._rt
        # Speed trick: Runtime.goroutine_exited, inlined but for its rare
        # part (shutdown() waits for the last goroutine).
        rt.goroutines.discard(self)
        if rt._exit_waiter is not None:
            rt.goroutine_exited(self)
        joiners = self._joiners
        if joiners:
            self._joiners = None
            for g in joiners:
                rt.ready(g)

    def finish_unstarted(self, exc: BaseException) -> None:
        """Finish a goroutine killed before it ever ran."""
        self._exc = exc
        self._tb = exc.__traceback__
        self._finish()

    @property
    def done(self) -> bool:
        """True once the goroutine's function has returned or raised."""
        return self._done

    @property
    def waitreason(self) -> str:
        """What the goroutine waits for (Go: g.waitreason), as in a deadlock
        report: ``IO wait``, ``chan receive``, ``sleep``, ``runnable``..."""
        if self._done:
            return "dead"
        if not self.started:
            return "runnable"
        return self.worker.waitreason  # type: ignore[union-attr]  # a started goroutine has its worker

    @property
    def frame(self) -> FrameType | None:
        """The goroutine's innermost frame while it is parked, else None."""
        if self._done or not self.started:
            return None
        return self.worker.gr_frame  # type: ignore[union-attr]  # a started goroutine has its worker

    def join(self, timeout: float | None = None) -> Any:
        """Wait for the goroutine to finish; return its result or re-raise its
        exception.  TimeoutError if ``timeout`` seconds pass first (None or
        ``inf``: no limit; ValueError for nan).  RuntimeError if the
        goroutine's runtime has stopped without it finishing."""
        if not self._done:
            if timeout is not None:
                if timeout != timeout:
                    raise ValueError("join: the timeout is nan")
                if timeout == _INF:
                    timeout = None
            me = getcurrent()
            if me is self.worker and self.started:
                raise RuntimeError("a goroutine cannot join itself")
            rt = self._rt
            rt.check_thread()
            if rt.closed:
                raise RuntimeError(
                    f"goroutine {self.id} belongs to a runtime that has stopped "
                    "(its run() returned) before the goroutine finished")
            if self._joiners is None:
                self._joiners = []
            self._joiners.append(me)
            expired: list[bool] = []
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
            # With the goroutine's own traceback each time, not one that grows
            # by the joiner's frames at every join.
            raise self._exc.with_traceback(self._tb)
        return self._result

    def __repr__(self) -> str:
        fn = getattr(self._fn, "__qualname__", None) if self._fn else None
        return f"<Goroutine {self.id} {fn or ''} [{self.waitreason}]>"


class Worker(greenlet):
    """A greenlet that runs goroutines one after another (Go: a g kept on
    the free list with its stack)."""

    __slots__ = ("task", "waitreason", "rt")

    task: Goroutine | None
    waitreason: str
    rt: Runtime

    def __init__(self, rt: Runtime) -> None:
        greenlet.__init__(self, parent=rt.hub)
        self.rt = rt
        self.task = None
        self.waitreason = "runnable"

    def run(self) -> None:
        rt = self.rt
        idle = rt.idle
        runq = rt.runq
        hub_switch = rt.hub.switch
        while True:
            try:
                task = self.task
                if task is not None:
                    if not task.started:
                        self.waitreason = "running"
                        task._run()
                    self.task = task = None   # an idle worker keeps nothing alive
                    self.gr_context = None    # nor the goroutine's context
                if rt.closed or len(idle) >= MAX_IDLE:
                    return
                idle.append(self)
                # ---- Until go() hands us a goroutine: Runtime.park("idle"),
                # inlined (once per goroutine; a worker is never the hub, and
                # rt.closed was tested above), with its hand-over to the
                # batch's next goroutine unless that one is a new worker.
                self.waitreason = "idle"
                if rt.batch and runq[0]:
                    rt.batch -= 1
                    runq.popleft().switch()
                else:
                    hub_switch()
            except GreenletExit as exc:
                task = self.task
                self.task = None
                if task is None or task.started:
                    return               # the runtime is closing
                try:
                    idle.remove(self)
                except ValueError:
                    pass
                task.finish_unstarted(exc)   # killed before it started
            except BaseException as exc:
                # Raised between goroutines (a signal handler that ran here):
                # not this worker's business; the main goroutine gets it, and
                # the worker goes on (to its task, if go() handed it one).
                rt.interrupt_main(exc)
                if self in idle:
                    idle.remove(self)    # appended again below, if still idle


def _expire(arg: tuple[Goroutine, greenlet, list[bool]]) -> None:
    """A join timeout is due.  The joiner is readied by exactly one of this
    timer and the goroutine finishing, never both (a second wake-up would
    resume it later, parked on something else)."""
    target, g, expired = arg
    if target._done:
        return                 # finishing has readied the joiner already
    expired.append(True)
    target._joiners.remove(g)  # type: ignore[union-attr]  # not done: still listed; so finishing will not ready it again
    target._rt.ready(g)


_INF = float("inf")


def check_function(api: str, fn: object) -> None:
    """TypeError unless ``fn`` is a plain function to call (``go(f, x)``,
    not ``go(f(x))``; not an ``async def`` function)."""
    if not callable(fn):
        raise TypeError(
            f"{api}() takes a function and its arguments, {api}(fn, *args), "
            f"not the result of calling it: got {type(fn).__name__!r}, not a callable")
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & (CO_COROUTINE | CO_ASYNC_GENERATOR):
        raise TypeError(
            f"{api}() runs plain functions; {getattr(fn, '__qualname__', fn)!r} is an "
            "async function (netpoll has no event loop: write it without async/await)")


def where(g: Goroutine | greenlet) -> str:
    """' at file:line in fn' for the innermost frame outside netpoll."""
    frame: FrameType | None = (
        g.frame if isinstance(g, Goroutine) else getattr(g, "gr_frame", None))
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while frame is not None:
        fname = frame.f_code.co_filename
        if not os.path.abspath(fname).startswith(pkg):
            return f" at {fname}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return ""


def _print_uncaught(g: Goroutine, exc: BaseException) -> None:
    try:
        sys.stderr.write(f"netpoll: uncaught exception in goroutine {g.id}:\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
    except Exception:
        pass
