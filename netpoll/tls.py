"""TLS over netpoll connections (Go: crypto/tls, conn.go and tls.go).

    ln = tls.listen("tcp", "127.0.0.1:8443", server_context)
    conn = ln.accept()                 # no handshake yet: it runs on the
    data = conn.read()                 # first read/write, in this goroutine

    conn = tls.dial("tcp", "example.com:443", timeout=10)

Configuration is Python's own ``ssl.SSLContext``.  A ``tls.Conn`` wraps any
connected stream Conn (a ``net.TCPConn``, a ``net.UnixConn``, even another
``tls.Conn``) and has the same surface: read, read_into, write, writev,
close, close_write, deadlines, addresses, fileno, context manager; plus
``handshake()`` and ``connection_state()``.

How bytes reach OpenSSL
-----------------------
An ``ssl.SSLObject`` works on two memory BIOs; ciphertext moves between the
BIOs and the wire through the wrapped Conn's own ``read`` and ``write``.  So a
TLS read parks exactly where a plain read parks, in ``Conn.read`` on the
descriptor's PollDesc, with the Conn's deadlines, close wake-ups and error
messages; this module never touches a PollDesc itself.  (The alternative, a
non-blocking SSL socket over the descriptor that parks on SSLWantRead /
SSLWantWrite, measured a little cheaper; ARCHITECTURE.md, "TLS", has the
numbers and the reasons for this choice.)

An SSLObject call never blocks: it consumes what is in the incoming BIO,
appends what it produces to the outgoing BIO, and raises SSLWantReadError if
it needs ciphertext that has not arrived.  Any call may need either
direction (TLS 1.3 key updates and session tickets, TLS 1.2 renegotiation):
a read may have to send, a write may have to receive.  So every step below
is: call OpenSSL, then move bytes, then retry.

Three locks, all FIFO and handed from holder to next waiter (no barging,
so bytes leave in the order OpenSSL produced them):

* ``_wlock`` (Go: ``c.out``'s user side): one ``write`` at a time, so a
  large write, cut into WRITE_CHUNK pieces, is not interleaved with another.
* ``_slock`` (send): held while ciphertext is taken from the outgoing BIO
  and written to the Conn.  The holder keeps sending until the BIO is empty,
  so whatever anyone appended meanwhile goes out too.  A writer that finds
  it held waits (its data must be on the wire when ``write`` returns); a
  *reader* that produced output (a key update answer) does not wait: the
  holder will send its bytes.  A reader therefore never waits for a writer,
  and two peers that both write more than their buffers hold cannot
  deadlock over a key update.
* ``_recvlock``: one goroutine at a time reads ciphertext from the Conn into
  the incoming BIO.  Another that needs input (a writer during a
  renegotiation, a second reader) waits for that read to finish and then
  retries its OpenSSL call instead of reading again: the data it needs may
  just have arrived (trio's "a write needs to read", with its receive
  count).

No lock is held while waiting for another: the send lock is never held
while waiting for input, so a reader's renegotiation answer can always go
out.  The handshake holds ``_hslock`` (Go: ``handshakeMutex``); goroutines
that arrive meanwhile wait for its outcome.  A failed handshake, a failed
write (part of a record may have gone out: the stream is corrupt, as in Go)
and a TLS error on read are latched and raised again by later calls; a read
deadline is not (nothing was lost: the next read simply waits again).

End of stream
-------------
``read`` returns b"" when the peer sent close_notify and also when it closed
the connection without one; ``connection_state().eof`` tells which
(``"close_notify"`` or ``"truncated"``).  (A context with
``ssl.OP_IGNORE_UNEXPECTED_EOF`` makes OpenSSL report the second as the
first.)  ``close_write`` sends close_notify and shuts down the Conn's
writing side; the peer can still answer and we can still read it.
``close`` sends close_notify when the handshake is complete and no write is
in flight, giving it CLOSE_NOTIFY_TIMEOUT seconds to go out (it goes at
once unless the peer has stopped reading and the socket buffer is full),
then closes the Conn: blocked operations wake with ClosedError.

SNI on the server side: Python tells a server the name the client asked for
only through ``SSLContext.sni_callback``, so ``server()`` wraps the
context's callback (once per callback) to record the name; a callback the
application set still runs, and may still switch ``ssl_object.context``.
"""

from __future__ import annotations

import errno
import ssl
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn, overload

