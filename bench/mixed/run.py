"""Mixed-workload benchmark driver: a WSGI app doing one redis GET and one
HTTP call to a local upstream per request (app.py), served by
``netpoll serve --patch`` and by ``gunicorn -k gevent``, loaded with wrk.

    python bench/mixed/run.py [--duration 10] [--connections 64] [--repeats 3]

Needs redis-server and wrk (scripts/system-deps.sh) and, for the gevent
side, the peers' venv that ``sh bench/setup.sh`` makes from
bench/requirements.txt (gunicorn, gevent, redis, requests; ``--gevent-venv``
to choose another).
Never install gevent into netpoll's own environment.

Until ``netpoll serve`` exists, the netpoll side runs standin_serve.py
(patch, then import the app, then a minimal keep-alive WSGI loop).
Both servers run one process.  Prints a table and writes JSON (--out).
On a shared machine the numbers are noisy: compare ratios from
interleaved repeats, as this driver does.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchenv import PEER_VENV

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30.0, expect=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read()
                if expect is None or expect in body:
                    return body
                last = body
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready within {timeout} s: {last!r}")


def start(argv, env=None, cwd=None):
    return subprocess.Popen(argv, env=dict(os.environ, **(env or {})), cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def session_cpu(sid):
    """User + system CPU seconds of every process in session ``sid`` (the
    server and, for gunicorn, its worker), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:          # field 6: session id
            total += int(fields[11]) + int(fields[12])   # utime, stime
    return total / tick


def netpoll_serve_available(py):
    r = subprocess.run([py, "-m", "netpoll", "serve", "--help"], cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True)
    return r.returncode == 0 and b"--patch" in r.stdout


def wrk(url, duration, connections, threads=2):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock_err.group(1) if sock_err else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--python", default=sys.executable, help="python for netpoll's side")
    ap.add_argument("--gevent-venv", default=PEER_VENV)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    for tool in ("redis-server", "wrk"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/system-deps.sh")
    gunicorn = os.path.join(args.gevent_venv, "bin", "gunicorn")
    if not os.path.exists(gunicorn):
        raise SystemExit(f"{gunicorn} is missing: see this script's docstring")

    procs = []
    try:
        rport, uport = free_port(), free_port()
        procs.append(start(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no"]))
        procs.append(start([args.python, os.path.join(ROOT, "examples", "http_server.py"),
                            "--listen", f"127.0.0.1:{uport}"], env={"PYTHONPATH": ROOT}))
        wait_http(f"http://127.0.0.1:{uport}/", expect=b"Hello")
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", rport), timeout=1) as s:
                    s.sendall(b"SET mixed:key cached-value\r\n")
                    if s.recv(100).startswith(b"+OK"):
                        break
            except OSError:
                time.sleep(0.1)
        env = {"MIXED_REDIS_PORT": str(rport), "MIXED_UPSTREAM": f"http://127.0.0.1:{uport}/",
               "PYTHONPATH": ROOT}
        real_serve = netpoll_serve_available(args.python)

        def netpoll_cmd(port):
            if real_serve:
                return [args.python, "-m", "netpoll", "serve", "--patch", "app:app",
                        "--listen", f"127.0.0.1:{port}"]
            return [args.python, os.path.join(HERE, "standin_serve.py"), "app:app",
                    "--listen", f"127.0.0.1:{port}"]

        def gevent_cmd(port):
            return [gunicorn, "-k", "gevent", "-w", "1", "--worker-connections", "2000",
                    "-b", f"127.0.0.1:{port}", "--log-level", "warning", "app:app"]

        servers = {"netpoll": netpoll_cmd, "gevent": gevent_cmd}
        results = {name: [] for name in servers}
        for rep in range(args.repeats):
            for name, cmd in servers.items():          # interleaved
                port = free_port()
                proc = start(cmd(port), env=env, cwd=HERE)
                try:
                    body = wait_http(f"http://127.0.0.1:{port}/", expect=b"cached-value Hello")
                    wrk(f"http://127.0.0.1:{port}/", 1, args.connections)       # warm-up
                    cpu0 = session_cpu(proc.pid)
                    r = wrk(f"http://127.0.0.1:{port}/", args.duration, args.connections)
                    # CPU per request: steadier than req/s on a shared machine
                    r["cpu_us_per_req"] = ((session_cpu(proc.pid) - cpu0) * 1e6
                                           / max(1.0, r["rps"] * args.duration))
                finally:
                    stop(proc)
                r["body"] = body.decode(errors="replace")
                results[name].append(r)
                print(f"rep {rep + 1} {name:8s} {r['rps']:9.1f} req/s  p99 {r['p99_ms']:8.2f} ms"
                      f"  server CPU {r['cpu_us_per_req']:7.0f} us/req"
                      f"  non2xx {r['non2xx']} {r['socket_errors']}", flush=True)
    finally:
        for p in reversed(procs):
            stop(p)

    def best(name):
        return max(results[name], key=lambda r: r["rps"])

    med = {n: sorted(r["rps"] for r in results[n])[len(results[n]) // 2] for n in results}
    p99 = {n: sorted(r["p99_ms"] for r in results[n])[len(results[n]) // 2] for n in results}
    print()
    cpu = {n: sorted(r["cpu_us_per_req"] for r in results[n])[len(results[n]) // 2]
           for n in results}
    print("| server | median req/s | median p99 (ms) | server CPU per request (us) |")
    print("|---|---|---|---|")
    for n in results:
        print(f"| {n} | {med[n]:.0f} | {p99[n]:.1f} | {cpu[n]:.0f} |")
    print(f"\nnetpoll / gevent req/s: {med['netpoll'] / med['gevent']:.2f}x "
          f"(target >= 1.5x at the same p99); netpoll side: "
          f"{'netpoll serve --patch' if real_serve else 'standin_serve.py'}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"results": results, "median_rps": med, "median_p99_ms": p99,
                       "median_cpu_us_per_req": cpu,
                       "netpoll_server": "serve" if real_serve else "standin",
                       "connections": args.connections, "duration": args.duration}, f, indent=1)


if __name__ == "__main__":
    main()
