"""Shared fixtures: every poller-independent test runs under each poller.

Helpers that are not fixtures live in the ``support`` package beside this
file (``from support import tcp_pair, wait_parked, ...``); pytest puts this
directory on ``sys.path`` because this conftest.py lives in it."""

import socket

import pytest

import netpoll

TEST_POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]


@pytest.fixture(params=TEST_POLLERS)
def poller(request):
    """The name of a poller backend; tests run once per backend."""
    return request.param


@pytest.fixture
def run(poller):
    """``run(fn, *args)``: netpoll.run under the parametrized poller."""
    def _run(fn, *args, **kwargs):
        return netpoll.run(fn, *args, poller=poller, **kwargs)
    return _run


@pytest.fixture
def sockpair():
    """A connected pair of non-blocking Unix stream sockets, closed after."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def no_leftover_runtime():
    """The test starts and ends without a runtime on this thread (one made
    outside run(), or one a failed test left, is closed)."""
    _close_current_runtime()
    yield
    _close_current_runtime()


def _close_current_runtime():
    from netpoll.runtime.scheduler import current_runtime

    rt = current_runtime()
    if rt is not None:
        rt.close()
