"""TLS benchmark: netpoll.tls against gevent (gevent.ssl), asyncio + uvloop
(create_server(ssl=...)) and Go (crypto/tls), with the same certificate
(ECDSA P-256, made here by ``openssl req``), TLS 1.3 and the same cipher
suite (the Go client's first choice, TLS_AES_128_GCM_SHA256: the Python
servers drop OP_CIPHER_SERVER_PREFERENCE so they take it too; the driver
checks and prints the suite each server negotiated).

Two scenarios, each driven by the Go load generator in go/loadgen:

  handshake  C workers loop: connect, full handshake (no resumption),
             one 64-byte round trip, close.  handshakes/s, and the
             server's CPU per handshake.
  bulk       one connection writes 64 KiB blocks while reading the echo.
             MB/s echoed, and the server's CPU per MB.

Server CPU is read from /proc/PID/stat before and after each run.  Servers
alternate within each repeat, so a noisy neighbour hits all of them alike;
report ratios from one run.

    python bench/tls/run.py                          # all servers, 3 repeats, 3 s
    python bench/tls/run.py --quick                  # 1 repeat, 1 s: checks it works
    python bench/tls/run.py --servers netpoll,go --secs 5 --md out.md

gevent and uvloop run in the peers' venv that ``sh bench/setup.sh`` makes
from bench/requirements.txt (``--peer-python`` to choose another); netpoll runs with ``--python`` (default: this one) and the
repo on PYTHONPATH.  Go must be installed (``apt-get install golang-go``).
"""

import argparse
import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchenv import PEER_PYTHON

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ("netpoll", "gevent", "uvloop", "go")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def make_cert(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def build_go(bindir):
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPATH=os.path.join(bindir, "gopath"),
               GOCACHE=os.path.join(bindir, "gocache"))
    for name in ("loadgen", "server"):
        subprocess.run(["go", "build", "-o", os.path.join(bindir, name), f"./{name}"],
                       cwd=os.path.join(HERE, "go"), check=True, env=env)


def server_argv(name, args, cert, key, bindir):
    addr = "127.0.0.1:0"
    if name == "netpoll":
        return [args.python, os.path.join(HERE, "servers", "netpoll_tls.py"), addr, cert, key]
    if name == "gevent":
        return [args.peer_python, os.path.join(HERE, "servers", "gevent_tls.py"), addr, cert, key]
    if name == "uvloop":
        return [args.peer_python, os.path.join(HERE, "servers", "uvloop_tls.py"), addr, cert, key]
    return [os.path.join(bindir, "server"), "-listen", addr, "-cert", cert, "-key", key]


class Server:
    def __init__(self, argv):
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, bufsize=0)
        ready = select.select([self.proc.stdout], [], [], 30)[0]
        line = self.proc.stdout.readline().decode() if ready else ""
        m = re.search(r"listening on (\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"{argv[0]}: no 'listening on' line: {line!r} "
                               f"{self.proc.stderr.read().decode()[-2000:]}")
        self.address = m.group(1)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def negotiated(bindir, address, cert):
    """The version and suite the load generator gets from this server."""
    out = subprocess.run(
        [os.path.join(bindir, "loadgen"), "-addr", address, "-ca", cert, "-mode", "probe"],
        check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def load(bindir, address, cert, mode, conns, secs):
    out = subprocess.run(
        [os.path.join(bindir, "loadgen"), "-addr", address, "-ca", cert, "-mode", mode,
         "-conns", str(conns), "-secs", str(secs)],
        check=True, capture_output=True, text=True, timeout=secs + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--secs", type=float, default=3.0)
    ap.add_argument("--hs-conns", type=int, default=8, help="handshake workers")
    ap.add_argument("--bulk-conns", type=int, default=1, help="bulk connections")
    ap.add_argument("--quick", action="store_true", help="1 repeat of 1 s")
    ap.add_argument("--python", default=sys.executable, help="python with greenlet, for netpoll")
    ap.add_argument("--peer-python", default=PEER_PYTHON,
                    help="python with gevent and uvloop (default: the venv bench/setup.sh makes)")
    ap.add_argument("--md", help="write the table here too (markdown)")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.secs = 1, 1.0
    names = [s for s in args.servers.split(",") if s]
    for s in names:
        if s not in SERVERS:
            ap.error(f"unknown server {s!r}: choose from {', '.join(SERVERS)}")

    results = {s: {"hs": [], "hs_cpu": [], "mbps": [], "mb_cpu": [], "errors": 0}
               for s in names}
    suites = {}
    with tempfile.TemporaryDirectory(prefix="tlsbench-") as tmp:
        cert, key = make_cert(tmp)
        build_go(tmp)
        for r in range(args.repeats):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                server = Server(server_argv(name, args, cert, key, tmp))
                try:
                    suites[name] = negotiated(tmp, server.address, cert)
                    pid = server.proc.pid
                    c0 = cpu_seconds(pid)
                    hs = load(tmp, server.address, cert, "handshake", args.hs_conns, args.secs)
                    c1 = cpu_seconds(pid)
                    bulk = load(tmp, server.address, cert, "bulk", args.bulk_conns, args.secs)
                    c2 = cpu_seconds(pid)
                finally:
                    server.close()
                res = results[name]
                res["errors"] += hs["errors"] + bulk["errors"]
                res["hs"].append(hs["ops"] / hs["secs"])
                res["hs_cpu"].append((c1 - c0) / max(hs["ops"], 1) * 1e6)
                mb = bulk["bytes"] / 1e6
                res["mbps"].append(mb / bulk["secs"])
                res["mb_cpu"].append((c2 - c1) / max(mb, 1e-9) * 1e3)
                print(f"repeat {r} {name:8} {res['hs'][-1]:8.0f} handshakes/s "
                      f"{res['hs_cpu'][-1]:7.0f} us CPU each | {res['mbps'][-1]:7.1f} MB/s "
                      f"{res['mb_cpu'][-1]:6.2f} ms CPU/MB", flush=True)

    ref = names[0]
    lines = [
        f"TLS 1.3, ECDSA P-256 certificate, Go load generator; {args.repeats} repeat(s) of "
        f"{args.secs:g} s, medians; {args.hs_conns} handshake workers, {args.bulk_conns} "
        f"bulk connection(s).  Server CPU from /proc.  Ratios against {ref}.",
        "",
        "| server | suite | handshakes/s | × | server µs CPU / handshake | bulk MB/s | × "
        "| server ms CPU / MB | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    med = {s: {k: statistics.median(v) for k, v in results[s].items() if k != "errors"}
           for s in names}
    for s in names:
        m = med[s]
        lines.append(
            f"| {s} | {suites.get(s, '?')} | {m['hs']:.0f} | {m['hs'] / med[ref]['hs']:.2f} "
            f"| {m['hs_cpu']:.0f} | {m['mbps']:.1f} | {m['mbps'] / med[ref]['mbps']:.2f} "
            f"| {m['mb_cpu']:.2f} | {results[s]['errors']} |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.md:
        with open(args.md, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
