"""``netpoll demo``: the seed's central claim, measured on this machine.

The same 32 active connections are served by select, poll and epoll (and by
a thread-per-connection stdlib server) while the number of idle connections
grows.  select and poll hand the kernel every watched descriptor on every
wait, so each round trip costs O(idle); epoll's interest set lives in the
kernel and a wait costs O(ready).  See ``orchestrate`` (processes),
``client`` (the load generator) and ``report`` (table and plot).
"""

import json
import os
import sys
import time

import netpoll

from . import orchestrate, report
from .client import raise_nofile

SERVERS = ("select", "poll", "epoll", "kqueue")
# CPU cores busy with other work (beyond server and client) that make a
# throughput figure unreliable; loopback TCP's kernel work alone is below.
BUSY_WARNING = 0.5


class _Progress:
    """A rich progress bar on a terminal; plain lines on stderr otherwise."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.bar = None
        if sys.stderr.isatty():
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            except ImportError:
                pass
            else:
                self.bar = Progress(TextColumn("{task.description:<32}"), BarColumn(),
                                    TextColumn("{task.completed}/{task.total}"),
                                    TimeElapsedColumn(), transient=True)
                self.task = self.bar.add_task("starting", total=total)
                self.bar.start()

    def step(self, text):
        if self.bar is not None:
            self.bar.update(self.task, description=text)
        else:
            print(f"[{self.done + 1}/{self.total}] {text}", file=sys.stderr, flush=True)

    def advance(self):
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)

    def close(self):
        if self.bar is not None:
            self.bar.stop()


def _measure(name, n, active, seconds, warmup, retries):
    """One point; measured again (up to ``retries`` times) while other work
    kept the machine busy, keeping the quietest run."""
    best = None
    for _ in range(1 + retries):
        result = orchestrate.measure(name, n, active, seconds, warmup)
        if best is None or result.get("other_cpu", 0.0) < best.get("other_cpu", 0.0):
            best = result
        if "error" in result or result.get("other_cpu", 0.0) <= BUSY_WARNING:
            break
    return best


def run_demo(idle=(0, 1000, 5000, 10000), active=32, seconds=2.0, warmup=0.5,
             out="netpoll-demo.png", json_out=None, threads=True, retries=1):
    """Measure every point, print the tables, write the plot; exit code."""
    idle = sorted(idle)
    servers = [p for p in SERVERS if p in netpoll.pollers()] + (["threads"] if threads else [])
    nofile = raise_nofile()
    print(f"netpoll demo: {active} active connections do 64-byte round trips for "
          f"{seconds:g} s while N idle connections stay open;\none fresh server process per "
          f"cell, client in another process.  RLIMIT_NOFILE = {nofile}.", flush=True)
    too_many = [n for n in idle if orchestrate.fd_limit_skip(n, active, nofile)]
    if too_many:
        print(f"warning: RLIMIT_NOFILE is {nofile} (as high as the hard limit allows), too "
              f"low for {', '.join(map(str, too_many))} idle connections, which need "
              f"{orchestrate.fds_needed(too_many[-1], active)} descriptors per process: "
              f"those cells are skipped (\"no: ulimit -n\").  Raise the hard limit "
              f"(ulimit -Hn, /etc/security/limits.conf) to run them.",
              file=sys.stderr, flush=True)

    results = {name: {} for name in servers}
    progress = _Progress(len(servers) * len(idle))
    started = time.monotonic()
    interrupted = False
    try:
        for n in idle:             # servers side by side at each N: a noisy moment
            for name in servers:   # hits one column, not one server's whole row
                progress.step(f"{report.label(name)}, {n} idle")
                skip = orchestrate.fd_limit_skip(n, active, nofile)
                if skip is None and name == "select":
                    skip = orchestrate.select_skip(n, active)
                if skip:
                    results[name][n] = {"skip": skip}
                else:
                    results[name][n] = _measure(name, n, active, seconds, warmup, retries)
                progress.advance()
    except KeyboardInterrupt:       # Ctrl-C: show what was measured, exit 130 like a shell
        interrupted = True
    finally:
        progress.close()

    print()
    print(report.tables(results, idle))
    if interrupted:
        print("\ninterrupted (Ctrl-C): the cells marked '-' were not measured; no plot.",
              file=sys.stderr)
        return 130
    print("\nKiB/idle conn: the server's RSS growth / N (the largest N that ran).")
    if any("skip" in p for p in results.get("select", {}).values()):
        print(f"no: fd≥{orchestrate.FD_SETSIZE}: the select poller cannot watch a descriptor "
              f">= FD_SETSIZE ({orchestrate.FD_SETSIZE}),\nand every connection needs one.")
    busy = max((p.get("other_cpu", 0.0) for points in results.values()
                for p in points.values()), default=0.0)
    if busy > BUSY_WARNING:
        print(f"warning: other work kept up to {busy:.1f} CPU cores busy during the "
              f"measurements:\nround trips/s are unreliable; the server CPU time per round "
              f"trip much less so.")
    print(f"{time.monotonic() - started:.0f} s in all.")
    failed = report.errors(results)
    for name, n, message in failed:
        print(f"{report.label(name)}, N={n}: {message}", file=sys.stderr)
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"active": active, "seconds": seconds, "warmup": warmup, "idle": idle,
                       "results": results}, f, indent=1)
    try:
        report.plot(results, idle, active, out)
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib, or from a "
              "clone of netpoll: pip install '.[demo]')", file=sys.stderr)
    else:
        print(f"plot: {os.path.abspath(out)}")
    return 1 if failed else 0
