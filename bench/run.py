#!/usr/bin/env python3
"""Side-by-side benchmark driver for echo / HTTP servers (stdlib only).

Every server of a scenario point is measured in the same invocation, the
servers interleaved: repeat r runs all servers (in an order rotated by r)
before repeat r+1 starts.  The server is pinned to CPU 0 (taskset -c 0), the
load generator (bench/loadgen, or wrk for HTTP) to CPU 1.

  python3 bench/run.py --scenario pingpong --servers all \
      --extra 'project=.venv/bin/python -m myproject.echo {port}' \
      --repeats 3 --out results.json

See bench/README.md for the scenarios and caveats; bench/run.sh adds netpoll.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Where builds, the peers' venv and results go: beside this file when it is
# writable, else $BENCH_WORK or ~/.cache/netpoll-bench (e.g. a read-only copy).
WORK = os.environ.get("BENCH_WORK") or (
    HERE if os.access(HERE, os.W_OK) else os.path.expanduser("~/.cache/netpoll-bench"))
BUILD = os.path.join(WORK, "build")
SERVERS_DIR = os.path.join(HERE, "servers")
PY_SERVERS = os.path.join(SERVERS_DIR, "py")
VENV_PY = os.path.join(WORK, ".venv", "bin", "python")
LOADGEN = os.path.join(BUILD, "loadgen")
WRK_LUA = os.path.join(HERE, "wrk_pipeline.lua")
RESULTS_DIR = os.path.join(WORK, "results")
SERVER_CPU = "0"
CLIENT_CPU = "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------
GOMAX1 = {"GOMAXPROCS": "1"}


class Server:
    def __init__(self, name, echo=None, http=None, env=None, needs=(), note="", shell=False):
        self.name = name
        self.echo = echo    # argv template (list) or shell string when shell=True
        self.http = http
        self.env = env or {}
        self.needs = list(needs)  # "build:<binary>" / "py:<module>"
        self.note = note
        self.shell = shell

    def cmd(self, kind):
        return self.echo if kind == "echo" else self.http


def _py(script, *extra):
    return ["{py}", os.path.join(PY_SERVERS, script), *extra, "{port}"]


BUILTIN = [
    Server("c_epoll", ["{build}/c_epoll", "{port}"], ["{build}/c_epoll", "{port}", "--http"],
           needs=["build:c_epoll"], note="C, level-triggered epoll, nonblocking, 1 thread"),
    Server("go", ["{build}/go_echo", "{port}"], env=GOMAX1, needs=["build:go_echo"],
           note="Go net, goroutine per conn, GOMAXPROCS=1"),
    Server("go_nethttp", http=["{build}/go_httpstd", "{port}"], env=GOMAX1,
           needs=["build:go_httpstd"], note="Go net/http, GOMAXPROCS=1"),
    Server("go_raw", http=["{build}/go_httpraw", "{port}"], env=GOMAX1,
           needs=["build:go_httpraw"], note="Go net + bufio hand-parsed HTTP, GOMAXPROCS=1"),
    Server("threads", _py("threads_server.py"), _py("threads_server.py", "--http"),
           note="Python blocking sockets, thread per conn"),
    Server("selectors", _py("selectors_server.py"), _py("selectors_server.py", "--http"),
           note="Python selectors.DefaultSelector (epoll) hand-written loop"),
    Server("selectors_poll", _py("selectors_server.py", "--selector", "poll"),
           note="Python selectors.PollSelector (O(n) per wakeup)"),
    Server("selectors_select", _py("selectors_server.py", "--selector", "select"),
           note="Python selectors.SelectSelector (fd < 1024 only)"),
    Server("asyncio_streams", _py("asyncio_server.py", "--api", "streams"),
           _py("asyncio_server.py", "--api", "streams", "--http"), note="asyncio start_server streams"),
    Server("asyncio_protocol", _py("asyncio_server.py", "--api", "protocol"),
           _py("asyncio_server.py", "--api", "protocol", "--http"), note="asyncio Protocol"),
    Server("uvloop_streams", _py("asyncio_server.py", "--api", "streams", "--loop", "uvloop"),
           _py("asyncio_server.py", "--api", "streams", "--loop", "uvloop", "--http"),
           needs=["py:uvloop"], note="uvloop streams"),
    Server("uvloop_protocol", _py("asyncio_server.py", "--api", "protocol", "--loop", "uvloop"),
           _py("asyncio_server.py", "--api", "protocol", "--loop", "uvloop", "--http"),
           needs=["py:uvloop"], note="uvloop Protocol"),
    Server("gevent", _py("gevent_server.py"), _py("gevent_server.py", "--http"),
           needs=["py:gevent"], note="gevent StreamServer, greenlet per conn"),
    Server("eventlet", _py("eventlet_server.py"), needs=["py:eventlet"],
           note="eventlet.serve, greenthread per conn"),
    Server("trio", _py("trio_server.py"), needs=["py:trio"], note="trio.serve_tcp, task per conn"),
    # WSGI / ASGI servers running a hello-world app (servers/py/wsgi_hello.py, asgi_hello.py),
    # deployed as a user would: library defaults, one process/worker, access logs off
    Server("gevent_pywsgi", http=_py("wsgi_server.py", "--server", "gevent_pywsgi", "--nodelay"),
           needs=["py:gevent"], note="gevent.pywsgi.WSGIServer + WSGI hello app, log=None, TCP_NODELAY"),
    Server("gevent_pywsgi_nagle", http=_py("wsgi_server.py", "--server", "gevent_pywsgi"),
           needs=["py:gevent"],
           note="gevent_pywsgi without TCP_NODELAY (its default): ~40 ms delayed-ACK stall per keep-alive request"),
    Server("gunicorn_gevent",
           http=["{py}", "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", "127.0.0.1:{port}",
                 "--chdir", PY_SERVERS, "--no-control-socket", "wsgi_hello:app"],
           needs=["py:gunicorn", "py:gevent", "py:packaging"],
           note="gunicorn -k gevent -w 1 (master + 1 worker) + WSGI hello app"),
    Server("waitress", http=_py("wsgi_server.py", "--server", "waitress"), needs=["py:waitress"],
           note="waitress.serve (4 threads) + WSGI hello app"),
    Server("uvicorn",
           http=["{py}", "-m", "uvicorn", "--app-dir", PY_SERVERS, "--host", "127.0.0.1",
                 "--port", "{port}", "--http", "httptools", "--loop", "uvloop", "--workers", "1",
                 "--no-access-log", "asgi_hello:app"],
           needs=["py:uvicorn", "py:httptools", "py:uvloop"],
           note="uvicorn --http httptools --loop uvloop, 1 worker + raw ASGI hello app"),
]
BY_NAME = {s.name: s for s in BUILTIN}
ALL_ECHO = ["c_epoll", "go", "threads", "selectors", "asyncio_streams", "asyncio_protocol",
            "uvloop_streams", "uvloop_protocol", "gevent", "eventlet", "trio"]
ALL_HTTP = ["c_epoll", "go_nethttp", "go_raw", "asyncio_streams", "asyncio_protocol",
            "uvloop_protocol", "gevent"]
# named groups usable in --servers besides "all" (kind -> members); not part of "all",
# so the default full run keeps its length: use --servers all,wsgi for both
GROUPS = {
    "wsgi": {"echo": [], "http": ["gevent_pywsgi", "gunicorn_gevent", "waitress", "uvicorn"]},
}


def group_members(name, kind):
    """Servers a --servers word stands for: 'all', a GROUPS name, or itself."""
    if name == "all":
        return ALL_ECHO if kind == "echo" else ALL_HTTP
    if name in GROUPS:
        return GROUPS[name][kind]
    return [name]

# --------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------
SCENARIOS = {
    "pingpong": [
        dict(id="pingpong_c1", label="pingpong C=1", mode="pingpong", conns=1, msg=64),
        dict(id="pingpong_c64", label="pingpong C=64", mode="pingpong", conns=64, msg=64),
        dict(id="pingpong_c1000", label="pingpong C=1000", mode="pingpong", conns=1000, msg=64),
    ],
    "idle": [
        dict(id="idle_n0", label="idle N=0", mode="idle", conns=32, msg=64, idle=0),
        dict(id="idle_n1000", label="idle N=1000", mode="idle", conns=32, msg=64, idle=1000),
        dict(id="idle_n10000", label="idle N=10000", mode="idle", conns=32, msg=64, idle=10000),
    ],
    "churn": [dict(id="churn_c32", label="churn C=32", mode="churn", conns=32, msg=64)],
    "bulk": [dict(id="bulk_c8", label="bulk C=8", mode="bulk", conns=8, chunk=65536)],
    "http": [
        dict(id="http_c100", label="http c=100", mode="http", conns=100, pipeline=0),
        dict(id="http_pipe16_c100", label="http pipelined16 c=100", mode="http", conns=100, pipeline=16),
    ],
}
SCENARIO_ORDER = ["pingpong", "idle", "churn", "bulk", "http"]
OP_NAME = {"pingpong": "msg", "idle": "msg", "churn": "conn", "bulk": "MB", "http": "req"}
METRIC = {  # scenario -> (key in result, unit)
    "pingpong": ("msgs_per_s", "msg/s"),
    "idle": ("msgs_per_s", "msg/s"),
    "churn": ("connects_per_s", "conn/s"),
    "bulk": ("mb_per_s", "MB/s"),
    "http": ("req_per_s", "req/s"),
}


def point_kind(point):
    return "http" if point["mode"] == "http" else "echo"


def scenario_of(point):
    return point["id"].split("_", 1)[0]


# --------------------------------------------------------------------------
# process helpers
# --------------------------------------------------------------------------
PF_KTHREAD = 0x00200000


def scan_procs(sid):
    """(members of session sid as [(pid, stat fields after comm)], CPU ticks of kernel threads)."""
    members, kticks = [], 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        if int(rest[3]) == sid:
            members.append((int(d), rest))
        elif int(rest[6]) & PF_KTHREAD:
            kticks += int(rest[11]) + int(rest[12])
    return members, kticks


def session_members(sid):
    return scan_procs(sid)[0]


def sample(sid, fds=False):
    """CPU ticks, RSS, peak RSS, threads (and fds) summed over a server's session,
    plus machine-wide /proc/stat counters and kernel-thread CPU ticks."""
    members, kticks = scan_procs(sid)
    r = dict(t=time.monotonic(), cpu_ticks=0, rss_kb=0, hwm_kb=0, threads=0, procs=0,
             stat=cpu_ticks(), kthread_ticks=kticks)
    if fds:
        r["fds"] = 0
    for pid, rest in members:
        r["procs"] += 1
        r["cpu_ticks"] += int(rest[11]) + int(rest[12])
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        r["rss_kb"] += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        r["hwm_kb"] += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        r["threads"] += int(line.split()[1])
            if fds:
                r["fds"] += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return r


def cpu_ticks():
    """/proc/stat per CPU: {"cpu": (task_ticks, irq_ticks), "cpu0": ..., ...}.
    task = user+nice+system+steal (processes incl. kernel threads),
    irq = irq+softirq (with IRQ time accounting, softirq work for loopback
    traffic is *not* charged to the process that triggered it)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            name, *v = line.split()
            v = [int(x) for x in v]
            out[name] = (v[0] + v[1] + v[2] + (v[7] if len(v) > 7 else 0), v[5] + v[6])
    return out


