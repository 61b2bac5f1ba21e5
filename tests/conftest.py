"""Shared fixtures: every poller-independent test runs under each poller."""

import os
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


def wait_parked(*goroutines, reason="IO wait", rounds=10_000):
    """Yield until every goroutine is parked for ``reason`` (an event, not
    a sleep: each round lets every runnable goroutine run until it parks)."""
    for _ in range(rounds):
        if all(g.waitreason == reason for g in goroutines):
            return
        netpoll.gosched()
    raise AssertionError(f"not parked ({reason}): {goroutines}")


def open_fds():
    """The set of this process's open descriptors."""
    return set(os.listdir("/proc/self/fd"))
