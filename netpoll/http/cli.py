"""``netpoll serve MODULE:APP``: serve a WSGI application from the command line.

One process by default.  With ``--workers N`` the process forks N workers,
each with its own runtime and its own listener on the same port
(SO_REUSEPORT), and only supervises them: a worker that dies is started
again (at most once a second), SIGTERM and SIGINT are passed on.  In a
worker (or the single process), the first SIGTERM or SIGINT shuts the
server down gracefully (``Server.shutdown``: no new connections, idle ones
closed, requests in flight finish, within ``--graceful-timeout``); a second
SIGINT (or SIGTERM) closes everything at once.

``MODULE`` is imported with the current directory first on ``sys.path``,
as gunicorn does; ``APP`` may be dotted (``pkg.web:create().wsgi`` is not
supported: name an object, not a call).  ``--patch`` runs
``netpoll.patch()`` before the import, so the libraries the application
imports (requests, redis, database drivers) park goroutines instead of
blocking the process.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import ssl
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from ..net import Listener, TCPConn, UnixConn

# Server's keyword arguments, by name (Any: they differ in type).
_Settings = dict[str, Any]

SERVE_HELP = """\
Serve the WSGI application APP of module MODULE (MODULE:APP, default APP
`application`) with netpoll.http: one goroutine per connection, HTTP/1.1
keep-alive and pipelining, Go's timeouts.  SIGTERM or SIGINT shuts down
gracefully; a second SIGINT forces.  Prints `netpoll serve: listening on
HOST:PORT ...` once it accepts."""


def _seconds(text: str) -> float | None:
    value = float(text)
    if value != value or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0: {text!r}")
    return value or None          # 0 = no timeout, as in Go


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``netpoll serve`` (registered in netpoll/cli.py)."""
    from netpoll.cli import keepalive_settings, listen_address, positive_int
    p.description = SERVE_HELP
    p.add_argument("app", metavar="MODULE:APP", help="the WSGI application, e.g. myapp:app")
    p.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT", type=listen_address,
                   help="address to listen on (default: %(default)s)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="worker processes sharing the port with SO_REUSEPORT (default: 1)")
    p.add_argument("--poller", default=None, metavar="NAME",
                   help="poller backend (default: $NETPOLL_POLLER, else the best available)")
    p.add_argument("--certfile", default=None, metavar="FILE",
                   help="serve HTTPS: certificate chain")
    p.add_argument("--keyfile", default=None, metavar="FILE", help="serve HTTPS: private key")
    p.add_argument("--patch", action="store_true",
                   help="run netpoll.patch() before importing the application")
    p.add_argument("--access-log", action="store_true",
                   help="print a line per request to stdout (off by default)")
    p.add_argument("--read-header-timeout", type=_seconds, default=10.0, metavar="S",
                   help="seconds for a request head to arrive (0: none) (default: %(default)s)")
    p.add_argument("--read-timeout", type=_seconds, default=None, metavar="S",
                   help="seconds for a whole request, head and body (default: none)")
    p.add_argument("--write-timeout", type=_seconds, default=None, metavar="S",
                   help="seconds to answer, from the end of the request head (default: none)")
    p.add_argument("--idle-timeout", type=_seconds, default=60.0, metavar="S",
                   help="seconds a keep-alive connection may wait for its next request "
                        "(0: none) (default: %(default)s)")
    p.add_argument("--max-body-bytes", type=positive_int, default=None, metavar="N",
                   help="largest request body accepted; larger gets 413 (default: no limit)")
    p.add_argument("--keepalive", type=keepalive_settings, default=None, metavar="IDLE,INTVL,COUNT",
                   help="TCP keep-alive of each connection: probe after IDLE idle seconds, "
                        "every INTVL seconds; drop it after COUNT unanswered probes, so a "
                        "client that vanished mid-request is dropped too (default: Go's "
                        "15,15,9)")
    p.add_argument("--graceful-timeout", type=_seconds, default=30.0, metavar="S",
                   help="seconds requests in flight get at shutdown (default: %(default)s)")


