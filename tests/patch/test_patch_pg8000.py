"""pg8000 (a pure-Python PostgreSQL driver), patched, against a real
PostgreSQL 15 started by the fixture: 20 concurrent ``pg_sleep(0.2)``
finish together, and the query results are checked."""

import pytest

pytestmark = pytest.mark.timeout(240)


def test_patch_pg8000_concurrent_queries(patched_epoll, postgres_server):
    out = patched_epoll(f"""
        import time, pg8000.native
        PORT = {postgres_server}
        def connect():
            return pg8000.native.Connection("postgres", host="127.0.0.1", port=PORT,
                                            database="postgres", timeout=30)
        def main():
            conns = [connect() for _ in range(20)]      # connecting is not timed
            results = {{}}
            def one(i):
                rows = conns[i].run("SELECT pg_sleep(0.2), :i::int * 2", i=i)
                results[i] = rows[0][1]
            t0 = time.monotonic()
            gs = [netpoll.go(one, i) for i in range(20)]
            for g in gs:
                g.join()
            took = time.monotonic() - t0
            for c in conns:
                c.close()
            return {{"took": took, "ok": results == {{i: i * 2 for i in range(20)}}}}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["ok"], out
    assert out["took"] < 2.5, out        # sequentially: 20 x 0.2 s = 4 s
