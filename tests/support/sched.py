"""Waits on the scheduler: events, never sleeps."""

import netpoll


def wait_parked(*goroutines, reason="IO wait", rounds=10_000):
    """Yield until every goroutine is parked for ``reason`` (an event, not
    a sleep: each round lets every runnable goroutine run until it parks)."""
    for _ in range(rounds):
        if all(g.waitreason == reason for g in goroutines):
            return
        netpoll.gosched()
    raise AssertionError(f"not parked ({reason}): {goroutines}")
