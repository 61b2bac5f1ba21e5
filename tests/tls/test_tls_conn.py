"""tls.Conn between two netpoll goroutines, under every poller: echo, the
lazy handshake, connection_state, half-close and end of stream, closing,
deadlines during the handshake, reads and writes, full duplex."""

import hashlib
import os
import ssl
import time

import pytest

import netpoll
from netpoll import ClosedError, DeadlineExceededError, net, tls

from support import wait_parked
from support.tlsutil import TLS12, TLS13, VERSIONS, Certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def tls_pair(certs, version=None, **client_kw):
    """(client, server) tls.Conns over loopback; handshake not yet run."""
    ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx(version=version))
    g = netpoll.go(ln.accept)
    raw = net.dial("tcp", str(ln.addr))
    server = g.join()
    ln.close()
    client = tls.client(raw, certs.client_ctx(version=version), "localhost", **client_kw)
    return client, server


def handshaken_pair(certs, version=None):
    client, server = tls_pair(certs, version)
    g = netpoll.go(server.handshake)
    client.handshake()
    g.join()
    return client, server


@pytest.mark.parametrize("version", VERSIONS)
def test_echo_and_connection_state(run, certs, version):
    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx(version=version))

        def serve():
            conn = ln.accept()
            with conn:
                while data := conn.read():
                    conn.write(data)
                return conn.connection_state()
        g = netpoll.go(serve)
        c = tls.dial("tcp", str(ln.addr), certs.client_ctx(version=version),
                     server_name="localhost", timeout=10)
        state = c.connection_state()
        for size in (1, 100, 16384, 16385, 200_000):
            msg = os.urandom(size)
            c.write(msg)
            got = b""
            while len(got) < size:
                got += c.read()
            assert got == msg
        c.close_write()
        assert c.read() == b""
        c.close()
        sstate = g.join()
        ln.close()
        return state, sstate
    state, sstate = run(main)
    name = "TLSv1.3" if version == TLS13 else "TLSv1.2"
    assert state.handshake_complete and sstate.handshake_complete
    assert state.version == sstate.version == name
    assert state.cipher and state.cipher == sstate.cipher
    assert state.server_name == sstate.server_name == "localhost"
    assert state.peer_certificate == ssl.PEM_cert_to_DER_cert(
        certs.leaf.cert_chain_pems[0].bytes().decode())
    assert sstate.peer_certificate is None          # no client certificate
    assert sstate.eof == "close_notify"


def test_accept_does_not_handshake(run, certs):
    """accept() returns at once for a client that sends nothing; the
    handshake runs on the first read, in the serving goroutine."""
    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        silent = net.dial("tcp", str(ln.addr))
        conn = ln.accept()
        assert not conn.connection_state().handshake_complete
        good = netpoll.go(tls.dial, "tcp", str(ln.addr), certs.client_ctx(),
                          server_name="localhost", timeout=10)
        conn2 = ln.accept()
        assert conn2.read(0) == b""      # handshakes (read(0) returns at once after)
        c = good.join()
        assert c.connection_state().handshake_complete
        conn2.handshake()                # idempotent
        conn2.handshake()
        for x in (conn, conn2, c, silent, ln):
            x.close()
    run(main)


def test_half_close_and_answer(run, certs):
    """close_write sends close_notify; the peer reads b"" and can still
    answer, and we can still read the answer."""
    def main():
        c, s = handshaken_pair(certs)
        c.write(b"question")
        c.close_write()
        assert s.read() == b"question"
        assert s.read() == b""
        assert s.connection_state().eof == "close_notify"
        s.write(b"answer")
        s.close()
        got = b""
        while data := c.read():
            got += data
        assert got == b"answer"
        assert c.connection_state().eof == "close_notify"
        with pytest.raises(BrokenPipeError):
            c.write(b"more")
        c.close()
    run(main)


def test_close_write_keeps_data_already_received(run, certs):
    """Data that arrived before close_write is still read after it (ssl's
    shutdown would otherwise fail on it)."""
    def main():
        c, s = handshaken_pair(certs)
        s.write(b"early")
        s.write(b"bird")
        s.close_write()
        netpoll.go(lambda: None).join()
        # Let the records land in the client's receive queue, then fetch
        # one read's worth: the rest stays in the BIO.
        assert c.read(2) == b"ea"
        c.close_write()
        got = b""
        while data := c.read():
            got += data
        assert got == b"rlybird"
        c.close()
        s.close()
    run(main)


def test_eof_without_close_notify_is_reported(run, certs):
    def main():
        c, s = handshaken_pair(certs)
        s.write(b"ticket-flusher")
        assert c.read() == b"ticket-flusher"   # nothing unread: FIN, not RST
        c.write(b"x")
        c.conn.close()                   # the TCP connection, no close_notify
        assert s.read() == b"x"
        assert s.read() == b""
        assert s.connection_state().eof == "truncated"
        assert s.read() == b""
        s.close()
    run(main)


def test_close_is_idempotent_and_later_calls_fail(run, certs):
    def main():
        c, s = handshaken_pair(certs)
        c.close()
        c.close()
        c.handshake()                    # done before: a no-op, as in Go
        for op in (c.read, lambda: c.write(b"x"), c.close_write):
            with pytest.raises(ClosedError):
                op()
        assert s.read() == b""
        assert s.connection_state().eof == "close_notify"
        s.close()
    run(main)


