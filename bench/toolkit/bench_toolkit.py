"""The cost of the toolkit's basic operations, side by side with Go and
gevent (issue: select, Mutex and channels).

    .venv/bin/python bench/toolkit/bench_toolkit.py [-n 200000]
        [--gevent-python PYTHON] [--no-go]

Operations (ns per operation, best of 5 runs of n):
  mutex          an uncontended lock + unlock (netpoll.Mutex; Go sync.Mutex;
                 gevent.lock.Semaphore acquire + release)
  chan_buffered  one send or receive on a buffered channel that never
                 blocks (Chan(1); Go chan int 1; gevent.queue.Queue(1))
  select2        a select over 2 ready channels (no gevent equivalent)
  pingpong       one hand-over on an unbuffered channel between two
                 goroutines, each side parking (Chan(); Go chan int;
                 gevent.queue.Channel)

Targets (issue): pingpong <= 1.0x gevent's; select2 and mutex within 2x of
a channel operation.  Go runs with GOMAXPROCS=1 (one thread, as netpoll).
gevent comes from a separate venv (pip install gevent there, never into
the project's dependencies).  This is its own small driver, not the shared
bench/run.sh harness.  On a shared machine every number is noisy.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))

from benchenv import PEER_PYTHON  # noqa: E402  (bench/benchenv.py)

import netpoll  # noqa: E402
from netpoll import Chan, Mutex, Recv, select  # noqa: E402

OPS = ("mutex", "chan_buffered", "select2", "pingpong")


def best(repeats, fn):
    return min(fn() for _ in range(repeats))


def netpoll_ops(n):
    out = {}

    def mutex():
        m = Mutex()
        lock, unlock = m.lock, m.unlock
        t = time.perf_counter()
        for _ in range(n):
            lock()
            unlock()
        return time.perf_counter() - t
    out["mutex"] = best(5, mutex) / n

    def buffered():
        c = Chan(1)
        send, recv = c.send, c.recv
        t = time.perf_counter()
        for i in range(n):
            send(i)
            recv()
        return time.perf_counter() - t
    out["chan_buffered"] = best(5, buffered) / (2 * n)

    def select2():
        a, b = Chan(n), Chan(n)
        for i in range(n):
            a.send(i)
            b.send(i)
        cases = (Recv(a), Recv(b))
        t = time.perf_counter()
        for _ in range(n):
            select(*cases)
        return time.perf_counter() - t
    out["select2"] = best(5, select2) / n

    def pingpong():
        a, b = Chan(), Chan()

        def peer():
            recv, send = a.recv, b.send
            while True:
                v = recv()
                if v is None:
                    return
                send(v)
        g = netpoll.go(peer)
        send, recv = a.send, b.recv
        t = time.perf_counter()
        for i in range(n):
            send(i)
            recv()
        el = time.perf_counter() - t
        a.send(None)
        g.join()
        return el
    out["pingpong"] = best(5, pingpong) / (2 * n)
    return {k: v * 1e9 for k, v in out.items()}


def parse(text):
    result = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in OPS:
            result[name] = float(value)
    return result


def go_ops(n):
    go = shutil.which("go")
    if go is None:
        return None, "go not found (apt-get install -y golang-go)"
    binary = os.path.join(HERE, ".ops-go")
    subprocess.run([go, "build", "-o", binary, os.path.join(HERE, "ops.go")], check=True,
                   env=dict(os.environ, GO111MODULE="off",
                            GOCACHE=os.environ.get("GOCACHE", "/tmp/netpoll-bench-gocache")))
    try:
        out = subprocess.run([binary, str(n)], check=True, capture_output=True, text=True)
    finally:
        os.unlink(binary)
    return parse(out.stdout), None


def gevent_ops(n, python):
    if not python or not os.path.exists(python):
        return None, f"no gevent Python at {python!r} (--gevent-python)"
    out = subprocess.run([python, os.path.join(HERE, "gevent_ops.py"), str(n)],
                         check=True, capture_output=True, text=True)
    return parse(out.stdout), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=200_000)
    ap.add_argument("--gevent-python", default=PEER_PYTHON)
    ap.add_argument("--no-go", action="store_true")
    args = ap.parse_args()
    mine = netpoll.run(netpoll_ops, args.n)
    gev, gev_note = gevent_ops(args.n, args.gevent_python)
    gol, go_note = (None, "skipped") if args.no_go else go_ops(args.n)
    print(f"ns per operation, best of 5 x {args.n} "
          f"(Python {sys.version.split()[0]}; noisy if the machine is shared)")
    print(f"{'operation':<15}{'netpoll':>10}{'gevent':>10}{'Go':>10}{'netpoll/gevent':>16}")
    for op in OPS:
        g = gev.get(op) if gev else None
        o = gol.get(op) if gol else None
        ratio = f"{mine[op] / g:.2f}x" if g else "n/a"
        print(f"{op:<15}{mine[op]:>10.1f}{(f'{g:.1f}' if g else 'n/a'):>10}"
              f"{(f'{o:.1f}' if o else 'n/a'):>10}{ratio:>16}")
    for note in (gev_note, go_note):
        if note:
            print("note:", note)
    pp, buf = mine["pingpong"], mine["chan_buffered"]
    print("targets:")
    if gev and "pingpong" in gev:
        print(f"  pingpong / gevent's      {pp / gev['pingpong']:.2f}x  (target <= 1.0x)")
    for op in ("select2", "mutex"):
        print(f"  {op:<8} / channel op   {mine[op] / pp:.2f}x of a ping-pong hand-over, "
              f"{mine[op] / buf:.2f}x of a buffered send or receive  (target <= 2x)")


if __name__ == "__main__":
    main()
