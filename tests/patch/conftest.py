"""Fixtures of the patch tests: real peers (a delaying HTTP(S) server,
redis-server, PostgreSQL) and ``patched``, which runs a snippet in a child
process with ``netpoll.patch()`` applied first.

Patching is process-global, so no test patches the pytest process: each
scenario runs in its own child and reports on stdout."""

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from support import PYTHON, Child, ServerProcess

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's PostgreSQL server binaries (15 on bookworm); the newest installed.
PG_BIN = (sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                 key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
          or ["/usr/lib/postgresql/15/bin"])[-1]


def _need(cmd, path=None):
    """The path of ``cmd``; the test FAILS (not skips) naming it when it is
    missing: scripts/system-deps.sh installs it."""
    found = shutil.which(cmd, path=path)
    if not found:
        pytest.fail(f"{cmd} is missing: run scripts/system-deps.sh (as root) to install it")
    return found


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port} within {timeout} s")


class Patched:
    """Run snippets in children with the patch applied."""

    def __init__(self, env):
        self.env = dict(env, NETPOLL_WATCHDOG="2")

    def __call__(self, code, timeout=60.0, env=None, patch="netpoll.patch()"):
        """Run ``code`` after ``import netpoll; <patch>``; it must print one
        JSON line last; returns that object.  Fails with the child's stderr
        if it exits non-zero."""
        prelude = f"import json, netpoll\n{patch}\n"
        child = Child.script(prelude + _dedent(code), env=dict(self.env, **(env or {})))
        with child:
            try:
                rc, out, err = child.finish(timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"child did not finish within {timeout} s; "
                                     f"stderr: {child.errors()}") from None
            assert rc == 0, f"child exit {rc}\nstdout: {child.lines}\nstderr: {err}"
            # The watchdog runs in every child (NETPOLL_WATCHDOG, set above): no
            # library may stall the runtime on a lock.
            assert "blocked acquiring a lock" not in err, err
            lines = [ln for ln in child.lines if ln.startswith("{")]
            assert lines, f"no JSON line; stdout: {child.lines}; stderr: {err}"
            return json.loads(lines[-1])


def _dedent(code):
    import textwrap
    return textwrap.dedent(code)


@pytest.fixture
def patched(poller):
    """Runs a snippet in a patched child, once per poller backend."""
    return Patched({"NETPOLL_POLLER": poller})


@pytest.fixture
def patched_epoll():
    """Runs a snippet in a patched child with the default poller (for the
    tests whose subject is a library, not the backend)."""
    return Patched({})


@pytest.fixture(scope="module")
def delay_server():
    """(host, port) of a threaded HTTP server answering after 0.5 s."""
    with ServerProcess([PYTHON, os.path.join(HERE, "peers", "delay_http_server.py"),
                        "--delay", "0.5"]) as srv:
        yield srv.address


@pytest.fixture(scope="module")
def tls_ca(tmp_path_factory):
    """A trustme CA and a server certificate for localhost / 127.0.0.1:
    (ca_pem, cert_pem, key_pem) paths."""
    import trustme
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_pem, cert_pem, key_pem = d / "ca.pem", d / "cert.pem", d / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_pem), append=True)
    cert.private_key_pem.write_to_path(str(key_pem))
    return str(ca_pem), str(cert_pem), str(key_pem)


@pytest.fixture(scope="module")
def https_delay_server(tls_ca):
    """(host, port, ca_pem) of the delaying server over TLS (0.2 s delay)."""
    ca, cert, key = tls_ca
    with ServerProcess([PYTHON, os.path.join(HERE, "peers", "delay_http_server.py"),
                        "--delay", "0.2", "--certfile", cert, "--keyfile", key]) as srv:
        yield srv.address[0], srv.address[1], ca


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """The port of a real redis-server on loopback, stopped after."""
    exe = _need("redis-server")
    port = _free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(d),
                             "--protected-mode", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, "redis-server")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def postgres_server():
    """The port of a real PostgreSQL server (initdb into a temp dir,
    trust authentication, user ``postgres``), stopped and removed after.
    Run as ``nobody`` when the tests run as root (postgres refuses root)."""
    initdb = _need("initdb", PG_BIN)
    postgres = _need("postgres", PG_BIN)
    d = tempfile.mkdtemp(prefix="netpoll-pg-")
    as_user = {}
    if os.geteuid() == 0:
        import pwd
        nobody = pwd.getpwnam("nobody")
        as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        os.chmod(d, 0o755)
        os.chown(d, nobody.pw_uid, nobody.pw_gid)
    data = os.path.join(d, "data")
    port = _free_port()
    subprocess.run([initdb, "-D", data, "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=120, cwd=d, **as_user)
    proc = subprocess.Popen([postgres, "-D", data, "-p", str(port), "-k", d,
                             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                             "-c", "max_connections=60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d,
                            **as_user)
    try:
        _wait_port(port, proc, "postgres", timeout=60)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
