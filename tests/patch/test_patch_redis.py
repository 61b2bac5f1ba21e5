"""redis-py, patched, against a real redis-server: 100 goroutines doing
SET/GET, pipelines and pub/sub concurrently with every value checked, and
a BLPOP that parks only its own goroutine."""

import pytest

pytestmark = pytest.mark.timeout(180)


def test_patch_redis_concurrent(patched_epoll, redis_server):
    out = patched_epoll(f"""
        import time, redis
        PORT = {redis_server}
        def main():
            r = redis.Redis(host="localhost", port=PORT, max_connections=200,
                            socket_timeout=30, decode_responses=True)
            r.flushall()
            errors = []
            def worker(i):
                try:
                    for j in range(10):
                        r.set(f"k{{i}}:{{j}}", f"v{{i}}:{{j}}")
                    vals = [r.get(f"k{{i}}:{{j}}") for j in range(10)]
                    assert vals == [f"v{{i}}:{{j}}" for j in range(10)], vals
                    with r.pipeline() as p:
                        for j in range(10):
                            p.incr(f"ctr{{i}}")
                        p.get(f"k{{i}}:0")
                        res = p.execute()
                    assert res == list(range(1, 11)) + [f"v{{i}}:0"], res
                except Exception as e:
                    errors.append(repr(e))
            # pub/sub: subscribers in goroutines, one publisher
            got = {{}}
            def subscriber(n):
                ps = r.pubsub()
                ps.subscribe("chan")
                msgs = []
                while len(msgs) < 5:
                    m = ps.get_message(timeout=10)
                    if m and m["type"] == "message":
                        msgs.append(m["data"])
                got[n] = msgs
                ps.close()
            subs = [netpoll.go(subscriber, n) for n in range(5)]
            t0 = time.monotonic()
            gs = [netpoll.go(worker, i) for i in range(100)]
            while r.pubsub_numsub("chan")[0][1] < 5:
                time.sleep(0.01)
            for k in range(5):
                r.publish("chan", f"m{{k}}")
            for g in gs + subs:
                g.join()
            took = time.monotonic() - t0
            total = sum(int(r.get(f"ctr{{i}}")) for i in range(100))
            return {{"errors": errors[:3], "total": total, "took": took,
                    "pubsub": all(got[n] == [f"m{{k}}" for k in range(5)] for n in range(5)),
                    "conns": len(r.connection_pool._available_connections)}}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["errors"] == [] and out["total"] == 1000 and out["pubsub"], out
    assert out["conns"] > 1, out        # requests really overlapped


def test_patch_redis_blpop_parks_only_its_goroutine(patched_epoll, redis_server):
    out = patched_epoll(f"""
        import time, redis
        PORT = {redis_server}
        def main():
            r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
            r.delete("q")
            popped = []
            def waiter():
                popped.append(r.blpop("q", timeout=10))
            g = netpoll.go(waiter)
            t0 = time.monotonic()
            # while BLPOP waits, other goroutines talk to redis
            done = 0
            for i in range(50):
                r.set("other", i)
                done += int(r.get("other")) == i
            busy = time.monotonic() - t0
            parked = g.waitreason
            r.rpush("q", "item")
            g.join(10)
            return {{"popped": popped, "done": done, "parked": parked, "busy": busy}}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["popped"] == [["q", "item"]]
    assert out["done"] == 50 and out["parked"] == "IO wait" and out["busy"] < 5, out