def cpu_busy_ticks():
    t, i = cpu_ticks()["cpu"]
    return t + i


def listen_overflows():
    """system-wide TcpExt ListenOverflows (accept queue full) from /proc/net/netstat."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            if names.startswith("TcpExt:"):
                d = dict(zip(names.split()[1:], values.split()[1:]))
                return int(d.get("ListenOverflows", 0))
    except (OSError, ValueError):
        pass
    return None


def wait_quiet(threshold, max_wait):
    """Wait until the machine is quiet (busy CPU, in cores, below threshold).
    Returns the last busy level observed."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = cpu_busy_ticks(), time.monotonic()
        time.sleep(0.25)
        busy = (cpu_busy_ticks() - b0) / CLK_TCK / (time.monotonic() - t0)
        if busy < threshold or time.monotonic() > deadline:
            return round(busy, 3)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with code {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return None
        except OSError:
            time.sleep(0.05)
    return "port did not open within %.0fs" % timeout


def stop_server(proc):
    sid = proc.pid  # start_new_session=True: the server leads its own session/group
    if proc.poll() is None:
        try:
            os.killpg(sid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
    # leftovers of *our* session only (e.g. children of an `sh -c` wrapper)
    if session_members(sid):
        try:
            os.killpg(sid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        pass


# --------------------------------------------------------------------------
# correctness smoke checks (before every measurement)
# --------------------------------------------------------------------------
def smoke_echo(port, nbytes=100_000):
    """nbytes random bytes must come back unchanged; EOF must close the conn.

    NB: this also warms the server up.  A fresh CPython 3.11 asyncio process that
    gets its first connections straight from the load generator was seen to
    mmap()+munmap() its 256 KiB recv buffer on every read (~4x slower); after any
    earlier connection that exchanged data it did not (glibc heap state, see README)."""
    data = os.urandom(nbytes)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setblocking(False)
        sent, got = 0, bytearray()
        deadline = time.monotonic() + 10
        while len(got) < len(data):
            left = deadline - time.monotonic()
            if left <= 0:
                return "echo timed out"
            r, w, _ = select.select([s], [s] if sent < len(data) else [], [], left)
            if w:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            if r:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    return "server closed early"
                got += chunk
        if bytes(got) != data:
            return "echo mismatch"
        s.setblocking(True)
        s.settimeout(5)
        s.shutdown(socket.SHUT_WR)
        try:
            if s.recv(1) != b"":
                return "extra data after echo"
        except TimeoutError:
            return "server did not close after client EOF"
    return None


def _read_http_response(s, buf):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ValueError("connection closed mid-response")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 200"):
        raise ValueError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get(b"content-length", b"-1"))
    if n < 0:
        raise ValueError("no content-length")
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise ValueError("connection closed mid-body")
        buf += chunk
    body, buf = buf[:n], buf[n:]
    if body != b"Hello, World!":
        raise ValueError(f"bad body {body!r}")
    return buf


def smoke_http(port):
    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-smoke\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(req * 3)  # pipelined
            buf = b""
            for _ in range(3):
                buf = _read_http_response(s, buf)
            s.sendall(req[:20])  # a request split across two writes
            time.sleep(0.05)
            s.sendall(req[20:])
            buf = _read_http_response(s, buf)
            if buf:
                return f"unexpected extra bytes {buf[:40]!r}"
    except (OSError, ValueError) as e:
        return f"http check failed: {e}"
    return None


# --------------------------------------------------------------------------
# load generators
# --------------------------------------------------------------------------
def run_loadgen(point, port, sid, args):
    cmd = ["taskset", "-c", CLIENT_CPU, LOADGEN, "--mode", point["mode"], "--port", str(port),
           "-c", str(point["conns"]), "-d", str(args.duration), "-w", str(args.warmup),
           "--connect-timeout", str(args.connect_timeout),
           "--settle", str(args.settle_ms if point["mode"] == "idle" else 0)]
    if "msg" in point:
        cmd += ["-m", str(point["msg"])]
    if point.get("idle"):
        cmd += ["-n", str(point["idle"])]
    if "chunk" in point:
        cmd += ["--chunk", str(point["chunk"])]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events, other = {}, []

    def reader():
        for line in p.stderr:
            line = line.rstrip("\n")
            tag = line.split(" ", 1)[0]
            if tag in ("IDLE_READY", "MEASURE_START", "MEASURE_END"):
                events[tag] = sample(sid, fds=(tag == "IDLE_READY"))
                events[tag]["line"] = line
            else:
                other.append(line)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    limit = args.warmup + args.duration + 2 * args.connect_timeout + args.settle_ms / 1000 + 30
    timer = threading.Timer(limit, p.kill)
    timer.start()
    out = p.stdout.read()
    p.wait()
    timer.cancel()
    th.join(5)
    res = None
    for line in out.splitlines():
        if line.startswith("{"):
            res = json.loads(line)
    return res, events, other, p.returncode


_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_UNIT_B = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def parse_wrk(out):
    d = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        d["req_per_s"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    if m:
        d["requests"] = int(m.group(1))
        d["bytes_read"] = float(m.group(4)) * _UNIT_B.get(m.group(5), 1)
        if d["requests"]:
            d["bytes_per_resp"] = d["bytes_read"] / d["requests"]
    lat = {}
    m = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out, re.M)
    if m:
        lat["mean"] = float(m.group(1)) * _UNIT_S[m.group(2)] * 1e6
        lat["max"] = float(m.group(5)) * _UNIT_S[m.group(6)] * 1e6
    for pct, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)", out, re.M):
        lat["p" + pct] = float(v) * _UNIT_S[u] * 1e6
    d["lat_us"] = lat
    errs = {}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs = dict(zip(["connect", "read", "write", "timeout"], map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errs["non2xx"] = int(m.group(1))
    d["errors"] = errs
    d["errors_total"] = sum(errs.values())
    return d


def run_wrk(point, port, sid, args):
    url = f"http://127.0.0.1:{port}/"
    base = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{point['conns']}"]
    script = ["-s", WRK_LUA] if point.get("pipeline") else []
    tail = ["--", str(point["pipeline"])] if point.get("pipeline") else []
    if args.warmup > 0:  # wrk only takes whole seconds
        subprocess.run(base + ["-d1s"] + script + [url] + tail, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    dur = max(1, round(args.duration))
    s0 = sample(sid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(base + [f"-d{dur}s", "--latency"] + script + [url] + tail,
                       capture_output=True, text=True, timeout=dur + 60)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1 = sample(sid)
    res = parse_wrk(p.stdout)
    res["duration_s"] = dur
    res["client_cpu"] = round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime)
                              / (s1["t"] - s0["t"]), 3)
    if point.get("pipeline"):
        res["lat_us"] = {}  # wrk's latency is not per request when pipelining
    res["raw"] = p.stdout
    return res, {"MEASURE_START": s0, "MEASURE_END": s1}, p.stderr.splitlines(), p.returncode


# --------------------------------------------------------------------------
# one measurement
# --------------------------------------------------------------------------
def expand(template, port, py):
    return [a.replace("{port}", str(port)).replace("{py}", py).replace("{build}", BUILD)
            for a in template]


def measure(server, point, rep, order, args, logdir):
    kind = point_kind(point)
    port = free_port()
    tmpl = server.cmd(kind)
    if server.shell:
        argv = ["sh", "-c", tmpl.replace("{port}", str(port))]
    else:
        argv = expand(tmpl, port, args.python)
    env = dict(os.environ)
    env.update(server.env)
    env["BENCH_PORT"] = str(port)
    rec = dict(server=server.name, point=point["id"], scenario=scenario_of(point), repeat=rep,
               order=order, port=port, ok=False, error=None, value=None)
    logpath = os.path.join(logdir, f"{point['id']}.{server.name}.r{rep}.log")
    if args.quiet_threshold > 0:
        rec["busy_before"] = wait_quiet(args.quiet_threshold, args.quiet_wait)
    with open(logpath, "w") as logf:
        t0 = time.monotonic()
        proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv, stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            err = wait_port(port, proc)
            rec["startup_s"] = round(time.monotonic() - t0, 3)
            if err:
                rec["error"] = err
                return rec
            try:
                err = smoke_http(port) if kind == "http" else smoke_echo(port, args.smoke_bytes)
            except OSError as e:
                err = f"{type(e).__name__}: {e}"
            if err:
                rec["error"] = "smoke: " + err
                return rec
            time.sleep(0.1)
            lo0 = listen_overflows()
            base = sample(proc.pid)
            rec["rss_base_kb"] = base["rss_kb"]
            if kind == "http":
                res, ev, other, rc = run_wrk(point, port, proc.pid, args)
            else:
                res, ev, other, rc = run_loadgen(point, port, proc.pid, args)
            alive = proc.poll() is None
            end = sample(proc.pid)
            lo1 = listen_overflows()
            if lo0 is not None and lo1 is not None:
                rec["listen_overflows"] = lo1 - lo0  # system-wide: accept queue was full
        finally:
            stop_server(proc)
    if other:
        rec["client_stderr"] = other[-5:]
    if not alive:
        rec["server_died"] = True
    if res is None:
        rec["error"] = f"load generator failed (rc={rc}): " + " | ".join(other[-3:])
        return rec
    rec["result"] = res
    key = METRIC[scenario_of(point)][0]
    rec["value"] = res.get(key)
    s0, s1 = ev.get("MEASURE_START"), ev.get("MEASURE_END")
    if s0 and s1 and s1["t"] > s0["t"]:
        wall = s1["t"] - s0["t"]
        rec["server_cpu"] = round((s1["cpu_ticks"] - s0["cpu_ticks"]) / CLK_TCK / wall, 3)
        st0, st1 = s0["stat"], s1["stat"]
        # task CPU used by anything but the server and the client (other processes,
        # ksoftirqd...), in cores: a measure of interference from the rest of the machine
        task = (st1["cpu"][0] - st0["cpu"][0]) / CLK_TCK / wall
        kthreads = (s1["kthread_ticks"] - s0["kthread_ticks"]) / CLK_TCK / wall  # ksoftirqd etc.
        rec["kthread_cpu"] = round(kthreads, 3)
        rec["other_cpu"] = round(max(0.0, task - kthreads - rec["server_cpu"]
                                     - (res.get("client_cpu") or 0)), 3)
        for c in (SERVER_CPU, CLIENT_CPU):  # whole-core busy incl. irq/softirq
            k = "cpu" + c
            if k in st0 and k in st1:
                rec[k + "_busy"] = round((sum(st1[k]) - sum(st0[k])) / CLK_TCK / wall, 3)
        rec["rss_end_kb"] = s1["rss_kb"]
        rec["threads_end"] = s1["threads"]
    rec["hwm_kb"] = end["hwm_kb"] or None
    idle = ev.get("IDLE_READY")
    if idle:
        rec["rss_idle_kb"] = idle["rss_kb"]
        rec["fds_idle"] = idle.get("fds")
        rec["threads_idle"] = idle["threads"]
        n = point.get("idle", 0)
        if n:
            rec["rss_per_idle_conn_kb"] = round((idle["rss_kb"] - base["rss_kb"]) / n, 3)
    errors = res.get("errors_total", 0)
    rec["errors_total"] = errors
    if rec["value"] is None:
        rec["error"] = "no metric in load generator output"
    elif not alive:
        rec["error"] = "server died during the run"
    elif kind == "echo" and res.get("conns_ok", 0) < point["conns"]:
        rec["error"] = f"only {res.get('conns_ok')}/{point['conns']} active conns survived"
    elif point.get("idle") and res.get("idle_ok", 0) < point["idle"]:
        rec["error"] = f"only {res.get('idle_ok')}/{point['idle']} idle conns established"
    rec["ok"] = rec["error"] is None and rec["value"] is not None and rec["value"] > 0
    return rec


# --------------------------------------------------------------------------
# summary + markdown
# --------------------------------------------------------------------------
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs, points, servers_by_point, baseline):
    summary = {}
    for point in points:
        pid = point["id"]
        rows = {}
        for name in servers_by_point[pid]:
            rs = [r for r in runs if r["point"] == pid and r["server"] == name]
            ok = [r for r in rs if r["ok"]]
            vals = [r["value"] for r in ok]
            row = dict(n=len(rs), n_ok=len(ok), values=vals,
                       errors=[r["error"] for r in rs if r["error"]],
                       errors_total=sum(r.get("errors_total") or 0 for r in rs))
            if vals:
                m = statistics.median(vals)
                row.update(median=m, min=min(vals), max=max(vals),
                           spread_pct=100.0 * (max(vals) - min(vals)) / m if m else None)
            lats = [r["result"].get("lat_us", {}) for r in ok if "result" in r]
            for p in ("p50", "p99", "p999"):
                row[p] = med([lat.get(p) for lat in lats])
            row["server_cpu"] = med([r.get("server_cpu") for r in ok])
            row["other_cpu_max"] = max([r["other_cpu"] for r in ok if r.get("other_cpu") is not None], default=None)
            # server CPU time per unit of work: meaningful even when the client is the bottleneck
            row["srv_us_per_op"] = med([r["server_cpu"] / r["value"] * 1e6 for r in ok
                                        if r.get("server_cpu") is not None and r["value"]])
            row["client_cpu"] = med([r["result"].get("client_cpu") for r in ok if "result" in r])
            row["rss_end_kb"] = med([r.get("rss_end_kb") for r in ok])
            row["hwm_kb"] = med([r.get("hwm_kb") for r in ok])
            row["rss_per_idle_conn_kb"] = med([r.get("rss_per_idle_conn_kb") for r in ok])
            row["bytes_per_resp"] = med([r["result"].get("bytes_per_resp") for r in ok if "result" in r])
            row["per_conn_min"] = med([r["result"].get("per_conn_min") for r in ok if "result" in r])
            row["per_conn_max"] = med([r["result"].get("per_conn_max") for r in ok if "result" in r])
            rows[name] = row
        b = rows.get(baseline, {}).get("median")
        base_by_rep = {r["repeat"]: r["value"] for r in runs
                       if r["point"] == pid and r["server"] == baseline and r["ok"]}
        for name, row in rows.items():
            row["ratio"] = row["median"] / b if b and row.get("median") else None
            # ratio within each repeat round (server and baseline measured close in time)
            rr = [r["value"] / base_by_rep[r["repeat"]] for r in runs
                  if r["point"] == pid and r["server"] == name and r["ok"] and base_by_rep.get(r["repeat"])]
            row["ratio_min"] = min(rr) if rr else None
            row["ratio_max"] = max(rr) if rr else None
        summary[pid] = rows
    return summary


def fmt_num(x):
    if x is None:
        return "–"
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.2f}M"
    if ax >= 1e4:
        return f"{x / 1e3:.1f}k"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def render_markdown(report):
    meta, cfg, summary = report["meta"], report["config"], report["summary"]
    points = report["points"]
    baseline = cfg["baseline"]
    out = []
    out.append(f"Run {meta['date']} on {meta['machine']}; repeats={cfg['repeats']}, "
               f"warmup={cfg['warmup']}s, duration={cfg['duration']}s; "
               f"server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}; baseline = {baseline}.")
    out.append("")
    # summary matrices (echo points, then http points)
    out.append(f"### Summary: median over repeats, ×ratio to {baseline}, (range = (max−min)/median)")
    out.append("")
    for group in ("echo", "http"):
        gpoints = [p for p in points if point_kind(p) == group]
        if not gpoints:
            continue
        names = []
        for p in gpoints:
            for n in summary[p["id"]]:
                if n not in names:
                    names.append(n)
        out.append("| server | " + " | ".join(
            f"{p['label']} {METRIC[scenario_of(p)][1]}" for p in gpoints) + " |")
        out.append("|---" * (len(gpoints) + 1) + "|")
        for n in names:
            cells = []
            for p in gpoints:
                row = summary[p["id"]].get(n)
                if row is None:
                    cells.append("")
                elif row.get("median") is None:
                    cells.append("FAIL")
                else:
                    flag = "" if row["n_ok"] == row["n"] and not row["errors_total"] else " ⚠"
                    rng = "" if row["n_ok"] < 2 else f" ({row['spread_pct']:.0f}%)"
                    ratio = "" if row["ratio"] is None else f" ×{row['ratio']:.2f}"
                    cells.append(f"{fmt_num(row['median'])}{ratio}{rng}{flag}")
            out.append(f"| {n} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("⚠ = some repeats failed or reported client-side errors (see details); "
               "FAIL = no successful repeat.")
    unavailable = report.get("unavailable") or {}
    if unavailable:
        out.append("Not measured: " + "; ".join(f"{k} ({v})" for k, v in sorted(unavailable.items())))
    out.append("")
    # details per point
    for p in points:
        pid = p["id"]
        scn = scenario_of(p)
        unit = METRIC[scn][1]
        extra = []
        if scn == "idle":
            extra = ["KiB/idle conn"]
        if scn == "http":
            extra = ["B/resp"]
        desc = {
            "pingpong": f"C={p.get('conns')} closed-loop, M={p.get('msg')} B",
            "idle": f"C={p.get('conns')} active, N={p.get('idle')} idle conns, M={p.get('msg')} B",
            "churn": f"C={p.get('conns')} workers connect/send {p.get('msg')} B/recv/close",
            "bulk": f"C={p.get('conns')} streams, {p.get('chunk')} B writes, MB = 1e6 B",
            "http": f"wrk -t1 -c{p.get('conns')}" + (f", {p['pipeline']} pipelined" if p.get("pipeline") else ""),
        }[scn]
        out.append(f"#### {p['label']} ({unit}; {desc})")
        out.append("")
        cols = ["server", "median", "min", "max", "range", "× base", "× base per repeat", "p50 µs", "p99 µs",
                "srv CPU", f"srv µs/{OP_NAME[scn]}", "cli CPU", "other CPU (max)", "RSS MiB"] + extra + ["ok/runs", "errors"]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|---" * len(cols) + "|")
        for n, row in summary[pid].items():
            errs = row["errors_total"]
            err_txt = str(errs) if errs else "0"
            if row["errors"]:
                err_txt += "; " + "; ".join(sorted({e[:60] for e in row["errors"]}))
            cells = [n, fmt_num(row.get("median")), fmt_num(row.get("min")), fmt_num(row.get("max")),
                     "–" if row.get("spread_pct") is None else f"{row['spread_pct']:.0f}%",
                     fmt_ratio(row.get("ratio")),
                     "–" if row.get("ratio_min") is None else f"{row['ratio_min']:.2f}–{row['ratio_max']:.2f}",
                     fmt_num(row.get("p50")), fmt_num(row.get("p99")),
                     "–" if row.get("server_cpu") is None else f"{100 * row['server_cpu']:.0f}%",
                     fmt_num(row.get("srv_us_per_op")),
                     "–" if row.get("client_cpu") is None else f"{100 * row['client_cpu']:.0f}%",
                     "–" if row.get("other_cpu_max") is None else f"{100 * row['other_cpu_max']:.0f}%",
                     "–" if row.get("rss_end_kb") is None else f"{row['rss_end_kb'] / 1024:.1f}"]
            if scn == "idle":
                cells.append(fmt_num(row.get("rss_per_idle_conn_kb")))
            if scn == "http":
                cells.append(fmt_num(row.get("bytes_per_resp")))
            cells += [f"{row['n_ok']}/{row['n']}", err_txt]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------
# environment / build
# --------------------------------------------------------------------------
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception:
        return ""


def collect_meta(python):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = sh("awk '/MemTotal/{printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    code = ("import importlib.metadata as m\n"
            "out = []\n"
            "for d in ['uvloop', 'gevent', 'greenlet', 'eventlet', 'trio', 'gunicorn', 'waitress',\n"
            "          'uvicorn', 'httptools']:\n"
            "    try:\n"
            "        out.append(d + '==' + m.version(d))\n"
            "    except m.PackageNotFoundError:\n"
            "        pass\n"
            "print(' '.join(out))\n")
    try:
        pkgs = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception:
        pkgs = ""
    return dict(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{cpu}, {os.cpu_count()} CPUs, {mem}, Linux {platform.release()}",
        os=sh("cat /etc/debian_version"),
        python=sh(f"{python} -c 'import sys; print(sys.version.split()[0])'"),
        packages=pkgs,
        go=sh("go version"),
        gcc=sh("gcc --version | head -1"),
        wrk=sh("wrk -v 2>&1 | head -1"),
    )


def build(force=False):
    os.makedirs(BUILD, exist_ok=True)
    jobs = [
        (os.path.join(BUILD, "loadgen"), [os.path.join(HERE, "loadgen.c")],
         ["gcc", "-O2", "-Wall", "-o", os.path.join(BUILD, "loadgen"), os.path.join(HERE, "loadgen.c"), "-lm"]),
        (os.path.join(BUILD, "c_epoll"), [os.path.join(SERVERS_DIR, "c_epoll.c")],
         ["gcc", "-O2", "-Wall", "-o", os.path.join(BUILD, "c_epoll"), os.path.join(SERVERS_DIR, "c_epoll.c")]),
    ]
    godir = os.path.join(SERVERS_DIR, "go")
    for name, sub in [("go_echo", "echo"), ("go_httpstd", "httpstd"), ("go_httpraw", "httpraw")]:
        jobs.append((os.path.join(BUILD, name), [os.path.join(godir, sub, "main.go"), os.path.join(godir, "go.mod")],
                     ["go", "build", "-o", os.path.join(BUILD, name), "./" + sub]))
    problems = []
    for target, srcs, cmd in jobs:
        if not force and os.path.exists(target) and all(
                os.path.getmtime(target) >= os.path.getmtime(s) for s in srcs):
            continue
        if cmd[0] == "go" and not shutil_which("go"):
            problems.append(f"{os.path.basename(target)}: go not installed (apt-get install golang-go)")
            continue
        print(f"build: {' '.join(cmd)}", file=sys.stderr)
        r = subprocess.run(cmd, cwd=godir if cmd[0] == "go" else HERE, capture_output=True, text=True)
        if r.returncode:
            problems.append(f"{os.path.basename(target)}: build failed: {r.stderr.strip()[:300]}")
    return problems


def shutil_which(x):
    import shutil
    return shutil.which(x)


def available(server, python):
    for need in server.needs:
        what, _, name = need.partition(":")
        if what == "build" and not os.path.exists(os.path.join(BUILD, name)):
            return f"{name} not built"
        if what == "py":
            r = subprocess.run([python, "-c", f"import {name}"], capture_output=True)
            if r.returncode:
                return f"python module {name} not importable with {python}"
    return None


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="all",
                    help="comma list of %s, or all (default)" % ",".join(SCENARIO_ORDER))
    ap.add_argument("--points", default=None,
                    help="optional comma list of point ids to keep (e.g. pingpong_c64,idle_n10000)")
    ap.add_argument("--servers", default="all",
                    help="comma list of server names and groups: 'all' = the default set for each "
                         "scenario kind, 'wsgi' = the WSGI/ASGI http servers (not in 'all')")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=CMD",
                    help="extra echo server: shell command with a {port} placeholder (repeatable)")
    ap.add_argument("--extra-http", action="append", default=[], metavar="NAME=CMD",
                    help="extra HTTP hello-world server: shell command with {port} (repeatable)")
    ap.add_argument("--baseline", default=None, help="server the ratios refer to (default asyncio_streams)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=0.5, help="warmup seconds per run")
    ap.add_argument("--settle-ms", type=int, default=300,
                    help="pause after the idle conns are up (RSS is sampled then)")
    ap.add_argument("--connect-timeout", type=float, default=30.0)
    ap.add_argument("--quiet-threshold", type=float, default=0.15,
                    help="before each run wait until the machine's busy CPU is below this many cores "
                         "(0 disables; default 0.15)")
    ap.add_argument("--max-other-cpu", type=float, default=0.2,
                    help="re-measure a run if other processes used more than this many cores "
                         "during it (default 0.2)")
    ap.add_argument("--retries", type=int, default=2, help="re-measurements allowed per run (default 2)")
    ap.add_argument("--quiet-wait", type=float, default=20.0,
                    help="wait at most this many seconds for quiet (default 20)")
    ap.add_argument("--smoke-bytes", type=int, default=100_000,
                    help="size of the echo check sent before each measurement (default 100000)")
    ap.add_argument("--quick", action="store_true",
                    help="1 repeat, 1 s runs, 0.3 s warmup: checks the harness in a few minutes")
    ap.add_argument("--python", default=VENV_PY if os.path.exists(VENV_PY) else sys.executable,
                    help="interpreter for the Python servers (default: bench/.venv)")
    ap.add_argument("--out", default=None, help="results JSON (default bench/results/<stamp>.json)")
    ap.add_argument("--md", default=None, help="also write the markdown tables here")
    ap.add_argument("--report", default=None, metavar="JSON", help="only re-render a saved results file")
    ap.add_argument("--list", action="store_true", help="list servers and scenario points")
    ap.add_argument("--rebuild", action="store_true", help="rebuild loadgen and the C/Go servers")
    ap.add_argument("--build-only", action="store_true", help="build (if needed) and exit")
    a = ap.parse_args(argv)
    if a.quick:
        a.repeats, a.duration, a.warmup, a.settle_ms = 1, 1.0, 0.3, 200
    return a


def main(argv=None):
    args = parse_args(argv)
    if args.report:  # re-render (and re-summarize, optionally with another --baseline)
        with open(args.report) as f:
            report = json.load(f)
        if args.baseline:
            report["config"]["baseline"] = args.baseline
        sbp = {pid: list(rows) for pid, rows in report["summary"].items()}
        report["summary"] = summarize(report["runs"], report["points"], sbp, report["config"]["baseline"])
        md = render_markdown(report)
        print(md)
        if args.md:
            with open(args.md, "w") as f:
                f.write(md + "\n")
        return 0
    args.baseline = args.baseline or "asyncio_streams"
    if args.list:
        for s in BUILTIN:
            kinds = "+".join(k for k in ("echo", "http") if s.cmd(k))
            print(f"{s.name:26s} {kinds:10s} {s.note}")
        print(f"group {'all':20s} echo: {','.join(ALL_ECHO)}; http: {','.join(ALL_HTTP)}")
        for g, kinds in GROUPS.items():
            print(f"group {g:20s} " + "; ".join(f"{k}: {','.join(v)}" for k, v in kinds.items() if v))
        for scn in SCENARIO_ORDER:
            for p in SCENARIOS[scn]:
                print(f"point {p['id']:18s} {p['label']}")
        return 0

    # keep the driver off the server's CPU; raise our fd limit (inherited by servers)
    try:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    except OSError:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    problems = build(args.rebuild)
    for p in problems:
        print("WARNING:", p, file=sys.stderr)
    if args.build_only:
        return 1 if problems else 0
    if not os.path.exists(LOADGEN):
        print("loadgen could not be built", file=sys.stderr)
        return 2

    # servers
    servers = dict(BY_NAME)
    extra_echo, extra_http = [], []
    for spec, kind in [(e, "echo") for e in args.extra] + [(e, "http") for e in args.extra_http]:
        name, sep, cmd = spec.partition("=")
        if not sep or "{port}" not in cmd:
            print(f"--extra{'-http' if kind == 'http' else ''} needs NAME=CMD with {{port}}: {spec!r}",
                  file=sys.stderr)
            return 2
        s = servers.get(name)
        if s is None or name in BY_NAME:
            s = servers[name] = Server(name, shell=True, note="extra: " + cmd)
        setattr(s, kind, cmd)
        (extra_echo if kind == "echo" else extra_http).append(name)
    wanted = [x.strip() for x in args.servers.split(",") if x.strip()]
    for w in wanted:
        if w != "all" and w not in GROUPS and w not in servers:
            print(f"unknown server {w!r}; see --list", file=sys.stderr)
            return 2

    def servers_for(kind):
        names = []
        for w in wanted:
            for n in group_members(w, kind):
                if servers[n].cmd(kind) and n not in names:
                    names.append(n)
        for n in (extra_echo if kind == "echo" else extra_http):
            if n not in names:
                names.append(n)
        return names

    scns = SCENARIO_ORDER if args.scenario == "all" else [s.strip() for s in args.scenario.split(",")]
    points = []
    for s in scns:
        if s not in SCENARIOS:
            print(f"unknown scenario {s!r}", file=sys.stderr)
            return 2
        points += SCENARIOS[s]
    if args.points:
        keep = set(args.points.split(","))
        points = [p for p in points if p["id"] in keep]
    if not points:
        print("no scenario points selected", file=sys.stderr)
        return 2

    unavailable = {}
    for n in set(servers_for("echo") + servers_for("http")):
        why = None if servers[n].shell else available(servers[n], args.python)
        if why:
            unavailable[n] = why
            print(f"WARNING: skipping {n}: {why}", file=sys.stderr)
    if any(p["mode"] == "http" for p in points) and not shutil_which("wrk"):
        print("WARNING: wrk not installed (apt-get install wrk): skipping http", file=sys.stderr)
        points = [p for p in points if p["mode"] != "http"]
    servers_by_point = {p["id"]: [n for n in servers_for(point_kind(p)) if n not in unavailable]
                        for p in points}
    measured = {n for v in servers_by_point.values() for n in v}
    for w in wanted:  # e.g. `--scenario http --servers go`: go is echo-only (go_raw answers HTTP)
        if w != "all" and w not in GROUPS and w not in measured and w not in unavailable:
            kinds = "/".join(sorted({point_kind(p) for p in points}))
            print(f"WARNING: {w} has no {kinds} command for the selected points: not measured",
                  file=sys.stderr)

    nruns = sum(len(v) for v in servers_by_point.values()) * args.repeats
    per = args.warmup + args.duration + args.settle_ms / 1000 + 0.8
    eta = sum(len(servers_by_point[p["id"]]) * args.repeats *
              (per + (1.0 if p["mode"] == "http" and args.warmup > 0 else 0) +
               p.get("idle", 0) / 5000) for p in points)
    print(f"{len(points)} points, {nruns} runs, estimated {eta / 60:.1f} min", file=sys.stderr)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(RESULTS_DIR, exist_ok=True)
    out_path = args.out or os.path.join(RESULTS_DIR, f"{stamp}.json")
    logdir = os.path.join(RESULTS_DIR, f"logs-{stamp}")
    os.makedirs(logdir, exist_ok=True)
    jsonl = open(os.path.splitext(out_path)[0] + ".runs.jsonl", "w")  # noqa: SIM115 - open for the whole run

    meta = collect_meta(args.python)
    runs = []
    t_start = time.monotonic()
    done = 0
    try:
        for p in points:
            names = servers_by_point[p["id"]]
            for rep in range(args.repeats):
                k = rep % len(names) if names else 0
                order = names[k:] + names[:k]  # rotate so no server always runs first/last
                for i, n in enumerate(order):
                    for attempt in range(args.retries + 1):
                        try:
                            rec = measure(servers[n], p, rep, i, args, logdir)
                        except Exception as e:  # never let one server abort the whole comparison
                            rec = dict(server=n, point=p["id"], scenario=scenario_of(p), repeat=rep,
                                       order=i, ok=False, value=None,
                                       error=f"harness: {type(e).__name__}: {e}")
                        rec["attempt"] = attempt + 1
                        if (rec.get("other_cpu") or 0) <= args.max_other_cpu or attempt == args.retries:
                            break
                        print(f"  retry {p['id']} {n}: other CPU load {rec['other_cpu']} cores "
                              f"during the run (> {args.max_other_cpu})", file=sys.stderr, flush=True)
                    runs.append(rec)
                    jsonl.write(json.dumps(rec) + "\n")
                    jsonl.flush()
                    done += 1
                    res = rec.get("result", {})
                    lat = res.get("lat_us", {})
                    status = "ok" if rec["ok"] else f"FAILED: {rec['error']}"
                    print(f"[{done}/{nruns} {time.monotonic() - t_start:5.0f}s] {p['id']:18s} r{rep} "
                          f"{n:22s} {fmt_num(rec['value']):>7s} {METRIC[scenario_of(p)][1]:6s} "
                          f"p99={fmt_num(lat.get('p99'))}us srv_cpu={rec.get('server_cpu')} "
                          f"cli_cpu={res.get('client_cpu')} other={rec.get('other_cpu')} "
                          f"busy_before={rec.get('busy_before')} err={rec.get('errors_total')} {status}",
                          file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted: writing partial results", file=sys.stderr)
    finally:
        jsonl.close()

    summary = summarize(runs, points, servers_by_point, args.baseline)
    report = dict(meta=meta, config=dict(repeats=args.repeats, duration=args.duration, warmup=args.warmup,
                                         settle_ms=args.settle_ms, baseline=args.baseline,
                                         python=args.python, argv=sys.argv[1:],
                                         wall_s=round(time.monotonic() - t_start, 1)),
                  points=points, servers={n: servers[n].note for n in servers_for("echo") + servers_for("http")},
                  unavailable=unavailable, summary=summary, runs=runs)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1)
    md = render_markdown(report)
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md + "\n")
    print(f"\nresults: {out_path} (per-run logs: {logdir}); wall {report['config']['wall_s']} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
