"""Mistakes a newcomer makes with the command line, the examples and the
Makefile: each is refused at the start with one message that says what to
write instead."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from support import PYTHON, ROOT, Child, ServerProcess, example


def run(argv, timeout=60, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env, **kw)


def netpoll_cmd(*args):
    return [PYTHON, "-m", "netpoll", *args]


@pytest.mark.parametrize("given,hint", [
    ("8080", "write ':8080' (every interface) or '127.0.0.1:8080'"),
    ("localhost", "add a port: 'localhost:7000'"),
    ("::1:7000", "an IPv6 address goes in brackets: '[::1]:7000'"),
    ("[::1]", "add a port: '[::1]:7000'"),
    ("127.0.0.1:70000", "invalid port '70000' (0-65535"),
])
@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["1", "workers"])
def test_listen_mistakes_suggest_the_right_form(given, hint, workers):
    r = run(netpoll_cmd("echo", "--listen", given, *workers))
    assert r.returncode == 2
    assert f"argument --listen: address {given}: " in r.stderr
    assert hint in r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture
def busy_port():
    """A port another socket listens on (without SO_REUSEPORT)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("workers", [[], ["--workers", "3"]], ids=["1", "workers"])
def test_port_in_use_is_one_line_with_or_without_workers(busy_port, workers):
    r = run(netpoll_cmd("echo", "--listen", f"127.0.0.1:{busy_port}", *workers))
    assert r.returncode == 1
    # the same single line either way: checked once, in the parent
    assert r.stderr == (f"netpoll echo: listen tcp 127.0.0.1:{busy_port}: bind: "
                        f"address already in use\n")


def test_workers_help_says_a_second_instance_shares_the_port():
    out = run(netpoll_cmd("echo", "--help")).stdout
    assert "SO_REUSEPORT" in out
    assert "another netpoll echo --workers on the same port joins in" in " ".join(out.split())


def test_help_lists_each_subcommand_once():
    out = run(netpoll_cmd("--help")).stdout
    for name in ("echo", "demo", "pollers"):
        listed = [line for line in out.splitlines() if line.strip().startswith(name + " ")]
        assert len(listed) == 1, out
    assert "{echo,demo,pollers" not in out


def test_no_subcommand_prints_help_and_exits_2():
    r = run(netpoll_cmd())
    assert r.returncode == 2
    assert "subcommands:" in r.stdout


def test_ctrl_c_during_demo_prints_the_partial_table_and_exits_130(tmp_path):
    argv = netpoll_cmd("demo", "--idle", "0,10", "--seconds", "0.5", "--warmup", "0.1",
                       "--no-threads", "--retries", "0", "--out", str(tmp_path / "demo.png"))
    with Child(argv) as demo:
        deadline = time.monotonic() + 60
        while "[2/" not in demo.errors():        # the first cell is measured
            assert demo.proc.poll() is None, demo.errors()
            assert time.monotonic() < deadline, demo.errors()
            time.sleep(0.05)
        demo.proc.send_signal(signal.SIGINT)     # Ctrl-C reaches the demo itself
        code, out, err = demo.finish(timeout=60)
    assert code == 130, err
    assert "interrupted (Ctrl-C)" in err
    assert "Traceback" not in err
    table = "\n".join(demo.lines)
    assert "round trips/s" in table and "server CPU µs/round trip" in table
    rows = [line for line in demo.lines if line.startswith("netpoll ")]
    assert any(" - " in row or row.endswith(" -") for row in rows), table  # not measured
    assert not (tmp_path / "demo.png").exists()


# -- examples ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["echo_server", "chat", "proxy"])
def test_example_on_a_port_in_use_prints_one_line(name, busy_port):
    argv = example(name)[:-1] + [f"127.0.0.1:{busy_port}"]
    if name == "proxy":
        argv += ["--to", "127.0.0.1:9"]
    r = run(argv)
    assert r.returncode == 1
    assert r.stderr == (f"{name}: listen tcp 127.0.0.1:{busy_port}: bind: "
                        f"address already in use\n")


@pytest.mark.parametrize("to,hint", [
    ("localhost", "add a port: 'localhost:7000'"),
    ("7000", "write '127.0.0.1:7000'"),
    ("127.0.0.1:0", "invalid port '0' (1-65535)"),
])
def test_proxy_refuses_an_upstream_without_a_port(to, hint):
    r = run(example("proxy", "--to", to))
    assert r.returncode == 2
    assert f"argument --to: address {to}: " in r.stderr
    assert hint in r.stderr


def test_examples_listen_mistake_is_a_usage_error():
    r = run([PYTHON, os.path.join(ROOT, "examples", "echo_server.py"), "--listen", "8080"])
    assert r.returncode == 2
    assert "write ':8080'" in r.stderr


def test_proxy_with_a_valid_upstream_starts():
    with ServerProcess(example("proxy", "--to", "127.0.0.1:9")) as proxy:
        assert "forwarding to 127.0.0.1:9" in proxy.line


# -- the watchdog in development mode ------------------------------------------

BLOCKING = """
import time, netpoll
def nap():
    time.sleep(1.5)                     # blocks the thread, not just the goroutine
def main():
    g = netpoll.go(nap)
    netpoll.sleep(0.01)
    g.join()
netpoll.run(main)
"""


@pytest.mark.parametrize("how", ["-X dev", "NETPOLL_DEBUG=1", "off"])
def test_time_sleep_in_a_goroutine_is_reported_in_development_mode(how):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NETPOLL_WATCHDOG", None)
    env.pop("NETPOLL_DEBUG", None)
    argv = [sys.executable]
    if how == "-X dev":
        argv += ["-X", "dev"]
    elif how == "NETPOLL_DEBUG=1":
        env["NETPOLL_DEBUG"] = "1"
    r = subprocess.run(argv + ["-c", BLOCKING], capture_output=True, text=True, timeout=60,
                       env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    reported = "netpoll watchdog: a goroutine has held the runtime's thread" in r.stderr
    assert reported == (how != "off"), r.stderr
    if reported:
        assert "in nap" in r.stderr            # the culprit's stack


# -- the Makefile's interpreter guard ----------------------------------------------

@pytest.fixture
def fake_python(tmp_path):
    """An interpreter that says it is Python 3.9."""
    path = tmp_path / "python3.9"
    path.write_text("#!/bin/sh\necho old 3.9 /usr/bin/python3.9\n")
    path.chmod(0o755)
    return str(path)


def test_make_refuses_a_python_older_than_3_10(fake_python):
    r = run(["make", "lint", f"PYTHON={fake_python}", "VENV=/nonexistent-venv"])
    assert r.returncode != 0
    assert "netpoll needs Python 3.10 or later" in r.stderr
    assert "is 3.9" in r.stderr


def test_make_names_a_python_that_does_not_run():
    r = run(["make", "lint", "PYTHON=no-such-python3", "VENV=/nonexistent-venv"])
    assert r.returncode != 0
    assert "PYTHON=no-such-python3 does not run" in r.stderr


def test_plain_make_prints_the_tasks():
    r = run(["make", "PYTHON=no-such-python3"])      # help needs no interpreter
    assert r.returncode == 0
    for task in ("make test", "make lint", "make docs", "make test-all", "make clean"):
        assert task in r.stdout
