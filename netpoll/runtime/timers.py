"""The timer heap (Go: the per-P timer heap in runtime/time.go).

A timer is a list ``[when, seq, fn, arg]`` kept in a binary heap ordered by
``when`` (``seq`` breaks ties so ``fn`` is never compared).  Cancelling sets
``fn`` to None; the entry stays in the heap until it reaches the top and is
dropped there (lazy deletion keeps cancel O(1), which matters because every
deadline change cancels a timer).  A far deadline moved on every request
would still pile cancelled entries up, so once they outnumber the live ones
by far the heap is rebuilt without them (Go: cleantimers), in place, since
the scheduler holds a reference to it: amortized O(1) per cancel.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import count
from typing import Any

# A heap entry [when, seq, fn, arg]: a mutable list (not a class) so the heap
# compares it natively; its items have different types, hence Any.
TimerEntry = list[Any]

WHEN, SEQ, FN, ARG = range(4)


class TimerHeap:
    __slots__ = ("heap", "live", "_seq")

    def __init__(self) -> None:
        self.heap: list[TimerEntry] = []
        self.live = 0          # timers added and neither fired nor cancelled
        self._seq = count()

    def add(self, when: float, fn: Callable[[Any], object], arg: Any) -> TimerEntry:
        """Call ``fn(arg)`` on the scheduler once ``monotonic() >= when``.
        ValueError for nan: it compares false with everything, so it would
        sit at the heap's top for good and no other timer would ever fire."""
        if when != when:
            raise ValueError("timer: the time is nan")
        timer = [when, next(self._seq), fn, arg]
        heapq.heappush(self.heap, timer)
        self.live += 1
        return timer

    def cancel(self, timer: TimerEntry) -> None:
        """Stop ``timer`` if it has not fired yet; idempotent."""
        if timer[FN] is not None:
            timer[FN] = None
            timer[ARG] = None
            self.live -= 1
            heap = self.heap
            if len(heap) > 256 and len(heap) > 4 * self.live:
                heap[:] = [t for t in heap if t[FN] is not None]
                heapq.heapify(heap)

    def next_when(self) -> float | None:
        """The due time of the earliest live timer, or None."""
        heap = self.heap
        while heap and heap[0][FN] is None:
            heapq.heappop(heap)
        return heap[0][WHEN] if heap else None

    def run_due(self, now: float) -> int:
        """Fire every live timer due at ``now``; returns how many fired."""
        heap = self.heap
        pop = heapq.heappop
        fired = 0
        while heap and heap[0][WHEN] <= now:
            timer = pop(heap)
            fn = timer[FN]
            if fn is None:
                continue
            arg = timer[ARG]
            timer[FN] = timer[ARG] = None
            self.live -= 1
            fired += 1
            fn(arg)
        return fired

    def clear(self) -> None:
        self.heap.clear()
        self.live = 0