from greenlet import getcurrent, greenlet

from . import net
from .context import interrupted
from .errors import ClosedError
from .runtime.scheduler import get_runtime

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from .context import Context
    from .net.addr import Addr

__all__ = ["Conn", "Listener", "ConnectionState", "server", "client", "listen", "dial",
           "CLOSE_NOTIFY_TIMEOUT"]

# Seconds close() allows close_notify to leave before it closes anyway.
CLOSE_NOTIFY_TIMEOUT = 0.25
# Plaintext handed to OpenSSL per SSL_write: bounds the ciphertext held in
# the outgoing BIO (and its copy) for a large write.
WRITE_CHUNK = 256 * 1024
# Ciphertext asked of the Conn per read: four full TLS records.  The FD
# adapts the size of the system call below that (internal/fd.py).
READ_SIZE = 4 * (16384 + 256)

_WantRead = ssl.SSLWantReadError
_SSLError = ssl.SSLError
_ZeroReturn = ssl.SSLZeroReturnError
_EOFError = ssl.SSLEOFError
_SyscallError = ssl.SSLSyscallError

# Handshake states.
_HS_NONE = 0
_HS_DONE = 1



class _Lock:
    """A FIFO lock for goroutines that hands itself to the next waiter.

    Hand-over (no barging) keeps the order of the goroutines that asked,
    which the send lock needs: bytes must reach the wire in the order
    OpenSSL produced them.  Callers test ``held`` inline and call ``wait``
    only when it is taken."""

    __slots__ = ("held", "waiters")

    held: bool
    waiters: deque[greenlet] | None

    def __init__(self) -> None:
        self.held = False
        self.waiters = None

    def acquire(self, reason: str) -> None:
        if self.held:
            self.wait(reason)
        else:
            self.held = True

    def wait(self, reason: str) -> None:
        """Park until the holder hands the lock over; we then hold it."""
        if self.waiters is None:
            self.waiters = deque()
        me = getcurrent()
        self.waiters.append(me)
        try:
            get_runtime().park(reason)
        except BaseException:
            try:
                self.waiters.remove(me)
            except ValueError:
                self.release()        # handed over already: pass it on
            raise

    def release(self) -> None:
        w = self.waiters
        if w:
            get_runtime().ready(w.popleft())     # stays held: the waiter owns it
        else:
            self.held = False


class ConnectionState:
    """What the handshake settled (Go: tls.ConnectionState)."""

    __slots__ = ("handshake_complete", "version", "cipher", "alpn_protocol",
                 "server_name", "peer_certificate", "session_reused", "eof")

    handshake_complete: bool
    version: str | None
    cipher: str | None
    alpn_protocol: str | None
    server_name: str | None
    peer_certificate: bytes | None      # DER
    session_reused: bool | None
    eof: str | None                     # None, "close_notify" or "truncated"

    def __init__(self, **kw: Any) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__
                           if k != "peer_certificate")
        return f"ConnectionState({fields})"


