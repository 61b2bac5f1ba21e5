"""User-space instructions the server executes per operation, counted by
valgrind (callgrind): a measure this shared, noisy machine cannot blur.

    python3 bench/instructions.py --point pingpong_c64 \\
        --server 'netpoll=.venv/bin/python -m netpoll echo --listen 127.0.0.1:{port}' \\
        --server 'uvloop=$BENCH_WORK/.venv/bin/python bench/servers/py/asyncio_server.py --api protocol --loop uvloop {port}' \\
        --server 'c_epoll=$BENCH_WORK/build/c_epoll {port}'

Each server runs under ``valgrind --tool=callgrind`` twice, each time driven
by the harness's load generator (``loadgen``, no warm-up) for a short and a
long run; the instructions and operations of the short run are subtracted
from the long one's, so start-up, connection set-up and teardown cancel out:
what is left is instructions per echoed message (per connection for churn,
per MB for bulk).  Kernel work is not counted (callgrind sees user space
only), nor cache misses or stalls: it is a count, not a timing, and it
moves by well under 1 % between runs.  A server runs ~50x slower under
valgrind, so the load generator is never the bottleneck.
"""

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("BENCH_WORK") or (HERE if os.access(HERE, os.W_OK)
                                        else os.path.expanduser("~/.cache/netpoll-bench"))
LOADGEN = os.path.join(WORK, "build", "loadgen")

POINTS = {
    "pingpong_c64": ["--mode", "pingpong", "-c", "64", "-m", "64"],
    "pingpong_c1000": ["--mode", "pingpong", "-c", "1000", "-m", "64"],
    "idle_n10000": ["--mode", "idle", "-c", "32", "-n", "10000", "-m", "64", "--settle", "0"],
    "churn_c32": ["--mode", "churn", "-c", "32", "-m", "64"],
    "bulk_c8": ["--mode", "bulk", "-c", "8", "--chunk", "65536"],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit=120.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not listen")


def one(cmd, point, duration, outdir, cache_sim=False):
    """({event: count}, operations, loadgen result) of one server run under
    callgrind: Ir (instructions), and with ``cache_sim`` the simulated
    first-level (D1mr + D1mw) and last-level (DLmr + DLmw) data misses."""
    port = free_port()
    out = os.path.join(outdir, f"cg.{port}.out")
    words = shlex.split(os.path.expandvars(cmd.format(port=port)))
    env = dict(os.environ)
    while words and re.match(r"^\w+=", words[0]):     # leading VAR=value words
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            "--dump-instr=no", "--compress-strings=no"] + (
                ["--cache-sim=yes"] + shlex.split(cache_sim) if cache_sim else []) + words
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    try:
        wait_port(port, proc)
        lg = subprocess.run([LOADGEN, "--port", str(port), "-d", str(duration), "-w", "0",
                             "--connect-timeout", "120"] + POINTS[point],
                            capture_output=True, text=True, timeout=duration + 600)
        res = json.loads([ln for ln in lg.stdout.splitlines() if ln.startswith("{")][-1])
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(out) as f:
        text = f.read()
    names = re.search(r"^events: (.*)$", text, re.M)
    m = re.search(r"^(?:summary|totals): (.*)$", text, re.M)
    if not (names and m):
        raise RuntimeError("no totals in callgrind output")
    counts = dict(zip(names.group(1).split(), map(int, m.group(1).split())))
    counts["D1miss"] = counts.get("D1mr", 0) + counts.get("D1mw", 0)
    counts["LLmiss"] = counts.get("DLmr", 0) + counts.get("DLmw", 0)
    if res.get("errors_total"):
        raise RuntimeError(f"load generator errors: {res['errors']}")
    ops = res["bytes"] / 1e6 if point.startswith("bulk") else res["messages"]
    return counts, ops, res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", action="append", required=True, metavar="NAME=CMD")
    ap.add_argument("--point", default="pingpong_c64", help=",".join(POINTS))
    ap.add_argument("--short", type=float, default=2.0)
    ap.add_argument("--long", type=float, default=6.0)
    ap.add_argument("--cache-sim", nargs="?", const=" ", default="", metavar="VALGRIND_ARGS",
                    help="also simulate the caches: D1 and LL data misses per op; e.g. "
                         "--cache-sim='--LL=524288,8,64' makes the last level a 512 KiB L2")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the callgrind outputs here (callgrind_annotate reads them)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            tmp = a.keep
        for point in a.point.split(","):
            for spec in a.server:
                name, cmd = spec.split("=", 1)
                c1, n1, _ = one(cmd, point, a.short, tmp, a.cache_sim)
                c2, n2, res = one(cmd, point, a.long, tmp, a.cache_sim)
                unit = "MB" if point.startswith("bulk") else "op"
                if a.keep:
                    print(f"  outputs: {a.keep}/cg.*.out (long run last)")
                per = {k: (c2[k] - c1[k]) / (n2 - n1) for k in ("Ir", "D1miss", "LLmiss")}
                extra = (f" {per['D1miss']:8.1f} D1 misses {per['LLmiss']:7.2f} LL misses"
                         if a.cache_sim else "")
                print(f"{point:15} {name:20} {per['Ir']:12.0f} instr/{unit}{extra} "
                      f"({n2 - n1:.0f} {unit}s in the difference)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
