"""The cooperative ``socket.socket`` that ``netpoll.patch()`` installs
(gevent: ``_socket3.py``; Go: every library's sockets are ``net``'s).

A patched socket is an ordinary ``socket.socket`` subclass whose
descriptor is always non-blocking at the OS level; the timeout the user
sets (``settimeout``, ``setblocking``, the default timeout) lives in
``_np_timeout`` and is applied here:

* In a thread whose netpoll runtime is running, the socket parks the
  calling goroutine.  On first use it gets an ``FD`` (netpoll's
  internal/poll layer) over a second ``_socket.socket`` object that shares
  its descriptor (``_Raw``), registered once with the runtime's poller
  (edge-triggered epoll by default) for the rest of its life: the same
  retry loops, PollDesc parking and deadline timers as ``netpoll.net``.
  A timeout is a deadline set at the start of each operation (``now +
  timeout``), so ``sendall`` gets CPython's total timeout; it stays armed
  between operations (the next one moves it later, at no timer-heap cost)
  and is dropped before any wait that is not under it.
* In any other thread (no runtime, e.g. a ``to_thread`` worker or a
  library's own pool) the calls behave like CPython's: try, and on EAGAIN
  wait in an unpatched ``poll()`` for the remaining time.  That thread
  blocks, and nothing else.

Errors keep CPython's shapes: a timeout raises ``socket.timeout``
(``TimeoutError('timed out')``), a socket closed by another goroutine
while one was parked on it raises ``OSError(EBADF)``.

The second object (``_Raw``) exists so that the FD calls the C methods
directly, without this class's overrides, and so that no reference cycle
keeps an unclosed socket alive: it is dropped with its socket, and
``__del__`` detaches it first, so the descriptor is closed exactly once.
"""

from __future__ import annotations

import errno
import math
import select as _select_mod
import socket as _stdsocket
import time
from _socket import socket as _ss
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

from ..errors import ClosedError, DeadlineExceededError
from ..internal.fd import FD
from ..internal.fdmutex import DRAINED, RLOCK, WLOCK
from ..poller import MODE_READ, MODE_WRITE
from ..runtime.local import _local

# Originals, taken before anything is patched (patch() imports this module
# first).
_StdSocket = _stdsocket.socket
_orig_poll = _select_mod.poll
_orig_getaddrinfo = _stdsocket.getaddrinfo
_POLLIN = _select_mod.POLLIN
_POLLOUT = _select_mod.POLLOUT
_timeout = _stdsocket.timeout
_POLL_MAX_MS = 2**31 - 1
_getdefaulttimeout = _stdsocket.getdefaulttimeout
_inet_pton = _stdsocket.inet_pton
_monotonic = time.monotonic
_AF_INET = _stdsocket.AF_INET
_AF_INET6 = _stdsocket.AF_INET6
_NOT_DRAINED = ~DRAINED
# A call with MSG_DONTWAIT asks not to wait: it goes straight to the kernel.
_DONTWAIT = getattr(_stdsocket, "MSG_DONTWAIT", 0)

# Socket addresses, and what the socket methods return: Any, as in typeshed.
_Address = Any
_T = TypeVar("_T")


class _Raw(_ss):
    """The FD's view of a patched socket's descriptor: the C methods, no
    overrides.  ``keep`` makes ``close`` let go of the descriptor instead
    of closing it (``detach``)."""

    __slots__ = ("keep",)

    keep: bool

    def close(self) -> None:
        if self.keep:
            _ss.detach(self)
        else:
            _ss.close(self)


# The Runtime (Any: the runtime is not annotated yet).
def coop_runtime() -> Any:
    """This thread's running runtime, or None (then patched calls behave
    like the originals)."""
    rt = getattr(_local, "rt", None)
    if rt is None or rt.closed:
        return None
    return rt


def timed_out() -> OSError:
    return _timeout("timed out")


def closed_error() -> OSError:
    return OSError(errno.EBADF, "Bad file descriptor")


