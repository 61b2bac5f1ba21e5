"""Close races: goroutines read, write, set deadlines,
reset and close the same connections in random order, round after round
(descriptor numbers are recycled between rounds), under each poller.

Checked: nothing hangs (every goroutine finishes once the round's
connections are closed); only the documented exceptions are raised
(ClosedError, DeadlineExceededError, ConnectionResetError,
BrokenPipeError; EOF is b""); no descriptor leaks; and every readiness
notification reaches the PollDesc of the descriptor's *current* life (the
same number and the same open file as when it was opened), never one left
over from a recycled descriptor."""

import os
import random
import time

import pytest

import netpoll
import netpoll.internal.fd as fdmod
from netpoll.runtime.polldesc import PollDesc
from support import tcp_pair

SECONDS = 0.8                 # per poller
PAIRS = 8
ACTORS = 24
ROUND = 0.04
DOCUMENTED = (netpoll.ClosedError, netpoll.DeadlineExceededError,
              ConnectionResetError, BrokenPipeError)


@pytest.fixture
def audited(monkeypatch):
    """Record each descriptor life at poll_open; check every netpollready
    against the life it is delivered to.  Returns the list of violations."""
    lives = {}
    violations = []
    real_open = fdmod.poll_open
    real_ready = PollDesc.netpollready

    def poll_open(fd, rt=None):
        pd = real_open(fd, rt)
        lives[id(pd)] = (pd.fdseq, fd, os.fstat(fd).st_ino)
        return pd

    def netpollready(pd, mode):
        life = lives.get(id(pd))
        if life is None:
            violations.append(f"wake-up for an unknown PollDesc {pd!r}")
        else:
            fdseq, fd, ino = life
            try:
                same = (pd.fdseq == fdseq and pd.fd == fd and not pd.closing
                        or pd.closing and pd.fd == fd)      # evicted, not yet closed
                same = same and os.fstat(fd).st_ino == ino
            except OSError:
                same = False
            if not same:
                violations.append(f"wake-up for {pd!r} reached a recycled life {life}")
        return real_ready(pd, mode)

    monkeypatch.setattr(fdmod, "poll_open", poll_open)
    monkeypatch.setattr(PollDesc, "netpollready", netpollready)
    return violations


def actor(rng, conns, until, errors):
    buf = bytearray(4096)
    while time.monotonic() < until:
        c = rng.choice(conns)
        op = rng.randrange(12)
        try:
            if op < 3:
                c.read(rng.choice((1, 100, 65536)))
            elif op == 3:
                c.read_into(buf)
            elif op < 6:
                c.write(b"w" * rng.choice((1, 1000, 300_000)))
            elif op == 6:
                c.set_deadline(rng.choice((None, 0, time.monotonic() + 0.005)))
            elif op == 7:
                c.set_read_deadline(rng.choice((None, time.monotonic() + 0.01)))
            elif op == 8:
                c.set_write_deadline(rng.choice((None, time.monotonic() - 1,
                                                 time.monotonic() + 0.01)))
            elif op == 9:
                if rng.random() < 0.1:
                    c.close()
                else:
                    netpoll.gosched()
            elif op == 10:
                if rng.random() < 0.1:
                    c.set_linger(0)       # the close sends a reset
                    c.close()
            else:
                netpoll.sleep(rng.random() * 0.003)
        except DOCUMENTED:
            pass
        except Exception as exc:   # noqa: BLE001 - the test reports it
            errors.append(f"op {op}: {type(exc).__name__}: {exc}")


def test_close_races(poller, audited):
    rng = random.Random(int(os.environ.get("NETPOLL_STRESS_SEED", "6")))
    fds_before = set(os.listdir("/proc/self/fd"))
    errors = []

    def main():
        end = time.monotonic() + SECONDS
        rounds = 0
        while time.monotonic() < end:
            rounds += 1
            conns = [c for _ in range(PAIRS) for c in tcp_pair()]
            until = time.monotonic() + ROUND
            gs = [netpoll.go(actor, random.Random(rng.random()), conns, until, errors)
                  for _ in range(ACTORS)]
            netpoll.sleep(ROUND)
            for c in conns:                     # wakes whoever is still parked
                c.close()
            for g in gs:
                g.join(timeout=5)               # TimeoutError here: a hang
            assert netpoll.stats()["netpoll_waiters"] == 0
        return rounds

    rounds = netpoll.run(main, poller=poller)
    assert rounds >= 3
    assert errors == []
    assert audited == []
    assert set(os.listdir("/proc/self/fd")) == fds_before
