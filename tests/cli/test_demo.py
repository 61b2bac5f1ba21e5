"""netpoll demo: a tiny real run, and the table/plot/limit logic."""

import struct
import subprocess

import pytest

import netpoll
from netpoll import demo
from netpoll.demo import orchestrate, report

from support import PYTHON, ROOT

POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.mark.timeout(120)
def test_demo_tiny_run(tmp_path):
    out = tmp_path / "demo.png"
    r = subprocess.run([PYTHON, "-m", "netpoll", "demo", "--idle", "0,50", "--seconds", "0.3",
                        "--warmup", "0.1", "--active", "8", "--retries", "0", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line.split("  ")[0].strip(): line for line in r.stdout.splitlines()}
    for name in POLLERS:
        row = rows[f"netpoll {name}"]
        assert "failed" not in row and "no:" not in row, row
    assert "threads (stdlib)" in rows
    assert "N=0" in r.stdout and "N=50" in r.stdout
    assert f"plot: {out}" in r.stdout
    width, height = png_size(out)
    assert width > 400 and height > 200
    assert "[8/8]" in r.stderr            # plain progress lines when not on a terminal


def fake_results():
    ok = {"rt_per_s": 25000.0, "server_us_per_rt": 24.0, "kib_per_idle": 8.5}
    return {
        "select": {0: dict(ok), 5000: {"skip": orchestrate.select_skip(5000, 32)}},
        "poll": {0: dict(ok), 5000: {**ok, "rt_per_s": 4000.0, "server_us_per_rt": 200.0}},
        "epoll": {0: dict(ok), 5000: {"error": "boom"}},
    }


def test_table_says_why_select_cannot_run():
    text = report.tables(fake_results(), [0, 5000])
    lines = text.splitlines()
    select_row = next(line for line in lines if line.startswith("netpoll select"))
    assert "25.0k" in select_row and "no: fd≥1024" in select_row
    poll_row = next(line for line in lines if line.startswith("netpoll poll"))
    assert "4000" in poll_row and "8.5 (N=5000)" in poll_row
    assert "failed" in next(line for line in lines if line.startswith("netpoll epoll"))
    assert "200.0" in text                  # the CPU table
    md = report.tables(fake_results(), [0, 5000], markdown=True)
    assert md.startswith("| round trips/s | N=0 | N=5000 |")


def test_plot_writes_png(tmp_path):
    path = tmp_path / "p.png"
    report.plot(fake_results(), [0, 5000], 32, str(path))
    assert png_size(path)[0] > 400


def test_skip_rules():
    assert orchestrate.select_skip(900, 32) is None
    assert "1024" in orchestrate.select_skip(1000, 32)
    assert orchestrate.fd_limit_skip(1000, 32, 20000) is None
    assert orchestrate.fd_limit_skip(5000, 32, 1024) == "no: ulimit -n"


def test_demo_says_when_the_fd_limit_is_too_low(monkeypatch, tmp_path, capsys):
    measured = []

    def fake_measure(name, idle, active, seconds, warmup):
        measured.append((name, idle))
        return {"rt_per_s": 1000.0, "server_us_per_rt": 10.0}
    monkeypatch.setattr(demo, "raise_nofile", lambda: 600)
    monkeypatch.setattr(orchestrate, "measure", fake_measure)
    code = demo.run_demo(idle=[0, 1000], active=32, seconds=1, out=str(tmp_path / "x.png"))
    assert code == 0
    out, err = capsys.readouterr()
    assert "RLIMIT_NOFILE is 600" in err and "1000 idle connections" in err
    assert "need 1048 descriptors" in err and "ulimit -Hn" in err
    assert all(idle == 0 for _, idle in measured)
    assert "no: ulimit -n" in out
