"""Cancellation, deadlines and request-scoped values (Go: context).

    from netpoll import context
    ctx, cancel = context.with_timeout(context.background(), 5.0)
    try:
        conn = net.dial("tcp", addr, ctx=ctx)
    finally:
        cancel()

A tree of contexts: ``background()`` is the root (never done; its
``done()`` is None, Go's nil channel, which never proceeds in a select).
``with_cancel`` / ``with_deadline`` / ``with_timeout`` make a cancellable
child; ``with_value`` a child carrying one key.  Cancelling a context
closes its ``done()`` channel, sets ``err()`` and cancels its descendants,
never its ancestors.  A deadline is a timer on the runtime's timer heap
that cancels with ``DeadlineExceeded``.

Waking: ``done()`` is an ordinary Chan that ``cancel`` closes, so whoever
waits on it (``recv``, ``select``) parks and wakes like any channel
receiver.  ``after_func(ctx, fn)`` starts ``fn`` in a goroutine when the
context is done; netpoll's own I/O (``net.dial(..., ctx=)``) registers a
plain callback instead, through ``on_done``.

A context's channel and timer belong to the runtime of the thread that
made it: cancel it from that thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, SupportsFloat

from .runtime.chan import Chan
from .runtime.local import get_runtime


class Canceled(Exception):
    """The context was cancelled (Go: context.Canceled); ``str()`` of the
    instance ``err()`` returns is ``context canceled``."""

    def __init__(self, message: str = "context canceled") -> None:
        super().__init__(message)


class DeadlineExceeded(TimeoutError):
    """The context's deadline passed (Go: context.DeadlineExceeded);
    ``str()`` of the instance ``err()`` returns is
    ``context deadline exceeded``."""

    def __init__(self, message: str = "context deadline exceeded") -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return self.args[0] if self.args else "context deadline exceeded"


class Context:
    """The interface every context has (and the background's behaviour)."""

    __slots__ = ()

    def done(self) -> Chan | None:
        """A Chan closed when this context is done; None if it never is."""
        return None

    def err(self) -> BaseException | None:
        """None until done, then a Canceled or DeadlineExceeded."""
        return None

    def deadline(self) -> float | None:
        """The monotonic time at which it will be done by itself, or None."""
        return None

    # Any: a value is whatever was stored (Go: any).
    def value(self, key: object) -> Any:
        """The value for ``key`` here or in an ancestor, else None."""
        return None

    def on_done(self, fn: Callable[[], object]) -> Callable[[], bool]:
        """Call ``fn()`` (on whichever goroutine or timer cancels; it must
        not block) once this context is done, at once if it already is.
        Returns ``stop() -> bool``: True if it prevented the call."""
        return _never

    def _cancel_parent(self) -> _CancelCtx | None:
        """The nearest cancellable ancestor-or-self, or None."""
        return None


def _never() -> bool:
    return False


class _Background(Context):
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"context.{self._name}()"


_background = _Background("background")
_todo = _Background("todo")


def background() -> Context:
    """The root context: never cancelled, no deadline, no values."""
    return _background


def todo() -> Context:
    """Like background(), for code not yet given a context (Go: TODO)."""
    return _todo


class _CancelCtx(Context):
    """A context cancelled by its cancel function, its parent, or (as a
    subclass of it) its deadline."""

    __slots__ = ("_parent", "_done", "_err", "_children", "_callbacks",
                 "_deadline", "_timer", "_rt")

    _parent: Context
    _done: Chan | None
    _err: BaseException | None
    _children: dict[_CancelCtx, None]
    _callbacks: dict[object, Callable[[], object]]
    _deadline: float | None
    _timer: object                # the timer heap's entry, or None
    # The Runtime whose timer heap holds _timer (set with it): Any, as the
    # runtime is not annotated yet.
    _rt: Any

    def __init__(self, parent: Context, deadline: float | None = None) -> None:
        self._parent = parent
        self._done = None            # created on first done()
        self._err = None
        self._children = {}          # child -> None (ordered set)
        self._callbacks = {}         # token -> fn
        self._deadline = deadline
        self._timer = None
        self._rt = None

    def done(self) -> Chan:
        d = self._done
        if d is None:
            d = self._done = Chan()
            if self._err is not None:
                d.close()
        return d

    def err(self) -> BaseException | None:
        return self._err

    def deadline(self) -> float | None:
        if self._deadline is not None:
            return self._deadline
        return self._parent.deadline()

    def value(self, key: object) -> Any:
        return self._parent.value(key)

    def _cancel_parent(self) -> _CancelCtx:
        return self

    def on_done(self, fn: Callable[[], object]) -> Callable[[], bool]:
        if self._err is not None:
            fn()
            return _never
        token = object()
        self._callbacks[token] = fn

        def stop() -> bool:
            return self._callbacks.pop(token, None) is not None
        return stop

    def cancel(self, err: BaseException | None = None, _from_parent: bool = False) -> None:
        """Cancel this context and its descendants (idempotent)."""
        if self._err is not None:
            return
        self._err = err if err is not None else Canceled()
        if self._timer is not None:
            self._rt.timers.cancel(self._timer)
            self._timer = None
        if self._done is not None:
            self._done.close()
        children, self._children = self._children, {}
        for child in children:
            child.cancel(self._err, True)
        callbacks, self._callbacks = self._callbacks, {}
        for fn in callbacks.values():
            fn()
        if not _from_parent:
            p = self._parent._cancel_parent()
            if p is not None:
                p._children.pop(self, None)

    def __repr__(self) -> str:
        kind = "with_deadline" if self._deadline is not None else "with_cancel"
        state = f" {self._err}" if self._err is not None else ""
        return f"<context.{kind}{state}>"


def _attach(ctx: _CancelCtx, parent: Context) -> None:
    """Link ``ctx`` under ``parent``'s nearest cancellable ancestor, or
    cancel it at once if that is done already."""
    p = parent._cancel_parent()
    if p is not None:
        if p._err is not None:
            ctx.cancel(p._err, True)
        else:
            p._children[ctx] = None


def _check_parent(parent: object) -> None:
    if not isinstance(parent, Context):
        raise TypeError(f"parent must be a context, not {type(parent).__name__}")


def with_cancel(parent: Context) -> tuple[Context, Callable[[], None]]:
    """A child of ``parent`` and the function that cancels it."""
    _check_parent(parent)
    ctx = _CancelCtx(parent)
    _attach(ctx, parent)
    return ctx, ctx.cancel


def with_deadline(parent: Context, t: float) -> tuple[Context, Callable[[], None]]:
    """A child done at monotonic time ``t`` (or when cancelled, or when its
    parent is done), and its cancel function.  Its deadline is the earlier
    of ``t`` and the parent's."""
    _check_parent(parent)
    t = _check_time(t, "deadline")
    cur = parent.deadline()
    if t == math.inf or (cur is not None and cur <= t):
        return with_cancel(parent)       # the parent's deadline comes first
    ctx = _CancelCtx(parent, t)
    _attach(ctx, parent)
    if ctx._err is None:
        if t <= time.monotonic():
            ctx.cancel(DeadlineExceeded())
        else:
            rt = ctx._rt = get_runtime()
            ctx._timer = rt.timers.add(t, _expire, ctx)
    return ctx, ctx.cancel


def with_timeout(parent: Context, seconds: float) -> tuple[Context, Callable[[], None]]:
    """``with_deadline(parent, time.monotonic() + seconds)``."""
    seconds = _check_time(seconds, "timeout")
    return with_deadline(parent, time.monotonic() + seconds)


def _expire(ctx: _CancelCtx) -> None:
    """On the scheduler: the deadline passed."""
    ctx._timer = None
    ctx.cancel(DeadlineExceeded())


def _check_time(t: SupportsFloat, what: str) -> float:
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number of seconds, not {t!r}") from None
    if t != t:
        raise ValueError(f"{what} must not be nan")
    return t


class _ValueCtx(Context):
    __slots__ = ("_parent", "_key", "_value")

    _parent: Context
    _key: object
    _value: Any                   # whatever was stored (Go: any)

    def __init__(self, parent: Context, key: object, value: Any) -> None:
        self._parent = parent
        self._key = key
        self._value = value

    def done(self) -> Chan | None:
        return self._parent.done()

    def err(self) -> BaseException | None:
        return self._parent.err()

    def deadline(self) -> float | None:
        return self._parent.deadline()

    def value(self, key: object) -> Any:
        ctx: Context = self
        while isinstance(ctx, _ValueCtx):
            if ctx._key == key:
                return ctx._value
            ctx = ctx._parent
        return ctx.value(key)

    def on_done(self, fn: Callable[[], object]) -> Callable[[], bool]:
        return self._parent.on_done(fn)

    def _cancel_parent(self) -> _CancelCtx | None:
        return self._parent._cancel_parent()

    def __repr__(self) -> str:
        return f"<context.with_value {self._key!r}>"


def with_value(parent: Context, key: object, value: Any) -> Context:
    """A child of ``parent`` where ``value(key)`` is ``value``."""
    _check_parent(parent)
    return _ValueCtx(parent, key, value)


def after_func(ctx: Context, fn: Callable[[], object]) -> Callable[[], bool]:
    """Run ``fn()`` in its own goroutine once ``ctx`` is done (at once if it
    is).  Returns ``stop() -> bool``, True if it prevented that."""
    rt = get_runtime()
    return ctx.on_done(lambda: rt.go(fn, (), {}))


def interrupted(op: str, err: BaseException) -> BaseException:
    """``err``, a done context's ``err()``, as the error of the operation
    it stopped (for netpoll's own ``ctx=`` operations), Go-style: the same
    class, message ``OP: context deadline exceeded`` or ``OP: operation was
    canceled`` (``OP`` being e.g. ``dial tcp 10.0.0.1:80``)."""
    what = ("context deadline exceeded" if isinstance(err, DeadlineExceeded)
            else "operation was canceled")
    return type(err)(f"{op}: {what}")


__all__ = ["background", "todo", "with_cancel", "with_deadline", "with_timeout",
           "with_value", "after_func", "Canceled", "DeadlineExceeded", "Context"]
