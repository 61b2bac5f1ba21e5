"""The ``netpoll`` command (also ``python -m netpoll``)."""

import argparse
import sys

import netpoll

DESCRIPTION = """\
netpoll: Go's network model for Python (goroutines on greenlets, woken by an
edge-triggered epoll poller, or poll/select/kqueue).

subcommands:
  echo    an echo server, one goroutine per connection (used by the benchmarks)
  demo    select vs poll vs epoll (and a thread-per-connection server) serving
          the same active clients while idle connections pile up: table + plot
  pollers list the poller backends available on this OS

Run `netpoll SUBCOMMAND --help` for the options of each.
"""

ECHO_HELP = """\
Echo every byte back until the client closes its side, then close.  Runs
until Ctrl-C (SIGINT) or SIGTERM, then closes every connection and exits 0.
Prints `netpoll echo: listening on HOST:PORT ...` once it accepts."""

DEMO_HELP = """\
For each poller (select, poll, epoll) and each idle count N, start a fresh
`netpoll echo` server in a child process, open N idle connections plus the
active ones from a client process, and measure the active connections'
round trips per second (64-byte messages, closed loop) and the server's CPU
time per round trip.  A blocking thread-per-connection stdlib server runs
too, for reference.  Prints a table (with each server's memory per idle
connection) and writes a plot.  select cannot watch descriptors >=
FD_SETSIZE (1024): those cells say so.  Takes about a minute with the
defaults on a 2-core machine."""


def _idle_list(text):
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if not counts or counts[0] < 0:
        raise argparse.ArgumentTypeError(f"idle counts must be integers >= 0: {text!r}")
    return counts


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value
    return parse


def _keepalive(text):
    try:
        idle, interval, count = text.split(",")
        values = float(idle), float(interval), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not IDLE,INTERVAL,COUNT (e.g. 5,2,3): {text!r}")
    if not all(0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"keep-alive settings must be finite and > 0: {text!r}")
    return values


def build_parser():
    parser = argparse.ArgumentParser(
        prog="netpoll", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"netpoll {netpoll.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")

    echo = sub.add_parser("echo", help="run an echo server", description=ECHO_HELP,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    echo.add_argument("--listen", default="127.0.0.1:7000", metavar="HOST:PORT",
                      help="address to listen on, Go style: 127.0.0.1:7000, :7000, "
                           "[::1]:0 (port 0: any free port) (default: %(default)s)")
    echo.add_argument("--poller", default=None, metavar="NAME",
                      help="poller backend: auto, epoll, kqueue, poll or select "
                           "(default: $NETPOLL_POLLER, else auto = the best available)")
    echo.add_argument("--workers", type=_positive(int), default=1, metavar="N",
                      help="fork N worker processes, each with its own runtime and "
                           "listener on the same port (SO_REUSEPORT) (default: 1)")
    echo.add_argument("--keepalive", type=_keepalive, default=None, metavar="IDLE,INTVL,COUNT",
                      help="TCP keep-alive of each connection: probe after IDLE idle "
                           "seconds, every INTVL seconds; drop the connection after COUNT "
                           "unanswered probes, e.g. 5,2,3 (default: Go's 15,15,9)")

    demo = sub.add_parser("demo", help="select vs poll vs epoll as idle connections grow",
                          description=DEMO_HELP,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--idle", type=_idle_list, default=[0, 1000, 5000, 10000],
                      metavar="N,N,...", help="idle connection counts (default: 0,1000,5000,10000)")
    demo.add_argument("--active", type=_positive(int), default=32, metavar="N",
                      help="active connections doing round trips (default: %(default)s)")
    demo.add_argument("--seconds", type=_positive(float), default=2.0, metavar="S",
                      help="measured seconds per point (default: %(default)s)")
    demo.add_argument("--warmup", type=float, default=0.5, metavar="S",
                      help="unmeasured seconds of round trips before each measurement "
                           "(default: %(default)s)")
    demo.add_argument("--out", default="netpoll-demo.png", metavar="FILE",
                      help="where to write the plot (PNG; another extension "
                           "matplotlib knows, such as .svg, works too) (default: %(default)s)")
    demo.add_argument("--json", default=None, metavar="FILE",
                      help="also write the raw results as JSON")
    demo.add_argument("--retries", type=int, default=1, metavar="N",
                      help="measure a point again, up to N times, when other programs kept "
                           "the machine busy meanwhile (default: %(default)s)")
    demo.add_argument("--no-threads", action="store_true",
                      help="skip the thread-per-connection reference server")

    sub.add_parser("pollers", help="list the poller backends available on this OS",
                   description="Print the available poller backends, best (the default) first.")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "echo":
        from netpoll import echo
        try:
            return echo.run(args.listen, poller=args.poller, workers=args.workers,
                            keepalive=args.keepalive)
        except ValueError as exc:           # bad address or poller name
            parser.exit(2, f"netpoll echo: {exc}\n")
        except OSError as exc:              # address in use, permission, ...
            parser.exit(1, f"netpoll echo: {exc}\n")
    if args.command == "demo":
        from netpoll.demo import run_demo
        return run_demo(idle=args.idle, active=args.active, seconds=args.seconds,
                        warmup=args.warmup, retries=args.retries,
                        out=args.out, json_out=args.json, threads=not args.no_threads)
    if args.command == "pollers":
        for name in netpoll.pollers():
            print(name)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
