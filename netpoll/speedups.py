"""The optional C accelerator (``netpoll/_speedups.c``) and the switch
between it and the pure-Python path.

``pip install`` builds the extension when a C compiler is present (it is
optional: without one, or off CPython, the install is pure Python).  At
import time netpoll uses it unless ``NETPOLL_PURE=1`` is set, so one
install runs both ways; ``ACCEL`` is the module in use, or None.

It does only steps of the I/O hot path that never park a goroutine: the
epoll wait together with the dispatch of its events to the PollDescs
(poller/epoll.py), the write that the socket takes at once, the read, and
a read's park up to and after its switch (internal/fd.py), the switch
itself being made by the Python frame.  No C frame of it is ever on a parked
goroutine's stack, which greenlet would copy at every switch and keep per
idle connection (``bench/CYTHON-EXPERIMENT.md``: compiling whole modules did
exactly that).  The Python code stays the reference; the C functions hand
every case that is not the plain one back to it.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

API = 3
"""The interface version of _speedups.c this Python code was written for."""

ACCEL: ModuleType | None = None
"""``netpoll._speedups`` when it is built and not disabled, else None."""

if os.environ.get("NETPOLL_PURE", "") in ("", "0"):
    try:
        from . import _speedups  # type: ignore[attr-defined]  # the C extension: no stub
        ACCEL = _speedups
    except ImportError:           # not built (no compiler), or not CPython
        ACCEL = None
    if ACCEL is not None and getattr(ACCEL, "API", None) != API:
        # A stale in-place build (the source changed since): pure Python.
        warnings.warn("netpoll._speedups was built from another version of "
                      "_speedups.c: running pure Python; rebuild it "
                      "(python scripts/build_speedups.py, or pip install again)",
                      RuntimeWarning, stacklevel=2)
        ACCEL = None
