"""The ``netpoll`` command (also ``python -m netpoll``).

Each subcommand is one ``Subcommand`` entry in ``SUBCOMMANDS``: its name, a
one-line help, a description, a function adding its options to an argparse
parser and a function running it.  A new subcommand lives in its own module
and adds its entry to the table; ``main`` and ``--help`` need no change.
``lazy("package.module:function")`` imports a subcommand's module only when
it runs, so that ``netpoll --help`` stays fast::

    Subcommand("serve", "serve a WSGI application", SERVE_HELP,
               lazy("netpoll.http.cli:add_arguments"), lazy("netpoll.http.cli:run")),
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import netpoll

DESCRIPTION = """\
netpoll: Go's network model for Python (goroutines on greenlets, woken by an
edge-triggered epoll poller, or poll/select/kqueue)."""

EPILOG = "Run `netpoll SUBCOMMAND --help` for the options of each."


@dataclass(frozen=True)
class Subcommand:
    """One ``netpoll NAME`` subcommand."""

    name: str
    help: str                   # one line, in `netpoll --help`
    description: str            # `netpoll NAME --help`
    add_arguments: Callable[[argparse.ArgumentParser], None]
    # (parsed arguments, the subcommand's parser for usage errors) -> exit code
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]


def lazy(target: str) -> Callable[..., Any]:
    """``"package.module:function"``, imported when first called."""
    module, _, name = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__qualname__ = call.__name__ = name
    return call


# -- argument types ------------------------------------------------------------

def listen_address(text: str) -> str:
    """An argparse type for ``--listen``: ``HOST:PORT`` (Go style), checked
    here so that a mistake is a usage error saying how to write it."""
    return _check_address(text, listening=True)


def dial_address(text: str) -> str:
    """An argparse type for an address to connect to: ``HOST:PORT``, port > 0."""
    return _check_address(text, listening=False)


def _check_address(text: str, listening: bool) -> str:
    from netpoll.net import split_host_port

    lowest = 0 if listening else 1
    try:
        _, port = split_host_port(text)
        if not (port.isdigit() and port.isascii() and lowest <= int(port) <= 65535):
            raise ValueError(f"address {text}: invalid port {port!r} ({lowest}-65535"
                             + ("; 0 picks a free one)" if listening else ")"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}{_address_hint(text, listening)}") from None
    return text


def _address_hint(text: str, listening: bool) -> str:
    """What the user probably meant, for the usual mistakes."""
    free = " (port 0 picks a free one)" if listening else ""
    if text.isdigit():
        if listening:
            return (f"; to listen on port {text} write ':{text}' (every interface) "
                    f"or '127.0.0.1:{text}'")
        return f"; write '127.0.0.1:{text}' (HOST:PORT)"
    if text.startswith("[") and text.endswith("]"):
        return f"; add a port: '{text}:7000'{free}"
    if text.count(":") > 1 and not text.startswith("["):
        host, _, port = text.rpartition(":")
        return f"; an IPv6 address goes in brackets: '[{host}]:{port}'"
    if ":" not in text:
        return f"; add a port: '{text}:7000'{free}"
    return ""


# -- argument types (positive_int, positive_float and keepalive_settings are
# netpoll serve's too) -----------------------------------------------------------

def _idle_list(text: str) -> list[int]:
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}") from None
    if not counts or counts[0] < 0:
        raise argparse.ArgumentTypeError(f"idle counts must be integers >= 0: {text!r}")
    return counts


def positive_int(text: str) -> int:
    """An argparse type: an int > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def keepalive_settings(text: str) -> tuple[float, float, int]:
    """An argparse type: keep-alive IDLE,INTERVAL,COUNT (TCPConn.set_keepalive_config)."""
    try:
        idle, interval, count = text.split(",")
        values = float(idle), float(interval), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not IDLE,INTERVAL,COUNT (e.g. 5,2,3): {text!r}") from None
    if not all(0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"keep-alive settings must be finite and > 0: {text!r}")
    return values


# -- echo ------------------------------------------------------------------------

ECHO_HELP = """\
Echo every byte back until the client closes its side, then close.  Runs
until Ctrl-C (SIGINT) or SIGTERM, then closes every connection and exits 0.
Prints `netpoll echo: listening on HOST:PORT ...` once it accepts."""


