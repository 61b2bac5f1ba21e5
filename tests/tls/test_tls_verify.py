"""Certificate verification failures raise ssl.SSLCertVerificationError
from tls.dial (wrong host name, unknown CA, expired certificate), and the
connection is closed behind it."""

import ssl

import pytest

import netpoll
from netpoll import tls

from support import open_fds
from support.tlsutil import Certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.mark.parametrize("case", ["wrong-host", "unknown-ca", "expired"])
def test_dial_verification_failure(run, certs, case):
    leaf = {"wrong-host": certs.leaf, "unknown-ca": certs.stranger,
            "expired": certs.expired}[case]
    name = "elsewhere.test" if case == "wrong-host" else "localhost"
    expect = {"wrong-host": "Hostname mismatch", "unknown-ca": "unable to get local issuer",
              "expired": "certificate has expired"}[case]

    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx(leaf=leaf))

        def serve():
            conn = ln.accept()
            try:
                conn.handshake()
            except (ssl.SSLError, OSError) as e:
                return e
            finally:
                conn.close()
        g = netpoll.go(serve)
        before = open_fds()
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            tls.dial("tcp", str(ln.addr), certs.client_ctx(), server_name=name, timeout=10)
        server_error = g.join()
        leaked = open_fds() - before
        ln.close()
        return info.value, leaked, server_error
    err, leaked, server_error = run(main)
    assert expect in str(err)
    assert not leaked
    # The client's alert reached the server: its handshake failed too.
    assert isinstance(server_error, (ssl.SSLError, OSError))


def test_dial_default_context_verifies(run, certs):
    """context=None is ssl.create_default_context(): the system CAs, which
    do not include the test CA."""
    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        g = netpoll.go(lambda: _handshake_quietly(ln.accept()))
        with pytest.raises(ssl.SSLCertVerificationError):
            tls.dial("tcp", f"localhost:{ln.addr.port}", timeout=10)
        g.join()
        ln.close()
    run(main)


def test_server_name_defaults_to_host(run, certs):
    def main():
        ln = tls.listen("tcp", "127.0.0.1:0", certs.server_ctx())
        g = netpoll.go(lambda: _handshake_quietly(ln.accept()))
        c = tls.dial("tcp", f"localhost:{ln.addr.port}", certs.client_ctx(), timeout=10)
        state = c.connection_state()
        c.close()
        g.join()
        ln.close()
        return state
    assert run(main).server_name == "localhost"


def _handshake_quietly(conn):
    try:
        conn.handshake()
    except OSError:
        pass
    finally:
        conn.close()
