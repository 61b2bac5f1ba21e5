"""tls against peers netpoll did not write, in both directions, TLS 1.2
and 1.3: openssl s_client and s_server, curl, and Python's blocking ssl
module in a thread; ALPN (h2, http/1.1) and SNI with an sni_callback that
picks between two certificates."""

import socket
import ssl
import subprocess
import threading

import pytest

import netpoll
from netpoll import tls

from support.tlsutil import TLS12, TLS13, VERSIONS, Certs, OpenSSLServer, need

OPENSSL_VERSION_ARG = {TLS12: "-tls1_2", TLS13: "-tls1_3"}
NAMES = {TLS12: "TLSv1.2", TLS13: "TLSv1.3"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def serve_one_line(ln):
    """Accept one connection, answer one line with 'echo: <line>', close;
    return the connection state."""
    conn = ln.accept()
    with conn:
        line = b""
        while not line.endswith(b"\n"):
            data = conn.read()
            if not data:
                break
            line += data
        conn.write(b"echo: " + line)
        return conn.connection_state()


def finish(proc):
    """The rest of a child's stdout once it exits (read in a worker thread)."""
    def wait():
        out = proc.stdout.read()
        proc.wait(30)
        return out.decode()
    return netpoll.to_thread(wait)


# -- netpoll server, foreign clients -----------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("alpn", ["h2", "http/1.1"])
def test_openssl_s_client_to_netpoll(certs, version, alpn):
    openssl = need("openssl")

    def main():
        ctx = certs.server_ctx(alpn=["h2", "http/1.1"])
        ln = tls.listen("tcp", "127.0.0.1:0", ctx)
        port = ln.addr.port
        proc = subprocess.Popen(
            [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs.ca_pem,
             "-servername", "localhost", "-verify_return_error", "-alpn", alpn,
             OPENSSL_VERSION_ARG[version], "-ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        proc.stdin.write(b"hello from s_client\n")
        proc.stdin.close()
        state = serve_one_line(ln)
        ln.close()
        return state, finish(proc)
    state, out = netpoll.run(main)
    assert "echo: hello from s_client" in out, out
    assert f"ALPN protocol: {alpn}" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    assert state.version == NAMES[version]
    assert state.alpn_protocol == alpn
    assert state.server_name == "localhost"


@pytest.mark.parametrize("version", VERSIONS)
def test_curl_to_netpoll(certs, version):
    curl = need("curl")

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx(alpn=["http/1.1"]))
        port = ln.addr.port
        flag = "--tlsv1.3" if version == TLS13 else "--tlsv1.2"
        argv = [curl, "-sS", "--cacert", certs.ca_pem, flag, "--tls-max",
                "1.3" if version == TLS13 else "1.2", "--http1.1",
                f"https://localhost:{port}/hello",
                "--resolve", f"localhost:{port}:127.0.0.1"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        conn = ln.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.read()
            assert data, head
            head += data
        body = b"hello over " + conn.connection_state().version.encode()
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                   % (len(body), body))
        state = conn.connection_state()
        conn.close()
        ln.close()
        out, err = netpoll.to_thread(proc.communicate, timeout=30)
        return head, state, out, err, proc.returncode
    head, state, out, err, rc = netpoll.run(main)
    assert rc == 0, err
    assert head.startswith(b"GET /hello HTTP/1.1\r\n")
    assert out == b"hello over " + NAMES[version].encode()
    assert state.alpn_protocol == "http/1.1"


@pytest.mark.parametrize("version", VERSIONS)
def test_python_ssl_client_to_netpoll(run, certs, version):
    def client(port, result):
        ctx = certs.client_ctx(version=version, alpn=["h2"])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"hi from python ssl\n")
            buf = b""
            while True:
                data = s.recv(4096)
                if not data:
                    break
                buf += data
            result.append((buf, s.version(), s.selected_alpn_protocol()))

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx(alpn=["h2", "http/1.1"]))
        result = []
        t = threading.Thread(target=client, args=(ln.addr.port, result))
        t.start()
        state = serve_one_line(ln)
        ln.close()
        netpoll.to_thread(t.join, 30)
        return state, result
    state, result = run(main)
    assert result == [(b"echo: hi from python ssl\n", NAMES[version], "h2")]
    assert state.version == NAMES[version] and state.alpn_protocol == "h2"
    assert state.eof is None


