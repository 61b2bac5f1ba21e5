"""netpoll.http over TLS (tls_context= wraps each accepted connection with
netpoll.tls.server): Python's ssl client and requests, certificates from
trustme."""

import http.client
import ssl

import pytest
import trustme


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def test_https_keep_alive_and_scheme(http_serve, ca):
    seen = []

    def app(environ, start_response):
        seen.append(environ["wsgi.url_scheme"])
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    srv = http_serve(app, tls_context=server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    c = http.client.HTTPSConnection(*srv.address, context=client_ctx, timeout=10)
    try:
        for _ in range(3):
            c.request("GET", "/")
            assert c.getresponse().read() == b"hello"
    finally:
        c.close()
    assert seen == ["https"] * 3


def test_serve_cli_https(tmp_path, ca):
    import requests

    from support import PYTHON, ServerProcess

    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "tlsapp.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [environ['wsgi.url_scheme'].encode()]\n")
    argv = ["sh", "-c", f'cd "{tmp_path}" && exec "{PYTHON}" -m netpoll serve tlsapp:app '
                        f'--listen 127.0.0.1:0 --certfile cert.pem --keyfile key.pem']
    with ServerProcess(argv) as server:
        r = requests.get("https://%s:%d/" % server.address, verify=str(tmp_path / "ca.pem"),
                         timeout=10)
        assert (r.status_code, r.text) == (200, "https")
