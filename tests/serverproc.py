"""Start a server program in a child process and wait until it listens.

The servers print a line containing ``listening on HOST:PORT`` once they
accept connections; ``ServerProcess`` waits for that line (never for a
fixed time) and always stops the process it started.
"""

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
LISTENING = re.compile(r"listening on (\S+)")


class ServerProcess:
    def __init__(self, argv, timeout=15.0, **popen):
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, text=True, cwd=ROOT, **popen)
        self.line = None
        try:
            self.address = self._wait_listening(timeout)
        except BaseException:
            self.close()
            raise

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError(f"no 'listening' line within {timeout} s: {self.errors()}")
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"exited with {self.proc.wait()}: {self.errors()}")
            m = LISTENING.search(line)
            if m:
                self.line = line
                host, _, port = m.group(1).rpartition(":")
                return host.strip("[]"), int(port)

    @property
    def pid(self):
        return self.proc.pid

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send ``sig`` and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def example(name, *args):
    """The argv of ``examples/<name>.py`` listening on a free port."""
    return [PYTHON, os.path.join(ROOT, "examples", f"{name}.py"),
            "--listen", "127.0.0.1:0", *args]


def recv_all(sock, timeout=10.0):
    """Read until EOF (AssertionError if it takes longer than ``timeout``)."""
    sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def recv_exactly(sock, n, timeout=10.0):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf
