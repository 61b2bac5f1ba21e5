"""Run the demo's measurements: one server process and one client process
per (server, idle count) point.

The server (``netpoll echo --poller NAME`` or the thread-per-connection
reference server) and the client (``netpoll.demo.client``) are separate
processes, pinned to different CPUs when there are two, so the client's
work is not charged to the server.  This process only starts them, reads
the client's JSON line and stops the server with SIGTERM.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

FD_SETSIZE = 1024
# Descriptors a server holds besides its connections (stdio, listener,
# poller, wake-up pipe, slack).
SERVER_EXTRA_FDS = 16
CLIENT_EXTRA_FDS = 16

LISTENING = re.compile(r"listening on (\S+)")


class Server:
    """A server under test in a child process (one per demo point)."""

    def __init__(self, name, argv, cpu=None):
        self.name = name
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, text=True)
        if cpu is not None:
            _pin(self.proc.pid, cpu)
        self.address = None

    def wait_listening(self, timeout=15.0):
        """Read the server's ``listening on HOST:PORT`` line; return (host, port)."""
        deadline = time.monotonic() + timeout
        out = self.proc.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise RuntimeError(f"{self.name}: no 'listening' line after {timeout} s"
                                   f"{self.log_tail()}")
            line = out.readline()
            if not line:
                raise RuntimeError(f"{self.name}: exited with {self.proc.wait()} "
                                   f"before listening{self.log_tail()}")
            m = LISTENING.search(line)
            if m:
                host, _, port = m.group(1).rpartition(":")
                self.address = (host.strip("[]"), int(port))
                return self.address

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after ``timeout``; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode

    def log_tail(self, lines=5):
        self.log.seek(0)
        text = self.log.read().strip().splitlines()[-lines:]
        return (":\n    " + "\n    ".join(text)) if text else ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def server_argv(name):
    """The command line of the server called ``name``."""
    if name == "threads":
        return [sys.executable, "-m", "netpoll.demo.threads_server", "--listen", "127.0.0.1:0"]
    return [sys.executable, "-m", "netpoll", "echo", "--listen", "127.0.0.1:0", "--poller", name]


def _cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return []


def _pin(pid, cpu):
    try:
        os.sched_setaffinity(pid, {cpu})
    except (AttributeError, OSError):
        pass


def fds_needed(idle, active):
    """Descriptors the server (and the client) need for one point."""
    return idle + active + max(SERVER_EXTRA_FDS, CLIENT_EXTRA_FDS)


def fd_limit_skip(idle, active, nofile):
    """Why ``idle`` idle connections cannot run under RLIMIT_NOFILE, or None."""
    if fds_needed(idle, active) > nofile:
        return "no: ulimit -n"
    return None


def select_skip(idle, active):
    """Why the select poller cannot serve this point, or None."""
    if idle + active + SERVER_EXTRA_FDS > FD_SETSIZE:
        return f"no: fd≥{FD_SETSIZE}"
    return None


def measure(name, idle, active, seconds, warmup=0.5):
    """One point: start server ``name``, run the client, stop the server.
    Returns the client's result dict (with ``error`` on failure)."""
    cpus = _cpus()
    server_cpu = client_cpu = None
    if len(cpus) >= 2:
        server_cpu, client_cpu = cpus[0], cpus[1]
    server = Server(name, server_argv(name), server_cpu)
    try:
        host, port = server.wait_listening()
        argv = [sys.executable, "-m", "netpoll.demo.client", "--host", host,
                "--port", str(port), "--server-pid", str(server.proc.pid),
                "--idle", str(idle), "--active", str(active),
                "--seconds", str(seconds), "--warmup", str(warmup)]
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True)
        if client_cpu is not None:
            _pin(client.pid, client_cpu)
        try:
            out, err = client.communicate(timeout=60 + seconds + warmup + idle / 200)
        except subprocess.TimeoutExpired:
            client.kill()
            client.communicate()
            return {"error": "the client timed out"}
        except BaseException:           # Ctrl-C: no client left behind
            client.kill()
            client.communicate()
            raise
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return {"error": f"the client failed: {err.strip()[-300:]}"}
        code = server.stop()
        clean = (0, -signal.SIGTERM) if name == "threads" else (0,)
        if code not in clean and "error" not in result:
            result["error"] = f"the server exited with {code}{server.log_tail()}"
        elif "error" in result:
            result["error"] += server.log_tail(2)
        return result
    except RuntimeError as exc:
        return {"error": str(exc)}
    finally:
        server.close()
