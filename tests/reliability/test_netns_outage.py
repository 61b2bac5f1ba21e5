"""The link goes down for a second in the middle of a 10 MB transfer and
comes back: TCP retransmits, and every byte arrives intact and in order
(nothing lost, nothing duplicated), under every poller.

A netpoll echo server runs in namespace a (support.netns.VethPair); a
client in namespace b sends 10 MB of random bytes and reads the echo back.
After the first megabyte the test takes b's end of the link down, waits a
second and brings it back."""

import queue
import random
import socket
import threading
import time

import pytest

import netpoll
from netpoll import net
from netpoll.server import serve

from support.netns import VethPair

TOTAL = 10 << 20
FIRST = 1 << 20                     # sent before the link goes down
OUTAGE = 1.0
CHUNK = 64 << 10


@pytest.fixture
def pair():
    with VethPair() as p:
        yield p


def echo(conn, done):
    try:
        with conn:
            buf = bytearray(65536)
            view = memoryview(buf)
            while n := conn.read_into(buf):
                conn.write(view[:n])
        done.put("EOF")
    except OSError as exc:
        done.put(exc)


def test_link_down_for_a_second_mid_transfer_loses_nothing(pair, poller):
    port = queue.Queue()               # the server's port, or None if it failed
    done = queue.Queue()               # how the echo ended
    stop = threading.Event()
    errors = []

    def server_main():
        with net.listen("tcp", "0.0.0.0:0") as ln:
            port.put(ln.addr.port)
            netpoll.go(serve, ln, echo, done)
            netpoll.to_thread(stop.wait)

    def server_thread():
        try:
            netpoll.run(server_main, poller=poller)
        except BaseException as exc:
            errors.append(exc)
            port.put(None)

    server = pair.thread("a", server_thread, name="netns-echo")
    try:
        server_port = port.get(timeout=10)
        assert server_port, errors

        data = random.Random(17).randbytes(TOTAL)
        client = pair.socket("b")
        client.settimeout(30)
        client.connect((pair.addr["a"], server_port))
        received = bytearray()
        got_first = threading.Event()
        def retransmitted():
            # Both sides: the server retransmits only if its echo was in
            # flight when the link went down, the client while it still sends
            return pair.tcp_stat("a", "RetransSegs") + pair.tcp_stat("b", "RetransSegs")
        retrans_before = retransmitted()

        def send():
            # paced (64 KiB every 5 ms, about 1.6 s in all) so that data
            # flows both ways when the link goes down
            try:
                for i in range(0, TOTAL, CHUNK):
                    client.sendall(data[i:i + CHUNK])
                    time.sleep(0.005)
                client.shutdown(socket.SHUT_WR)
            except BaseException as exc:
                errors.append(exc)

        def receive():
            try:
                while chunk := client.recv(1 << 20):
                    received.extend(chunk)
                    if len(received) >= FIRST:
                        got_first.set()
            except BaseException as exc:
                errors.append(exc)
            got_first.set()

        threads = [threading.Thread(target=f, daemon=True) for f in (send, receive)]
        for t in threads:
            t.start()
        assert got_first.wait(20)
        pair.down("b")
        time.sleep(OUTAGE)                 # the outage itself: a duration, not a wait
        at_up = len(received)
        pair.up("b")
        t_up = time.monotonic()
        for t in threads:
            t.join(30)
        client.close()
        print(f"transfer done {time.monotonic() - t_up:.2f} s after the link came back; "
              f"{at_up} bytes had arrived before")
        assert not errors, errors
        assert len(received) == TOTAL, len(received)
        if received != data:
            first_bad = next(i for i in range(TOTAL) if received[i] != data[i])
            pytest.fail(f"the echo differs from what was sent from byte {first_bad} on")
        # the outage was mid-transfer, and TCP had to retransmit
        assert FIRST <= at_up < TOTAL, at_up
        assert retransmitted() > retrans_before
        assert done.get(timeout=10) == "EOF"
    finally:
        stop.set()
        server.join(10)
    assert not server.is_alive()
    assert not errors, errors
