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

The thread's root greenlet is the *main goroutine*: the code that called
``run()``, or any code that made a blocking call outside ``run()``.
"""

import os
import sys
import threading
import time
from collections import deque

from greenlet import GreenletExit, getcurrent, greenlet

from ..errors import DeadlockError
from ..poller import new_poller, resolve
from . import signals
from .goroutine import Goroutine, GoroutineExit, Worker
from .timers import TimerHeap
from .watchdog import Watchdog, threshold_from_env

_local = threading.local()
# Runtimes inherited from the parent across fork(): kept alive so that their
# greenlets are never collected (collecting one would run its finally blocks,
# which could touch kernel objects the child shares with the parent).
_forked = []


class Runtime:
    """The per-thread scheduler state (Go: the M/P pair, with one P)."""

    def __init__(self, poller=None):
        self.poller = new_poller(poller)
        self.poller_name = self.poller.name
        self.lt = not self.poller.edge_triggered
        self.runq = deque()
        self.batch = 0                 # goroutines of the current batch not yet
                                       # run; never more than len(runq)
        self.timers = TimerHeap()
        self.remote = deque()          # greenlets readied by other threads
        self.throws = []               # (greenlet, exception) for the hub
        self.goroutines = set()        # started with go() and not finished
        self.idle = []                 # Workers waiting for a goroutine to run
        self.nwait = 0                 # goroutines parked on a descriptor
        self.nthreads = 0              # goroutines waiting in to_thread
        self.thread_id = threading.get_ident()
        self.pid = os.getpid()
        root = getattr(_local, "fork_main", None)
        if root is None or root.dead:
            root = getcurrent()
            while root.parent is not None:
                root = root.parent
        self.main = root
        self.hub = greenlet(self._loop, parent=root)
        self.in_run = False
        self.closed = False
        self._exit_waiter = None
        from .polldesc import PollCache
        self.pollcache = PollCache()
        self.ticks = 0                 # goroutine switches, for the watchdog
        self.polling = False           # blocked in the poller, for the watchdog
        self.signal_wakeup = signals.install(self.poller, self.lt)
        self.watchdog = None
        threshold = threshold_from_env()
        if threshold is not None:
            self.watchdog = Watchdog(self, threshold)

    # -- parking and waking (Go: gopark / goready) --------------------------

    def park(self, reason):
        """Suspend the calling goroutine until something readies it."""
        g = getcurrent()
        if g is self.hub:
            raise RuntimeError("netpoll: a blocking call inside the scheduler")
        g.waitreason = reason
        if self.batch:
            # Hand over to the batch's next goroutine, unless it is a worker
            # never started: that one starts from the hub, since a greenlet
            # starts with the recursion depth of the one that switches to it
            # first, and a chain of hand-overs would add those up.
            g = self.runq.popleft()
            if g:
                self.batch -= 1
                g.switch()
                return
            self.runq.appendleft(g)
        self.hub.switch()

    def unqueue(self, g):
        """Take ``g`` out of the run queue, if it is there."""
        try:
            self.runq.remove(g)
        except ValueError:
            return
        if self.batch > len(self.runq):
            self.batch = len(self.runq)

    def ready(self, g):
        """Make a parked goroutine runnable (this thread only)."""
        self.runq.append(g)

    def ready_from_thread(self, g):
        """Make a parked goroutine runnable; callable from any thread."""
        self.remote.append(g)
        self.poller.wakeup()

    def interrupt_main(self, exc):
        """Raise ``exc`` in the main goroutine at its park point."""
        self.throws.append((self.main, exc))
        self.poller.wakeup()

    def now(self):
        return time.monotonic()

    def check_thread(self):
        if threading.get_ident() != self.thread_id:
            raise RuntimeError(
                "netpoll: this object belongs to the runtime of another thread "
                f"(thread {self.thread_id}); use it only from that thread")

    # -- goroutines ---------------------------------------------------------

    def go(self, fn, args, kwargs):
        """Start a goroutine (Go: newproc): a worker from the idle list, or
        a new one, is handed the goroutine and made runnable."""
        g = Goroutine(self, fn, args, kwargs)
        self.goroutines.add(g)
        idle = self.idle
        w = idle.pop() if idle else Worker(self)
        w.task = g
        g.worker = w
        self.runq.append(w)
        return g

    def goroutine_exited(self, g):
        self.goroutines.discard(g)
        if self._exit_waiter is not None and not self.goroutines:
            self.runq.append(self._exit_waiter)
            self._exit_waiter = None

    # -- the scheduler loop (runs in the hub greenlet) -----------------------

    def _loop(self):
        runq = self.runq
        popleft = runq.popleft
        timers = self.timers
        heap = timers.heap
        remote = self.remote
        monotonic = time.monotonic
        wait = self.poller.wait
        while True:
            # 1. run a batch (its goroutines hand over to each other; the
            # loop goes on where a finished worker, which switches to its
            # parent, the hub, left it)
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
            try:
                if runq or self.throws or remote:
                    wait(0)
                else:
                    when = timers.next_when()
                    if when is not None:
                        timeout = when - monotonic()
                        wait(timeout if timeout > 0.0 else 0)
                    elif self.nwait or self.nthreads:
                        wait(None)
                    else:
                        self._deadlock()
            except GreenletExit:
                raise                      # close(): end the loop, even when
                                           # suspended in a deadlock report
            except BaseException as exc:   # KeyboardInterrupt while polling
                self.throws.append((self.main, exc))
            self.polling = False
            # 5. goroutines readied by other threads
            while remote:
                runq.append(remote.popleft())

    def _deliver_throws(self):
        throws, self.throws = self.throws, []
        for g, exc in throws:
            if isinstance(g, Goroutine):
                if g.done:
                    continue
                w = g.worker
                if not w:                    # a new worker, never switched to
                    self.unqueue(w)
                    w.task = None
                    g.finish_unstarted(exc)
                    continue
                g = w                        # (a reused worker, not yet started on
                                             # g, catches it at its idle point)
            if g.dead:
                continue
            self.unqueue(g)
            g.throw(exc)

    def _deadlock(self):
        lines = ["all goroutines are asleep - deadlock!", ""]
        lines.append(f"main goroutine [{getattr(self.main, 'waitreason', '?')}]"
                     f"{_where(self.main)}")
        for g in sorted(self.goroutines, key=lambda g: g.id):
            lines.append(f"goroutine {g.id} [{g.waitreason}]{_where(g)}")
        self.throws.append((self.main, DeadlockError("\n".join(lines))))
        self._deliver_throws()

    # -- teardown -----------------------------------------------------------

    def shutdown(self):
        """Stop every goroutine (GoroutineExit at its park point, so its
        cleanup runs), then release the poller.  Called by the main goroutine
        when ``run()`` returns."""
        if self.pid != os.getpid():
            return      # a forked child leaving the parent's run(): not ours
        try:
            if self.goroutines:
                for g in sorted(self.goroutines, key=lambda g: g.id):
                    self.throws.append((g, GoroutineExit()))
                self._exit_waiter = getcurrent()
                try:
                    while self.goroutines:
                        self.park("teardown")
                except DeadlockError:
                    pass   # a goroutine's cleanup blocked forever: abandon it
                finally:
                    self._exit_waiter = None
        finally:
            self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        if getattr(_local, "rt", None) is self:
            _local.rt = None
        if threading.get_ident() == self.thread_id:
            # GreenletExit ends each idle worker at its idle point, then the
            # hub's loop; each comes back here, its new parent, when it ends.
            me = getcurrent()
            idle, self.idle = self.idle, []
            for g in idle + [self.hub]:
                if g.dead or g is me:
                    continue
                try:
                    g.parent = me
                    g.throw()
                except Exception:
                    pass
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        if self.signal_wakeup is not None:
            self.signal_wakeup.close()
            self.signal_wakeup = None
        self.runq.clear()
        self.batch = 0
        self.timers.clear()
        self.poller.shutdown()

    def stats(self):
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


def _where(g):
    """' at file:line in fn' for the innermost frame outside netpoll."""
    frame = g.frame if isinstance(g, Goroutine) else getattr(g, "gr_frame", None)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while frame is not None:
        fname = frame.f_code.co_filename
        if not os.path.abspath(fname).startswith(pkg):
            return f" at {fname}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return ""


def get_runtime(poller=None):
    """This thread's runtime, created on first use."""
    rt = getattr(_local, "rt", None)
    if rt is None:
        # In a forked child, rebuild the parent's runtime with its backend.
        forked = _local.__dict__.pop("forked_poller", None)
        rt = _local.rt = Runtime(poller if poller is not None else forked)
    return rt


