"""Go's internal/poll for netpoll: ``FD``, the read / write / accept /
connect loops over a non-blocking socket, and ``FDMutex``, the lock and
reference count that keep the OS descriptor alive while any operation on it
is in flight.  The layer above (``netpoll.net``) adds addresses and Go-style
error messages; the layer below (``netpoll.runtime.polldesc``) parks and
wakes goroutines."""

from .fd import FD
from .fdmutex import FDMutex

__all__ = ["FD", "FDMutex"]
