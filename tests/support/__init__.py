"""What the tests share: connected pairs and byte helpers (``netutil``),
child processes (``proc``), process counters (``counters``) and waits on
the scheduler (``sched``).  Import from here: ``from support import ...``
(tests/conftest.py puts ``tests/`` on ``sys.path``)."""

from .counters import cpu_seconds, fd_count, open_fds, rss_bytes, wait_until
from .netutil import (BIG, BLOB, drain, fd_identity, has_ipv6, still_open, tcp_pair,
                      timed, unix_pair)
from .proc import PYTHON, ROOT, Child, ServerProcess, example, recv_all, recv_exactly
from .sched import wait_parked

__all__ = [
    "cpu_seconds", "fd_count", "open_fds", "rss_bytes", "wait_until",
    "BIG", "BLOB", "drain", "fd_identity", "has_ipv6", "still_open", "tcp_pair",
    "timed", "unix_pair",
    "PYTHON", "ROOT", "Child", "ServerProcess", "example", "recv_all", "recv_exactly",
    "wait_parked",
]
