"""Which runtime this thread has: the per-thread lookup (Go: getg().m).

A leaf module: it imports nothing else of netpoll's runtime, so every
runtime module can import it without an import cycle (trio keeps its run
context in ``_run_context.py``, gevent its hub in ``_hub_local.py``, for the
same reason).  The scheduler registers the class that creates a runtime
(``set_factory``); ``netpoll/__init__.py`` imports the scheduler, so the
factory is in place before any runtime is needed.

A runtime created lazily (a blocking call made outside ``run()``) has no
``run()`` to tear it down.  A small guard object kept in the same
thread-local dies with the thread (CPython clears a thread's locals when
the thread ends) and releases the runtime's kernel objects then: its
poller and wake-up descriptors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scheduler import Runtime

_local = threading.local()
_factory: Callable[[str | None], Runtime] | None = None   # netpoll.runtime.scheduler.Runtime


def set_factory(factory: Callable[[str | None], Runtime]) -> None:
    """Register the callable that creates a runtime (``Runtime(poller)``)."""
    global _factory
    _factory = factory


def current_runtime() -> Runtime | None:
    """This thread's runtime, or None if it has none yet."""
    return getattr(_local, "rt", None)


def get_runtime(poller: str | None = None) -> Runtime:
    """This thread's runtime, created on first use."""
    rt = getattr(_local, "rt", None)
    if rt is None:
        # In a forked child, rebuild the parent's runtime with its backend
        # (netpoll.runtime.fork leaves its name here).
        forked = _local.__dict__.pop("forked_poller", None)
        # _factory: set by the scheduler at import, before any runtime is needed.
        rt = _factory(poller if poller is not None else forked)  # type: ignore[misc]
        _local.rt = rt
        _local.guard = _ThreadEndGuard(rt)
    return rt


def forget_runtime(rt: Runtime) -> None:
    """``rt`` is closed: the next lookup creates a new runtime."""
    if getattr(_local, "rt", None) is rt:
        _local.rt = None


class _ThreadEndGuard:
    """Releases its runtime's descriptors when the thread ends."""

    __slots__ = ("rt",)

    def __init__(self, rt: Runtime | None) -> None:
        self.rt = rt

    def __del__(self) -> None:
        rt = self.rt
        if rt is not None and not rt.closed:
            try:
                rt.release()
            except Exception:
                pass
