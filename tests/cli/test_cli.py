"""The netpoll command: --help, the echo server (signals, workers, EMFILE)."""

import errno
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import pytest

import netpoll
import netpoll.echo
import netpoll.server
from netpoll.cli import main

from support import PYTHON, ROOT, ServerProcess, recv_all, recv_exactly

POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]


def echo_argv(*args):
    return [PYTHON, "-m", "netpoll", "echo", "--listen", "127.0.0.1:0", *args]


def test_help_explains_each_subcommand():
    out = subprocess.run([PYTHON, "-m", "netpoll", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    for word in ("echo", "demo", "pollers"):
        assert word in out
    out = subprocess.run([PYTHON, "-m", "netpoll", "echo", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    for word in ("--listen", "--poller", "--workers", "SO_REUSEPORT", "SIGTERM"):
        assert word in out
    out = subprocess.run([PYTHON, "-m", "netpoll", "demo", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    for word in ("--idle", "--active", "--seconds", "--out", "FD_SETSIZE"):
        assert word in out


def test_pollers_subcommand(capsys):
    assert main(["pollers"]) == 0
    assert capsys.readouterr().out.split() == netpoll.pollers()


def test_unknown_poller_is_a_usage_error():
    r = subprocess.run(echo_argv("--poller", "nope"), cwd=ROOT, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    assert "valid pollers are" in r.stderr


def _echo(address, payload):
    with socket.create_connection(address, timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)        # echoed until our EOF, then closed by the server


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("poller", POLLERS)
def test_echo_answers_and_exits_0_on_signal(poller, sig):
    with ServerProcess(echo_argv("--poller", poller)) as server:
        assert f"poller {poller}" in server.line
        payload = os.urandom(200_000)
        assert _echo(server.address, payload) == payload
        # an open connection is closed by the shutdown
        held = socket.create_connection(server.address, timeout=10)
        held.sendall(b"ping")
        assert recv_exactly(held, 4) == b"ping"
        assert server.stop(sig) == 0
        assert recv_all(held) == b""
        held.close()
        assert "Traceback" not in server.errors()


def _socket_count(pid):
    fd_dir = f"/proc/{pid}/fd"
    return sum(1 for fd in os.listdir(fd_dir)
               if os.readlink(os.path.join(fd_dir, fd)).startswith("socket:"))


def _gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)      # waiting for init to reap: no event to wait on
    return True


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_echo_workers_serve_from_two_processes(sig):
    with ServerProcess(echo_argv("--workers", "2")) as server:
        assert "2 workers" in server.line
        pids = [int(p) for p in server.line.split("pids ")[1].rstrip(")\n").split()]
        assert len(pids) == 2
        before = {pid: _socket_count(pid) for pid in pids}
        conns = []
        for i in range(24):       # SO_REUSEPORT hashes the 4-tuple over the workers
            s = socket.create_connection(server.address, timeout=10)
            s.sendall(b"%d" % i)
            assert recv_exactly(s, len(b"%d" % i)) == b"%d" % i
            conns.append(s)
        gained = {pid: _socket_count(pid) - before[pid] for pid in pids}
        assert sum(gained.values()) == 24
        assert all(n > 0 for n in gained.values()), gained
        assert server.stop(sig) == 0
        for s in conns:
            assert recv_all(s) == b""
            s.close()
        assert all(_gone(pid) for pid in pids)


def test_echo_backs_off_when_out_of_descriptors():
    """With RLIMIT_NOFILE exhausted, accept fails with EMFILE: the server
    logs it, backs off, and accepts the waiting connections once
    descriptors free up."""
    limit = 40

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    with ServerProcess(echo_argv(), preexec_fn=low_limit) as server:
        conns = [socket.create_connection(server.address, timeout=10) for _ in range(limit)]
        for s in conns:
            s.sendall(b"x")
        # the first ones are served; the server then runs out of descriptors
        assert recv_exactly(conns[0], 1) == b"x"
        deadline = time.monotonic() + 10
        while "too many open files" not in server.errors().lower():
            assert time.monotonic() < deadline, server.errors()
            time.sleep(0.01)      # waiting for the server's log line
        assert "retrying in" in server.errors()
        for s in conns[:limit // 2]:
            s.close()
        for s in conns[limit // 2:]:       # all served once descriptors are free
            assert recv_exactly(s, 1, timeout=10) == b"x"
            s.close()
        assert server.stop() == 0


class _RecordingConn:
    """A stand-in Conn for echo.handle: its reads hand out the given chunks
    (then b"", EOF), and each read first notes how many references the
    chunk it returned last still has."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.last = None
        self.refs = []
        self.written = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def read(self, n):
        if self.last is not None:
            self.refs.append(sys.getrefcount(self.last))
        self.last = self.chunks.pop(0) if self.chunks else b""
        return self.last

    def write(self, data):
        self.written.append(bytearray(data))     # a copy: no reference kept
        return len(data)


def test_echo_holds_no_chunk_while_it_waits_for_the_next():
    """``netpoll echo`` drops each chunk once written: a connection waiting
    in read keeps no bytes of the last one alive (idle connections hold
    no buffers, and a bulk stream does not make the heap grow and shrink)."""
    conn = _RecordingConn(bytes(bytearray(b"%d" % i * 70000)) for i in range(3))
    netpoll.echo.handle(conn)
    assert conn.written == [b"%d" % i * 70000 for i in range(3)]
    only_ours = _RecordingConn([])
    only_ours.last = bytes(bytearray(10))
    baseline = sys.getrefcount(only_ours.last)      # held by .last alone
    assert conn.refs == [baseline] * 3


class _FailingListener:
    """accept() fails with the given errnos, then reports closed."""

    def __init__(self, errnos):
        self.errnos = list(errnos)

    def accept(self):
        if self.errnos:
            code = self.errnos.pop(0)
            if code is None:
                return "conn"
            raise OSError(code, os.strerror(code))
        raise netpoll.ClosedError()


def test_serve_backoff_doubles_to_one_second_and_resets(monkeypatch, capsys):
    slept = []
    monkeypatch.setattr(netpoll.server, "sleep", slept.append)
    handled = []
    errnos = [errno.EMFILE] * 10 + [None] + [errno.ENFILE]
    netpoll.run(netpoll.server.serve, _FailingListener(errnos), handled.append)
    assert slept == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0, 0.005]
    assert handled == ["conn"]
    assert "retrying in 5 ms" in capsys.readouterr().err


def test_serve_raises_other_accept_errors(monkeypatch):
    with pytest.raises(OSError) as info:
        netpoll.run(netpoll.server.serve, _FailingListener([errno.EINVAL]), print)
    assert info.value.errno == errno.EINVAL


def test_a_subcommand_added_to_the_table_is_listed_and_runs(monkeypatch, capsys):
    from netpoll import cli

    def add_arguments(p):
        p.add_argument("--name", default="world")
    extra = cli.Subcommand("hello", "say hello", "Say hello.", add_arguments,
                           cli.lazy("tests_cli_hello:run"))
    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, extra])
    module = type(os)("tests_cli_hello")            # imported only when it runs
    module.run = lambda args, parser: print(f"hello {args.name}") or 0
    monkeypatch.setitem(__import__("sys").modules, "tests_cli_hello", module)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.count("say hello") == 1
    assert main(["hello", "--name", "go"]) == 0
    assert capsys.readouterr().out == "hello go\n"