@pytest.mark.parametrize("where", ["handshake", "read"])
def test_close_wakes_blocked_goroutine(run, certs, where):
    """close() from another goroutine wakes one blocked in the handshake or
    in a read with ClosedError."""
    def main():
        c, s = tls_pair(certs)
        if where == "read":
            g = netpoll.go(c.handshake)
            s.handshake()
            g.join()
        g = netpoll.go(s.read)           # blocks: the client sends nothing
        wait_parked(g)
        s.close()
        with pytest.raises(ClosedError):
            g.join()
        c.close()
    run(main)


@pytest.mark.parametrize("where", ["handshake", "read"])
def test_read_deadline(run, certs, where):
    """A deadline bounds the handshake and the read; after a read deadline
    the connection still works once the deadline is moved."""
    def main():
        c, s = tls_pair(certs)
        if where == "read":
            g = netpoll.go(c.handshake)
            s.handshake()
            g.join()
        s.set_read_deadline(time.monotonic() + 0.2)
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            s.read()
        elapsed = time.monotonic() - t0
        assert 0.15 < elapsed < 5
        if where == "read":
            s.set_read_deadline(None)
            c.write(b"late")
            assert s.read() == b"late"
        else:
            with pytest.raises(DeadlineExceededError):
                s.read()                 # a failed handshake is final
        c.close()
        s.close()
    run(main)


def test_write_deadline(run, certs):
    def main():
        c, s = handshaken_pair(certs)
        c.set_write_deadline(time.monotonic() + 0.3)
        blob = b"z" * (1 << 20)
        with pytest.raises(DeadlineExceededError):
            while True:                  # the server never reads
                c.write(blob)
        with pytest.raises(DeadlineExceededError):
            c.write(b"x")                # the stream is corrupt now (as in Go)
        c.close()
        s.close()
    run(main)


def test_full_duplex_reader_and_writer(run, certs):
    """One reader and one writer goroutine per side, both directions at
    once, more than the socket buffers hold."""
    size = 8 << 20

    def main():
        c, s = handshaken_pair(certs)

        def writer(conn, seed):
            h = hashlib.sha256()
            block = hashlib.sha256(seed).digest() * 2048       # 64 KiB
            sent = 0
            while sent < size:
                conn.write(block)
                h.update(block)
                sent += len(block)
            return h.hexdigest()

        def reader(conn):
            h = hashlib.sha256()
            got = 0
            while got < size:
                data = conn.read()
                assert data
                h.update(data)
                got += len(data)
            return h.hexdigest()
        gs = [netpoll.go(writer, c, b"c"), netpoll.go(writer, s, b"s"),
              netpoll.go(reader, s), netpoll.go(reader, c)]
        sent_c, sent_s, got_s, got_c = (g.join() for g in gs)
        assert sent_c == got_s and sent_s == got_c
        c.close()
        s.close()
    run(main)


def test_read_into_and_writev(run, certs):
    def main():
        c, s = handshaken_pair(certs)
        assert c.writev([b"ab", bytearray(b"cd"), memoryview(b"ef")]) == 6
        buf = bytearray(10)
        got = 0
        while got < 6:
            got += s.read_into(memoryview(buf)[got:])
        assert bytes(buf[:6]) == b"abcdef"
        c.close()
        assert s.read_into(buf) == 0
        s.close()
    run(main)


def test_tls_over_unix_socket(run, certs, tmp_path):
    def main():
        path = str(tmp_path / "s")
        ln = tls.listen("unix", path, certs.server_ctx())
        g = netpoll.go(lambda: ln.accept().read())
        c = tls.dial("unix", path, certs.client_ctx(), server_name="localhost")
        c.write(b"over unix")
        assert g.join() == b"over unix"
        c.close()
        ln.close()
    run(main)


@pytest.mark.parametrize("version", [TLS12, TLS13])
def test_many_small_messages_both_ways(run, certs, version):
    def main():
        c, s = handshaken_pair(certs, version)

        def echo():
            while data := s.read():
                s.write(data)
        g = netpoll.go(echo)
        for i in range(500):
            msg = b"%d" % i
            c.write(msg)
            assert c.read() == msg
        c.close()
        g.join()
        s.close()
    run(main)


def test_close_during_blocked_write_is_prompt(run, certs):
    """close() while a write is parked on a full socket (the peer does not
    read) skips close_notify, as Go does, returns at once and wakes the
    writer with ClosedError."""
    def main():
        c, s = handshaken_pair(certs)
        blob = b"w" * (1 << 20)

        def writer():
            while True:
                c.write(blob)
        g = netpoll.go(writer)
        wait_parked(g)
        t0 = time.monotonic()
        c.close()
        elapsed = time.monotonic() - t0
        with pytest.raises(ClosedError):
            g.join()
        s.close()
        return elapsed
    assert run(main) < 1.0


def test_tls_inside_tls(run, certs):
    """A tls.Conn over another tls.Conn (a proxy's tunnel): the inner one
    reads and writes through the outer one's read and write."""
    def main():
        outer_c, outer_s = handshaken_pair(certs)
        inner_s = tls.server(outer_s, certs.server_ctx())
        inner_c = tls.client(outer_c, certs.client_ctx(), "localhost")

        def echo():
            while data := inner_s.read():
                inner_s.write(data)
            inner_s.close()
        g = netpoll.go(echo)
        msg = os.urandom(100_000)
        inner_c.write(msg)
        got = b""
        while len(got) < len(msg):
            got += inner_c.read()
        inner_c.close_write()
        assert inner_c.read() == b""
        g.join()
        inner_c.close()
        assert got == msg
        assert inner_c.connection_state().version == "TLSv1.3"
    run(main)
