"""examples/tls_echo.py as a real process, driven by openssl s_client and
by Python's ssl, with a certificate made by its own --make-cert."""

import select
import socket
import ssl
import subprocess

import pytest

import netpoll

from support import PYTHON, ROOT, ServerProcess, example
from support.tlsutil import need

POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory):
    need("openssl")
    d = tmp_path_factory.mktemp("tlsdemo")
    subprocess.run([PYTHON, f"{ROOT}/examples/tls_echo.py", "--make-cert", str(d)],
                   check=True, timeout=60, capture_output=True)
    return str(d / "cert.pem"), str(d / "key.pem")


@pytest.mark.parametrize("poller", POLLERS)
def test_tls_echo_with_python_ssl(throwaway, poller):
    cert, key = throwaway
    with ServerProcess(example("tls_echo", cert, key, "--poller", poller)) as server:
        ctx = ssl.create_default_context(cafile=cert)
        with socket.create_connection(server.address, timeout=20) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as s:
            for size in (5, 70_000):
                msg = b"m" * size
                s.sendall(msg)
                got = b""
                while len(got) < size:
                    got += s.recv(65536)
                assert got == msg
            # A second client that never handshakes does not stop the first.
            with socket.create_connection(server.address, timeout=20):
                s.sendall(b"still here")
                assert s.recv(100) == b"still here"


def test_tls_echo_with_openssl_s_client(throwaway):
    openssl = need("openssl")
    cert, key = throwaway
    with ServerProcess(example("tls_echo", cert, key)) as server:
        host, port = server.address
        proc = subprocess.Popen(
            [openssl, "s_client", "-connect", f"{host}:{port}", "-CAfile", cert,
             "-servername", "localhost", "-verify_return_error", "-quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"hello tls echo\n")
            proc.stdin.flush()          # -quiet ignores stdin EOF: read the echo, stop it
            ready = select.select([proc.stdout], [], [], 30)[0]
            line = proc.stdout.readline() if ready else b""
        finally:
            proc.kill()
            proc.communicate()
    assert line == b"hello tls echo\n"
