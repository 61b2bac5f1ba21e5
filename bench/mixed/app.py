"""The mixed-workload WSGI application: per request, one redis GET and one
HTTP call to a local upstream, with the libraries everyone uses (redis-py,
requests).  Served by ``netpoll serve --patch`` and by ``gunicorn -k
gevent``; neither server's code appears here."""

import os

import redis
import requests
from requests.adapters import HTTPAdapter

REDIS = redis.Redis(host="127.0.0.1", port=int(os.environ.get("MIXED_REDIS_PORT", "6379")))
UPSTREAM = os.environ.get("MIXED_UPSTREAM", "http://127.0.0.1:8081/")
SESSION = requests.Session()
SESSION.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=256))


def app(environ, start_response):
    value = REDIS.get("mixed:key") or b"-"
    upstream = SESSION.get(UPSTREAM, timeout=10).content
    body = value + b" " + upstream
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
