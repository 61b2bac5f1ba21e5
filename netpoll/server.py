"""The accept loop of the servers netpoll ships (Go: net/http.Server.Serve).

``serve(listener, handler)`` accepts connections and runs ``handler(conn)``
in a goroutine per connection.  When the process runs out of descriptors
(EMFILE, ENFILE) or the kernel out of buffers, ``accept`` fails; like Go's
http.Server the loop then sleeps, 5 ms at first, doubling up to 1 s, instead
of spinning on an accept that cannot succeed, and resets the delay at the
next successful accept.  Closing the listener ends the loop.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import sleep
from .errors import ClosedError
from .runtime.goroutine import check_function
from .runtime.local import get_runtime

if TYPE_CHECKING:
    from .net import Conn, Listener

# accept() errors that say "try again later", not "this listener is broken".
TEMPORARY = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                       errno.ECONNABORTED})
MIN_DELAY = 0.005
MAX_DELAY = 1.0


def serve(listener: Listener, handler: Callable[..., object], *args: Any) -> None:
    """Accept connections on ``listener`` until it is closed, running
    ``handler(conn, *args)`` in a new goroutine for each."""
    # Speed trick: netpoll.go's checks and runtime lookup, once here rather
    # than once per connection (what they find cannot change meanwhile).
    check_function("serve", handler)
    start = get_runtime().go
    delay = 0.0
    while True:
        try:
            conn: Conn = listener.accept()
        except ClosedError:
            return
        except OSError as exc:
            if exc.errno not in TEMPORARY:
                raise
            delay = min(delay * 2, MAX_DELAY) if delay else MIN_DELAY
            print(f"netpoll: accept error: {exc}; retrying in {delay * 1000:.0f} ms",
                  file=sys.stderr, flush=True)
            sleep(delay)
            continue
        delay = 0.0
        start(handler, (conn,) + args)
