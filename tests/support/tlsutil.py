"""TLS test helpers: certificates made by trustme in the test (nothing is
fetched), contexts, PEM files for openssl and curl, and ``need(tool)``,
which fails (never skips) when a peer program is missing."""

import datetime
import os
import shutil
import ssl

import pytest
import trustme


def need(tool):
    """The path of ``tool``; the test FAILS naming it if it is missing
    (scripts/system-deps.sh installs it)."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: the TLS tests drive it as a real peer "
                    f"(run scripts/system-deps.sh as root to install it)")
    return path


class Certs:
    """A CA, certificates it issued, and PEM files in ``directory``.

    ``server_ctx()`` serves ``localhost``/``127.0.0.1``; ``client_ctx()``
    trusts the CA.  ``alt`` is a second leaf (``alt.test``) for SNI tests,
    ``expired`` a leaf for ``localhost`` that expired yesterday, and
    ``other_ca`` a CA nobody trusts, with its own ``localhost`` leaf."""

    def __init__(self, directory):
        self.dir = str(directory)
        self.ca = trustme.CA()
        self.leaf = self.ca.issue_cert("localhost", "127.0.0.1", "a.test")
        self.alt = self.ca.issue_cert("alt.test")
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        self.expired = self.ca.issue_cert(
            "localhost", "127.0.0.1",
            not_before=past - datetime.timedelta(days=30), not_after=past)
        self.other_ca = trustme.CA()
        self.stranger = self.other_ca.issue_cert("localhost", "127.0.0.1")
        self.ca_pem = self._write("ca.pem", self.ca.cert_pem.bytes())
        self.cert_pem = self._write("cert.pem", b"".join(
            b.bytes() for b in self.leaf.cert_chain_pems))
        self.key_pem = self._write("key.pem", self.leaf.private_key_pem.bytes())
        self.alt_cert_pem = self._write("alt-cert.pem", b"".join(
            b.bytes() for b in self.alt.cert_chain_pems))
        self.alt_key_pem = self._write("alt-key.pem", self.alt.private_key_pem.bytes())

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def server_ctx(self, leaf=None, version=None, alpn=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (leaf or self.leaf).configure_cert(ctx)
        _pin(ctx, version)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def client_ctx(self, version=None, alpn=None, ca=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        (ca or self.ca).configure_trust(ctx)
        _pin(ctx, version)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx


def _pin(ctx, version):
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version


TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3
VERSIONS = [pytest.param(TLS12, id="tls1.2"), pytest.param(TLS13, id="tls1.3")]


class OpenSSLServer:
    """``openssl s_server`` in a child with stdin kept open (its connected
    commands: ``r`` renegotiate, ``K`` key update...; stdin EOF would end
    the session) and stdout read as lines, like support.Child."""

    def __init__(self, *args):
        import select
        import subprocess
        import time
        self._select, self._time = select.select, time.monotonic
        self.proc = subprocess.Popen(
            [need("openssl"), "s_server", "-accept", "127.0.0.1:0", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            bufsize=0)      # unbuffered: select() must see every unread byte
        self.lines = []
        try:
            line = self.expect("ACCEPT")
        except BaseException:
            self.close()              # not returned: no `with` would stop it
            raise
        self.address = line.split()[1]

    def command(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def expect(self, pattern, timeout=30.0):
        """The next output line containing ``pattern``."""
        deadline = self._time() + timeout
        while True:
            left = deadline - self._time()
            if left <= 0 or not self._select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError(f"s_server: no {pattern!r} within {timeout} s: "
                                     f"{self.lines}")
            line = self.proc.stdout.readline().decode(errors="replace")
            if not line:
                raise AssertionError(f"s_server exited before {pattern!r}: {self.lines}")
            self.lines.append(line.rstrip("\n"))
            if pattern in line:
                return line

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
