"""Slow and hostile clients.

A slowloris client (a byte at a time) and an idle one are dropped by the
HTTP example's read deadline: tests/cli/test_examples.py
(test_http_drops_idle_and_slowloris_clients) and the chat example's slow
reader (test_chat_broadcasts_and_drops_a_slow_reader) cover those.  Here: a
client that sends requests and never reads the answers is dropped by the
write deadline; and netpoll itself never buffers without bound: a writer
to a peer that does not read waits, and a deadline says how much went out."""

import os
import socket
import time

import pytest

import netpoll
from support import example, rss_bytes, ServerProcess, tcp_pair, wait_parked, wait_until

FILE_SIZE = 16 << 20                 # far more than loopback socket buffers hold


def server_holds(pid, client):
    """True while process ``pid`` has the other end of ``client`` open
    (found through /proc/net/tcp: the inode of the socket whose remote port
    is the client's local port)."""
    port = client.getsockname()[1]
    inodes = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == port:
                inodes.add(fields[9])
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except FileNotFoundError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("slow")
    with open(root / "big.bin", "wb") as f:
        f.truncate(FILE_SIZE)
    return root


def hog(address, request, times):
    """A client that sends ``times`` pipelined requests and never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(address)
    s.sendall(request * times)
    return s


def test_http_drops_a_client_that_never_reads(big_root):
    """--timeout 1 bounds the write of an answer too: a client that never
    reads is disconnected; others are served meanwhile."""
    with ServerProcess(example("http_server", "--root", str(big_root),
                               "--timeout", "1")) as server:
        h = hog(server.address, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 1)
        start = time.monotonic()
        wait_until(lambda: server_holds(server.pid, h), what="the hog to be accepted")
        with socket.create_connection(server.address, timeout=10) as other:
            other.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"Hello, World!" in other.recv(65536)
        wait_until(lambda: not server_holds(server.pid, h), timeout=10,
                   what="the non-reading client to be dropped")
        assert time.monotonic() - start < 5
        h.close()


def test_http_pipelined_answers_are_not_buffered_without_bound(big_root):
    """Pipelined requests for a big file: the server writes each answer
    (or a small batch of answers) before building the next, so its memory
    does not grow with the number of requests queued."""
    with ServerProcess(example("http_server", "--root", str(big_root),
                               "--timeout", "1")) as server:
        rss0 = rss_bytes(server.pid)
        h = hog(server.address, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 8)
        wait_until(lambda: server_holds(server.pid, h), what="the hog to be accepted")
        peak = 0
        deadline = time.monotonic() + 15
        while server_holds(server.pid, h):
            assert time.monotonic() < deadline, "the non-reading client was never dropped"
            peak = max(peak, rss_bytes(server.pid) - rss0)
            time.sleep(0.02)       # sampling another process's memory
        assert peak < 4 * FILE_SIZE, f"{peak >> 20} MiB for 8 pipelined requests"
        h.close()


def test_writer_to_a_non_reader_waits_and_says_how_much_went_out(run):
    def main():
        client, server = tcp_pair()
        server.set_write_buffer(64 * 1024)
        data = b"d" * FILE_SIZE
        rss0 = rss_bytes()
        g = netpoll.go(lambda: pytest.raises(netpoll.DeadlineExceededError, server.write, data))
        wait_parked(g)                               # parked, not buffering
        server.set_write_deadline(time.monotonic())  # a past deadline wakes it now
        exc = g.join(timeout=5).value
        assert 0 < exc.written < FILE_SIZE // 2, exc.written
        assert rss_bytes() - rss0 < FILE_SIZE // 2   # nothing copied per write
        # the reader gets exactly what the exception says went out
        got = 0
        client.set_read_deadline(time.monotonic() + 0.2)
        try:
            while True:
                got += len(client.read(1 << 20))
        except netpoll.DeadlineExceededError:
            pass
        assert got == exc.written
        # and the connection is still usable once the deadline is cleared
        server.set_write_deadline(None)
        server.write(b"more")
        client.set_read_deadline(None)
        assert client.read(4) == b"more"
        client.close()
        server.close()
    run(main)
