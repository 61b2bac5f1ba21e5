"""netpoll.http against clients that vanish without a word (link down: no
FIN, no RST): a vanished client costs the server at most its idle timeout,
or over HTTPS its header timeout, which bounds the TLS handshake too; and
`netpoll serve` with 1,000 idle keep-alive clients whose network vanishes
frees them all within its idle timeout.

The server runs in namespace a (support.netns.VethPair), the clients in
namespace b, whose end of the link goes down."""

import ssl
import time

import pytest
import trustme

from netpoll import http

from support import PYTHON, ServerProcess, fd_count, recv_exactly, wait_until
from support.netns import VethPair

HELLO = b"HTTP/1.1 200 OK"
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def pair():
    with VethPair() as p:
        yield p


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def start_server(rt, **settings):
    """An http.Server in the runtime ``rt``; (server, port)."""
    from netpoll import net

    def start():
        srv = http.Server(hello, **settings)
        ln = net.listen("tcp", "0.0.0.0:0")
        import netpoll
        netpoll.go(srv.serve, ln)
        return srv, ln.addr.port
    return rt.call(start)


def read_answer(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, f"EOF after {head!r}"
        head += chunk
    assert head.startswith(HELLO), head
    body = head.split(b"\r\n\r\n", 1)[1]
    return body + recv_exactly(sock, 5 - len(body))


def test_idle_timeout_frees_a_vanished_keepalive_client(pair, poller):
    with pair.runtime("a", poller) as rt:
        srv, port = start_server(rt, read_header_timeout=5, idle_timeout=1)
        goroutines = rt.goroutines()
        fds = fd_count()
        client = pair.socket("b")
        client.settimeout(10)
        client.connect((pair.addr["a"], port))
        client.sendall(REQUEST)
        assert read_answer(client) == b"hello"          # kept alive, now idle
        assert rt.call(lambda: srv.connections) == 1
        pair.down("b")
        t0 = time.monotonic()
        wait_until(lambda: rt.call(lambda: srv.connections) == 0, timeout=15,
                   what="the server to drop the vanished client")
        elapsed = time.monotonic() - t0
        print(f"vanished keep-alive client dropped after {elapsed:.2f} s (idle timeout 1 s)")
        # the idle timeout, not the header timeout (5 s) set before the request
        assert elapsed <= 3.5, elapsed
        client.close()
        wait_until(lambda: rt.goroutines() == goroutines, what="its goroutine to end")
        assert fd_count() == fds, "a descriptor leaked"
        rt.call(srv.close)


def test_https_handshake_from_a_vanished_client_ends_at_the_header_timeout(pair, poller):
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(pair.addr["a"]).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with pair.runtime("a", poller) as rt:
        srv, port = start_server(rt, tls_context=server_ctx, read_header_timeout=1,
                                 idle_timeout=30)
        goroutines = rt.goroutines()
        fds = fd_count()
        # half a ClientHello, then the client vanishes: the server is parked
        # in the handshake's read
        hello_bytes = client_hello(client_ctx, pair.addr["a"])
        client = pair.socket("b")
        client.settimeout(10)
        client.connect((pair.addr["a"], port))
        client.sendall(hello_bytes[:len(hello_bytes) // 2])
        wait_until(lambda: rt.call(lambda: srv.connections) == 1, what="the connection")
        pair.down("b")
        t0 = time.monotonic()
        wait_until(lambda: rt.call(lambda: srv.connections) == 0, timeout=15,
                   what="the server to drop the vanished handshake")
        elapsed = time.monotonic() - t0
        print(f"vanished TLS handshake dropped after {elapsed:.2f} s (header timeout 1 s)")
        assert elapsed <= 3.5, elapsed
        client.close()
        wait_until(lambda: rt.goroutines() == goroutines, what="its goroutine to end")
        assert fd_count() == fds, "a descriptor leaked"
        rt.call(srv.close)


def client_hello(context, server_name):
    """The bytes of a real ClientHello (Python's ssl, through memory BIOs)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


APP_MODULE = '''
def app(environ, start_response):
    environ["wsgi.input"].read()          # the whole body, however long it takes
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
'''
CLIENTS = 1000
IDLE = 2.0


def connect_keepalive_clients(pair, port, n):
    """``n`` sockets in namespace b, each with one request answered."""
    def make():
        import socket
        socks = []
        try:
            for _ in range(n):
                s = socket.socket()
                socks.append(s)
                s.settimeout(10)
                s.connect((pair.addr["a"], port))
            for s in socks:
                s.sendall(REQUEST)
            for s in socks:
                assert read_answer(s) == b"hello"
        except BaseException:
            for s in socks:
                s.close()
            raise
        return socks
    return pair.run_in("b", make)


@pytest.mark.parametrize("serve_poller", ["poll", "epoll"])
def test_serve_frees_1000_vanished_keepalive_clients_within_idle_timeout(pair, serve_poller,
                                                                        tmp_path):
    import netpoll
    if serve_poller not in netpoll.pollers():
        pytest.skip(f"no {serve_poller} on this OS")
    (tmp_path / "vanish_app.py").write_text(APP_MODULE)
    argv = pair.exec_argv("a", [PYTHON, "-m", "netpoll", "serve", "vanish_app:app",
                                "--listen", f"{pair.addr['a']}:0", "--poller", serve_poller,
                                "--idle-timeout", str(IDLE)])
    from support import ROOT
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}"}
    with ServerProcess(argv, env=env) as server:
        pid, port = server.pid, server.address[1]
        fds_idle = fd_count(pid)
        socks = connect_keepalive_clients(pair, port, CLIENTS)
        try:
            assert fd_count(pid) == fds_idle + CLIENTS
            pair.down("b")                  # the whole network of the clients vanishes
            t0 = time.monotonic()
            for s in socks:
                s.close()
            pair.delete("b")
            wait_until(lambda: fd_count(pid) == fds_idle, timeout=IDLE + 28,
                       what="the server to drop every vanished client")
            elapsed = time.monotonic() - t0
            print(f"netpoll serve freed {CLIENTS} vanished clients in {elapsed:.2f} s "
                  f"(idle timeout {IDLE} s)")
            assert elapsed <= IDLE + 5, elapsed
            assert server.proc.poll() is None, server.errors()
        finally:
            for s in socks:
                s.close()
        assert server.stop() == 0, server.errors()


def test_serve_keepalive_frees_a_client_that_vanished_mid_request(pair, tmp_path):
    """No read timeout: only TCP keep-alive (``--keepalive 1,1,2``) ends a
    request whose body stops coming because its client vanished."""
    from support import ROOT
    (tmp_path / "vanish_app.py").write_text(APP_MODULE)
    argv = pair.exec_argv("a", [PYTHON, "-m", "netpoll", "serve", "vanish_app:app",
                                "--listen", f"{pair.addr['a']}:0", "--keepalive", "1,1,2",
                                "--read-header-timeout", "0", "--idle-timeout", "0"])
    with ServerProcess(argv, env={"PYTHONPATH": f"{ROOT}:{tmp_path}"}) as server:
        pid, port = server.pid, server.address[1]
        fds_idle = fd_count(pid)
        client = pair.socket("b")
        client.settimeout(10)
        client.connect((pair.addr["a"], port))
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                       + b"x" * 10)
        wait_until(lambda: fd_count(pid) == fds_idle + 1, what="the server to take it")
        pair.down("b")
        t0 = time.monotonic()
        wait_until(lambda: fd_count(pid) == fds_idle, timeout=30,
                   what="the server to drop the vanished client")
        elapsed = time.monotonic() - t0
        print(f"netpoll serve --keepalive 1,1,2 dropped it after {elapsed:.2f} s")
        assert elapsed <= 7.0, elapsed
        client.close()
        assert server.stop() == 0, server.errors()
