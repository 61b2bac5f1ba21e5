#!/usr/bin/env python3
"""Memory per idle connection of a netpoll server, per Python version.

For each interpreter given, start ``python -m netpoll echo`` (from this
repository) under it, open N connections that each prove with a 1-byte echo
that the server has a goroutine parked on them, and report the server's RSS
growth divided by N, plus the cost of one bare parked greenlet in that
interpreter (the floor of a goroutine).  Memory is not distorted by CPU
load, so this can run on a busy machine.

    python3 bench/idle_memory.py --python .venv/bin/python --python .venv-3.13/bin/python
    python3 bench/idle_memory.py --n 10000 --markdown

Each interpreter needs greenlet installed (``make venv``, or the ``.venv-3.X``
venvs of ``make test-all``).
"""

import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GREENLET_FLOOR = r"""
import gc, greenlet, sys
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
def park():
    greenlet.getcurrent().parent.switch()
n = int(sys.argv[1])
warm = [greenlet.greenlet(park) for _ in range(1000)]
for g in warm: g.switch()
gc.collect()
before = rss()
gs = [greenlet.greenlet(park) for _ in range(n)]
for g in gs: g.switch()
gc.collect()
print((rss() - before) / n, greenlet.__version__)
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def echo_once(sock):
    sock.sendall(b"x")
    if sock.recv(1) != b"x":
        raise RuntimeError("no echo")


def measure(python, n):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NETPOLL_POLLER", None)
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    floor, greenlet_version = subprocess.run(
        [python, "-c", GREENLET_FLOOR, str(n)], capture_output=True, text=True, check=True,
        env=env).stdout.split()
    server = subprocess.Popen([python, "-m", "netpoll", "echo", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    conns = []
    try:
        line = server.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            raise RuntimeError(f"the server said {line!r}")
        address = (m.group(1), int(m.group(2)))
        for _ in range(200):                      # warm up: caches, allocator pools
            with socket.create_connection(address, timeout=10) as s:
                echo_once(s)
        time.sleep(0.3)
        before = rss_kib(server.pid)
        for _ in range(n):
            s = socket.create_connection(address, timeout=10)
            echo_once(s)
            conns.append(s)
        time.sleep(0.3)
        after = rss_kib(server.pid)
    finally:
        for s in conns:
            s.close()
        server.terminate()
        server.wait(10)
    return dict(python=version, greenlet=greenlet_version, n=n,
                kib_per_conn=(after - before) / n, greenlet_floor_kib=float(floor))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", action="append", default=[], metavar="PATH",
                    help="an interpreter to measure (repeatable; default: this one)")
    ap.add_argument("--n", type=int, default=10_000, help="idle connections (default 10000)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))    # the server inherits it
    if args.n + 64 > hard:
        sys.exit(f"idle_memory.py: {args.n} connections need RLIMIT_NOFILE > {args.n + 64}; "
                 f"the hard limit is {hard} (ulimit -Hn)")
    rows = [measure(py, args.n) for py in (args.python or [sys.executable])]
    if args.markdown:
        print("| Python | greenlet | KiB per idle connection | of which a parked greenlet |")
        print("|---|---|---:|---:|")
        for r in rows:
            print(f"| {r['python']} | {r['greenlet']} | {r['kib_per_conn']:.2f} "
                  f"| {r['greenlet_floor_kib']:.2f} |")
    else:
        for r in rows:
            print(f"Python {r['python']} (greenlet {r['greenlet']}): "
                  f"{r['kib_per_conn']:.2f} KiB per idle connection (N={r['n']}); "
                  f"a bare parked greenlet {r['greenlet_floor_kib']:.2f} KiB")


if __name__ == "__main__":
    main()