def load_app(spec: str) -> WSGIApplication:
    """``"module:attr"`` -> the object, imported with the cwd on sys.path."""
    module, _, attr = spec.partition(":")
    if not module:
        raise ValueError(f"no module in {spec!r}: expected MODULE:APP")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    obj = importlib.import_module(module)
    for name in (attr or "application").split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise ValueError(f"module {module!r} has no attribute {attr or 'application'!r}") \
                from None
    if not callable(obj):
        raise ValueError(f"{spec} is not callable: {obj!r}")
    return obj


def access_logger(out: TextIO = sys.stdout
                  ) -> Callable[[WSGIEnvironment, str | None, bool], None]:
    """A line per request, in the spirit of the common log format."""
    def log(env: WSGIEnvironment, status: str | None, sent: bool) -> None:
        now = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        query = env.get("QUERY_STRING")
        path = env.get("PATH_INFO", "") + ("?" + query if query else "")
        out.write(f'{env.get("REMOTE_ADDR", "-")} - - [{now}] "{env.get("REQUEST_METHOD")} '
                  f'{path} {env.get("SERVER_PROTOCOL")}" {(status or "-").split(" ")[0]}\n')
        out.flush()
    return log


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The ``serve`` subcommand; returns the exit code."""
    if args.patch:
        try:
            from netpoll import patch
        except ImportError:
            parser.exit(2, "netpoll serve: --patch needs netpoll.patch, which this "
                           "netpoll does not have\n")
        patch()
    try:
        import httptools  # noqa: F401
    except ImportError:
        parser.exit(2, "netpoll serve: needs httptools: pip install httptools\n")
    if bool(args.certfile) != bool(args.keyfile):
        parser.exit(2, "netpoll serve: --certfile and --keyfile go together\n")
    try:
        app = load_app(args.app)
    except ValueError as exc:
        parser.exit(2, f"netpoll serve: {exc}\n")
    except Exception:
        traceback.print_exc()
        parser.exit(1, f"netpoll serve: could not import {args.app}\n")
    tls_context: ssl.SSLContext | None = None
    if args.certfile:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.certfile, args.keyfile)
    settings: _Settings = dict(read_header_timeout=args.read_header_timeout,
                    read_timeout=args.read_timeout, write_timeout=args.write_timeout,
                    idle_timeout=args.idle_timeout, max_body_bytes=args.max_body_bytes,
                    tls_context=tls_context)
    try:
        if args.workers <= 1:
            return _run_one(app, args, settings)
        return _run_workers(app, args, settings)
    except ValueError as exc:            # bad address or poller name
        parser.exit(2, f"netpoll serve: {exc}\n")
    except OSError as exc:               # address in use, permission, ...
        parser.exit(1, f"netpoll serve: {exc}\n")


def _serve(app: WSGIApplication, args: argparse.Namespace, settings: _Settings,
           address: str, reuse_port: bool, multiprocess: bool,
           announce: Callable[[Any], object]) -> None:
    """A worker's main goroutine: serve until signalled, then shut down."""
    import netpoll
    from netpoll import net
    from netpoll.http import Server

    listener = net.listen("tcp", address, reuse_port=reuse_port)
    ln: Listener | _KeepAliveListener = listener
    if getattr(args, "keepalive", None) is not None:
        ln = _KeepAliveListener(listener, args.keepalive)
    srv = Server(app, **settings)
    srv.multiprocess = multiprocess
    if args.access_log:
        srv.access_log = access_logger()
    events = netpoll.Chan(8)          # signal numbers, then "done"

    def on_signal(signum: int, frame: FrameType | None) -> None:
        events.try_send(signum)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    netpoll.go(srv.serve, ln)
    announce(ln)
    events.recv()

    def graceful() -> None:
        try:
            srv.shutdown(timeout=args.graceful_timeout)
        except TimeoutError as exc:
            print(f"netpoll serve: {exc}; closing them", file=sys.stderr, flush=True)
            srv.close()
        events.try_send("done")
    netpoll.go(graceful)
    if events.recv() != "done":       # a second signal: force
        srv.close()
    # run() returning stops what is left (GoroutineExit at their park points)


