"""The scheduler: one runtime per OS thread (Go: runtime/proc.go's schedule).

A runtime owns a run queue, a timer heap and a poller.  Its scheduler loop
runs in a greenlet of its own, the *hub*.  The loop goes through these
phases, in this order (ARCHITECTURE.md draws them too):

  1. run a batch: every goroutine that is runnable when the batch starts,
     each until it parks or finishes.  A goroutine that parks while the
     batch still has goroutines to run switches straight to the next one
     (``batch`` counts them); only the last one switches back to the hub.
     One greenlet switch per park instead of two, as Go's gopark calls
     schedule() on the same M without a trip through a scheduler thread;
  2. deliver pending throws (GoroutineExit at teardown, a deadlock or a
     KeyboardInterrupt into the main goroutine);
  3. fire due timers (sleeps, deadlines, join timeouts), which ready
     goroutines;
  4. poll: without blocking if goroutines are runnable; otherwise block
     exactly until the next timer is due, or without limit if there is no
     timer but a goroutine waits on a descriptor or a thread; if nothing at
     all can ever wake a goroutine, report a deadlock instead;
  5. take in goroutines readied from other threads (``to_thread``).

An exception raised in the hub itself (a signal handler runs in whichever
greenlet is current; a timer callback) never ends the loop: the main
goroutine gets it at its park point.

The thread's root greenlet is the *main goroutine*: the code that called
``run()``, or any code that made a blocking call outside ``run()``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import copy_context
from typing import IO, TYPE_CHECKING, Any

from greenlet import GreenletExit, getcurrent, greenlet

from ..errors import DeadlockError
from ..poller import new_poller, resolve
from . import fork, signals
from .goroutine import Goroutine, GoroutineExit, Worker, check_function
from .goroutine import where as _where
from .local import (
    _local,  # noqa: F401  (re-exported: netpoll.patch reads it)
    current_runtime,
    forget_runtime,
    get_runtime,
    set_factory,
)
from .polldesc import PollCache
from .timers import TimerHeap
from .watchdog import Watchdog, threshold_from_env

if TYPE_CHECKING:
    from ..poller import Poller
    from .signals import Relay, SignalWakeup

__all__ = ["Runtime", "current_runtime", "get_runtime", "run", "go", "sleep",
           "gosched", "set_watchdog", "stats"]

# How long teardown waits for cleanups that park (a finally block that
# sleeps, writes to a slow peer, waits for a thread) before it raises
# GoroutineExit again in every goroutine still alive.
TEARDOWN_GRACE = 1.0

# How many times teardown raises GoroutineExit in a goroutine that parks
# again after it (it swallowed the exception, or its cleanup waits for
# something that nothing will do) before it is abandoned at its park point.
TEARDOWN_THROWS = 3

# The longest single wait handed to the poller: a timer further away (a
# far-future deadline, sleep(1e10)) is waited for in several waits.  One day
# fits every backend's timeout type (epoll and poll take int milliseconds).
MAX_POLL_WAIT = 86400.0


class Runtime:
    """The per-thread scheduler state (Go: the M/P pair, with one P)."""

    # Slots, not a dict: the park path reads batch, nwait, closed and hub on
    # every park, and the C accelerator reads them at their slot offsets.
    __slots__ = ("poller", "poller_name", "level_triggered", "runq", "batch", "timers",
                 "remote", "throws", "goroutines", "idle", "nwait", "nthreads",
                 "thread_id", "in_main_thread", "pid", "main", "in_run", "stopping",
                 "closed", "_exit_waiter", "_exit_throws", "_teardown_deadline",
                 "abandoned", "pollcache", "ticks", "polling", "signal_wakeup",
                 "signal_relay", "watchdog", "hub", "__weakref__")

    def __init__(self, poller: str | None = None) -> None:
        self.poller: Poller = new_poller(poller)
        self.poller_name = self.poller.name
        self.level_triggered = not self.poller.edge_triggered
        self.runq: deque[greenlet] = deque()
        self.batch = 0                 # goroutines of the current batch not yet
                                       # run; never more than len(runq)
        self.timers = TimerHeap()
        self.remote: deque[greenlet] = deque()  # greenlets readied by other threads
        # (greenlet or Goroutine, exception) for the hub
        self.throws: deque[tuple[greenlet | Goroutine, BaseException]] = deque()
        self.goroutines: set[Goroutine] = set()  # started with go() and not finished
        self.idle: list[Worker] = []  # Workers waiting for a goroutine to run
        self.nwait = 0                 # goroutines parked on a descriptor
        self.nthreads = 0              # goroutines waiting in to_thread
        self.thread_id = threading.get_ident()
        self.in_main_thread = threading.current_thread() is threading.main_thread()
        self.pid = os.getpid()
        root = fork.forking_goroutine()
        if root is None:
            root = getcurrent()
            while root.parent is not None:
                root = root.parent
        self.main: greenlet = root
        self.in_run = False
        self.stopping = False          # shutdown() has begun
        self.closed = False
        self._exit_waiter: greenlet | None = None
        self._exit_throws: dict[Goroutine, int] = {}  # Goroutine -> GoroutineExits raised in it
        self._teardown_deadline = 0.0  # end of TEARDOWN_GRACE
        self.abandoned: list[Goroutine] = []  # goroutines teardown gave up on
        self.pollcache = PollCache()
        self.ticks = 0                 # goroutine switches, for the watchdog
        self.polling = False           # blocked in the poller, for the watchdog
        self.signal_wakeup: SignalWakeup | None = signals.install(self.poller, self.level_triggered)
        self.signal_relay: Relay | None = None  # signals.Relay, once signal_notify is used
        self.watchdog: Watchdog | None = None
        threshold = threshold_from_env()
        if threshold is not None:
            self.watchdog = Watchdog(self, threshold)
        # Start the hub now, so that it (and every worker it starts) runs at
        # the recursion depth of this call (run()'s), not at the depth of
        # wherever the first park happens: a greenlet starts with the depth
        # of the greenlet that first switches to it.
        self.hub = greenlet(self._loop, parent=root)
        self.hub.switch(getcurrent())

    # -- parking and waking (Go: gopark / goready) --------------------------

    def park(self, reason: str) -> None:
        """Suspend the calling goroutine until something readies it."""
        g = getcurrent()
        if g is self.hub:
            raise RuntimeError("netpoll: a blocking call inside the scheduler")
        if self.closed:
            raise RuntimeError(
                "netpoll: this runtime has stopped (its run() returned): nothing "
                "would ever wake a goroutine parked on it")
        g.waitreason = reason  # type: ignore[attr-defined]  # a Worker, or the main greenlet (any attribute)
        if self.batch and self.runq[0]:
            # Hand over to the batch's next goroutine (batch <= len(runq)),
            # unless it is a worker never started (false): that one starts
            # from the hub, since a greenlet starts with the recursion depth
            # of the one that switches to it first, and a chain of hand-overs
            # would add those up.
            self.batch -= 1
            self.runq.popleft().switch()
        else:
            self.hub.switch()

    def ready(self, g: greenlet) -> None:
        """Make a parked goroutine runnable (Go: goready); this thread only.
        The one verb for it: hot paths that inline it say so at the line."""
        self.runq.append(g)

    def ready_from_thread(self, g: greenlet) -> None:
        """Make a parked goroutine runnable; callable from any thread."""
        self.remote.append(g)
        self.poller.wakeup()

    def interrupt_main(self, exc: BaseException) -> None:
        """Raise ``exc`` in the main goroutine at its park point."""
        self.throws.append((self.main, exc))
        self.poller.wakeup()

    def now(self) -> float:
        return time.monotonic()

    def check_thread(self) -> None:
        if threading.get_ident() != self.thread_id:
            raise RuntimeError(
                "netpoll: this object belongs to the runtime of another thread "
                f"(thread {self.thread_id}); use it only from that thread")

    # -- goroutines ---------------------------------------------------------

    def go(self, fn: Callable[..., Any], args: tuple[Any, ...],
           kwargs: dict[str, Any] | None = None) -> Goroutine:
        """Start a goroutine (Go: newproc): a worker from the idle list, or
        a new one, is handed the goroutine and made runnable.  It runs in a
        copy of its creator's contextvars context (as asyncio's tasks do),
        so nothing it sets is seen by its creator or by the next goroutine
        its worker runs."""
        g = Goroutine(self, fn, args, kwargs)
        if self.stopping:
            # Teardown has begun: the goroutine is stopped before it starts
            # (else a goroutine that starts another in its finally block
            # would keep run() from ever returning).
            g.finish_unstarted(GoroutineExit())
            return g
        self.goroutines.add(g)
        idle = self.idle
        w = idle.pop() if idle else Worker(self)
        w.task = g
        w.gr_context = copy_context()
        g.worker = w
        self.runq.append(w)            # Runtime.ready, inlined
        return g

    def goroutine_exited(self, g: Goroutine) -> None:
        self.goroutines.discard(g)
        if self._exit_waiter is not None and not self.goroutines:
            self.ready(self._exit_waiter)
            self._exit_waiter = None

    # -- the scheduler loop (runs in the hub greenlet) -----------------------

    def _loop(self, creator: greenlet) -> None:
        # ---- Bound methods and containers, kept in locals: the loop reads
        # them on every batch, and a local costs one bytecode where an
        # attribute chain costs two or three.
        runq = self.runq
        popleft = runq.popleft
        timers = self.timers
        heap = timers.heap
        remote = self.remote
        monotonic = time.monotonic
        wait = self.poller.wait
        creator.switch()     # started by __init__: the loop begins at the first park
        while True:
            try:
                while True:
                    # 1. run a batch (its goroutines hand over to each other;
                    # the loop goes on where a finished worker, which switches
                    # to its parent, the hub, left it)
                    self.batch = len(runq)
                    self.ticks += 1
                    while self.batch:
                        self.batch -= 1
                        popleft().switch()
                    # 2. throws
                    if self.throws:
                        self._deliver_throws()
                    # 3. timers
                    if heap and heap[0][0] <= monotonic():
                        timers.run_due(monotonic())
                    # 4. poll
                    self.polling = True
                    if runq or self.throws or remote:
                        wait(0)
                    else:
                        when = timers.next_when()
                        if self.stopping:
                            self._teardown_idle(when)
                        elif when is not None:
                            timeout = when - monotonic()
                            if timeout > MAX_POLL_WAIT:
                                timeout = MAX_POLL_WAIT
                            wait(timeout if timeout > 0.0 else 0)
                        elif self.nwait or self.nthreads or (
                                self.in_main_thread and signals.relaying()):
                            wait(None)
                        else:
                            self._deadlock()
                    self.polling = False
                    # 5. goroutines readied by other threads
                    while remote:
                        runq.append(remote.popleft())   # Runtime.ready, inlined
            except GreenletExit:
                raise                  # close(): end the loop, even when
                                       # suspended in a deadlock report
            except BaseException as exc:
                # Raised in the hub itself: by a signal handler (Python runs
                # it in whichever greenlet is current: KeyboardInterrupt,
                # SystemExit from a SIGTERM handler), by a timer callback, or
                # a KeyboardInterrupt while polling.  The hub must survive it:
                # the main goroutine gets it at its park point.  (If it hit
                # between taking a goroutine off the run queue and switching
                # to it, that goroutine's wake-up is lost; such exceptions
                # normally end the program, whose teardown stops it.)
                self.batch = 0
                self.polling = False
                self.throws.append((self.main, exc))

    def _deliver_throws(self) -> None:
        """Raise each queued exception at its goroutine's park point."""
        throws = self.throws
        pending = [throws.popleft() for _ in range(len(throws))]
        runq = self.runq
        # Take every target off the run queue in one pass, or it would be
        # resumed again later, parked on something else.  (One pass, not a
        # runq.remove per throw: teardown throws at every goroutine at once.)
        targets = {g.worker if isinstance(g, Goroutine) else g for g, _ in pending}
        if runq and not targets.isdisjoint(runq):
            keep = [g for g in runq if g not in targets]
            runq.clear()
            runq.extend(keep)
        base = len(runq)       # while throws are delivered, runq only grows
        thrown_at: dict[greenlet, int] = {}
        i = 0
        try:
            for i, (g, exc) in enumerate(pending):  # noqa: B007 (read by the except)
                if isinstance(g, Goroutine):
                    if g.done:
                        continue
                    w = g.worker
                    if not w:                 # a new worker, never switched to
                        w.task = None  # type: ignore[union-attr]  # a goroutine being thrown at has its worker
                        g.finish_unstarted(exc)
                        continue
                    g = w                     # (a reused worker, not yet started on
                                              # g, catches it at its idle point)
                if g.dead:
                    continue
                thrown_at[g] = len(runq)
                g.throw(exc)
            i = len(pending)
        except BaseException:
            throws.extendleft(reversed(pending[i + 1:]))   # deliver the rest later
            raise
        finally:
            if len(runq) > base and thrown_at:
                # A target readied before its throw (another target's cleanup
                # woke it) is queued from before it was thrown at: stale.
                tail = [runq.pop() for _ in range(len(runq) - base)][::-1]
                runq.extend(g for n, g in enumerate(tail, base)
                            if n >= thrown_at.get(g, 0))

    def _deadlock(self) -> None:
        lines = ["all goroutines are asleep - deadlock!", ""]
        lines.append(f"main goroutine [{getattr(self.main, 'waitreason', '?')}]"
                     f"{_where(self.main)}")
        for g in sorted(self.goroutines, key=lambda g: g.id):
            lines.append(f"goroutine {g.id} [{g.waitreason}]{_where(g)}")
        self.throws.append((self.main, DeadlockError("\n".join(lines))))
        self._deliver_throws()

    # -- teardown -----------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every goroutine (GoroutineExit at its park point, so its
        cleanup runs), then release the poller.  Called by the main goroutine
        when ``run()`` returns.  An exception addressed to the main goroutine
        meanwhile (SystemExit from a goroutine, KeyboardInterrupt) is raised
        once the runtime is torn down."""
        if self.pid != os.getpid():
            return      # a forked child leaving the parent's run(): not ours
        pending: BaseException | None = None
        g: Goroutine | greenlet
        try:
            self.stopping = True
            self._teardown_deadline = time.monotonic() + TEARDOWN_GRACE
            if self.goroutines:
                for g in sorted(self.goroutines, key=lambda g: g.id):
                    self.throws.append((g, GoroutineExit()))
                    self._exit_throws[g] = 1
                self._exit_waiter = getcurrent()
                try:
                    while self.goroutines:
                        try:
                            self.park("teardown")
                        except GreenletExit:
                            raise
                        except BaseException as exc:
                            if pending is None:
                                pending = exc
                finally:
                    self._exit_waiter = None
            for g, exc in self.throws:  # type: ignore[misc]  # reuses the name of the except clause's exception, deleted there
                if g is self.main and pending is None:
                    pending = exc  # type: ignore[misc]  # bound by the for loop
        finally:
            self.close()
        if pending is not None:
            raise pending

    def _teardown_idle(self, when: float | None) -> None:
        """Teardown, and nothing is runnable.  For TEARDOWN_GRACE seconds,
        cleanups that wait (for a timer, a descriptor, a thread) are waited
        for as usual.  Past it, or when nothing could wake anyone, each
        goroutine still alive, parked again after its GoroutineExit (it
        swallowed it, or its cleanup waits), gets GoroutineExit again, at
        most TEARDOWN_THROWS times in all; then it is abandoned where it is
        parked and never runs again."""
        now = time.monotonic()
        left = self._teardown_deadline - now
        if left > 0.0 and (when is not None or self.nwait or self.nthreads):
            if when is not None and when - now < left:
                left = when - now
            self.poller.wait(left if left > 0.0 else 0)
            return
        counts = self._exit_throws
        for g in sorted(self.goroutines, key=lambda g: g.id):
            n = counts.get(g, 0)
            if n < TEARDOWN_THROWS:
                counts[g] = n + 1
                self.throws.append((g, GoroutineExit()))
            else:
                self.abandoned.append(g)
                self.goroutine_exited(g)
        self.poller.wait(0)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stopping = True
        forget_runtime(self)
        if threading.get_ident() == self.thread_id:
            # GreenletExit ends each idle worker at its idle point, then the
            # hub's loop; each comes back here, its new parent, when it ends.
            me = getcurrent()
            idle, self.idle = self.idle, []
            g: greenlet
            for g in idle + [self.hub]:
                if g.dead or g is me:
                    continue
                try:
                    g.parent = me
                    g.throw()
                except Exception:
                    pass
        self.release()

    def release(self) -> None:
        """Release the runtime's kernel objects and its queues (also called
        when the thread of a runtime created outside run() ends)."""
        self.closed = True
        self.stopping = True
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        if self.signal_wakeup is not None:
            self.signal_wakeup.close()
            self.signal_wakeup = None
        self.runq.clear()
        self.batch = 0
        self.timers.clear()
        self.pollcache.free.clear()    # they refer to this runtime (PollCache)
        self.poller.shutdown()

    def stats(self) -> dict[str, int | str]:
        p = self.poller
        return {
            "poller": self.poller_name,
            "goroutines": len(self.goroutines),
            "runnable": len(self.runq),
            "netpoll_waiters": self.nwait,
            "timers": self.timers.live,
            "polls": p.polls,
            "events": p.events,
            "ctl": p.ctl,
            "threads_waiting": self.nthreads,
        }


set_factory(Runtime)


# -- the public runtime API ---------------------------------------------------

def run(fn: Callable[..., Any], *args: Any, poller: str | None = None, **kwargs: Any) -> Any:
    """Run ``fn`` as the main goroutine of this thread's runtime; return its
    result or raise its exception, after stopping every goroutine still
    alive and tearing the runtime down."""
    check_function("run", fn)
    rt = current_runtime()
    if rt is not None:
        if rt.in_run:
            raise RuntimeError("netpoll.run() called inside netpoll.run()")
        if poller is not None and resolve(poller) != rt.poller_name:
            raise RuntimeError(
                f"this thread's runtime is already running with the "
                f"{rt.poller_name} poller; cannot run() with {resolve(poller)!r}")
    else:
        rt = get_runtime(poller)
    if getcurrent() is not rt.main:
        raise RuntimeError("netpoll.run() must be called outside any goroutine")
    rt.in_run = True
    try:
        return fn(*args, **kwargs)
    finally:
        rt.in_run = False
        rt.shutdown()


def go(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Goroutine:
    """Start ``fn(*args, **kwargs)`` in a new goroutine; returns it."""
    check_function("go", fn)
    return (current_runtime() or get_runtime()).go(fn, args, kwargs)


def sleep(seconds: float) -> None:
    """Park the calling goroutine for ``seconds``; ``sleep(0)`` yields,
    ``sleep(inf)`` parks for good (until teardown); ValueError for nan."""
    rt = current_runtime() or get_runtime()
    if not seconds > 0:
        if seconds != seconds:
            raise ValueError("sleep: the duration is nan")
        gosched()
        return
    if seconds == _INF:
        rt.park("sleep")
        return
    timer = rt.timers.add(time.monotonic() + seconds, rt.ready, getcurrent())
    try:
        rt.park("sleep")
    except BaseException:
        rt.timers.cancel(timer)
        raise


_INF = float("inf")


def gosched() -> None:
    """Let every other runnable goroutine run, then continue."""
    rt = current_runtime() or get_runtime()
    rt.ready(getcurrent())
    # Nothing to undo if an exception is thrown in here: the hub takes a
    # goroutine off the run queue before it throws at it.
    rt.park("runnable")


def set_watchdog(seconds: float | None, stream: IO[str] | None = None) -> Watchdog | None:
    """Report (to ``stream``, default stderr) any goroutine that holds this
    thread's runtime for more than ``seconds`` without parking; None stops
    the watchdog.  See netpoll.runtime.watchdog."""
    rt = get_runtime()
    if rt.watchdog is not None:
        rt.watchdog.stop()
        rt.watchdog = None
    if seconds is not None:
        rt.watchdog = Watchdog(rt, seconds, stream)
    return rt.watchdog


def stats() -> dict[str, int | str]:
    """Counters of this thread's runtime (see docs/reference.md).  Before
    the thread has a runtime, the counters of an empty one: asking does not
    create it (so a later ``run(poller=...)`` may still pick the poller)."""
    rt = current_runtime()
    if rt is not None:
        return rt.stats()
    return {"poller": resolve(None), "goroutines": 0, "runnable": 0,
            "netpoll_waiters": 0, "timers": 0, "polls": 0, "events": 0,
            "ctl": 0, "threads_waiting": 0}