class Conn:
    """A TLS connection over a connected stream Conn (Go: tls.Conn)."""

    __slots__ = ("conn", "context", "_ssl", "_obj", "_in", "_out",
                 "_hs", "_hslock", "_wlock", "_slock", "_recvlock", "_nrecv",
                 "_rok", "_wok", "_hserr", "_rerr", "_werr", "_eof", "_ineof",
                 "_stash", "_rshut", "_notified", "_closed", "_server_name")

    conn: net.Conn
    context: ssl.SSLContext
    _ssl: ssl.SSLObject
    # The C-level _ssl._SSLSocket under the SSLObject (or the SSLObject):
    # Any, as typeshed gives it no public type.
    _obj: Any
    _in: ssl.MemoryBIO
    _out: ssl.MemoryBIO
    _hs: int
    _hslock: _Lock
    _wlock: _Lock
    _slock: _Lock
    _recvlock: _Lock
    _nrecv: int
    _rok: bool
    _wok: bool
    _hserr: BaseException | None
    _rerr: BaseException | None
    _werr: BaseException | None
    _eof: str | None
    _ineof: int
    _stash: deque[bytes] | None
    _rshut: bool
    _notified: bool
    _closed: bool
    _server_name: str | None

    def __init__(self, conn: net.Conn, context: ssl.SSLContext, server_side: bool,
                 server_name: str | None = None) -> None:
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(f"context must be an ssl.SSLContext, not {type(context).__name__}")
        self.conn = conn
        self.context = context
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._in, self._out, server_side=server_side,
                                     server_hostname=None if server_side else server_name)
        # Speed: the C-level object under ssl.SSLObject (whose read/write
        # are one Python frame around it), for the read and write paths.
        self._obj = getattr(self._ssl, "_sslobj", self._ssl)
        self._server_name = server_name
        self._hs = _HS_NONE
        self._hslock = _Lock()
        self._wlock = _Lock()
        self._slock = _Lock()
        self._recvlock = _Lock()
        self._nrecv = 0           # reads from the Conn so far (see _fill)
        self._rok = False         # read fast path allowed: handshaken, no EOF, error, stash
        self._wok = False         # write fast path allowed: handshaken, no error, not shut
        self._hserr = self._rerr = self._werr = None
        self._eof = None          # None, "close_notify" or "truncated"
        self._ineof = 0           # EOF written to the incoming BIO (then: calls since)
        self._stash = None        # plaintext decrypted early by close_write
        self._rshut = False
        self._notified = False    # close_notify sent
        self._closed = False

    # -- handshake -------------------------------------------------------------

    def handshake(self) -> None:
        """Run the handshake if it has not run (idempotent).  Bounded by the
        Conn's deadlines; a failure is raised here and by every later call."""
        if self._hs == _HS_DONE:
            return
        hl = self._hslock
        hl.acquire("tls handshake")
        try:
            if self._hs == _HS_DONE:
                return
            if self._hserr is not None:
                raise self._hserr.with_traceback(None)
            if self._closed:
                self._closed_error("handshake")
            try:
                do_handshake = self._ssl.do_handshake
                while True:
                    try:
                        do_handshake()
                        break
                    except _WantRead:
                        self._flush(True)
                        self._fill()
                self._flush(True)
            except Exception as e:
                self._hserr = e
                if isinstance(e, _SSLError):
                    self._send_alert()
                raise
            except BaseException:
                # GoroutineExit, KeyboardInterrupt: not an error of this
                # connection to hand to other callers, but the handshake
                # stopped part way (perhaps mid-record): it cannot resume.
                self._hserr = ConnectionAbortedError(
                    errno.ECONNABORTED, "tls: handshake interrupted")
                raise
            self._hs = _HS_DONE
            self._rok = not (self._closed or self._rshut or self._stash or self._eof
                             or self._rerr)
            self._wok = not (self._closed or self._werr or self._notified)
        finally:
            hl.release()

    def _send_alert(self) -> None:
        """After a failed handshake, send the alert OpenSSL queued, if it can
        go at once (best effort: the connection is lost anyway)."""
        if self._out.pending and not self._closed:
            try:
                self.conn.set_write_deadline(time.monotonic() + CLOSE_NOTIFY_TIMEOUT)
                self._flush(False)
            except OSError:
                pass

    # -- reads -----------------------------------------------------------------

    def read(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes of plaintext as soon as any are available; b""
        at the end of the stream (see connection_state().eof)."""
        if not self._rok or n <= 0:
            return self._read_slow(n, None)
        # The loop of _read_loop with _fill's uncontended case, spelled out:
        # the hot path of every read (a call less per step).
        obj = self._obj
        inc = self._in
        while True:
            # Decrypt only if there is something to decrypt: when neither
            # the BIO holds ciphertext nor OpenSSL plaintext, the call could
            # only raise SSLWantReadError, and a raised-and-caught exception
            # is the dearest step of a small read.
            if inc.pending or obj.pending() or self._ineof:
                try:
                    data: bytes = obj.read(n)
                except _WantRead:
                    pass
                except _SSLError as e:
                    return self._read_error(e, b"")
                else:
                    if not data:
                        self._at_close_notify()
                    elif self._out.pending:
                        self._flush(False)     # a renegotiation's message
                    return data
            if self._out.pending:
                self._flush(False)
            rl = self._recvlock
            if rl.held or self._ineof:
                self._fill()
                continue
            rl.held = True
            try:
                data = self.conn.read(READ_SIZE)
                self._nrecv += 1
                if data:
                    inc.write(data)
                else:
                    self._ineof = 1
                    inc.write_eof()
            finally:
                if rl.waiters:
                    rl.release()
                else:
                    rl.held = False

    def read_into(self, buffer: WriteableBuffer) -> int:
        """Read plaintext into a writable buffer; the byte count, 0 at the
        end of the stream."""
        n = memoryview(buffer).nbytes
        if not self._rok or n <= 0:
            return self._read_slow(n, buffer)
        return self._read_loop(n, buffer)

    @overload
    def _read_loop(self, n: int, buffer: None) -> bytes: ...
    @overload
    def _read_loop(self, n: int, buffer: WriteableBuffer) -> int: ...

    def _read_loop(self, n: int, buffer: WriteableBuffer | None) -> bytes | int:
        obj = self._obj
        inc = self._in
        empty = b"" if buffer is None else 0
        while True:
            if inc.pending or obj.pending() or self._ineof:
                try:
                    data: bytes | int = obj.read(n) if buffer is None else obj.read(n, buffer)
                except _WantRead:
                    pass
                except _SSLError as e:
                    return self._read_error(e, empty)
                else:
                    if not data:
                        self._at_close_notify()
                    elif self._out.pending:
                        self._flush(False)
                    return data
            if self._out.pending:
                self._flush(False)
            self._fill()

    @overload
    def _read_slow(self, n: int, buffer: None) -> bytes: ...
    @overload
    def _read_slow(self, n: int, buffer: WriteableBuffer) -> int: ...

    def _read_slow(self, n: int, buffer: WriteableBuffer | None) -> bytes | int:
        empty = b"" if buffer is None else 0
        if n < 0:
            raise ValueError("negative read size")
        if self._closed:
            self._closed_error("read")
        if self._hs != _HS_DONE:
            self.handshake()
        if self._rerr is not None:
            raise self._rerr.with_traceback(None)
        if self._stash:
            data = self._stash.popleft()
            if n < len(data):
                self._stash.appendleft(data[n:])
                data = data[:n]
            if not self._stash:
                self._stash = None
                self._rok = not (self._rshut or self._eof or self._rerr)
            if buffer is None:
                return data
            buffer[:len(data)] = data     # type: ignore[index]  # a writable buffer
            return len(data)
        if self._rshut or self._eof or n == 0:
            return empty
        return self._read_loop(n, buffer)

    def _at_close_notify(self) -> None:
        # ssl returns b"" rather than raising SSLZeroReturnError when the
        # peer's close_notify came and ours has not been sent.
        self._eof = "close_notify"
        self._rok = False

    @overload
    def _read_error(self, e: ssl.SSLError, empty: bytes) -> bytes: ...
    @overload
    def _read_error(self, e: ssl.SSLError, empty: int) -> int: ...

    def _read_error(self, e: ssl.SSLError, empty: bytes | int) -> bytes | int:
        """An SSLError from a read: end of stream (returned as ``empty``)
        or a latched error."""
        if isinstance(e, _ZeroReturn):
            self._eof = "close_notify"
        elif isinstance(e, _EOFError) or (isinstance(e, _SyscallError) and self._ineof):
            self._eof = "truncated"
        else:
            self._rerr = e
            self._rok = False
            raise e
        self._rok = False
        return empty

    def _fill(self) -> None:
        """Read ciphertext from the Conn into the incoming BIO, or, if
        another goroutine is doing so, wait for it to finish (and let the
        caller retry with what it brought)."""
        rl = self._recvlock
        count = self._nrecv
        if rl.held:
            rl.wait("tls read")
        else:
            rl.held = True
        try:
            if count != self._nrecv:
                return
            if self._ineof:
                # Asked again after EOF: the caller retries its OpenSSL call,
                # which reports the EOF; a second time would be a loop.
                self._ineof += 1
                if self._ineof > 2:
                    raise _EOFError(errno.ECONNRESET, "EOF occurred in violation of protocol")
                return
            data = self.conn.read(READ_SIZE)
            self._nrecv = count + 1
            if data:
                self._in.write(data)
            else:
                self._ineof = 1
                self._in.write_eof()
        finally:
            rl.release()

    # -- writes ----------------------------------------------------------------

    def write(self, data: ReadableBuffer) -> int:
        """Encrypt and send all of ``data``; returns its length."""
        if type(data) is not bytes:
            data = memoryview(data).cast("B")
        wl = self._wlock
        if not self._wok or wl.held or len(data) > WRITE_CHUNK:
            return self._write_slow((data,))
        wl.held = True
        try:
            try:
                self._obj.write(data)
            except _WantRead:
                self._write_retry(data)
            except _SSLError as e:
                self._latch_werr(e)
                raise
            # _flush's uncontended case, spelled out: the hot path of every write.
            sl = self._slock
            if sl.held or self._werr is not None:
                self._flush(True)
                return len(data)
            sl.held = True
            try:
                out = self._out
                write = self.conn.write
                while out.pending:
                    write(out.read())
            except BaseException as e:
                self._latch_werr(e)
                raise
            finally:
                if sl.waiters:
                    sl.release()
                else:
                    sl.held = False
            return len(data)
        finally:
            if wl.waiters:
                wl.release()
            else:
                wl.held = False

    def writev(self, buffers: Iterable[ReadableBuffer]) -> int:
        """Send every buffer, in order, as one write; returns the total."""
        return self._write_slow(buffers)

    def _write_slow(self, buffers: Iterable[ReadableBuffer]) -> int:
        if self._closed:
            self._closed_error("write")
        if self._hs != _HS_DONE:
            self.handshake()
        wl = self._wlock
        wl.acquire("tls write")
        try:
            self._check_writable()
            obj = self._obj
            total = 0
            pending = 0
            for b in buffers:
                view = b if type(b) is bytes else memoryview(b).cast("B")
                size = len(view)
                total += size
                for i in range(0, size, WRITE_CHUNK):
                    piece = view[i:i + WRITE_CHUNK] if size > WRITE_CHUNK else view
                    try:
                        obj.write(piece)
                    except _WantRead:
                        self._write_retry(piece)
                    except _SSLError as e:
                        self._latch_werr(e)
                        raise
                    pending += len(piece)
                    if pending >= WRITE_CHUNK:
                        self._flush(True)
                        pending = 0
            self._flush(True)
            return total
        finally:
            wl.release()

    def _write_retry(self, data: ReadableBuffer) -> None:
        """SSL_write wants input (a renegotiation is under way): send what
        it produced, wait for input, and retry with the same data, as
        OpenSSL requires."""
        obj = self._obj
        while True:
            self._flush(True)
            self._fill()
            try:
                obj.write(data)
                return
            except _WantRead:
                continue
            except _SSLError as e:
                self._latch_werr(e)
                raise

    def _check_writable(self) -> None:
        if self._closed:
            self._closed_error("write")
        if self._werr is not None:
            raise self._werr.with_traceback(None)
        if self._notified:
            raise BrokenPipeError(errno.EPIPE, "tls: protocol is shut down (close_write)")

    def _latch_werr(self, e: BaseException) -> None:
        if self._werr is None:
            self._werr = e
        self._wok = False

    def _flush(self, wait: bool) -> None:
        """Send everything in the outgoing BIO.  If another goroutine is
        sending, a writer (``wait``) waits for it to finish, which sends our
        bytes too; a reader returns at once and leaves them to it."""
        sl = self._slock
        if sl.held:
            if not wait:
                return
            sl.wait("tls write")
        else:
            sl.held = True
        try:
            if self._werr is not None:
                raise self._werr.with_traceback(None)
            out = self._out
            write = self.conn.write
            while out.pending:
                try:
                    write(out.read())
                except BaseException as e:
                    # Part of a record may have gone out: the stream is
                    # corrupt from here on, for every writer (Go does the same).
                    self._latch_werr(e)
                    raise
        finally:
            sl.release()

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """Send close_notify if it can go at once (see CLOSE_NOTIFY_TIMEOUT),
        then close the Conn, waking blocked operations with ClosedError.
        Idempotent."""
        if not self._closed:
            self._closed = True
            self._rok = self._wok = False
            if (self._hs == _HS_DONE and not self._notified and self._werr is None
                    and not self._slock.held and not self._wlock.held):
                # Go skips close_notify while a write is in flight too: a
                # close then usually means "break that write".
                self._notified = True
                try:
                    self.conn.set_write_deadline(time.monotonic() + CLOSE_NOTIFY_TIMEOUT)
                    try:
                        self._obj.shutdown()
                    except _SSLError:
                        pass    # WantRead: the peer's close_notify has not come
                    self._flush(False)
                except OSError:
                    pass
        self.conn.close()

    def close_write(self) -> None:
        """Send close_notify and shut down the writing side; reads go on
        (Go: CloseWrite).  Handshakes first if needed."""
        if self._closed:
            self._closed_error("close")
        if self._hs != _HS_DONE:
            self.handshake()
        wl = self._wlock
        wl.acquire("tls write")
        try:
            if self._notified:
                return
            self._check_writable()
            self._decrypt_ahead()
            self._notified = True
            self._wok = False
            try:
                self._obj.shutdown()
            except _WantRead:
                pass             # sent; the peer's close_notify has not come
            self._flush(True)
            self.conn.close_write()
        finally:
            wl.release()

    def close_read(self) -> None:
        """Later reads return b"" (the Conn's reading side is shut too)."""
        self._rshut = True
        self._rok = False
        self.conn.close_read()

    def _decrypt_ahead(self) -> None:
        """Decrypt the ciphertext already received into ``_stash``: the
        second SSL_shutdown call of ``ssl`` (it looks for the peer's
        close_notify) fails on application data, and would lose it."""
        obj = self._obj
        while self._in.pending or obj.pending():
            try:
                data = obj.read(65536)
            except _WantRead:
                break
            except _SSLError as e:
                try:
                    self._read_error(e, b"")
                except _SSLError:
                    pass          # latched in _rerr: the next read raises it
                break
            if not data:
                self._at_close_notify()
                break
            if self._stash is None:
                self._stash = deque()
            self._stash.append(data)
        if self._stash:
            self._rok = False

    def _closed_error(self, op: str) -> NoReturn:
        """Raise ClosedError (Go: net.ErrClosed), with the Conn's Go-style
        message naming the operation and the addresses where it has one."""
        error = getattr(self.conn, "_error", None)
        if error is not None:
            raise error(op, ClosedError()) from None
        raise ClosedError()

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state, addresses, deadlines -------------------------------------------

    def connection_state(self) -> ConnectionState:
        """A ConnectionState: version, cipher, alpn_protocol, server_name,
        peer_certificate (DER bytes or None), session_reused,
        handshake_complete, eof (None, "close_notify", "truncated")."""
        s = self._ssl
        done = self._hs == _HS_DONE
        cipher = s.cipher() if done else None
        if s.server_side:
            name = getattr(s, "_netpoll_server_name", None)
        else:
            name = self._server_name
        cert = None
        if done:
            try:
                cert = s.getpeercert(binary_form=True)
            except ValueError:
                cert = None
        return ConnectionState(
            handshake_complete=done,
            version=s.version() if done else None,
            cipher=cipher[0] if cipher else None,
            alpn_protocol=s.selected_alpn_protocol() if done else None,
            server_name=name,
            peer_certificate=cert,
            session_reused=s.session_reused if done else None,
            eof=self._eof,
        )

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The ``ssl.SSLObject`` (for what ConnectionState does not carry:
        ``get_channel_binding``, ``shared_ciphers``, ``session``...)."""
        return self._ssl

    @property
    def local_addr(self) -> Addr:
        return self.conn.local_addr

    @property
    def remote_addr(self) -> Addr | None:
        return self.conn.remote_addr

    def fileno(self) -> int:
        return self.conn.fileno()

    def set_deadline(self, t: float | None) -> None:
        """Read and write deadline (a time.monotonic() value, None for
        none); it bounds the handshake too."""
        self.conn.set_deadline(t)

    def set_read_deadline(self, t: float | None) -> None:
        self.conn.set_read_deadline(t)

    def set_write_deadline(self, t: float | None) -> None:
        self.conn.set_write_deadline(t)

    def __repr__(self) -> str:
        side = "server" if self._ssl.server_side else "client"
        state = "handshaken" if self._hs == _HS_DONE else "no handshake yet"
        return f"<tls.Conn {side} {state} over {self.conn!r}>"


# -- constructors -----------------------------------------------------------------

def server(conn: net.Conn, context: ssl.SSLContext) -> Conn:
    """The server side of TLS over ``conn`` (no handshake yet: it runs on
    the first read/write or ``handshake()``)."""
    _record_sni(context)
    return Conn(conn, context, True)


def client(conn: net.Conn, context: ssl.SSLContext, server_name: str | None = None) -> Conn:
    """The client side of TLS over ``conn``; ``server_name`` is sent in SNI
    and checked against the certificate when ``context.check_hostname``."""
    return Conn(conn, context, False, server_name)


def _record_sni(context: ssl.SSLContext) -> None:
    """Wrap ``context.sni_callback`` (once) so the server learns the name
    the client sent; the application's own callback still runs."""
    user = context.sni_callback
    if user is not None and getattr(user, "_netpoll_records_sni", False):
        return

    # (typeshed's sni_callback type; server_name is None without SNI)
    def record_sni(ssl_object: ssl.SSLObject, server_name: str,
                   ssl_context: ssl.SSLContext) -> int | None:
        try:
            ssl_object._netpoll_server_name = server_name   # type: ignore[attr-defined]
        except AttributeError:
            pass
        if user is not None:
            return user(ssl_object, server_name, ssl_context)
        return None
    record_sni._netpoll_records_sni = True      # type: ignore[attr-defined]
    context.sni_callback = record_sni


class Listener:
    """A listener whose ``accept`` returns a ``tls.Conn`` that has not yet
    handshaken (Go: tls.listener): one slow or hostile client costs only the
    goroutine that serves it, never the accept loop."""

    __slots__ = ("listener", "context")

    listener: net.Listener
    context: ssl.SSLContext

    def __init__(self, listener: net.Listener, context: ssl.SSLContext) -> None:
        self.listener = listener
        self.context = context

    def accept(self) -> Conn:
        conn = self.listener.accept()
        try:
            return server(conn, self.context)
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        self.listener.close()

    @property
    def addr(self) -> Addr:
        return self.listener.addr

    def set_deadline(self, t: float | None) -> None:
        self.listener.set_deadline(t)

    def fileno(self) -> int:
        return self.listener.fileno()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tls.Listener over {self.listener!r}>"


def listen(network: str, address: object, context: ssl.SSLContext,
           **listen_kwargs: Any) -> Listener:
    """A TLS Listener on ``address``; ``listen_kwargs`` go to net.listen."""
    if not isinstance(context, ssl.SSLContext):
        raise TypeError(f"context must be an ssl.SSLContext, not {type(context).__name__}")
    return Listener(net.listen(network, address, **listen_kwargs), context)


def dial(network: str, address: object, context: ssl.SSLContext | None = None, *,
         server_name: str | None = None, timeout: float | None = None,
         ctx: Context | None = None) -> Conn:
    """Connect and handshake (Go: tls.DialWithDialer, Dialer.DialContext).
    ``context`` None means ``ssl.create_default_context()``; ``server_name``
    defaults to the host part of ``address``; ``timeout`` (seconds) covers
    the connection and the handshake.  A ``ctx`` (netpoll.context) done
    meanwhile closes the connection and raises an instance of
    ``ctx.err()``'s class; its deadline bounds the handshake too."""
    if context is None:
        context = ssl.create_default_context()
    if server_name is None:
        server_name = _host_of(network, address)
    # The dial's deadline again (net.dial computes it but does not return
    # it): the handshake after the connect needs the same bound.  Shares
    # net/dial.py's lines; the two error prefixes ("tls dial" / "dial")
    # differ, and a helper shared by both would have to live in net/dial.py.
    deadline = None if timeout is None else time.monotonic() + timeout
    if ctx is not None:
        if (err := ctx.err()) is not None:
            raise interrupted(f"tls dial {network} {address}", err)
        d = ctx.deadline()
        if d is not None and (deadline is None or d < deadline):
            deadline = d
    conn = net.dial(network, address, timeout=timeout, ctx=ctx)
    stop = None
    try:
        tc = Conn(conn, context, False, server_name)
        if deadline is not None:
            conn.set_deadline(deadline)
        if ctx is not None:
            from . import context as _context
            # Go's handshakeContext: a context done mid-handshake closes
            # the connection, which wakes the handshake.
            stop = _context.after_func(ctx, conn.close)
        tc.handshake()
        if stop is not None and not stop():
            raise ClosedError()          # the context fired as we finished
        if deadline is not None:
            conn.set_deadline(None)
    except BaseException as e:
        conn.close()
        if ctx is not None and (err := ctx.err()) is not None and isinstance(e, OSError):
            raise interrupted(f"tls dial {network} {address}", err) from None
        raise
    return tc


def _host_of(network: str, address: Any) -> str | None:    # Any: as dial takes it
    if network.startswith("unix"):
        return None
    if isinstance(address, tuple):
        return str(address[0]) or None
    host, _ = net.split_host_port(address)
    return host or None
