"""FD.sendfile: sendfile(2) that parks while the socket buffer is full,
stops where the file ends and reports what went out on a deadline."""

import time

import pytest

import netpoll
from netpoll import DeadlineExceededError
from netpoll.poller import MODE_WRITE

from support import tcp_pair

BLOCK = bytes(range(256)) * 4096            # 1 MiB: more than a socket buffer


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(BLOCK * 4)
    with open(path, "rb") as f:
        yield f


def test_sendfile_parks_until_the_reader_drains(run, big_file):
    def main():
        client, server = tcp_pair()
        with client, server:
            got = bytearray()

            def reader():
                while len(got) < 3 * len(BLOCK) - 100:
                    got.extend(client.read(65536))
            g = netpoll.go(reader)
            sent = server.fd.sendfile(big_file.fileno(), 100, 3 * len(BLOCK) - 100)
            g.join()
            return sent, bytes(got)
    sent, got = run(main)
    assert sent == 3 * len(BLOCK) - 100
    assert got == (BLOCK * 3)[100:]


def test_sendfile_stops_at_the_end_of_the_file(run, big_file):
    def main():
        client, server = tcp_pair()
        with client, server:
            sent = server.fd.sendfile(big_file.fileno(), 4 * len(BLOCK) - 10, 1000)
            return sent, client.read(100)
    assert run(main) == (10, BLOCK[-10:])


def test_sendfile_deadline_reports_what_was_written(run, big_file):
    def main():
        client, server = tcp_pair()                 # the client never reads
        with client, server:
            server.fd.set_deadline(time.monotonic() + 0.3, MODE_WRITE)
            with pytest.raises(DeadlineExceededError) as info:
                server.fd.sendfile(big_file.fileno(), 0, 4 * len(BLOCK))
            return info.value.written
    written = run(main)
    assert 0 < written < 4 * len(BLOCK)
