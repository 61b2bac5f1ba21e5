"""Request bodies and file responses: ``wsgi.input`` and ``wsgi.file_wrapper``.

``Input`` is the request body as a file the application reads.  It holds
what the parser has already delivered (``buf``) and, when that runs out,
asks its connection to read and parse more (``Connection.fill_body``): a
slow uploader parks only the goroutine serving it, and nothing is read from
the socket that the application has not asked for (beyond one read).  A
framing error in the body (bad chunk, body over ``max_body_bytes``, the
client gone) raises ``BodyError`` from the read, and the connection answers
with its status once the application returns.

``FileWrapper`` is PEP 3333's optional ``wsgi.file_wrapper``; the server
sends it with sendfile(2) (``FD.sendfile``) when the connection is plain TCP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Input", "BodyError", "FileWrapper", "EMPTY"]


class BodyError(OSError):
    """The request body could not be read: ``status`` is what the server
    answers (400 bad framing or the client went away, 413 too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Input:
    """``wsgi.input``: read(n), readline(n), readlines(hint), iteration."""

    __slots__ = ("conn", "buf", "done", "error", "expect", "received")

    conn: Connection
    buf: bytearray
    done: bool
    error: BodyError | None
    expect: bool
    received: int

    def __init__(self, conn: Connection, expect: bool) -> None:
        self.conn = conn          # the Connection that parses this body
        self.buf = bytearray()    # parsed and not yet read by the application
        self.done = False         # the parser has seen the end of the body
        self.error = None         # a BodyError once the body is broken
        self.expect = expect      # 100-continue asked and not yet sent
        self.received = 0         # body bytes parsed so far

    def _fill(self) -> None:
        """Parse more of the body into ``buf`` (parks until it arrives)."""
        if self.error is None:
            self.conn.fill_body(self)
        if self.error is not None:
            raise self.error

    def read(self, size: int | None = -1) -> bytes:
        buf = self.buf
        if size is None or size < 0:
            while not self.done:
                self._fill()
            data = bytes(buf)
            buf.clear()
            return data
        while len(buf) < size and not self.done:
            if buf:
                break             # a stream read returns what is there
            self._fill()
        data = bytes(buf[:size])
        del buf[:size]            # bytearray: deleting the front is O(1) amortized
        return data

    def readline(self, size: int | None = -1) -> bytes:
        buf = self.buf
        start = 0
        while True:
            i = buf.find(b"\n", start)
            if i >= 0:
                end = i + 1
                break
            if self.done or (size is not None and 0 <= size <= len(buf)):
                end = len(buf)
                break
            start = len(buf)
            self._fill()
        if size is not None and 0 <= size < end:
            end = size
        data = bytes(buf[:end])
        del buf[:end]
        return data

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Input:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class _Empty:
    """The body of a request that has none: shared, nothing to read."""

    __slots__ = ()
    done = True
    error = None
    expect = False

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


EMPTY = _Empty()


class FileWrapper:
    """``wsgi.file_wrapper(filelike, blksize=8192)``: iterates the file in
    blocks; the server sends it with sendfile(2) where it can."""

    __slots__ = ("filelike", "blksize", "close")

    # Any: PEP 3333's "file-like object", anything with read() (and
    # perhaps close, fileno, tell).
    filelike: Any
    blksize: int
    close: Callable[[], object]

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        read, size = self.filelike.read, self.blksize
        while data := read(size):
            yield data
