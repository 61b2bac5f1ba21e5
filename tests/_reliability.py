"""Helpers shared by the reliability tests (tests/test_reliability_*.py,
tests/test_soak.py): child scripts, descriptor counts, CPU time."""

import os
import select
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Script:
    """A Python snippet run in a child process whose stdout is read line by
    line as events (never slept on).  Always killed on exit."""

    def __init__(self, code, env=None, **popen):
        full_env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, cwd=ROOT,
                                     env=full_env, **popen)
        self.lines = []

    @property
    def pid(self):
        return self.proc.pid

    def expect(self, prefix, timeout=10.0):
        """The next stdout line starting with ``prefix`` (earlier lines are
        kept in ``self.lines``); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError(f"no line {prefix!r} within {timeout} s; "
                                     f"got {self.lines}; stderr: {self.stderr_now()}")
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"EOF before {prefix!r}; got {self.lines}; "
                                     f"exit {self.proc.wait()}; stderr: {self.stderr_now()}")
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def finish(self, timeout=10.0):
        """Wait for exit: (returncode, rest of stdout, stderr)."""
        # Not communicate(): it reads the raw pipe and would miss what
        # readline() has already buffered.  stderr is small: no deadlock.
        self.proc.wait(timeout)
        out = self.proc.stdout.read()
        err = self.proc.stderr.read()
        self.lines += out.splitlines()
        return self.proc.returncode, out, err

    def stderr_now(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def fd_count(pid="self"):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK     # utime, stime


def rss_bytes(pid="self"):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def wait_until(predicate, timeout=10.0, what="condition"):
    """Poll ``predicate`` for a state that has no event to wait on (another
    process's /proc entries); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
