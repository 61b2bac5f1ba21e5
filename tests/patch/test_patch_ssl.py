"""ssl, patched: wrapping a patched socket handshakes, reads, writes and
unwraps by parking the goroutine, on the client side (requests to a real
HTTPS server with a trustme CA) and on the server side."""

import pytest

pytestmark = pytest.mark.timeout(180)


def test_patch_requests_https_concurrent(patched_epoll, https_delay_server):
    host, port, ca = https_delay_server
    out = patched_epoll(f"""
        import time, requests
        URL = "https://localhost:{port}"
        def main():
            s = requests.Session()
            res = {{}}
            def one(i):
                r = requests.get(f"{{URL}}/tls/{{i}}", verify={ca!r}, timeout=30)
                res[i] = r.text
            t0 = time.monotonic()
            gs = [netpoll.go(one, i) for i in range(40)]
            for g in gs:
                g.join()
            took = time.monotonic() - t0
            try:
                requests.get(URL, timeout=10)          # the system CAs: must fail
                verify = "accepted"
            except requests.exceptions.SSLError as e:
                verify = "CERTIFICATE_VERIFY_FAILED" in str(e)
            return {{"took": took, "ok": res == {{i: f"/tls/{{i}}" for i in range(40)}},
                    "verify": verify}}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["ok"] and out["verify"] is True, out
    assert out["took"] < 6, out             # sequentially 40 x 0.2 s = 8 s


def test_patch_ssl_server_side_handshake_unwrap(patched, tls_ca):
    ca, cert, key = tls_ca
    out = patched(f"""
        import socket, ssl, time
        def main():
            sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            sctx.load_cert_chain({cert!r}, {key!r})
            cctx = ssl.create_default_context(cafile={ca!r})
            srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
            lsock = sctx.wrap_socket(srv, server_side=True, do_handshake_on_connect=False)
            ticks = []
            def ticker():
                while True:
                    ticks.append(1); time.sleep(0.005)
            netpoll.go(ticker)
            def server():
                conn, _ = lsock.accept()
                conn.do_handshake()
                f = conn.makefile("rwb")
                line = f.readline()
                f.write(line.strip()[::-1] + b"\\n"); f.flush()
                assert conn.recv(5) == b"plain"   # still TLS until both unwrap
                plain = conn.unwrap()
                plain.sendall(b"cleartext after unwrap")
                plain.close()
                return type(conn).__name__
            g = netpoll.go(server)
            raw = socket.create_connection(lsock.getsockname())
            c = cctx.wrap_socket(raw, server_hostname="localhost")
            c.sendall(b"hello tls\\n")
            back = c.makefile("rb").readline()
            version = c.version()
            c.sendall(b"plain")
            p = c.unwrap()
            tail = b""
            while chunk := p.recv(100):
                tail += chunk
            kind = g.join(10)
            p.close()
            # handshake timeout against a peer that never speaks TLS
            mute = socket.socket(); mute.bind(("127.0.0.1", 0)); mute.listen()
            s = socket.create_connection(mute.getsockname())
            s.settimeout(0.2)
            t0 = time.monotonic()
            try:
                cctx.wrap_socket(s, server_hostname="localhost"); timed = None
            except socket.timeout:
                timed = time.monotonic() - t0
            return {{"back": back.decode(), "tail": tail.decode(), "kind": kind,
                    "version": version, "timed": timed, "ticks": len(ticks)}}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["back"] == "slt olleh\n" and out["tail"] == "cleartext after unwrap", out
    assert out["kind"] == "SSLSocket" and out["version"].startswith("TLS")
    assert out["timed"] is not None and 0.15 < out["timed"] < 3, out
    assert out["ticks"] > 10, out


def test_patch_ssl_context_made_before_patch(patched_epoll, tls_ca):
    """A context created before netpoll.patch() (a library's module-level
    context) still wraps into the cooperative SSLSocket: the patch changes
    ssl.SSLContext.sslsocket_class, which every context uses."""
    ca, cert, key = tls_ca
    out = patched_epoll(f"""
        import socket, time
        def main():
            srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
            SERVER.load_cert_chain({cert!r}, {key!r})
            lsock = SERVER.wrap_socket(srv, server_side=True)
            def serve():
                conn, _ = lsock.accept()
                conn.sendall(conn.recv(100).upper())
                conn.close()
            g = netpoll.go(serve)
            c = EARLY.wrap_socket(socket.create_connection(lsock.getsockname()),
                                  server_hostname="localhost")
            c.sendall(b"early context")
            back = c.recv(100)
            g.join(10)
            return {{"kind": type(c).__module__, "back": back.decode()}}
        print(json.dumps(netpoll.run(main)))
    """, patch=(f"import ssl\nEARLY = ssl.create_default_context(cafile={ca!r})\n"
                "SERVER = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
                "netpoll.patch()"))
    assert out == {"kind": "netpoll.patch.sslsockets", "back": "EARLY CONTEXT"}
