"""Channels and wait groups (Go: runtime/chan.go, sync.WaitGroup).

A channel keeps a buffer and two queues of parked goroutines, each waiter a
small ``_Waiter`` (Go: sudog) that carries the value handed over.  A send to
a parked receiver hands the value over directly; a receive from a full
buffer takes the oldest value and moves one parked sender's value in.
"""

from collections import deque

from greenlet import getcurrent

from .scheduler import get_runtime


class ChanClosed(Exception):
    """Receive from a closed and drained channel, or send on a closed one."""


class _Waiter:
    __slots__ = ("g", "value", "ok")

    def __init__(self, g, value=None):
        self.g = g
        self.value = value
        self.ok = False


class Chan:
    """A Go channel: ``Chan()`` is unbuffered, ``Chan(n)`` buffers n values."""

    def __init__(self, capacity=0):
        if not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"channel capacity must be an int >= 0, not {capacity!r}")
        self.capacity = capacity
        self._buf = deque()
        self._recvq = deque()
        self._sendq = deque()
        self.closed = False

    def __len__(self):
        return len(self._buf)

    def send(self, value):
        """Send ``value``; block until a receiver takes it or buffer space
        frees.  ChanClosed if the channel is (or gets) closed."""
        if self.closed:
            raise ChanClosed("send on closed channel")
        recvq = self._recvq
        if recvq:
            w = recvq.popleft()
            w.value = value
            w.ok = True
            get_runtime().runq.append(w.g)
            return
        if len(self._buf) < self.capacity:
            self._buf.append(value)
            return
        rt = get_runtime()
        w = _Waiter(getcurrent(), value)
        self._sendq.append(w)
        self._park(rt, w, self._sendq, "chan send")
        if not w.ok:
            raise ChanClosed("send on closed channel")

    def recv(self):
        """Receive a value; block until one is sent.  ChanClosed once the
        channel is closed and drained."""
        value, ok = self.recv_ok()
        if not ok:
            raise ChanClosed("receive from closed channel")
        return value

    def recv_ok(self):
        """Go's ``v, ok := <-ch``: ``(value, True)``, or ``(None, False)``
        once the channel is closed and drained."""
        buf = self._buf
        sendq = self._sendq
        if buf:
            value = buf.popleft()
            if sendq:
                w = sendq.popleft()
                buf.append(w.value)
                w.ok = True
                get_runtime().runq.append(w.g)
            return value, True
        if sendq:
            w = sendq.popleft()
            w.ok = True
            get_runtime().runq.append(w.g)
            return w.value, True
        if self.closed:
            return None, False
        rt = get_runtime()
        w = _Waiter(getcurrent())
        self._recvq.append(w)
        self._park(rt, w, self._recvq, "chan receive")
        if w.ok:
            return w.value, True
        return None, False

    def try_send(self, value):
        """Send without blocking; False if no receiver waits and the buffer
        is full.  ChanClosed if closed."""
        if self.closed:
            raise ChanClosed("send on closed channel")
        if self._recvq or len(self._buf) < self.capacity:
            self.send(value)
            return True
        return False

    def try_recv(self):
        """``(value, True)`` if one is available now, else ``(None, False)``
        (also when closed and drained)."""
        if self._buf or self._sendq:
            return self.recv_ok()
        return None, False

    def close(self):
        """Close: waiting receivers get ChanClosed, waiting senders too."""
        if self.closed:
            raise ChanClosed("close of closed channel")
        self.closed = True
        rt = get_runtime()
        for q in (self._recvq, self._sendq):
            while q:
                w = q.popleft()
                w.ok = False
                rt.runq.append(w.g)

    def __iter__(self):
        while True:
            value, ok = self.recv_ok()
            if not ok:
                return
            yield value

    @staticmethod
    def _park(rt, w, queue, reason):
        try:
            rt.park(reason)
        except BaseException:
            try:
                queue.remove(w)
            except ValueError:
                pass
            raise

    def __repr__(self):
        state = " closed" if self.closed else ""
        return f"<Chan {len(self._buf)}/{self.capacity}{state}>"


class WaitGroup:
    """Go's sync.WaitGroup: ``add(n)``, ``done()``, ``wait()``."""

    def __init__(self):
        self._count = 0
        self._waiters = []

    @property
    def count(self):
        return self._count

    def add(self, n=1):
        count = self._count + n
        if count < 0:
            raise ValueError("negative WaitGroup counter")
        self._count = count
        if count == 0 and self._waiters:
            waiters, self._waiters = self._waiters, []
            get_runtime().runq.extend(waiters)

    def done(self):
        self.add(-1)

    def wait(self):
        rt = get_runtime()
        while self._count:
            me = getcurrent()
            self._waiters.append(me)
            try:
                rt.park("WaitGroup wait")
            except BaseException:
                if me in self._waiters:
                    self._waiters.remove(me)
                raise
