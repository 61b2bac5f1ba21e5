"""Descriptor exhaustion: with RLIMIT_NOFILE exhausted,
the servers netpoll ships back off on EMFILE instead of spinning (a
generous bound: under 10 % of a CPU while stuck), and serve the waiting
connections once descriptors free up.

tests/cli/test_cli.py checks the echo server's log line and its recovery, and
the backoff schedule itself; this file adds the CPU bound, and the same
for the HTTP example."""

import resource
import socket
import time

import pytest

from support import PYTHON, cpu_seconds, example, recv_exactly, ServerProcess

LIMIT = 40
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
# the start of the answer (a Date header follows)
HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n"

SERVERS = {
    "netpoll-echo": ([PYTHON, "-m", "netpoll", "echo", "--listen", "127.0.0.1:0"], b"x", b"x"),
    "http-example": (example("http_server", "--timeout", "30"), GET, HELLO),
}


def low_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def wait_for_log(server, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while text not in server.errors().lower():
        assert time.monotonic() < deadline, server.errors()
        time.sleep(0.01)          # the server's log is a file: nothing to wait on


@pytest.mark.parametrize("name", SERVERS)
def test_out_of_descriptors_backs_off_then_recovers(name):
    argv, request, answer = SERVERS[name]
    with ServerProcess(argv, preexec_fn=low_limit) as server:
        conns = [socket.create_connection(server.address, timeout=10)
                 for _ in range(LIMIT + 10)]            # more than the server can hold
        for s in conns:
            s.sendall(request)
        assert recv_exactly(conns[0], len(answer)) == answer
        wait_for_log(server, "too many open files")

        # stuck: backing off, not spinning
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(1.0)           # the measurement window itself
        used = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
        assert used < 0.10, f"{used:.0%} of a CPU while out of descriptors"

        # descriptors free up: every waiting connection is served
        for s in conns[:LIMIT // 2]:
            s.close()
        for s in conns[LIMIT // 2:]:
            assert recv_exactly(s, len(answer), timeout=10) == answer
        # and new ones too
        with socket.create_connection(server.address, timeout=10) as s:
            s.sendall(request)
            assert recv_exactly(s, len(answer)) == answer
        for s in conns[LIMIT // 2:]:
            s.close()
        assert server.proc.poll() is None
