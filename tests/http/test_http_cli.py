"""``netpoll serve MODULE:APP`` as a real process: MODULE imported from the
current directory, SIGTERM shuts down gracefully (a request in flight
completes), a second SIGINT forces, workers share the port and a dead one
is started again, --access-log, --patch."""

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import textwrap
import time

import pytest

from support import PYTHON, ROOT, ServerProcess, recv_all

APP = textwrap.dedent('''
    import os, time

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            time.sleep(1.0) if PATCHED else __import__("netpoll").sleep(1.0)
        body = b"pid=%d" % os.getpid()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    try:
        import netpoll
        PATCHED = "time" in netpoll.patched()
    except AttributeError:
        PATCHED = False
''')


@contextlib.contextmanager
def serve(tmp_path, *args):
    (tmp_path / "cliapp.py").write_text(APP)
    argv = ["sh", "-c", f'cd "{tmp_path}" && exec "{PYTHON}" -m netpoll serve cliapp:app '
                        f'--listen 127.0.0.1:0 {" ".join(args)}']
    server = ServerProcess(argv, start_new_session=True)
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)      # workers too
        server.close()


def get(address, path="/"):
    c = http.client.HTTPConnection(*address, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_serve_imports_from_cwd_and_sigterm_is_graceful(tmp_path):
    with serve(tmp_path) as server:
        assert "cliapp:app" in server.line
        status, body = get(server.address)
        assert status == 200 and body == b"pid=%d" % server.pid
        busy = socket.create_connection(server.address, timeout=10)
        busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        answer = recv_all(busy)
        busy.close()
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in answer
        assert server.proc.wait(10) == 0


def test_second_sigint_forces(tmp_path):
    with serve(tmp_path, "--graceful-timeout", "30") as server:
        busy = socket.create_connection(server.address, timeout=10)
        busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(10) == 0
        try:
            answer = recv_all(busy)
        except ConnectionResetError:
            answer = b""
        assert b"pid=" not in answer                   # forced: the slow request never ended
        busy.close()


def test_workers_share_the_port_and_a_dead_one_is_restarted(tmp_path):
    with serve(tmp_path, "--workers", "2") as server:
        pids = [int(p) for p in re.search(r"pids ([\d ]+)", server.line).group(1).split()]
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 15
        while "starting another" not in server.errors():
            assert time.monotonic() < deadline, server.errors()
            time.sleep(0.05)               # the master's log is a file: nothing to wait on
        seen = set()
        while time.monotonic() < deadline and len(seen) < 2:
            status, body = get(server.address)
            assert status == 200
            seen.add(int(body.split(b"=")[1]))
        assert len(seen) == 2 and pids[0] not in seen   # two live workers, one new
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0


def test_access_log(tmp_path):
    with serve(tmp_path, "--access-log") as server:
        get(server.address, "/logged?q=1")
        line = server.expect(re.compile(r'"GET /logged\?q=1 HTTP/1.1" 200'))
        assert line.startswith("127.0.0.1 ")


def test_patch_flag(tmp_path):
    import netpoll
    if not hasattr(netpoll, "patch"):
        # netpoll.patch is not in this build: a clear error, not a traceback
        (tmp_path / "cliapp.py").write_text(APP)
        out = subprocess.run([PYTHON, "-m", "netpoll", "serve", "cliapp:app", "--patch"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, PYTHONPATH=ROOT))
        assert out.returncode == 2 and "netpoll.patch" in out.stderr
        return
    with serve(tmp_path, "--patch") as server:
        # time.sleep in the app parks only its goroutine: others are served
        busy = socket.create_connection(server.address, timeout=10)
        busy.sendall(b"GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert get(server.address)[0] == 200
        busy.setblocking(False)
        with pytest.raises(BlockingIOError):
            busy.recv(1)                 # answered while the slow one still sleeps
        busy.setblocking(True)
        assert b"pid=" in recv_all(busy, 10)
        busy.close()


@pytest.mark.parametrize("args, message", [
    (["nomodule_here:app"], "No module named"),
    (["cliapp:nothing"], "has no attribute"),
    (["cliapp:app", "--certfile", "x.pem"], "go together"),
])
def test_bad_arguments_fail_clearly(tmp_path, args, message):
    (tmp_path / "cliapp.py").write_text(APP)
    out = subprocess.run([PYTHON, "-m", "netpoll", "serve", *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode != 0 and message in out.stderr, out.stderr