def current_runtime():
    """This thread's runtime, or None if it has none yet."""
    return getattr(_local, "rt", None)


def _after_fork_in_child():
    """In a forked child, the goroutine that called fork is the only one
    that exists, as the forking thread is the only thread: the parent's
    runtime is set aside (never run, never collected), the forking goroutine
    becomes the main goroutine of the child's new runtime, and when it
    returns the child exits, as a process whose last thread ended."""
    rt = getattr(_local, "rt", None)
    if rt is None:
        return
    _forked.append(rt)
    rt.closed = True
    signals.forget_after_fork(rt.signal_wakeup)
    rt.poller.forget()
    _local.rt = None
    _local.forked_poller = rt.poller_name
    me = getcurrent()
    if me is not rt.main and me is not rt.hub:
        _local.fork_main = me
        _local.fork_task = getattr(me, "task", None)
        root = me
        while root.parent is not None:
            root = root.parent
        # Ending, the goroutine would switch to the parent's hub, which would
        # go on running the parent's goroutines here.
        me.parent = greenlet(_exit_forked_child, parent=root)


def _exit_forked_child(*_):
    task = getattr(_local, "fork_task", None)
    failed = task is not None and isinstance(task._exc, Exception)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(1 if failed else 0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- the public runtime API ---------------------------------------------------

def run(fn, *args, poller=None, **kwargs):
    """Run ``fn`` as the main goroutine of this thread's runtime; return its
    result or raise its exception, after stopping every goroutine still
    alive and tearing the runtime down."""
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


def go(fn, *args, **kwargs):
    """Start ``fn(*args, **kwargs)`` in a new goroutine; returns it."""
    rt = getattr(_local, "rt", None) or get_runtime()
    return rt.go(fn, args, kwargs)


def sleep(seconds):
    """Park the calling goroutine for ``seconds``; ``sleep(0)`` yields."""
    rt = getattr(_local, "rt", None) or get_runtime()
    if seconds <= 0:
        gosched()
        return
    g = getcurrent()
    timer = rt.timers.add(time.monotonic() + seconds, rt.runq.append, g)
    try:
        rt.park("sleep")
    except BaseException:
        rt.timers.cancel(timer)
        raise


def gosched():
    """Let every other runnable goroutine run, then continue."""
    rt = getattr(_local, "rt", None) or get_runtime()
    g = getcurrent()
    rt.runq.append(g)
    try:
        rt.park("runnable")
    except BaseException:
        rt.unqueue(g)
        raise


def set_watchdog(seconds, stream=None):
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


def stats():
    """Counters of this thread's runtime (see SPEC.md)."""
    return get_runtime().stats()
