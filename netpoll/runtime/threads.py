"""to_thread: run a blocking function in a worker thread while only the
calling goroutine waits (Go does this implicitly for blocking syscalls and
cgo; netpoll does it explicitly, e.g. for getaddrinfo).

The pool is bounded and shared by every runtime of the process.  A worker
that finishes hands the goroutine back through the runtime's remote queue
and wakes its poller (eventfd or pipe), which is the only cross-thread
path into a runtime.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from greenlet import getcurrent

from .scheduler import get_runtime

MAX_WORKERS = min(32, (os.cpu_count() or 1) + 4)

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


def _get_pool():
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _pool_lock:
            if _pool is None or _pool_pid != pid:
                # After fork the parent's workers do not exist in the child.
                _pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="netpoll-worker")
                _pool_pid = pid
    return _pool


def to_thread(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` in a worker thread; return its result or
    raise its exception.  Other goroutines run meanwhile."""
    rt = get_runtime()
    me = getcurrent()
    future = _get_pool().submit(fn, *args, **kwargs)
    # The callback readies us exactly once, from the worker or, if the
    # future is already done, right here inside add_done_callback: so park
    # until that wake-up has arrived, never fewer times, or it would wake
    # this goroutine later, parked on something else.  If we leave early (an
    # exception thrown in at the park point), the wake-up is withdrawn.
    lock = threading.Lock()
    state = [False, False]          # [finished, abandoned]

    def wake(_future):
        with lock:
            state[0] = True
            if not state[1]:
                rt.ready_from_thread(me)

    rt.nthreads += 1
    try:
        future.add_done_callback(wake)
        while True:
            rt.park("to_thread")
            if state[0]:
                break
    except BaseException:
        with lock:
            state[1] = True
            if state[0]:
                try:
                    rt.remote.remove(me)
                except ValueError:
                    pass
        raise
    finally:
        rt.nthreads -= 1
    return future.result()
