"""What happens to a runtime across ``fork()`` (Go has no fork; this is
the child's side of ``os.register_at_fork``).

In a forked child, the goroutine that called fork is the only one that
exists, as the forking thread is the only thread: the parent's runtime is
set aside (never run, never collected: collecting its greenlets would run
their finally blocks, which could touch kernel objects the child shares
with the parent), the forking goroutine becomes the main goroutine of the
child's new runtime, and when it returns the child exits, as a process
whose last thread ended (status 1 if the goroutine raised).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from greenlet import getcurrent, greenlet

from . import signals
from .local import _local

if TYPE_CHECKING:
    from .scheduler import Runtime

# Runtimes inherited from the parent across fork(): kept alive so that their
# greenlets are never collected.
_forked: list[Runtime] = []


def forking_goroutine() -> greenlet | None:
    """In a forked child, the goroutine that forked (the main goroutine of
    the child's runtime), if it is still alive; else None."""
    g: greenlet | None = getattr(_local, "fork_main", None)
    return g if g is not None and not g.dead else None


def after_fork_in_child() -> None:
    rt: Runtime | None = getattr(_local, "rt", None)
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
        me.parent = greenlet(exit_forked_child, parent=root)


def exit_forked_child(*_: object) -> None:
    task = getattr(_local, "fork_task", None)
    failed = task is not None and isinstance(task._exc, Exception)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(1 if failed else 0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork_in_child)
