"""threading locks are not patched: a goroutine that blocks on a lock
another goroutine of its thread holds across I/O stalls the whole
runtime.  The watchdog detects it and names both sides (the blocked
acquire and the parked goroutines), with a plain Lock and with a real
library (redis-py's BlockingConnectionPool waits on a queue.Queue)."""

import re
import signal

import pytest

from support import PYTHON, Child

pytestmark = pytest.mark.timeout(120)


def _child(code):
    prelude = "import netpoll, sys, threading, socket, time\nnetpoll.patch()\n"
    return Child([PYTHON, "-c", prelude + code])


def test_patch_watchdog_names_lock_held_across_io():
    code = """
lock = threading.Lock()
def main():
    netpoll.set_watchdog(0.3, stream=sys.stdout)
    a, b = socket.socketpair()
    def holder():
        with lock:
            a.recv(1)            # parks while holding the lock
    def other():
        with lock:               # blocks the thread: holder can never run
            pass
    netpoll.go(holder)
    netpoll.gosched()
    netpoll.go(other).join()
netpoll.run(main)
"""
    with _child(code) as child:
        child.expect("netpoll watchdog:", timeout=30)
        child.stop(signal.SIGKILL)           # it would never end by itself
        child.finish(10)
        report = "\n".join(child.lines)
    assert "It is blocked acquiring a lock (with lock at <string>:" in report, report
    assert re.search(r"goroutine \d+ \[IO wait\] at <string>:\d+ in holder", report), report


def test_patch_watchdog_redis_blocking_pool(redis_server):
    code = f"""
import redis
def main():
    netpoll.set_watchdog(0.5, stream=sys.stdout)
    pool = redis.BlockingConnectionPool(host="127.0.0.1", port={redis_server},
                                        max_connections=1, timeout=2)
    r = redis.Redis(connection_pool=pool)
    r.delete("never")
    def waiter():
        r.blpop("never", timeout=1)       # holds the only connection, parked
    def second():
        try:
            r.get("x")                    # queue.get: blocks the thread
            return "got"
        except redis.ConnectionError as e:
            return "pool timeout"
    netpoll.go(waiter)
    netpoll.gosched()
    print("second:", netpoll.go(second).join(), flush=True)
netpoll.run(main)
"""
    with _child(code) as child:
        rc, out, err = child.finish(60)
        report = "\n".join(child.lines)
    assert rc == 0, err
    assert re.search(r"blocked acquiring a lock \(acquire\(\) at \S*threading.py", report), report
    assert re.search(r"goroutine \d+ \[IO wait\] at \S*redis\S*", report), report
    # the stall ends only when the pool's own timeout fires
    assert "second: pool timeout" in report
