"""netpoll.tls when the other side vanishes mid-handshake (link down: no
FIN, no RST): the handshake ends at its deadline, on the server side (the
deadline the handler set) and on the client side (``tls.dial``'s timeout
covers the handshake), with DeadlineExceededError, the goroutine gone and
no descriptor leaked.

netpoll runs in namespace a, the peer (Python's ssl) in namespace b
(support.netns.VethPair), whose end of the link goes down."""

import ssl
import threading
import time

import pytest
import trustme

from netpoll import DeadlineExceededError, tls

from support import fd_count, open_fds, wait_until
from support.netns import VethPair


@pytest.fixture
def pair():
    with VethPair() as p:
        yield p


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def client_hello(context, server_name):
    """The bytes of a real ClientHello (Python's ssl, through memory BIOs)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_server_handshake_with_a_vanished_client_ends_at_its_deadline(pair, poller, ca):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(pair.addr["a"]).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    outcome = []

    def handle(conn):
        with conn:
            conn.set_deadline(time.monotonic() + 1.0)    # the handshake's deadline
            try:
                conn.handshake()
                outcome.append(("handshake done", time.monotonic()))
            except OSError as exc:
                outcome.append((exc, time.monotonic()))

    def start():
        import netpoll
        from netpoll.server import serve
        ln = tls.listen("tcp", "0.0.0.0:0", server_ctx)
        netpoll.go(serve, ln, handle)
        return ln, ln.addr.port

    with pair.runtime("a", poller) as rt:
        ln, port = rt.call(start)
        goroutines = rt.goroutines()
        fds = fd_count()
        client = pair.socket("b")
        client.settimeout(10)
        client.connect((pair.addr["a"], port))
        hello = client_hello(client_ctx, pair.addr["a"])
        client.sendall(hello[:len(hello) // 2])            # half a ClientHello
        pair.down("b")
        t0 = time.monotonic()
        wait_until(lambda: outcome, timeout=15, what="the handshake to end")
        exc, t = outcome[0]
        elapsed = t - t0
        print(f"server handshake ended {elapsed:.2f} s after the client vanished (deadline 1 s)")
        assert isinstance(exc, DeadlineExceededError), exc
        assert str(exc).endswith("i/o timeout"), exc
        assert elapsed <= 4.0, elapsed
        client.close()
        wait_until(lambda: rt.goroutines() == goroutines, what="its goroutine to end")
        assert fd_count() == fds, "a descriptor leaked"
        rt.call(ln.close)


@pytest.mark.parametrize("limit", ["timeout", "ctx"])
def test_dial_handshake_with_a_vanished_server_ends_at_its_limit(pair, poller, ca, limit):
    """``tls.dial``'s timeout covers the handshake, and so does its
    context's deadline (Go: handshakeContext)."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(pair.addr["b"]).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    # the server in b takes the connection and the ClientHello, then the
    # test takes its link down before it answers
    listener = pair.socket("b")
    listener.bind((pair.addr["b"], 0))
    listener.listen()
    port = listener.getsockname()[1]
    got_hello = threading.Event()
    accepted = []

    def server():
        s, _ = listener.accept()
        accepted.append(s)
        s.settimeout(10)
        if s.recv(65536):
            got_hello.set()

    t = threading.Thread(target=server, daemon=True)
    t.start()

    def dial():
        from netpoll import context
        fds = open_fds()
        t0 = time.monotonic()
        address = f"{pair.addr['b']}:{port}"
        if limit == "timeout":
            with pytest.raises(DeadlineExceededError) as info:
                tls.dial("tcp", address, client_ctx, timeout=2.0)
        else:
            ctx, cancel = context.with_timeout(context.background(), 2.0)
            with pytest.raises(context.DeadlineExceeded) as info:
                tls.dial("tcp", address, client_ctx, ctx=ctx)
            cancel()
        elapsed = time.monotonic() - t0
        # the only new descriptor is the server's end, accepted in b meanwhile
        assert open_fds() - fds == {str(accepted[0].fileno())}, "the dial leaked its socket"
        return str(info.value), elapsed

    try:
        with pair.runtime("a", poller) as rt:
            def vanish():
                assert got_hello.wait(10)
                pair.down("b")
            vanisher = threading.Thread(target=vanish, daemon=True)
            vanisher.start()
            message, elapsed = rt.call(dial)
            vanisher.join(10)
            print(f"tls.dial ended {elapsed:.2f} s after it started ({limit} 2 s)")
            assert message.endswith("i/o timeout" if limit == "timeout"
                                    else "context deadline exceeded"), message
            assert 1.9 <= elapsed <= 5.0, elapsed
    finally:
        t.join(10)
        for s in accepted:
            s.close()
        listener.close()
