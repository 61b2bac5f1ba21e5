"""Go-style error messages (Go: net.OpError).

An error leaving ``netpoll.net`` names the operation, the network and the
addresses, then says what went wrong, in Go's words::

    read tcp 127.0.0.1:5000->127.0.0.1:41234: i/o timeout
    dial tcp 127.0.0.1:1: connection refused
    accept unix /tmp/x.sock: use of closed network connection

The exception keeps its class (ConnectionRefusedError, BrokenPipeError,
``ClosedError``, ``DeadlineExceededError`` with its ``written``...), its
``errno`` and, from a write, its ``written``; only the message changes.
``str(exc)`` is the message.
"""

from ..errors import ClosedError, DeadlineExceededError

__all__ = ["ClosedError", "DeadlineExceededError", "op_error", "detail"]


def detail(exc):
    """What went wrong, Go-style: the OS's text starting in lower case."""
    if isinstance(exc, (ClosedError, DeadlineExceededError)):
        return exc.strerror
    text = exc.strerror or (str(exc.args[0]) if exc.args else type(exc).__name__)
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text


def op_error(op, network, source, addr, exc, syscall=None):
    """``exc`` (an OSError) re-made with the message
    ``"op network source->addr: [syscall: ]detail"``."""
    if getattr(exc, "_netpoll_op", False):
        return exc
    parts = [op, " ", network]
    if addr is not None and str(addr) != "":
        parts.append(" ")
        if source is not None and str(source) != "":
            parts.append(str(source))
            parts.append("->")
        parts.append(str(addr))
    elif source is not None and str(source) != "":
        parts.append(" ")
        parts.append(str(source))
    parts.append(": ")
    if syscall:
        parts.append(syscall)
        parts.append(": ")
    parts.append(detail(exc))
    message = "".join(parts)
    if isinstance(exc, DeadlineExceededError):
        new = DeadlineExceededError(message, written=exc.written)
    elif isinstance(exc, ClosedError):
        new = ClosedError(message)
    else:
        try:
            new = type(exc)(message)
        except Exception:
            new = OSError(message)
        # With errno set and strerror left None, str(new) is the message.
        new.errno = exc.errno
        written = getattr(exc, "written", None)     # a failed write's count
        if written is not None:
            new.written = written
    new._netpoll_op = True
    new.__cause__ = exc.__cause__
    new.__traceback__ = exc.__traceback__
    return new
