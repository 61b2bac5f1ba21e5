"""Counters read from /proc: descriptors, CPU time, memory; and a polling
wait for states that have no event (another process's /proc entries)."""

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def open_fds(pid="self"):
    """The set of a process's open descriptor numbers (as strings)."""
    return set(os.listdir(f"/proc/{pid}/fd"))


def fd_count(pid="self"):
    """How many descriptors a process has open."""
    return len(open_fds(pid))


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
