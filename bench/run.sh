#!/bin/sh
# Run the benchmark harness (bench/run.py, see bench/README.md) with
# netpoll's servers added to its peers:
#   netpoll       `python -m netpoll echo` (echo scenarios)
#   netpoll_wsgi  `python -m netpoll serve wsgi_hello:app` (http scenarios: netpoll.http
#                 serving the harness's WSGI hello app; compare with --servers all,wsgi)
# Results go to bench/results/<stamp>.json and .md (git-ignored).
#
#   sh bench/run.sh                                   # full matrix, 3 repeats (~20 min)
#   sh bench/run.sh --quick                           # 1 repeat, 1 s runs (~5 min)
#   sh bench/run.sh --points pingpong_c64,idle_n10000 --repeats 5 --servers asyncio_streams,go
#   NETPOLL_POLLER=poll sh bench/run.sh --points idle_n1000   # another poller
#
# Every argument is passed on to bench/run.py.  Before running, this script
# checks what the harness needs; when something is missing it runs
# bench/setup.sh if it can (root, for the apt packages) or says what to
# install.  SETUP=0 skips the check.
set -eu
cd "$(dirname "$0")/.."
HERE=$(pwd)/bench
PY=$(pwd)/.venv/bin/python

if ! command -v python3 >/dev/null 2>&1; then
    echo "bench/run.sh: python3 is not installed (the harness's driver needs it)" >&2
    exit 1
fi
if [ ! -x "$PY" ]; then
    echo "bench/run.sh: no .venv yet: running 'make venv' (netpoll installed in .venv)" >&2
    make venv
fi

if [ "${SETUP:-1}" != 0 ]; then
    # required: gcc (the load generator, the C server), taskset (CPU pinning);
    # go (Go peers), wrk (http scenarios), the peers' venv (Python peers)
    missing=""
    for tool in gcc taskset go wrk; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    [ -x "$HERE/.venv/bin/python" ] || missing="$missing bench/.venv"
    if [ -n "$missing" ]; then
        tools=$(echo "$missing" | sed 's# bench/.venv##')
        if [ -n "$tools" ] && [ "$(id -u)" != 0 ]; then
            echo "bench/run.sh: missing:$missing" >&2
            echo "  install them with 'sudo sh bench/setup.sh' (apt: golang-go wrk gcc;" >&2
            echo "  taskset is in util-linux), or run with SETUP=0 to measure only what is there" >&2
            exit 1
        fi
        echo "bench/run.sh: missing:$missing -> running bench/setup.sh" >&2
        if ! sh "$HERE/setup.sh" >&2; then
            echo "bench/run.sh: bench/setup.sh failed (it needs apt and PyPI access)" >&2
            exit 1
        fi
    fi
fi

mkdir -p bench/results
STAMP=$(date +%Y%m%d-%H%M%S)
exec python3 "$HERE/run.py" \
    --extra "netpoll=exec $PY -m netpoll echo --listen 127.0.0.1:{port}" \
    --extra-http "netpoll_wsgi=PYTHONPATH=$HERE/servers/py exec $PY -m netpoll serve wsgi_hello:app --listen 127.0.0.1:{port}" \
    --out "bench/results/$STAMP.json" --md "bench/results/$STAMP.md" \
    "$@"
