#!/bin/sh
# Run the shared benchmark harness (../shared/bench, see its README) with
# netpoll's servers added to its peers:
#   netpoll       `python -m netpoll echo` (echo scenarios)
#   netpoll       examples/http_server.py   (http scenarios, GET / -> Hello, World!)
# Results go to bench/results/<stamp>.json and .md (git-ignored).
#
#   sh bench/run.sh                                   # full matrix, 3 repeats (~20 min)
#   sh bench/run.sh --quick                           # 1 repeat, 1 s runs (~5 min)
#   sh bench/run.sh --points pingpong_c64,idle_n10000 --repeats 5 --servers asyncio_streams,go
#   NETPOLL_POLLER=poll sh bench/run.sh --points idle_n1000   # another poller
#
# Every argument is passed on to the harness's run.py.  Set HARNESS to use
# another copy of the harness, SETUP=0 to skip its one-time setup.
set -eu
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-../shared/bench}
PY=$(pwd)/.venv/bin/python
if [ ! -x "$PY" ]; then
    make venv
fi
if [ "${SETUP:-1}" != 0 ]; then
    sh "$HARNESS/setup.sh" >/dev/null     # apt packages, peers' venv, builds (idempotent)
fi
mkdir -p bench/results
STAMP=$(date +%Y%m%d-%H%M%S)
exec python3 "$HARNESS/run.py" \
    --extra "netpoll=exec $PY -m netpoll echo --listen 127.0.0.1:{port}" \
    --extra-http "netpoll=exec $PY examples/http_server.py --listen 127.0.0.1:{port}" \
    --out "bench/results/$STAMP.json" --md "bench/results/$STAMP.md" \
    "$@"
