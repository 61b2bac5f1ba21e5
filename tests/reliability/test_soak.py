"""Soak: many clients against the `netpoll echo` server
for about 15 s, exchanging random-sized messages and closing, half-closing
or resetting at random.  At the end every acknowledged byte came back
intact, the server holds exactly the descriptors it started with, and its
RSS grew by less than a few MB between two quiet points.

Bounded (well under 60 s); marked `soak` so it can be deselected with
-m "not soak", and run in CI by default."""

import random
import time

import pytest

import netpoll
from netpoll import net
from support import PYTHON, fd_count, rss_bytes, ServerProcess, wait_until

pytestmark = [pytest.mark.soak, pytest.mark.timeout(120)]

WARMUP = 3.0
SOAK = 12.0
CLIENTS = 48
MAX_MESSAGE = 256 * 1024
RSS_GROWTH = 4 << 20
BLOB = random.Random(9).randbytes(4 * MAX_MESSAGE)


class Tally:
    def __init__(self):
        self.conns = self.acked = self.resets = self.half_closes = self.early = 0
        self.errors = []


def session(rng, address, tally):
    """One connection: messages out, a reader checking the echo, then a
    normal half close, an early close or a reset."""
    conn = net.dial("tcp", address)
    tally.conns += 1
    sent = []                               # (offset, length) of each message, in order
    checked = [0]

    def reader():
        # the echo must be exactly the concatenation of what was sent
        pos = 0
        try:
            while True:
                data = conn.read(65536)
                if not data:
                    return
                expect = b"".join(BLOB[o:o + n] for o, n in sent)[pos:pos + len(data)]
                if data != expect:
                    tally.errors.append(f"corrupt echo at byte {pos}")
                    return
                pos += len(data)
                checked[0] = pos
        except (netpoll.ClosedError, ConnectionResetError):
            pass                            # our own close or reset

    r = netpoll.go(reader)
    fate = rng.random()
    messages = rng.randrange(1, 12)
    try:
        for i in range(messages):
            n = rng.choice((1, rng.randrange(1, 2048), rng.randrange(1, MAX_MESSAGE)))
            o = rng.randrange(len(BLOB) - n)
            sent.append((o, n))
            conn.write(BLOB[o:o + n])
            if fate < 0.15 and i == messages // 2:
                break
        if fate < 0.15:                     # reset in the middle
            tally.resets += 1
            conn.set_linger(0)
            conn.close()
        elif fate < 0.25:                   # close without reading the rest
            tally.early += 1
            conn.close()
        else:                               # half close, read every byte back
            tally.half_closes += 1
            conn.close_write()
            r.join()
            total = sum(n for _, n in sent)
            if checked[0] != total:
                tally.errors.append(f"echoed {checked[0]} of {total} bytes")
            conn.close()
    except (ConnectionResetError, BrokenPipeError) as exc:
        tally.errors.append(f"server reset a well-behaved client: {exc}")
        conn.close()
    r.join()
    tally.acked += checked[0]


def load(address, seconds, seed):
    tally = Tally()

    def client(i):
        rng = random.Random(seed * 1000 + i)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not tally.errors:
            session(rng, address, tally)

    def main():
        gs = [netpoll.go(client, i) for i in range(CLIENTS)]
        for g in gs:
            g.join()
    netpoll.run(main)
    return tally


def quiet(server, fds):
    """Until the server has closed every client connection."""
    wait_until(lambda: fd_count(server.pid) == fds, timeout=15,
               what=f"the server to be back to {fds} descriptors")


def test_soak():
    with ServerProcess([PYTHON, "-m", "netpoll", "echo", "--listen", "127.0.0.1:0"]) as server:
        address = "%s:%d" % server.address
        fds0 = fd_count(server.pid)
        warm = load(address, WARMUP, seed=1)
        quiet(server, fds0)
        rss1 = rss_bytes(server.pid)
        soak = load(address, SOAK, seed=2)
        quiet(server, fds0)
        rss2 = rss_bytes(server.pid)
        for t in (warm, soak):
            assert t.errors == [], t.errors[:5]
        print(f"\nsoak: {soak.conns} connections ({soak.half_closes} half-closed, "
              f"{soak.early} closed early, {soak.resets} reset), "
              f"{soak.acked / 1e6:.1f} MB echoed and checked; server RSS "
              f"{rss1 / 1e6:.1f} -> {rss2 / 1e6:.1f} MB")
        assert soak.conns > 200 and soak.resets > 10 and soak.acked > 10e6
        assert rss2 - rss1 < RSS_GROWTH, f"server RSS grew by {(rss2 - rss1) / 1e6:.1f} MB"
        assert server.stop() == 0
        assert "Traceback" not in server.errors(), server.errors()
