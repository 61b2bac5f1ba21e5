"""PollDesc, the per-descriptor state machine between goroutines and the
poller (Go: runtime/netpoll.go's pollDesc), and PollCache, which recycles
them (Go: pollCache).

Each direction (read, write) has a *semaphore* slot ``g[mode]``:

      ┌─────────────── netpollready (edge, nobody waits) ───────────────┐
      │                                                                 ▼
    None ── wait(): park ──▶ <goroutine> ── netpollready ──▶ READY ── wait()/prepare()
      ▲                           │                                 consumes ──▶ None
      │                           └── deadline / evict: ready the
      └──────────────────────────────  goroutine, slot back to None ─┘

* None    (Go: pdNil)   no notification pending, nobody waiting.
* READY   (Go: pdReady) the poller reported readiness while nobody waited;
                        the next wait returns at once: no wake-up is lost.
* a goroutine (Go: G pointer) that goroutine is parked waiting.

Go also has pdWait, the instant between committing to park and parking, which
another OS thread may observe.  A netpoll runtime is one OS thread and the
poller runs only while every goroutine is parked, so that state cannot be
observed and does not exist here.

A waiter that wakes and finds READY did I/O-ready; finding None means a
deadline or ``evict`` woke it, and it re-checks ``closing`` and the deadline.
Deadlines ``deadline[mode]``: 0 none, > 0 the monotonic time it passes,
-1 passed.  The armed timer may be due earlier than ``deadline[mode]`` (the
deadline was moved later since): it then re-arms itself instead of firing.
``seq[mode]`` grows on every deadline change and on evict (which ends a
descriptor's life: no deadline can be set from then until the PollDesc is
reused, so reuse need not bump it again), and a deadline timer carries the
seq it was armed with: a timer meant for an earlier deadline, or for this
PollDesc's previous descriptor, finds a different seq and does nothing.

The readiness side needs no sequence number here, unlike Go's tagged
pointers: Python's epoll binding reports descriptor numbers, the poller maps
them through its own table, a descriptor leaves that table (and the kernel's
interest list) before it is closed, and the events of one poll are all
dispatched before any goroutine runs.  ``fdseq`` counts the lives of a
PollDesc, for diagnostics and tests.

``hup`` latches, for the rest of the descriptor's life, that an
edge-triggered poller reported hang-up or an error (EPOLLRDHUP/HUP/ERR): EOF
or an error is pending and no later edge will announce it again.  The FD
layer's drained-read shortcut (see internal/fd.py) is only safe without it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent, greenlet

from ..poller import MODE_HUP, MODE_READ, MODE_WRITE
from .local import get_runtime

if TYPE_CHECKING:
    from ..poller import Poller
    from .scheduler import Runtime
    from .timers import TimerEntry

# Results of prepare() and wait() (Go: pollNoError, pollErrClosing,
# pollErrTimeout); the FD layer turns them into exceptions.
POLL_OK = 0
POLL_ERR_CLOSING = 1
POLL_ERR_TIMEOUT = 2

MODES = (MODE_READ, MODE_WRITE)


class _Ready:
    __slots__ = ()

    def __repr__(self) -> str:
        return "READY"


READY = _Ready()


class PollDesc:
    __slots__ = ("fd", "g", "deadline", "seq", "timer", "closing", "fdseq", "hup",
                 "rt", "runq", "poller", "level_triggered", "_switch")

    fd: int
    # Per mode: the parked greenlet, READY or None.  Any: mypy cannot narrow
    # READY away by identity (``g is not READY``), and the hot paths take no casts.
    g: list[Any]
    deadline: list[float]             # 0: none; -1: passed
    seq: list[int]
    timer: list[TimerEntry | None]
    closing: bool
    fdseq: int
    hup: bool
    # The runtime and what is cached from it: set by the first _open, and
    # kept in the free list, which is the runtime's own (PollCache); None
    # (ignored at the line) only in a PollDesc never opened.
    rt: Runtime
    runq: deque[greenlet]
    poller: Poller
    level_triggered: bool
    _switch: Callable[..., Any]       # the hub's bound switch

    def __init__(self) -> None:
        self.fd = -1
        # Indexed by mode (MODE_READ 1, MODE_WRITE 2); index 0 unused, so a
        # mode indexes them directly.
        self.g = [None, None, None]
        self.deadline = [0, 0, 0]
        self.seq = [0, 0, 0]
        self.timer = [None, None, None]
        self.closing = True
        self.fdseq = 0
        self.hup = False
        self.rt = None  # type: ignore[assignment]  # until _open

    def _open(self, rt: Runtime, fd: int) -> None:
        """Start a new life for descriptor ``fd`` (Go: poll_runtime_pollOpen).
        Runs once per accepted connection: the rare cases are in helpers."""
        gs = self.g
        if gs[MODE_READ] is not None or gs[MODE_WRITE] is not None:
            self._clear_slots()           # (close() leaves them None)
        self.fd = fd
        deadline = self.deadline
        deadline[MODE_READ] = deadline[MODE_WRITE] = 0
        # seq needs no bump here: evict() bumped it at the end of the last
        # life (see the module docstring; a new PollDesc has no timers).
        self.closing = self.hup = False
        self.fdseq += 1
        if self.rt is not rt:             # new: a recycled one keeps its runtime's
            self._attach(rt)

    def _clear_slots(self) -> None:
        """Empty both semaphore slots before a new life; RuntimeError if a
        goroutine still waits in one."""
        if self.waiting(MODE_READ) or self.waiting(MODE_WRITE):
            raise RuntimeError("netpoll: PollDesc reused while a goroutine waits on it")
        self.g[MODE_READ] = self.g[MODE_WRITE] = None

    def _attach(self, rt: Runtime) -> None:
        """Belong to ``rt``, and cache what the hot paths read of it: wait()
        and netpollready() run once per park and per event, and one
        attribute costs one bytecode where self.rt.runq costs two.  Kept
        while the PollDesc waits in the runtime's free list (PollCache), so
        a recycled PollDesc skips this."""
        self.rt = rt
        self.runq = rt.runq
        self.poller = rt.poller
        self.level_triggered = rt.level_triggered
        self._switch = rt.hub.switch       # bound method: no lookup per park

    # -- called by the poller ----------------------------------------------

    def netpollready(self, mode: int) -> None:
        """The poller saw ``fd`` ready for ``mode`` (a bit set of MODE_*):
        wake the waiter, or latch READY if there is none (Go: netpollready)."""
        gs = self.g
        if mode & MODE_READ:
            if mode & MODE_HUP:
                self.hup = True
            g = gs[MODE_READ]
            if g is not READY:
                gs[MODE_READ] = READY
                if g is not None:
                    self.runq.append(g)        # Runtime.ready, inlined
        if mode & MODE_WRITE:
            # Usually already READY: an edge-triggered poller reports the
            # write side with nearly every read edge, and writers seldom wait.
            g = gs[MODE_WRITE]
            if g is not READY:
                gs[MODE_WRITE] = READY
                if g is not None:
                    self.runq.append(g)        # Runtime.ready, inlined

    # -- called by the FD layer --------------------------------------------

    def prepare(self, mode: int) -> int:
        """Before an I/O attempt: report closing or a passed deadline, and
        drop a stale READY, since the attempt itself will see whatever made
        the descriptor ready (Go: poll_runtime_pollReset)."""
        if self.closing:
            return POLL_ERR_CLOSING
        if self.deadline[mode] < 0:
            return POLL_ERR_TIMEOUT
        if self.g[mode] is READY:
            self.g[mode] = None
        return POLL_OK

    def wait(self, mode: int) -> int:
        """After EAGAIN: park until ``fd`` is ready for ``mode``, the
        deadline passes or the descriptor is evicted (Go:
        poll_runtime_pollWait + netpollblock).  The C accelerator repeats
        these steps for FD.read's plain park (``park_prepare`` before the
        switch, ``read_woke`` after it, in _speedups.c): change both."""
        gs = self.g
        while True:
            if self.closing:
                return POLL_ERR_CLOSING
            if self.deadline[mode] < 0:
                return POLL_ERR_TIMEOUT
            g = gs[mode]
            if g is READY:
                gs[mode] = None
                return POLL_OK
            rt = self.rt
            if g is not None or rt.closed or self.level_triggered:
                self._before_rare_park(mode, g)   # raises, or arms poll/select
            me = getcurrent()
            gs[mode] = me
            me.waitreason = "IO wait"  # type: ignore[attr-defined]  # a Worker or the main greenlet
            rt.nwait += 1
            try:
                # ---- Runtime.park's hand-over, inlined on this hot path (one
                # Python call less per park): to the batch's next goroutine,
                # unless it is a worker never started (false), which the hub
                # starts.  batch <= len(runq), so runq[0] exists.
                if rt.batch and self.runq[0]:
                    rt.batch -= 1
                    self.runq.popleft().switch()
                else:
                    self._switch()
            except BaseException:
                self._abandon_wait(mode, me)
                raise
            finally:
                rt.nwait -= 1
            g = gs[mode]
            gs[mode] = None
            if g is READY:
                return POLL_OK
            if self.level_triggered:   # woken by a deadline or evict: recheck
                self.poller.disarm(self.fd, mode)

    def _before_rare_park(self, mode: int, g: greenlet | None) -> None:
        """The checks and the step that a park under epoll seldom needs:
        another goroutine already waits (an error), the runtime has stopped
        (nothing would ever wake us: its run() returned, or this is a forked
        child), or a level-triggered poller must be told to watch ``fd``."""
        if g is not None:
            raise RuntimeError(
                f"netpoll: two goroutines wait on descriptor {self.fd} "
                f"for {'reading' if mode == MODE_READ else 'writing'}")
        if self.rt.closed:
            raise RuntimeError(
                "netpoll: this connection belongs to a runtime that has stopped "
                "(its run() returned); use a connection inside the run() that "
                "created it") from None
        if self.level_triggered:
            self.poller.arm(self.fd, mode)

    def _abandon_wait(self, mode: int, me: greenlet) -> None:
        """An exception was thrown in at the park point: stop waiting."""
        if self.g[mode] is me:
            self.g[mode] = None
        if self.level_triggered:
            self.poller.disarm(self.fd, mode)

    def set_deadline(self, t: float | None, mode: int) -> int:
        """Set the deadline of ``mode`` (MODE_READ, MODE_WRITE or both) to the
        monotonic time ``t``, None for none (Go: poll_runtime_pollSetDeadline).
        A deadline at or before now wakes a parked waiter at once."""
        if self.closing:
            return POLL_ERR_CLOSING
        if t is None:
            deadline: float = 0
        elif t > time.monotonic():
            deadline = t
        elif t != t:
            raise ValueError("deadline is nan")
        else:
            deadline = -1
        timers = self.rt.timers
        for m in MODES:
            if not mode & m:
                continue
            old = self.timer[m]
            self.deadline[m] = deadline
            if deadline > 0 and old is not None and old[0] <= deadline:
                # Moved later (a server renewing its idle timeout per
                # request): keep the armed timer; when it fires it finds
                # the deadline still ahead and re-arms for it.  Deadline
                # renewal stays O(1), without heap churn.
                continue
            if old is not None:
                timers.cancel(old)
                self.timer[m] = None
            self.seq[m] += 1
            if deadline > 0:
                self.timer[m] = timers.add(deadline, _deadline_fired,
                                           (self, m, self.seq[m], deadline))
            elif deadline < 0:
                self._unblock(m)
        return POLL_OK

    def evict(self) -> None:
        """The descriptor is closing: fail every waiter and every later
        operation with POLL_ERR_CLOSING (Go: poll_runtime_pollUnblock).
        Once per connection: the loop over MODES is unrolled, and timers and
        parked goroutines, which a closing connection seldom has, are left
        to helpers."""
        if self.closing:
            return
        self.closing = True
        seq = self.seq
        seq[MODE_READ] += 1
        seq[MODE_WRITE] += 1
        timer = self.timer
        if timer[MODE_READ] is not None or timer[MODE_WRITE] is not None:
            self._cancel_timers()
        gs = self.g
        g = gs[MODE_READ]
        if g is not None and g is not READY:      # a reader parked (READY: none)
            self._unblock(MODE_READ)
        g = gs[MODE_WRITE]
        if g is not None and g is not READY:
            self._unblock(MODE_WRITE)

    def _cancel_timers(self) -> None:
        """Cancel the armed deadline timers (evict)."""
        timers = self.rt.timers
        timer = self.timer
        for m in MODES:
            t = timer[m]
            if t is not None:
                timers.cancel(t)
                timer[m] = None

    def close(self) -> None:
        """Unregister from the poller and return to the cache (Go:
        poll_runtime_pollClose).  Only after ``evict`` and with no waiter."""
        if not self.closing:
            raise RuntimeError("netpoll: PollDesc closed without evict")
        self.poller.close(self.fd)
        self.fd = -1
        gs = self.g
        gs[MODE_READ] = gs[MODE_WRITE] = None
        free = self.rt.pollcache.free      # speed trick: PollCache.release, inlined
        if len(free) < PollCache.MAX_FREE:
            free.append(self)

    def waiting(self, mode: int) -> bool:
        """True if a goroutine is parked on ``mode`` (for tests and stats)."""
        g = self.g[mode]
        return g is not None and g is not READY

    def _unblock(self, mode: int) -> None:
        """Wake the waiter of ``mode`` without marking I/O ready (Go:
        netpollunblock with ioready=false)."""
        g = self.g[mode]
        if g is not None and g is not READY:
            self.g[mode] = None
            self.rt.ready(g)

    def __repr__(self) -> str:
        g, deadline = self.g, self.deadline
        return (f"<PollDesc fd={self.fd} r={g[MODE_READ]!r} w={g[MODE_WRITE]!r} "
                f"rd={deadline[MODE_READ]} wd={deadline[MODE_WRITE]} "
                f"closing={self.closing}>")


def _deadline_fired(arg: tuple[PollDesc, int, int, float]) -> None:
    """A deadline timer is due (Go: netpolldeadlineimpl)."""
    pd, mode, seq, when = arg
    if pd.seq[mode] != seq:
        return            # stale: the deadline moved, or the pd was reused
    deadline = pd.deadline[mode]
    if deadline > when:
        # The deadline was moved later after this timer was armed.
        pd.timer[mode] = pd.rt.timers.add(deadline, _deadline_fired, (pd, mode, seq, deadline))
        return
    pd.timer[mode] = None
    pd.deadline[mode] = -1
    pd._unblock(mode)


class PollCache:
    """A free list of PollDescs (Go: pollCache), one per runtime.  Reuse
    keeps allocation off the accept path; the seq bumps in ``evict`` and
    ``_open`` keep old timers harmless.  A PollDesc in the list keeps its
    references to the runtime (it is this runtime's list: they keep
    nothing else alive), so that reopening it need not set them again."""

    __slots__ = ("free",)
    MAX_FREE = 4096

    def __init__(self) -> None:
        self.free: list[PollDesc] = []

    def alloc(self) -> PollDesc:
        free = self.free
        return free.pop() if free else PollDesc()

    def release(self, pd: PollDesc) -> None:
        free = self.free
        if len(free) < self.MAX_FREE:
            free.append(pd)


def poll_open(fd: int, rt: Runtime | None = None) -> PollDesc:
    """A PollDesc for ``fd``, registered with this thread's poller (Go:
    poll_runtime_pollOpen + netpollopen)."""
    if rt is None:
        rt = get_runtime()
    free = rt.pollcache.free
    pd = free.pop() if free else PollDesc()     # speed trick: PollCache.alloc, inlined
    pd._open(rt, fd)
    try:
        rt.poller.open(fd, pd)
    except BaseException:
        pd.closing = True
        pd.rt.pollcache.release(pd)
        raise
    return pd
