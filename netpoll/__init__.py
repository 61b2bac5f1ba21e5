"""netpoll: Go's network model for Python.

Plain blocking-style code runs in goroutines (greenlets); a read that would
block parks its goroutine on the descriptor and an edge-triggered poller
(epoll; kqueue, poll or select where chosen) wakes it.  See docs/reference.md
for the contract and ARCHITECTURE.md for the layers.
"""

from . import context
from .errgroup import ErrGroup
from .errors import ClosedError, DeadlineExceededError, DeadlockError
from .patch import patch, patched  # the function shadows the package's name
from .poller import pollers
from .runtime.chan import Chan, ChanClosed, WaitGroup
from .runtime.goroutine import Goroutine, GoroutineExit
from .runtime.scheduler import go, gosched, run, set_watchdog, sleep, stats
from .runtime.select import Recv, Send, select
from .runtime.signals import signal_notify, signal_stop
from .runtime.threads import to_thread
from .runtime.timer import Ticker, Timer, after, after_func
from .sync import Mutex, Once, RWMutex, Semaphore

# isort: split
# After the names above: these import them.  `netpoll.net.dial(...)`,
# `netpoll.server.serve(...)`, `netpoll.tls.dial(...)` then work after a
# bare `import netpoll`.
from . import net, server, tls

__version__ = "0.1.0"

__all__ = [
    "run", "go", "sleep", "gosched", "to_thread", "stats", "pollers", "set_watchdog",
    "signal_notify", "signal_stop",
    "Chan", "ChanClosed", "WaitGroup", "Goroutine", "GoroutineExit",
    "DeadlineExceededError", "ClosedError", "DeadlockError",
    "select", "Recv", "Send", "after", "after_func", "Timer", "Ticker",
    "Mutex", "RWMutex", "Once", "Semaphore", "ErrGroup", "context",
    "net", "server", "tls", "patch", "patched",
]


def _patch_from_env() -> None:
    import os
    value = os.environ.get("NETPOLL_PATCH")
    if value:
        from .patch import patch_from_env
        patch_from_env(value)


_patch_from_env()
