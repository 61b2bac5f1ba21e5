"""The demo's load generator: a separate process, plain stdlib sockets.

    python -m netpoll.demo.client --port P --server-pid PID --idle N --active A

1. opens the ``active`` connections and does one round trip on each (so the
   server has touched every code path), then samples the server's RSS;
2. opens the ``idle`` connections, 256 at a time, each proving with a 1-byte
   echo that the server accepted it and parked a goroutine (or thread) on
   it, then samples the RSS again: (RSS after - RSS before) / N is the
   server's memory per idle connection;
3. runs a closed loop on the active connections (send a message, wait for
   its full echo, send again) with an epoll/poll selector: ``warmup``
   seconds, then ``seconds`` measured, sampling the server's CPU time
   (utime + stime from /proc/PID/stat) at both ends of the window;
4. prints one JSON line with the results (or an ``error``) and exits.

The idle connections stay silent during step 3: with poll and select the
server still passes every one of them to the kernel on each wait.
"""

import argparse
import json
import os
import resource
import select
import socket
import sys
import time

BATCH = 256


def raise_nofile():
    """Raise the soft RLIMIT_NOFILE as far as the hard limit allows (children
    inherit it); return the resulting soft limit.  The hard limit is left as
    it is.  (The orchestrator uses this too.)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def cpu_seconds(pid):
    """utime + stime of process ``pid`` (all its threads), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    # after the command name: state is field 3, utime 14, stime 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """CPU seconds the whole machine has been busy (all CPUs), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)    # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """VmRSS of process ``pid`` in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def connect(addr, n, timeout):
    """Open ``n`` connections, each verified by a 1-byte echo."""
    conns = []
    while len(conns) < n:
        batch = []
        try:
            for _ in range(min(BATCH, n - len(conns))):
                s = socket.create_connection(addr, timeout=timeout)
                batch.append(s)
                s.sendall(b"x")
            for i, s in enumerate(batch):
                if s.recv(1) != b"x":
                    raise ConnectionError(
                        f"the server closed connection {len(conns) + i + 1} without "
                        "echoing (see the server's log)")
        except BaseException:
            for s in batch + conns:
                s.close()
            raise
        conns.extend(batch)
    return conns


def pingpong(conns, size, warmup, seconds, server_pid):
    """Closed-loop round trips on ``conns``; returns (count, elapsed,
    server CPU seconds, own CPU seconds, machine busy CPU seconds).

    Raw descriptors and os.read/os.write keep this loop cheap: the client
    must not be what limits the round trips."""
    msg = os.urandom(size)
    poller, wait = _poller()
    pending = {}
    for s in conns:
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        poller.register(s.fileno(), select.POLLIN)
        pending[s.fileno()] = size
        s.send(msg)
    read, write, monotonic = os.read, os.write, time.monotonic
    start = monotonic() + warmup
    end = start + seconds
    measuring = False
    count = 0
    cpu0 = None
    while True:
        now = monotonic()
        if not measuring and now >= start:
            measuring = True
            count = 0
            cpu0 = cpu_seconds(server_pid)
            own0 = time.process_time()
            busy0 = machine_busy()
            start = now
            end = now + seconds
        elif measuring and now >= end:
            break
        for fd, _ in wait(0.5):
            data = read(fd, 65536)
            if not data:
                raise ConnectionError("the server closed an active connection")
            left = pending[fd] - len(data)
            if left > 0:
                pending[fd] = left
                continue
            count += 1
            pending[fd] = size
            write(fd, msg)    # 64 bytes into an empty send buffer: never partial
    cpu1 = cpu_seconds(server_pid)
    elapsed = monotonic() - start
    own = time.process_time() - own0
    busy1 = machine_busy()
    busy = None if busy0 is None or busy1 is None else busy1 - busy0
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    if hasattr(poller, "close"):
        poller.close()
    return count, elapsed, cpu, own, busy


def _poller():
    """(object with register(fd, events), wait(timeout_s)): epoll where the
    OS has it, else poll."""
    if hasattr(select, "epoll"):
        ep = select.epoll()
        return ep, ep.poll
    p = select.poll()
    return p, lambda timeout: p.poll(timeout * 1000)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--idle", type=int, default=0)
    p.add_argument("--active", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args(argv)
    raise_nofile()
    addr = (a.host, a.port)
    result = {"idle": a.idle, "active": a.active}
    active = idle = []
    try:
        active = connect(addr, a.active, timeout=10)
        for s in active:
            s.sendall(b"y" * a.size)
            got = 0
            while got < a.size:
                chunk = s.recv(a.size - got)
                if not chunk:
                    raise ConnectionError("the server closed an active connection")
                got += len(chunk)
        rss0 = rss_kib(a.server_pid)
        t0 = time.monotonic()
        idle = connect(addr, a.idle, timeout=10)
        result["idle_setup_s"] = time.monotonic() - t0
        rss1 = rss_kib(a.server_pid)
        if rss0 is not None and rss1 is not None:
            result["rss_kib"] = rss1
            if a.idle:
                result["kib_per_idle"] = (rss1 - rss0) / a.idle
        count, elapsed, cpu, own, busy = pingpong(active, a.size, a.warmup, a.seconds, a.server_pid)
        result["round_trips"] = count
        result["rt_per_s"] = count / elapsed
        result["client_cpu"] = own / elapsed
        if cpu is not None and count:
            result["server_us_per_rt"] = cpu / count * 1e6
            result["server_cpu"] = cpu / elapsed
            if busy is not None:
                # everything else the machine did meanwhile (other programs,
                # and kernel work such as loopback TCP not charged to either)
                result["other_cpu"] = max(0.0, (busy - cpu - own) / elapsed)
    except (OSError, ValueError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        for s in active + idle:
            s.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
