"""http.client, urllib.request and requests, patched, in 100 goroutines
against a real server that answers each request after 0.5 s: they finish
together (wall time far below 100 x 0.5 s), every body checked."""

import pytest

CLIENTS = {
    "http.client": """
        import http.client
        def fetch(path):
            c = http.client.HTTPConnection(HOST, PORT, timeout=30)
            try:
                c.request("GET", path)
                r = c.getresponse()
                assert r.status == 200, r.status
                return r.read().decode()
            finally:
                c.close()
    """,
    "urllib.request": """
        import urllib.request
        def fetch(path):
            with urllib.request.urlopen(f"http://{HOST}:{PORT}{path}", timeout=30) as r:
                return r.read().decode()
    """,
    "requests": """
        import requests
        def fetch(path):
            # a host name, so name resolution goes through the patch too
            r = requests.get(f"http://localhost:{PORT}{path}", timeout=30)
            r.raise_for_status()
            return r.text
    """,
}

DRIVER = """
    import time
    N = 100
    def main():
        results = {{}}
        def one(i):
            results[i] = fetch(f"/item/{{i}}")
        t0 = time.monotonic()
        gs = [netpoll.go(one, i) for i in range(N)]
        for g in gs:
            g.join()
        return time.monotonic() - t0, results
    elapsed, results = netpoll.run(main)
    bad = [i for i in range(N) if results.get(i) != f"/item/{{i}}"]
    print(json.dumps({{"elapsed": elapsed, "bad": bad, "n": len(results)}}))
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_patch_http_client_concurrent(patched_epoll, delay_server, client):
    import textwrap
    host, port = delay_server
    code = (f"HOST, PORT = {host!r}, {port}\n" + textwrap.dedent(CLIENTS[client])
            + textwrap.dedent(DRIVER).format())
    out = patched_epoll(code)
    assert out["n"] == 100 and out["bad"] == []
    # Sequential would be 50 s; concurrent is ~0.5 s plus overhead.
    assert out["elapsed"] < 15, out
