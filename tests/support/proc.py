"""Child processes for the tests: one runner, ``Child``, whose stdout is
read line by line as events (never slept on), and which is always stopped
when the test leaves it.  ``Child.script`` runs a Python snippet;
``ServerProcess`` runs a server program and waits for the line
``listening on HOST:PORT`` it prints once it accepts connections."""

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable
LISTENING = re.compile(r"listening on (\S+)")


class Child:
    """A child process with stdout read as lines and stderr kept in a file
    (so a chatty child can never block on a full pipe)."""

    def __init__(self, argv, env=None, **popen):
        full_env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        full_env.update(env or {})
        self._stderr = tempfile.TemporaryFile(mode="w+")
        # stdout unbuffered and binary: readline() then takes exactly one
        # line off the pipe, so select() on it never misses a second line
        # sitting in a read-ahead buffer (two lines written at once).
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, bufsize=0, cwd=ROOT,
                                     env=full_env, **popen)
        self.lines = []

    @classmethod
    def script(cls, code, env=None, **popen):
        """Run the Python snippet ``code`` (dedented) in a child."""
        return cls([PYTHON, "-c", textwrap.dedent(code)], env=env, **popen)

    @property
    def pid(self):
        return self.proc.pid

    def expect(self, pattern, timeout=10.0):
        """The next stdout line that starts with ``pattern`` (a str) or that
        ``pattern`` (a compiled regex) matches somewhere; earlier lines are
        kept in ``self.lines``.  AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError(f"no line {pattern!r} within {timeout} s; "
                                     f"got {self.lines}; stderr: {self.stderr_now()}")
            line = self.proc.stdout.readline().decode(errors="replace")
            if not line:
                raise AssertionError(f"EOF before {pattern!r}; got {self.lines}; "
                                     f"exit {self.proc.wait()}; stderr: {self.errors()}")
            line = line.rstrip("\n")
            self.lines.append(line)
            if isinstance(pattern, str):
                if line.startswith(pattern):
                    return line
            elif pattern.search(line):
                return line

    def finish(self, timeout=10.0):
        """Wait for exit: (returncode, rest of stdout, stderr)."""
        self.proc.wait(timeout)
        out = self.proc.stdout.read().decode(errors="replace")
        self.lines += out.splitlines()
        return self.proc.returncode, out, self.errors()

    def errors(self):
        """Everything the child wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read()

    def stderr_now(self):
        return self.errors() or "(nothing yet)"

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
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ServerProcess(Child):
    """A server program in a child; ``address`` is the (host, port) from its
    ``listening on`` line."""

    def __init__(self, argv, timeout=15.0, **popen):
        super().__init__(argv, **popen)
        try:
            self.line = self.expect(LISTENING, timeout)
        except BaseException:
            self.close()
            raise
        host, _, port = LISTENING.search(self.line).group(1).rpartition(":")
        self.address = host.strip("[]"), int(port)


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
