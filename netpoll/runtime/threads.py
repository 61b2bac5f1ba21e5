"""to_thread: run a blocking function in a worker thread while only the
calling goroutine waits (Go does this implicitly for blocking syscalls and
cgo; netpoll does it explicitly, e.g. for getaddrinfo).

netpoll keeps two pools of its own threads, shared by every runtime of
the process:

  * the ``to_thread`` pool, bounded (``MAX_WORKERS``);
  * the resolver pool, for ``getaddrinfo`` (``lookup``): name resolution
    has threads of its own, so a to_thread pool full of calls that block
    (consumers of a ``queue.Queue``...) cannot starve ``dial`` by name
    (Go bounds its cgo lookups separately too).

A call made from inside one of the pool's own threads (``to_thread`` in a
``to_thread`` function) may start a thread beyond the bound rather than
wait for a slot its own caller holds: nested use never deadlocks.

Every thread is a daemon thread and nothing joins it at exit (unlike
ThreadPoolExecutor's exit hook), so a call abandoned by Ctrl-C or by a dial
timeout never keeps the process alive.  An idle thread ends after
``IDLE_SECONDS``.

A worker that finishes hands the goroutine back through the runtime's
remote queue and wakes its poller (eventfd or pipe), which is the only
cross-thread path into a runtime.  The goroutine is readied exactly once,
and not at all if it left (an exception at its park point) first.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent, greenlet

from .local import get_runtime

if TYPE_CHECKING:
    from typing import ParamSpec, TypeVar

    from .scheduler import Runtime

    P = ParamSpec("P")
    T = TypeVar("T")

MAX_WORKERS = min(32, (os.cpu_count() or 1) + 4)
MAX_RESOLVERS = 64
IDLE_SECONDS = 10.0

_worker_local = threading.local()      # .pool in netpoll's own threads


class _Pool:
    """Daemon threads started on demand, up to ``limit`` (more only for a
    nested call), each taking jobs from one FIFO queue."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.cond = threading.Condition(threading.Lock())
        self.jobs: deque[_Call] = deque()
        self.threads = 0           # alive
        self.idle = 0              # waiting for a job
        self.pid = os.getpid()

    def submit(self, job: _Call) -> None:
        nested = getattr(_worker_local, "pool", None) is self
        with self.cond:
            if self.idle > len(self.jobs):
                self.jobs.append(job)          # an idle thread takes it
                self.cond.notify()
                return
            if self.threads >= self.limit and not nested:
                self.jobs.append(job)          # a busy thread takes it when done
                return
            self.threads += 1
        # A new thread runs this job first: a nested call gets a thread of
        # its own, not one that would take an older job off the queue.
        t = threading.Thread(target=self._work, args=(job,),
                             name=f"netpoll-{self.name}", daemon=True)
        try:
            t.start()
        except BaseException:
            with self.cond:
                self.threads -= 1
            raise

    def _work(self, job: _Call | None) -> None:
        _worker_local.pool = self
        cond = self.cond
        jobs = self.jobs
        while True:
            job.run()  # type: ignore[union-attr]  # None only between jobs
            job = None
            with cond:
                while not jobs:
                    self.idle += 1
                    try:
                        woken = cond.wait(IDLE_SECONDS)
                    finally:
                        self.idle -= 1
                    if not woken and not jobs:
                        self.threads -= 1
                        return
                job = jobs.popleft()

    def stats(self) -> dict[str, int]:
        with self.cond:
            return {"threads": self.threads, "idle": self.idle, "queued": len(self.jobs)}


class _Call:
    """One call handed to a pool thread, and the goroutine waiting for it."""

    __slots__ = ("fn", "args", "kwargs", "result", "exc", "finished", "abandoned",
                 "lock", "rt", "g")

    # fn, args, kwargs: None once the call has run (nothing kept alive)
    fn: Callable[..., Any] | None
    args: tuple[Any, ...] | None
    kwargs: dict[str, Any] | None
    result: Any                 # whatever fn returned
    exc: BaseException | None
    finished: bool
    abandoned: bool
    lock: threading.Lock
    rt: Runtime
    g: greenlet

    def __init__(self, rt: Runtime, g: greenlet, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.rt = rt
        self.g = g
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.result = self.exc = None
        self.finished = self.abandoned = False
        self.lock = threading.Lock()

    def run(self) -> None:
        """In the pool thread."""
        try:
            self.result = self.fn(*self.args, **self.kwargs)  # type: ignore[misc, arg-type]  # runs once, before they are dropped
        except BaseException as exc:
            self.exc = exc
        self.fn = self.args = self.kwargs = None
        with self.lock:
            self.finished = True
            if not self.abandoned:
                self.rt.ready_from_thread(self.g)


_pools: dict[str, _Pool] = {}
_pools_lock = threading.Lock()


def _pool(name: str, limit: int) -> _Pool:
    pool = _pools.get(name)
    if pool is None or pool.pid != os.getpid():
        with _pools_lock:
            pool = _pools.get(name)
            if pool is None or pool.pid != os.getpid():
                # After fork the parent's threads do not exist in the child.
                pool = _pools[name] = _Pool(name, limit)
    return pool


def _call_in(pool: _Pool, fn: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any], reason: str) -> Any:
    rt = get_runtime()
    call = _Call(rt, getcurrent(), fn, args, kwargs)
    rt.nthreads += 1
    try:
        pool.submit(call)
        # Park until the worker's wake-up has arrived, never fewer times, or
        # it would wake this goroutine later, parked on something else.  If
        # we leave early (an exception thrown in at the park point), the
        # wake-up is withdrawn.
        while True:
            rt.park(reason)
            if call.finished:
                break
    except BaseException:
        with call.lock:
            call.abandoned = True
            if call.finished:
                try:
                    rt.remote.remove(call.g)
                except ValueError:
                    pass
        raise
    finally:
        rt.nthreads -= 1
    if call.exc is not None:
        exc, call.exc = call.exc, None
        raise exc
    return call.result


def to_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn(*args, **kwargs)`` in a worker thread; return its result or
    raise its exception.  Other goroutines run meanwhile."""
    return _call_in(_pool("worker", MAX_WORKERS), fn, args, kwargs, "to_thread")  # type: ignore[no-any-return]  # fn's result


def lookup(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` (getaddrinfo) in a thread of the resolver pool."""
    return _call_in(_pool("resolver", MAX_RESOLVERS), fn, args, {},  # type: ignore[no-any-return]  # fn's result
                    "name resolution")


def pool_stats() -> dict[str, dict[str, int]]:
    """{pool name: {threads, idle, queued}}, for tests and debugging."""
    return {name: pool.stats() for name, pool in list(_pools.items())}


__all__ = ["to_thread", "lookup", "MAX_WORKERS"]