class _KeepAliveListener:
    """``--keepalive``: a listener whose connections get that keep-alive
    (TCPConn.set_keepalive_config) before they are served."""

    def __init__(self, listener: Listener, keepalive: tuple[float, float, int]) -> None:
        self.listener = listener
        self.keepalive = keepalive

    def accept(self) -> TCPConn | UnixConn:
        conn = self.listener.accept()
        try:
            conn.set_keepalive_config(*self.keepalive)   # type: ignore[union-attr]  # tcp
        except OSError:
            pass              # already reset: its first read says so
        return conn

    def close(self) -> None:
        self.listener.close()

    @property
    def addr(self) -> Any:          # the listener's: a TCPAddr
        return self.listener.addr


def _run_one(app: WSGIApplication, args: argparse.Namespace, settings: _Settings) -> int:
    import netpoll

    def announce(ln: Any) -> None:
        print(f"netpoll serve: listening on {ln.addr} ({args.app}, "
              f"poller {netpoll.stats()['poller']}, pid {os.getpid()})", flush=True)
    netpoll.run(_serve, app, args, settings, args.listen, False, False, announce,
                poller=args.poller)
    return 0


def _run_workers(app: WSGIApplication, args: argparse.Namespace, settings: _Settings) -> int:
    import netpoll
    from netpoll.echo import reserve_address
    from netpoll.poller import resolve

    poller = resolve(args.poller)            # a bad name fails here, not in N workers
    placeholder, address = reserve_address(args.listen)
    # The fork / ready-pipe / waitpid supervision below has the shape of
    # netpoll.echo._run_workers but not its policy: serve restarts a worker
    # that dies and forwards signals to the live set, echo stops.  Kept
    # apart on purpose; change the shared steps (ready pipe, flushes before
    # fork, os._exit) in both.
    ready_r, ready_w = os.pipe()

    def spawn(first: bool) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            return pid
        code = 1                               # the worker
        try:
            if first:
                os.close(ready_r)
            placeholder.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            announce = (lambda ln: os.write(ready_w, b".")) if first else (lambda ln: None)
            netpoll.run(_serve, app, args, settings, address, True, True, announce,
                        poller=poller)
            code = 0
        except (OSError, ValueError) as exc:
            print(f"netpoll serve: worker {os.getpid()}: {exc}", file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    started: dict[int, float] = {}             # pid -> start time
    stopping: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        for pid in list(started):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for _ in range(args.workers):
        started[spawn(True)] = time.monotonic()
    os.close(ready_w)

    ready = b""
    while len(ready) < args.workers and (chunk := os.read(ready_r, args.workers)):
        ready += chunk
    os.close(ready_r)
    if len(ready) < args.workers:            # a worker failed to start: stop the others
        forward(signal.SIGTERM, None)
    else:
        print(f"netpoll serve: listening on {address} ({args.app}, poller {poller}, "
              f"{args.workers} workers, pids {' '.join(map(str, started))})", flush=True)
    code = 0 if len(ready) == args.workers else 1
    while started:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid not in started:
            continue
        began = started.pop(pid)
        if stopping or code:
            if os.waitstatus_to_exitcode(status) != 0:
                code = 1
            continue
        print(f"netpoll serve: worker {pid} exited "
              f"(status {os.waitstatus_to_exitcode(status)}); starting another",
              file=sys.stderr, flush=True)
        if time.monotonic() - began < 1.0:
            time.sleep(1.0)                    # one that dies at once: not in a hot loop
        if not stopping:
            started[spawn(False)] = time.monotonic()
    placeholder.close()
    return code
