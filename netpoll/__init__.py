"""netpoll: Go's network model for Python.

Plain blocking-style code runs in goroutines (greenlets); a read that would
block parks its goroutine on the descriptor and an edge-triggered poller
(epoll; kqueue, poll or select where chosen) wakes it.  See SPEC.md for the
contract and ARCHITECTURE.md for the layers.
"""

from .errors import ClosedError, DeadlineExceededError, DeadlockError
from .poller import pollers
from .runtime.chan import Chan, ChanClosed, WaitGroup
from .runtime.goroutine import Goroutine, GoroutineExit
from .runtime.scheduler import go, gosched, run, set_watchdog, sleep, stats
from .runtime.signals import signal_notify, signal_stop
from .runtime.threads import to_thread

__version__ = "0.1.0"

__all__ = [
    "run", "go", "sleep", "gosched", "to_thread", "stats", "pollers", "set_watchdog",
    "signal_notify", "signal_stop",
    "Chan", "ChanClosed", "WaitGroup", "Goroutine", "GoroutineExit",
    "DeadlineExceededError", "ClosedError", "DeadlockError",
]
