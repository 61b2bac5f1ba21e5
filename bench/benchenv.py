"""Where the benchmark drivers find the peers' Python: the venv that
bench/setup.sh makes from bench/requirements.txt (gevent, uvloop, gunicorn,
redis, requests, ...), in the same place bench/run.py uses: beside this file
when it is writable, else $BENCH_WORK or ~/.cache/netpoll-bench."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("BENCH_WORK") or (
    HERE if os.access(HERE, os.W_OK) else os.path.expanduser("~/.cache/netpoll-bench"))
PEER_VENV = os.path.join(WORK, ".venv")
PEER_PYTHON = os.path.join(PEER_VENV, "bin", "python")
