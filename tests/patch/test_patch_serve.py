"""``netpoll serve --patch``: a WSGI application written against blocking
libraries (redis-py, requests) serves requests concurrently, one goroutine
each, against real redis-server and a real upstream that answers after
0.5 s."""

import concurrent.futures
import http.client
import os
import signal
import textwrap
import time

import pytest

from support import PYTHON, ServerProcess

pytestmark = pytest.mark.timeout(120)

APP = textwrap.dedent('''
    import os, redis, requests
    R = redis.Redis(host="127.0.0.1", port=int(os.environ["T_REDIS_PORT"]))
    S = requests.Session()
    def app(environ, start_response):
        n = R.incr("hits")
        up = S.get(os.environ["T_UPSTREAM"] + environ["PATH_INFO"], timeout=30).text
        body = f"{up} {n}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
''')


def test_patch_serve_flag_runs_blocking_libraries_concurrently(tmp_path, redis_server,
                                                                delay_server):
    (tmp_path / "mixedapp.py").write_text(APP)
    env = {"T_REDIS_PORT": str(redis_server),
           "T_UPSTREAM": f"http://{delay_server[0]}:{delay_server[1]}"}
    argv = ["sh", "-c", f'cd "{tmp_path}" && exec "{PYTHON}" -m netpoll serve --patch '
                        f'mixedapp:app --listen 127.0.0.1:0']
    server = ServerProcess(argv, env=env, start_new_session=True)
    try:
        host, port = server.address

        def get(i):
            c = http.client.HTTPConnection(host, port, timeout=30)
            try:
                c.request("GET", f"/r{i}")
                return c.getresponse().read().decode()
            finally:
                c.close()

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            bodies = list(pool.map(get, range(40)))
        took = time.monotonic() - t0
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.close()
    assert [b.split()[0] for b in bodies] == [f"/r{i}" for i in range(40)]
    assert sorted(int(b.split()[1]) for b in bodies)[-1] >= 40     # every INCR happened
    assert took < 10, took           # 40 x 0.5 s = 20 s if served one at a time