def block_wait(fileno: int, mode: int, deadline: float | None) -> None:
    """Outside a runtime: wait in an unpatched poll() until ``fileno`` is
    ready for ``mode`` or ``deadline`` passes (socket.timeout)."""
    p = _orig_poll()
    p.register(fileno, _POLLIN if mode == MODE_READ else _POLLOUT)
    if deadline is None:
        p.poll()
        return
    while True:
        left = deadline - _monotonic()
        if left <= 0:
            raise timed_out()
        # poll() takes an int of milliseconds: a far deadline waits in
        # pieces (about 24 days each).
        if p.poll(min(math.ceil(left * 1000), _POLL_MAX_MS)):
            return


def _is_ip(host: str | bytes | None) -> bool:
    """True for a literal address (or anything that is not a name: the
    original call then answers, or raises its own error, at once)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    elif not isinstance(host, str):
        return True
    if not host or host == "<broadcast>":
        return True
    try:
        _inet_pton(_AF_INET, host)
        return True
    except OSError:
        pass
    try:
        _inet_pton(_AF_INET6, host.partition("%")[0])
        return True
    except OSError:
        return False


def fd_read_call(fd: FD, call: Callable[..., _T], *args: Any) -> _T | None:
    """One read-side system call through the FD's loop (read lock,
    prepare, try, park on EAGAIN).  None if the read side is shut."""
    if not fd._read_lock():
        return None
    try:
        # This call may consume data without the FD's bookkeeping: the
        # drained-read shortcut must not trust an older short read.
        fd.state &= _NOT_DRAINED
        result: _T = fd._attempt(MODE_READ, call, *args)
        return result
    finally:
        fd._read_unlock()


def fd_write_call(fd: FD, call: Callable[..., _T], *args: Any) -> _T:
    """One write-side system call through the FD's loop."""
    fd._write_lock()
    try:
        result: _T = fd._attempt(MODE_WRITE, call, *args)
        return result
    finally:
        fd._write_unlock()


def fd_wait(fd: FD, mode: int, deadline: float | None) -> bool:
    """Park until ``fd`` is ready for ``mode`` (for callers that do their
    own system calls: ssl, select).  False if ``deadline`` passed."""
    if mode == MODE_READ:
        if not fd._read_lock():
            return True             # read side shut: a read returns at once
    else:
        fd._write_lock()
    try:
        pd = fd.pd
        if deadline is not None:
            pd.set_deadline(deadline, mode)
        try:
            code: int = pd.wait(mode)
        finally:
            if deadline is not None and not pd.closing:
                pd.set_deadline(None, mode)
    finally:
        if mode == MODE_READ:
            fd._read_unlock()
        else:
            fd._write_unlock()
    if code == 1:
        raise ClosedError()
    return code == 0


