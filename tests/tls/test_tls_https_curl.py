"""HTTPS end to end: `netpoll serve --certfile/--keyfile` (netpoll.http over
tls.server) fetched by curl --cacert, HTTP/1.1 over TLS 1.2 and 1.3,
keep-alive across two requests on one connection."""

import subprocess

import pytest

from support import PYTHON, ServerProcess
from support.tlsutil import Certs, need

APP = (
    "def app(environ, start_response):\n"
    "    body = (environ['wsgi.url_scheme'] + ' ' + environ['PATH_INFO']).encode()\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain'),\n"
    "                              ('Content-Length', str(len(body)))])\n"
    "    return [body]\n"
)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_curl_fetches_from_netpoll_serve_over_https(tmp_path, version):
    curl = need("curl")
    certs = Certs(tmp_path)
    (tmp_path / "tlsapp.py").write_text(APP)
    argv = ["sh", "-c", f'cd "{tmp_path}" && exec "{PYTHON}" -m netpoll serve tlsapp:app '
                        f'--listen 127.0.0.1:0 --certfile "{certs.cert_pem}" '
                        f'--keyfile "{certs.key_pem}"']
    with ServerProcess(argv) as server:
        host, port = server.address
        url = f"https://localhost:{port}"
        proc = subprocess.run(
            [curl, "-sS", "--cacert", certs.ca_pem, "--resolve", f"localhost:{port}:{host}",
             f"--tlsv{version}", "--tls-max", version, "--http1.1",
             "-w", " %{http_code} %{num_connects}\\n", f"{url}/one", f"{url}/two"],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first == "https /one 200 1"
    assert second == "https /two 200 0"      # the same connection, kept alive