# -- netpoll client, foreign servers -------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("alpn", ["h2", "http/1.1"])
def test_netpoll_to_openssl_s_server(certs, version, alpn):
    with OpenSSLServer("-cert", certs.cert_pem, "-key", certs.key_pem, "-naccept", "1",
                       "-alpn", "h2,http/1.1", OPENSSL_VERSION_ARG[version]) as server:
        address = server.address

        def main():
            c = tls.dial("tcp", address, certs.client_ctx(alpn=[alpn]),
                         server_name="localhost", timeout=20)
            c.write(b"ping from netpoll\n")
            state = c.connection_state()
            c.close()
            return state
        state = netpoll.run(main)
        server.expect("ping from netpoll", timeout=30)
    assert state.version == NAMES[version]
    assert state.alpn_protocol == alpn


@pytest.mark.parametrize("version", VERSIONS)
def test_netpoll_to_python_ssl_server(run, certs, version):
    ctx = certs.server_ctx(version=version, alpn=["http/1.1"])
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def server():
        conn, _ = lsock.accept()
        conn.settimeout(20)
        with ctx.wrap_socket(conn, server_side=True) as s:
            data = s.recv(4096)
            s.sendall(data.upper())
            s.unwrap()                     # answers our close_notify with its own

    t = threading.Thread(target=server)
    t.start()
    try:
        def main():
            c = tls.dial("tcp", f"127.0.0.1:{port}", certs.client_ctx(alpn=["http/1.1"]),
                         server_name="localhost", timeout=20)
            c.write(b"shout")
            got = c.read()
            c.close_write()
            assert c.read() == b""
            state = c.connection_state()
            c.close()
            return got, state
        got, state = run(main)
    finally:
        t.join(30)
        lsock.close()
    assert got == b"SHOUT"
    assert state.version == NAMES[version] and state.alpn_protocol == "http/1.1"
    assert state.eof == "close_notify"


# -- SNI -------------------------------------------------------------------------

def test_sni_callback_picks_certificate(run, certs):
    """A server context whose sni_callback switches to a second context for
    alt.test; connection_state().server_name reports the name either way."""
    alt_ctx = certs.server_ctx(leaf=certs.alt)
    seen = []

    def pick(ssl_object, server_name, ctx):
        seen.append(server_name)
        if server_name == "alt.test":
            ssl_object.context = alt_ctx
    main_ctx = certs.server_ctx()
    main_ctx.sni_callback = pick

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", main_ctx)
        results = {}
        for name in ("a.test", "alt.test"):
            def accept():
                s = ln.accept()
                s.handshake()
                return s
            g = netpoll.go(accept)
            c = tls.dial("tcp", str(ln.addr), certs.client_ctx(), server_name=name,
                         timeout=10)
            s = g.join()
            der = c.connection_state().peer_certificate
            results[name] = (s.connection_state().server_name, der)
            c.close()
            s.close()
        ln.close()
        return results
    results = run(main)
    assert seen == ["a.test", "alt.test"]
    leaf_der = ssl.PEM_cert_to_DER_cert(certs.leaf.cert_chain_pems[0].bytes().decode())
    alt_der = ssl.PEM_cert_to_DER_cert(certs.alt.cert_chain_pems[0].bytes().decode())
    assert results["a.test"] == ("a.test", leaf_der)
    assert results["alt.test"] == ("alt.test", alt_der)


def test_sni_from_openssl_s_client(certs):
    """openssl s_client with -servername alt.test gets the alt certificate."""
    openssl = need("openssl")
    alt_ctx = certs.server_ctx(leaf=certs.alt)
    ctx = certs.server_ctx()
    ctx.sni_callback = lambda obj, name, _ctx: setattr(obj, "context", alt_ctx) \
        if name == "alt.test" else None

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", ctx)
        proc = subprocess.Popen(
            [openssl, "s_client", "-connect", f"127.0.0.1:{ln.addr.port}",
             "-CAfile", certs.ca_pem, "-servername", "alt.test", "-verify_hostname",
             "alt.test", "-verify_return_error", "-ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        proc.stdin.write(b"sni\n")
        proc.stdin.close()
        state = serve_one_line(ln)
        ln.close()
        return state, finish(proc)
    state, out = netpoll.run(main)
    assert "Verify return code: 0 (ok)" in out, out
    assert "CN = alt.test" in out or "alt.test" in out
    assert "echo: sni" in out
    assert state.server_name == "alt.test"