def _echo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", type=listen_address, default="127.0.0.1:7000",
                   metavar="HOST:PORT",
                   help="address to listen on, Go style: 127.0.0.1:7000, :7000 (every "
                        "interface), [::1]:7000, localhost:0 (port 0: any free port) "
                        "(default: %(default)s)")
    p.add_argument("--poller", default=None, metavar="NAME",
                   help="poller backend: auto, epoll, kqueue, poll or select "
                        "(default: $NETPOLL_POLLER, else auto = the best available)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="fork N worker processes, each with its own runtime and listener "
                        "on the same port (SO_REUSEPORT: the kernel spreads connections "
                        "over them).  With --workers, another netpoll echo --workers on the "
                        "same port joins in and shares the connections instead of failing "
                        "with 'address already in use' (default: 1)")
    p.add_argument("--keepalive", type=keepalive_settings, default=None, metavar="IDLE,INTVL,COUNT",
                   help="TCP keep-alive of each connection: probe after IDLE idle seconds, "
                        "every INTVL seconds; drop the connection after COUNT unanswered "
                        "probes, e.g. 5,2,3 (default: Go's 15,15,9)")


def _echo_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netpoll import echo

    try:
        code: int = echo.run(args.listen, poller=args.poller, workers=args.workers,
                             keepalive=args.keepalive)
    except ValueError as exc:           # a bad poller name
        parser.exit(2, f"netpoll echo: {exc}\n")
    except OSError as exc:              # address in use, permission, no such host...
        parser.exit(1, f"netpoll echo: {exc}\n")
    return code


# -- demo ------------------------------------------------------------------------

DEMO_HELP = """\
For each poller (select, poll, epoll) and each idle count N, start a fresh
`netpoll echo` server in a child process, open N idle connections plus the
active ones from a client process, and measure the active connections'
round trips per second (64-byte messages, closed loop) and the server's CPU
time per round trip.  A blocking thread-per-connection stdlib server runs
too, for reference.  Prints a table (with each server's memory per idle
connection) and writes a plot.  select cannot watch descriptors >=
FD_SETSIZE (1024): those cells say so.  Takes about a minute with the
defaults on a 2-core machine; Ctrl-C prints the cells measured so far."""


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--idle", type=_idle_list, default=[0, 1000, 5000, 10000],
                   metavar="N,N,...", help="idle connection counts (default: 0,1000,5000,10000)")
    p.add_argument("--active", type=positive_int, default=32, metavar="N",
                   help="active connections doing round trips (default: %(default)s)")
    p.add_argument("--seconds", type=positive_float, default=2.0, metavar="S",
                   help="measured seconds per point (default: %(default)s)")
    p.add_argument("--warmup", type=float, default=0.5, metavar="S",
                   help="unmeasured seconds of round trips before each measurement "
                        "(default: %(default)s)")
    p.add_argument("--out", default="netpoll-demo.png", metavar="FILE",
                   help="where to write the plot (PNG; another extension matplotlib "
                        "knows, such as .svg, works too) (default: %(default)s)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write the raw results as JSON")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="measure a point again, up to N times, when other programs kept "
                        "the machine busy meanwhile (default: %(default)s)")
    p.add_argument("--no-threads", action="store_true",
                   help="skip the thread-per-connection reference server")


def _demo_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netpoll.demo import run_demo

    code: int = run_demo(idle=args.idle, active=args.active, seconds=args.seconds,
                         warmup=args.warmup, retries=args.retries, out=args.out,
                         json_out=args.json, threads=not args.no_threads)
    return code


# -- pollers ---------------------------------------------------------------------

def _pollers_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    for name in netpoll.pollers():
        print(name)
    return 0


def _no_arguments(p: argparse.ArgumentParser) -> None:
    pass


# -- serve (owned by netpoll.http: netpoll/http/cli.py) --------------------------

def _serve_arguments(p: argparse.ArgumentParser) -> None:
    from netpoll.http.cli import add_arguments
    add_arguments(p)


def _serve_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netpoll.http.cli import run
    return run(args, parser)


# -- the table -------------------------------------------------------------------

SUBCOMMANDS: list[Subcommand] = [
    Subcommand("echo", "an echo server, one goroutine per connection (used by the benchmarks)",
               ECHO_HELP, _echo_arguments, _echo_run),
    Subcommand("demo", "select vs poll vs epoll (and a thread per connection) as idle "
                       "connections pile up: table + plot",
               DEMO_HELP, _demo_arguments, _demo_run),
    Subcommand("serve", "serve a WSGI application (MODULE:APP) with netpoll.http",
               "Serve the WSGI application APP of module MODULE with netpoll.http "
               "(see netpoll/http/cli.py).", _serve_arguments, _serve_run),
    Subcommand("pollers", "list the poller backends available on this OS",
               "Print the available poller backends, best (the default) first.",
               _no_arguments, _pollers_run),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netpoll", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"netpoll {netpoll.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", title="subcommands")
    for cmd in SUBCOMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(p)
        p.set_defaults(_subcommand=cmd, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd: Subcommand | None = getattr(args, "_subcommand", None)
    if cmd is None:
        parser.print_help()
        return 2
    return cmd.run(args, args._parser)


if __name__ == "__main__":
    sys.exit(main())
