"""``netpoll echo``: the echo server used by the demo and the benchmarks.

One goroutine per connection, echoing until EOF.  On SIGINT or SIGTERM the
main goroutine closes the listener and returns; ``run()`` then stops every
connection's goroutine (their ``with`` blocks close the connections) and
the process exits 0.  ``--keepalive IDLE,INTERVAL,COUNT`` sets each
connection's TCP keep-alive, so that a client that vanishes without a word
(no FIN, no RST) is dropped within about IDLE + INTERVAL * COUNT seconds.

With ``workers > 1`` the process forks that many workers, each with its own
runtime and its own listener on the same port (SO_REUSEPORT: the kernel
spreads incoming connections over them).  The parent only waits: it
forwards SIGINT/SIGTERM to the workers and reaps them.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import TextIO

import netpoll
from netpoll import net
from netpoll.net import Conn, Listener, TCPConn
from netpoll.net.addr import split_address
from netpoll.poller import resolve
from netpoll.server import serve


def handle(conn: Conn) -> None:
    """Echo until EOF.  Kept tight: this is the benchmarks' hot loop."""
    with conn:
        try:
            # 256 KiB, as uvloop's read buffer: a bulk stream makes a third
            # of the system calls per MB that 64 KiB reads make (strace, bench
            # bulk C=8: 31 -> 9); small messages still get small reads, since
            # a read asks for 4 KiB first and grows only while reads fill.
            while data := conn.read(262144):
                conn.write(data)
                # Speed trick: drop the echoed bytes before the next read.
                # Otherwise every connection parked in read keeps its last
                # chunk (up to 256 KiB) alive, and glibc's heap grows and
                # trims under them: ~7-13 page faults and a few brk calls per
                # MB echoed in bench bulk C=8, none with this line.
                del data
        except OSError:
            pass          # reset by the peer: nothing to report


Keepalive = tuple[float, float, int]


def _keepalive_handler(keepalive: Keepalive) -> Callable[[Conn], None]:
    """``handle``, after setting each connection's keep-alive (idle,
    interval, count): a client that vanishes silently is dropped after
    about idle + interval * count seconds."""
    idle, interval, count = keepalive

    def handle_with_keepalive(conn: Conn) -> None:
        try:
            if isinstance(conn, TCPConn):
                conn.set_keepalive_config(idle, interval, count)
        except OSError:
            conn.close()
            return
        handle(conn)
    return handle_with_keepalive


def _serve(address: str, reuse_port: bool, announce: Callable[[Listener], object],
           keepalive: Keepalive | None = None) -> None:
    ln = net.listen("tcp", address, reuse_port=reuse_port)
    stop = netpoll.Chan(1)            # Go: signal.Notify(stop, SIGINT, SIGTERM)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.try_send(signum)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    announce(ln)
    netpoll.go(serve, ln, handle if keepalive is None else _keepalive_handler(keepalive))
    stop.recv()
    signal.signal(signal.SIGINT, signal.default_int_handler)   # a second ^C interrupts
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ln.close()
    # run() returning stops every connection's goroutine: their `with` closes them.


def run(address: str, poller: str | None = None, workers: int = 1,
        out: TextIO = sys.stdout, keepalive: Keepalive | None = None) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code.
    ``keepalive``: (idle, interval, count) for every connection, else Go's
    default keep-alive (15 s, 15 s, 9)."""
    if workers <= 1:
        def announce(ln: Listener) -> None:
            print(f"netpoll echo: listening on {ln.addr} "
                  f"(poller {netpoll.stats()['poller']}, pid {os.getpid()})",
                  file=out, flush=True)
        netpoll.run(_serve, address, False, announce, keepalive, poller=poller)
        return 0
    return _run_workers(address, poller, workers, out, keepalive)


def _run_workers(address: str, poller: str | None, workers: int, out: TextIO,
                 keepalive: Keepalive | None = None) -> int:
    poller = resolve(poller)              # a bad name fails here, not in N workers
    placeholder, address = reserve_address(address)
    ready_r, ready_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:                      # a worker
            code = 1
            try:
                os.close(ready_r)
                placeholder.close()
                netpoll.run(_serve, address, True,
                            lambda ln: os.write(ready_w, b"."), keepalive, poller=poller)
                code = 0
            except (OSError, ValueError) as exc:
                print(f"netpoll echo: worker {os.getpid()}: {exc}", file=sys.stderr)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)
    os.close(ready_w)
    alive = set(pids)

    def forward(signum: int, frame: FrameType | None) -> None:
        for pid in alive:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)

    ready = b""
    while len(ready) < workers and (chunk := os.read(ready_r, workers)):
        ready += chunk
    os.close(ready_r)
    if len(ready) == workers:
        print(f"netpoll echo: listening on {address} (poller {poller}, "
              f"{workers} workers, pids {' '.join(map(str, pids))})", file=out, flush=True)
    else:                                 # a worker failed to start: stop the others
        forward(signal.SIGTERM, None)
    code = 0 if len(ready) == workers else 1
    while alive:
        pid, status = os.waitpid(-1, 0)
        if pid in alive:
            alive.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0:
                code = 1
    placeholder.close()
    return code


def reserve_address(address: str) -> tuple[socket.socket, str]:
    """For pre-forked workers that all listen on ``address`` with
    SO_REUSEPORT (``netpoll echo`` and ``netpoll serve --workers``): the
    address is checked here, once, by binding a placeholder socket (bound,
    never listening, so it gets no connections): an address in use or not
    ours fails with the message the single-process server prints, instead
    of once per worker.  Returns the placeholder (close it when the workers
    are done) and ``address`` with port 0 fixed to the one port every
    worker then listens on."""
    placeholder = _placeholder(address)
    port = placeholder.getsockname()[1]
    host, _ = split_address(address, "tcp")
    return placeholder, (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def _placeholder(address: str) -> socket.socket:
    """A socket bound (not listening) to ``address`` with SO_REUSEPORT;
    OSError with the message of ``net.listen`` when the address cannot be used."""
    from netpoll.net.errors import op_error

    host, port = split_address(address, "tcp")
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                   0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        err = OSError(f"listen tcp {address}: lookup {host}: no such host")
        err.errno = exc.errno
        raise err from None
    family, _, _, _, sockaddr = infos[0]
    if not host:                          # ":port": every IPv4 interface, as before
        family, sockaddr = socket.AF_INET, ("0.0.0.0", port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise op_error("listen", "tcp", None, address, exc, syscall="bind") from None
    return sock
