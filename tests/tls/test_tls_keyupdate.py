"""A read that must write and a write that must read, against openssl
s_server: a TLS 1.2 renegotiation the server asks for, answered by a
goroutine that only reads; a write made during a renegotiation, which has
to wait for the handshake's next message (received by the reader); and a
TLS 1.3 key update the peer asks us to answer."""

import ssl

import pytest

import netpoll
from netpoll import Chan, net, tls

from support import wait_parked
from support.tlsutil import Certs, OpenSSLServer


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


class Spy:
    """Stands in for a tls.Conn's OpenSSL object and counts the writes that
    raised SSLWantReadError."""

    def __init__(self, obj):
        self.obj = obj
        self.write_wanted_read = 0

    def write(self, data):
        try:
            return self.obj.write(data)
        except ssl.SSLWantReadError:
            self.write_wanted_read += 1
            raise

    def __getattr__(self, name):
        return getattr(self.obj, name)


def test_renegotiation_driven_by_reader(certs):
    """TLS 1.2: s_server sends HelloRequest; the netpoll client only reads,
    and that read sends the ClientHello and the rest of the handshake
    (want-write during read), then returns the data sent after it."""
    with OpenSSLServer("-cert", certs.cert_pem, "-key", certs.key_pem, "-naccept", "1",
                       "-tls1_2", "-msg") as srv:
        def main():
            c = tls.dial("tcp", srv.address, certs.client_ctx(), server_name="localhost",
                         timeout=20)
            c.write(b"ready\n")
            netpoll.to_thread(srv.expect, "ready")
            reader = netpoll.go(c.read)
            wait_parked(reader)
            srv.command("r\n")
            netpoll.to_thread(srv.expect, "HelloRequest")
            netpoll.to_thread(_expect_received, srv, "ClientHello")
            netpoll.to_thread(_expect_received, srv, "Finished")
            srv.command("after-renegotiation\n")
            got = reader.join()
            c.write(b"ours-after\n")
            netpoll.to_thread(srv.expect, "ours-after")
            c.close()
            return got
        assert netpoll.run(main) == b"after-renegotiation\n"


def test_key_update_requested_by_peer(certs):
    """TLS 1.3: s_server sends KeyUpdate(update_requested).  The reader
    goes on under the peer's new keys; OpenSSL sends our KeyUpdate before
    our next application data (RFC 8446 4.6.3 allows the wait), so the
    next write carries it and the server reads that write."""
    with OpenSSLServer("-cert", certs.cert_pem, "-key", certs.key_pem, "-naccept", "1",
                       "-tls1_3", "-msg") as srv:
        def main():
            c = tls.dial("tcp", srv.address, certs.client_ctx(), server_name="localhost",
                         timeout=20)
            c.write(b"ready\n")
            netpoll.to_thread(srv.expect, "ready")
            reader = netpoll.go(c.read)
            wait_parked(reader)
            srv.command("K\n")
            netpoll.to_thread(srv.expect, "KeyUpdate")            # sent
            srv.command("after-key-update\n")
            got = reader.join()
            c.write(b"ours-after\n")
            netpoll.to_thread(_expect_received, srv, "KeyUpdate")
            netpoll.to_thread(srv.expect, "ours-after")
            c.close()
            return got
        assert netpoll.run(main) == b"after-key-update\n"


def _expect_received(srv, what):
    while True:
        line = srv.expect(what)
        if line.startswith("<<<"):
            return


def test_write_during_renegotiation_waits_for_reader(certs):
    """TLS 1.2: s_server asks to renegotiate; the reader answers with a
    ClientHello; the server's reply is held back by a relay, and a write
    started then gets SSLWantReadError from OpenSSL, waits for the reader's
    receive, and completes once the reply is let through."""
    with OpenSSLServer("-cert", certs.cert_pem, "-key", certs.key_pem, "-naccept", "1",
                       "-tls1_2") as srv:
        def main():
            relay = Relay(srv.address)
            c = tls.dial("tcp", str(relay.addr), certs.client_ctx(),
                         server_name="localhost", timeout=20)
            spy = c._obj = Spy(c._obj)
            c.write(b"before\n")
            netpoll.to_thread(srv.expect, "before")
            reader = netpoll.go(c.read)
            wait_parked(reader)
            relay.hold_after_next()        # pass the HelloRequest, hold the reply
            srv.command("r\n")
            relay.client_spoke.recv()      # our ClientHello went out
            writer = netpoll.go(c.write, b"during-renegotiation\n")
            wait_parked(writer, reason="tls read")   # waits for the reader's receive
            assert spy.write_wanted_read >= 1
            relay.release()
            writer.join()
            netpoll.to_thread(srv.expect, "during-renegotiation")
            srv.command("reply\n")
            got = reader.join()
            c.close()
            relay.close()
            return got
        assert netpoll.run(main) == b"reply\n"


class Relay:
    """A TCP relay between the client and ``address`` that can hold the
    server's bytes back: ``hold_after_next()`` lets the next chunk from the
    server through and holds the ones after it until ``release()``."""

    def __init__(self, address):
        self.ln = net.listen("tcp", "127.0.0.1:0")
        self.addr = self.ln.addr
        self.target = address
        self.armed = False
        self.holding = False
        self.gate = Chan()
        self.client_spoke = Chan(1)
        self.conns = []
        netpoll.go(self._accept)

    def _accept(self):
        down = self.ln.accept()
        up = net.dial("tcp", self.target)
        self.conns += [down, up]
        netpoll.go(self._pump, down, up, True)
        netpoll.go(self._pump, up, down, False)

    def _pump(self, src, dst, from_client):
        try:
            while data := src.read():
                if from_client:
                    if self.holding:
                        self.client_spoke.try_send(True)
                elif self.holding:
                    self.gate.recv()
                    self.holding = False
                elif self.armed:
                    self.armed = False
                    self.holding = True
                dst.write(data)
        except OSError:
            pass

    def hold_after_next(self):
        self.armed = True

    def release(self):
        self.gate.send(True)

    def close(self):
        for c in self.conns:
            c.close()
        self.ln.close()