class socket(_StdSocket):  # noqa: N801 (it replaces socket.socket)
    """``socket.socket`` that parks the goroutine instead of blocking the
    thread (see the module docstring)."""

    __slots__ = ("_np_timeout", "_np_fd", "_np_armed")

    _np_timeout: float | None
    _np_fd: FD | None
    _np_armed: int

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1,
                 fileno: int | None = None) -> None:
        _StdSocket.__init__(self, family, type, proto, fileno)
        t = _ss.gettimeout(self)
        self._np_timeout = t
        self._np_fd = None
        self._np_armed = 0
        if t != 0.0:
            _ss.settimeout(self, 0.0)

    # -- timeouts ------------------------------------------------------------

    @property
    def timeout(self) -> float | None:
        return self._np_timeout

    def gettimeout(self) -> float | None:
        return self._np_timeout

    def settimeout(self, value: float | None) -> None:
        if value is not None:
            if type(value) is float or type(value) is int:
                if value < 0:
                    raise ValueError("Timeout value out of range")
                if value != value:
                    raise ValueError("Invalid value NaN (not a number)")
                value = float(value)
            else:
                # Unusual types: let CPython validate and convert.
                _ss.settimeout(self, value)
                value = _ss.gettimeout(self)
                _ss.settimeout(self, 0.0)
        # CPython's settimeout sets the descriptor's mode, so it fails on a
        # bad descriptor; ours stays non-blocking, which checks it the same way.
        _ss.setblocking(self, False)
        self._np_timeout = value

    def setblocking(self, flag: bool) -> None:
        _ss.setblocking(self, False)
        self._np_timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._np_timeout != 0.0

    # -- the FD, and the two ways to wait --------------------------------------

    def _np_here(self) -> FD | None:
        """The FD to park on in this thread's running runtime, registered
        on first use; None when the calls must behave like CPython's."""
        rt = getattr(_local, "rt", None)
        if rt is None:
            return None
        fd = self._np_fd
        if fd is not None:
            pd = fd.pd
            if pd is not None and pd.rt is rt:
                return fd
            if pd is None or not pd.rt.closed:
                return None     # closed, or another thread's runtime owns it
            # Its runtime has stopped (a finished run()): that poller is
            # gone, so drop the FD without closing our descriptor.
            self._np_fd = None
            fd.sock.keep = True             # type: ignore[attr-defined]  # a _Raw
            fd.sock.close()
        if rt.closed:
            return None
        sysfd = _ss.fileno(self)
        if sysfd < 0:
            return None
        raw = _Raw(_ss.family.__get__(self), _ss.type.__get__(self),
                   _ss.proto.__get__(self), sysfd)
        raw.keep = False
        try:
            fd = FD(raw)
        except BaseException:
            raw.keep = True
            raw.close()
            raise
        self._np_fd = fd
        self._np_armed = 0
        return fd

    def _np_block(self, mode: int, call: Callable[..., _T], *args: Any) -> _T:
        """CPython's behaviour outside a runtime (or with timeout 0)."""
        t = self._np_timeout
        if t == 0.0:
            return call(self, *args)
        deadline = None if t is None else _monotonic() + t
        while True:
            try:
                return call(self, *args)
            except BlockingIOError:
                pass
            block_wait(_ss.fileno(self), mode, deadline)

    def _np_wait(self, mode: int, deadline: float | None) -> None:
        """Wait until ready for ``mode`` (ssl and select use this); raises
        socket.timeout when ``deadline`` passes."""
        fd = self._np_here()
        if fd is None:
            block_wait(_ss.fileno(self), mode, deadline)
            return
        try:
            ok = self._np_park(fd, mode, deadline)
        except ClosedError:
            raise closed_error() from None
        if not ok:
            raise timed_out()

    def _np_park(self, fd: FD, mode: int, deadline: float | None) -> bool:
        """``fd_wait`` after dropping a deadline an earlier operation left
        armed (it would end this wait); False if ``deadline`` passed."""
        if self._np_armed & mode:
            self._np_armed &= ~mode
            fd.set_deadline(None, mode)
        return fd_wait(fd, mode, deadline)

    def _np_io(self, mode: int, op: Callable[..., _T], *args: Any) -> _T:
        """Run ``op(fd, *args)`` with this socket's timeout as the FD's
        deadline for ``mode``; errors in CPython's shapes."""
        fd: FD = self._np_fd             # type: ignore[assignment]  # set: callers checked _np_here()
        t = self._np_timeout
        if t is not None:
            # The deadline stays armed after the operation: the next one
            # moves it later, which costs no timer-heap operation
            # (PollDesc.set_deadline keeps the armed timer; it re-arms
            # itself when it fires early).  Clearing it per operation
            # doubled the cost of a round trip with a timeout.
            fd.set_deadline(_monotonic() + t, mode)
            self._np_armed |= mode
        elif self._np_armed & mode:
            self._np_armed &= ~mode
            fd.set_deadline(None, mode)
        try:
            return op(fd, *args)
        except DeadlineExceededError:
            raise timed_out() from None
        except ClosedError:
            raise closed_error() from None

    def _np_resolve(self, address: _Address) -> _Address:
        """Resolve a host name in ``address`` without blocking the runtime
        (CPython's C connect would call getaddrinfo on this thread)."""
        if type(address) is tuple and len(address) >= 2 and not _is_ip(address[0]):
            fam = _ss.family.__get__(self)
            if fam in (_AF_INET, _AF_INET6):
                from .resolver import resolve
                infos = resolve(_orig_getaddrinfo, address[0], address[1], fam,
                                _ss.type.__get__(self), _ss.proto.__get__(self))
                if not infos:
                    raise _stdsocket.gaierror(errno.ENOENT, "no address found")
                sockaddr = infos[0][4]
                if fam == _AF_INET6 and len(address) == 4:
                    sockaddr = sockaddr[:2] + tuple(address[2:])
                return sockaddr
        return address

    # -- reads -----------------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._np_timeout == 0.0 or flags & _DONTWAIT:
            return _ss.recv(self, bufsize, flags)
        if self._np_here() is None:
            return self._np_block(MODE_READ, _ss.recv, bufsize, flags)
        if flags:
            data = self._np_io(MODE_READ, _read_call, "recv", bufsize, flags)
            return b"" if data is None else data
        return self._np_io(MODE_READ, FD.read, bufsize)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        if self._np_timeout == 0.0 or flags & _DONTWAIT:
            return _ss.recv_into(self, buffer, nbytes, flags)
        if self._np_here() is None:
            return self._np_block(MODE_READ, _ss.recv_into, buffer, nbytes, flags)
        if flags:
            n = self._np_io(MODE_READ, _read_call, "recv_into", buffer, nbytes, flags)
            return 0 if n is None else n
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        return self._np_io(MODE_READ, FD.read_into, buffer, nbytes)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, _Address]:
        if self._np_timeout == 0.0 or flags & _DONTWAIT:
            return _ss.recvfrom(self, bufsize, flags)
        if self._np_here() is None:
            return self._np_block(MODE_READ, _ss.recvfrom, bufsize, flags)
        r = self._np_io(MODE_READ, _read_call, "recvfrom", bufsize, flags)
        return (b"", None) if r is None else r

    def recvfrom_into(self, buffer: WriteableBuffer, nbytes: int = 0,
                      flags: int = 0) -> tuple[int, _Address]:
        if self._np_timeout == 0.0 or flags & _DONTWAIT:
            return _ss.recvfrom_into(self, buffer, nbytes, flags)
        if self._np_here() is None:
            return self._np_block(MODE_READ, _ss.recvfrom_into, buffer, nbytes, flags)
        r = self._np_io(MODE_READ, _read_call, "recvfrom_into", buffer, nbytes, flags)
        return (0, None) if r is None else r

    if hasattr(_ss, "recvmsg"):
        def recvmsg(self, bufsize: int, ancbufsize: int = 0,
                    flags: int = 0) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
            if self._np_timeout == 0.0 or flags & _DONTWAIT:
                return _ss.recvmsg(self, bufsize, ancbufsize, flags)
            if self._np_here() is None:
                return self._np_block(MODE_READ, _ss.recvmsg, bufsize, ancbufsize, flags)
            r = self._np_io(MODE_READ, _read_call, "recvmsg", bufsize, ancbufsize, flags)
            return (b"", [], 0, None) if r is None else r

        def recvmsg_into(self, buffers: Iterable[WriteableBuffer], ancbufsize: int = 0,
                         flags: int = 0) -> tuple[int, list[tuple[int, int, bytes]], int, Any]:
            buffers = _reusable(buffers)
            if self._np_timeout == 0.0 or flags & _DONTWAIT:
                return _ss.recvmsg_into(self, buffers, ancbufsize, flags)
            if self._np_here() is None:
                return self._np_block(MODE_READ, _ss.recvmsg_into, buffers, ancbufsize, flags)
            r = self._np_io(MODE_READ, _read_call, "recvmsg_into", buffers, ancbufsize, flags)
            return (0, [], 0, None) if r is None else r

    # -- writes ----------------------------------------------------------------

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        if self._np_timeout == 0.0 or flags & _DONTWAIT:
            return _ss.send(self, data, flags)
        if self._np_here() is None:
            return self._np_block(MODE_WRITE, _ss.send, data, flags)
        return self._np_io(MODE_WRITE, _write_call, "send", data, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        t = self._np_timeout
        if t == 0.0:
            return _ss.sendall(self, data, flags)
        if self._np_here() is None:
            # CPython's sendall: one deadline for all of it.
            deadline = None if t is None else _monotonic() + t
            with memoryview(data) as view, view.cast("B") as view:
                total = len(view)
                sent = 0
                while sent < total:
                    try:
                        sent += _ss.send(self, view[sent:], flags)
                    except BlockingIOError:
                        block_wait(_ss.fileno(self), MODE_WRITE, deadline)
            return None
        if flags:
            self._np_io(MODE_WRITE, _sendall_flags, data, flags)
        else:
            self._np_io(MODE_WRITE, FD.write, data)
        return None

    def sendto(self, data: ReadableBuffer, *args: Any) -> int:     # (data, [flags,] address)
        if len(args) == 1:
            flags, addr = 0, args[0]
        elif len(args) == 2:
            flags, addr = args
        else:
            raise TypeError(f"sendto() takes 2 or 3 arguments ({len(args) + 1} given)")
        if self._np_timeout == 0.0 or flags & _DONTWAIT:
            return _ss.sendto(self, data, flags, addr)
        if self._np_here() is None:
            return self._np_block(MODE_WRITE, _ss.sendto, data, flags, addr)
        addr = self._np_resolve(addr)
        return self._np_io(MODE_WRITE, _write_call, "sendto", data, flags, addr)

    if hasattr(_ss, "sendmsg"):
        def sendmsg(self, buffers: Iterable[ReadableBuffer],
                    ancdata: Iterable[tuple[int, int, ReadableBuffer]] = (),
                    flags: int = 0, address: _Address | None = None) -> int:
            buffers, ancdata = _reusable(buffers), _reusable(ancdata)
            args: tuple[Any, ...] = (buffers, ancdata, flags)
            if address is not None:
                args += (address,)
            if self._np_timeout == 0.0 or flags & _DONTWAIT:
                return _ss.sendmsg(self, *args)
            if self._np_here() is None:
                return self._np_block(MODE_WRITE, _ss.sendmsg, *args)
            return self._np_io(MODE_WRITE, _write_call, "sendmsg", *args)

    # -- connections -----------------------------------------------------------

    def connect(self, address: _Address) -> None:
        if self._np_timeout == 0.0 or self._np_here() is None:
            if self._np_timeout == 0.0:
                return _ss.connect(self, address)
            return self._np_connect_blocking(address)
        address = self._np_resolve(address)
        fd: FD = self._np_here()              # type: ignore[assignment]  # not None: checked above
        t = self._np_timeout
        if self._np_armed & MODE_WRITE:          # FD.connect sets its own
            self._np_armed &= ~MODE_WRITE
            fd.set_deadline(None, MODE_WRITE)
        try:
            fd.connect(address, None if t is None else _monotonic() + t)
        except DeadlineExceededError:
            raise timed_out() from None
        except ClosedError:
            raise closed_error() from None

    def _np_connect_blocking(self, address: _Address) -> None:
        t = self._np_timeout
        deadline = None if t is None else _monotonic() + t
        err = _ss.connect_ex(self, address)
        if err in (0, errno.EISCONN):
            return
        if err not in (errno.EINPROGRESS, errno.EALREADY, errno.EINTR, errno.EAGAIN):
            raise OSError(err, _strerror(err))
        while True:
            block_wait(_ss.fileno(self), MODE_WRITE, deadline)
            err = _ss.getsockopt(self, _stdsocket.SOL_SOCKET, _stdsocket.SO_ERROR)
            if err in (errno.EINPROGRESS, errno.EALREADY):
                continue
            if err:
                raise OSError(err, _strerror(err))
            return

    def connect_ex(self, address: _Address) -> int:
        if self._np_timeout == 0.0:
            return _ss.connect_ex(self, address)
        try:
            socket.connect(self, address)     # not self.connect: SSLSocket's calls us
        except _stdsocket.gaierror:
            raise
        except TimeoutError:
            return errno.EAGAIN
        except OSError as e:
            return e.errno or errno.EIO
        return 0

    def accept(self) -> tuple[socket, _Address]:
        if self._np_timeout == 0.0 or self._np_here() is None:
            fileno, addr = self._np_block(MODE_READ, _ss._accept)  # type: ignore[attr-defined]
        else:
            fileno, addr = self._np_io(MODE_READ, FD.accept)
        sock = socket(self.family, self.type, self.proto, fileno=fileno)
        if _getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, addr

    def shutdown(self, how: int) -> None:
        fd = self._np_here() if self._np_timeout != 0.0 else None
        if fd is None:
            return _ss.shutdown(self, how)
        try:
            fd.shutdown(how)
        except ClosedError:
            raise closed_error() from None

    # -- closing ---------------------------------------------------------------

    def _np_release(self, keep: bool) -> bool:
        """Drop the FD: wake goroutines parked on it, wait for operations
        in flight, unregister from the poller; close the descriptor unless
        ``keep``.  True if the FD did it (it then no longer owns the fd)."""
        fd = self._np_fd
        if fd is None:
            return False
        self._np_fd = None
        raw = fd.sock
        if raw is None:
            return False
        pd = fd.pd
        rt = getattr(_local, "rt", None)
        if pd is not None and pd.rt is rt and rt is not None and not rt.closed:
            raw.keep = keep                 # type: ignore[attr-defined]  # a _Raw
            fd.close()
            return True
        # Another thread's runtime, or a stopped one: let go of the shared
        # descriptor without touching that runtime (a stopped poller is
        # gone; a live one drops the number when it is reused).
        raw.keep = True                     # type: ignore[attr-defined]
        _ss.detach(raw)
        return False

    def _real_close(self, _ss: type[_ss] = _ss) -> None:
        if self._np_fd is not None and self._np_release(False):
            _ss.detach(self)     # the FD closed the descriptor
            return
        _ss.close(self)

    def detach(self) -> int:
        self._closed = True
        self._np_release(True)
        return _ss.detach(self)

    def __del__(self) -> None:
        # Collected without close(): CPython closes the descriptor (with a
        # ResourceWarning); the FD's view must not close it a second time.
        fd = getattr(self, "_np_fd", None)
        if fd is not None:
            self._np_fd = None
            raw = fd.sock
            if raw is not None:
                raw.keep = True
                _ss.detach(raw)
            pd = fd.pd
            if pd is not None and pd.rt is getattr(_local, "rt", None) and not pd.rt.closed:  # type: ignore[union-attr]
                try:
                    pd.evict()
                    pd.close()
                except Exception:
                    pass
        _ss.__del__(self)                   # type: ignore[attr-defined]


def _reusable(items: Iterable[_T]) -> Iterable[_T]:
    """An iterable the call may have to consume again after EAGAIN (a
    generator would be empty the second time)."""
    if type(items) in (list, tuple):
        return items
    try:
        return list(items)
    except TypeError:
        return items        # let the system call raise its own TypeError


def _strerror(err: int) -> str:
    import os
    return os.strerror(err)


# The socket method named ``name``, through the FD's loop (its result: Any).
def _read_call(fd: FD, name: str, *args: Any) -> Any:
    return fd_read_call(fd, getattr(fd.sock, name), *args)


def _write_call(fd: FD, name: str, *args: Any) -> int:       # send, sendto, sendmsg
    return fd_write_call(fd, getattr(fd.sock, name), *args)  # type: ignore[no-any-return]


def _sendall_flags(fd: FD, data: ReadableBuffer, flags: int) -> None:
    with memoryview(data) as view, view.cast("B") as view:
        total = len(view)
        sent = 0
        send = fd.sock.send
        while sent < total:
            sent += fd_write_call(fd, send, view[sent:], flags)


# -- module-level functions (socket.py's own use the patched class through
# its globals; these are for completeness) ------------------------------------

def _copy_docs() -> None:
    for name in ("recv", "recv_into", "recvfrom", "recvfrom_into", "send", "sendall",
                 "sendto", "connect", "connect_ex", "accept", "shutdown", "settimeout",
                 "gettimeout", "setblocking", "getblocking", "detach"):
        ours = socket.__dict__.get(name)
        theirs = getattr(_StdSocket, name, None)
        if ours is not None and theirs is not None and not getattr(ours, "__doc__", None):
            try:
                ours.__doc__ = theirs.__doc__
            except AttributeError:
                pass


_copy_docs()

# The lock bit of each direction (for callers that must not queue on it).
RLOCK_WLOCK = (0, RLOCK, WLOCK)
