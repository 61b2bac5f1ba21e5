"""Hostile and broken clients against a tls listener: plain-text HTTP,
random bytes, a client that stops halfway through its ClientHello, and a
thousand connections that never handshake while the accept loop goes on
serving a good client.  Nothing hangs, nothing leaks."""

import os
import socket
import ssl
import subprocess
import time

import pytest

import netpoll
from netpoll import DeadlineExceededError, net, tls

from support import open_fds
from support.tlsutil import Certs, need


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def client_hello(certs):
    """The bytes of a real ClientHello, from an SSLObject on memory BIOs."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = certs.client_ctx().wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


@pytest.mark.parametrize("garbage", [
    pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", id="plain-http"),
    pytest.param(os.urandom(4096), id="random-bytes"),
])
def test_garbage_gets_a_handshake_error(run, certs, garbage):
    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        raw = net.dial("tcp", str(ln.addr))
        conn = ln.accept()
        conn.set_deadline(time.monotonic() + 10)
        raw.write(garbage)
        t0 = time.monotonic()
        with pytest.raises(ssl.SSLError) as info:
            conn.read()
        elapsed = time.monotonic() - t0
        # The error is final, and the client hears an alert or EOF at once.
        with pytest.raises(ssl.SSLError):
            conn.write(b"x")
        conn.close()
        raw.set_deadline(time.monotonic() + 10)
        answer = b""
        try:
            while data := raw.read():
                answer += data
        except ConnectionResetError:
            pass
        raw.close()
        ln.close()
        return info.value, elapsed, answer
    err, elapsed, answer = run(main)
    assert not isinstance(err, ssl.SSLCertVerificationError)
    assert elapsed < 5
    assert answer == b"" or answer[:1] == b"\x15"     # EOF, or a TLS alert record


def test_client_stops_halfway_through_handshake(run, certs):
    """Half a ClientHello, then silence: the server's deadline ends it."""
    hello = client_hello(certs)

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        raw = net.dial("tcp", str(ln.addr))
        conn = ln.accept()
        raw.write(hello[: len(hello) // 2])
        conn.set_deadline(time.monotonic() + 0.3)
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            conn.handshake()
        elapsed = time.monotonic() - t0
        conn.close()
        raw.close()
        ln.close()
        return elapsed
    assert 0.2 < run(main) < 5


@pytest.mark.parametrize("poller", [p for p in ("poll", "epoll") if p in netpoll.pollers()])
def test_thousand_silent_connections(certs, poller):
    """1,000 connections that never handshake: the accept loop accepts them
    all, each costs only its serving goroutine, a good client is served
    meanwhile, and the descriptors all come back.  (Not under select: it
    cannot watch descriptors numbered 1024 and up.)"""
    n = 1000

    def main():
        before = open_fds()
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx(), backlog=2048)
        stats = {"accepted": 0, "active": 0, "failed": 0}

        def handle(conn):
            stats["active"] += 1
            try:
                conn.set_deadline(time.monotonic() + 60)
                while data := conn.read():
                    conn.write(data)
            except OSError:                  # ssl.SSLError is an OSError
                stats["failed"] += 1
            finally:
                conn.close()
                stats["active"] -= 1

        def accept_loop():
            while True:
                try:
                    conn = ln.accept()
                except OSError:
                    return
                stats["accepted"] += 1
                netpoll.go(handle, conn)
        loop = netpoll.go(accept_loop)
        port = ln.addr.port
        silent = []
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))   # the kernel completes it: backlog
            silent.append(s)
        deadline = time.monotonic() + 60
        while stats["accepted"] < n:
            assert time.monotonic() < deadline, stats
            netpoll.sleep(0.01)
        good = tls.dial("tcp", str(ln.addr), certs.client_ctx(), server_name="localhost",
                        timeout=30)
        good.write(b"still serving")
        assert good.read() == b"still serving"
        good.close()
        while stats["active"] > n:              # the good one's handler ends
            assert time.monotonic() < deadline, stats
            netpoll.sleep(0.01)
        assert stats["active"] == n and stats["failed"] == 0   # the silent ones wait
        for s in silent:
            s.close()
        while stats["active"]:
            assert time.monotonic() < deadline, stats
            netpoll.sleep(0.01)
        ln.close()
        loop.join()
        return stats, open_fds() - before
    stats, leaked = netpoll.run(main, poller=poller)
    assert stats["accepted"] == n + 1
    assert stats["failed"] == n                 # EOF during the handshake
    assert not leaked


def test_client_initiated_renegotiation_is_refused(run, certs):
    """A TLS 1.2 client asking to renegotiate (s_client's ``R``, the lever of
    renegotiation floods) is refused by OpenSSL: the server's read fails
    with an SSLError at once, no handshake loop, and the listener goes on
    serving."""
    openssl = need("openssl")

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        proc = subprocess.Popen(
            [openssl, "s_client", "-connect", f"127.0.0.1:{ln.addr.port}", "-CAfile",
             certs.ca_pem, "-tls1_2"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            conn = ln.accept()
            conn.set_read_deadline(time.monotonic() + 20)
            proc.stdin.write(b"first\n")
            proc.stdin.flush()
            assert conn.read() == b"first\n"
            proc.stdin.write(b"R\n")            # s_client: renegotiate
            proc.stdin.flush()
            with pytest.raises(ssl.SSLError):
                conn.read()
            conn.close()
            # the listener serves the next client
            def serve_one():
                with ln.accept() as other:
                    return other.read()
            g = netpoll.go(serve_one)
            with tls.dial("tcp", str(ln.addr), certs.client_ctx(),
                          server_name="localhost") as client:
                client.write(b"ping")
                assert g.join() == b"ping"
        finally:
            ln.close()
            out = netpoll.to_thread(lambda: (proc.stdin.close(), proc.stdout.read(),
                                             proc.wait(30))[1])
        return out.decode(errors="replace")
    out = run(main)
    assert "RENEGOTIATING" in out and "no renegotiation" in out, out[-2000:]
