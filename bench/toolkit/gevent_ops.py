"""The toolkit benchmark's gevent side (run with a Python that has gevent,
e.g. the peers' venv that bench/setup.sh makes): prints "name ns_per_op" lines."""

import sys
import time

import gevent
from gevent.lock import Semaphore
from gevent.queue import Channel, Queue


def best(repeats, fn):
    return min(fn() for _ in range(repeats))


def main(n):
    sem = Semaphore()

    def mutex():
        acquire, release = sem.acquire, sem.release
        t = time.perf_counter()
        for _ in range(n):
            acquire()
            release()
        return time.perf_counter() - t
    print(f"mutex {best(5, mutex) / n * 1e9:.1f}")

    def buffered():
        q = Queue(1)
        put, get = q.put, q.get
        t = time.perf_counter()
        for i in range(n):
            put(i)
            get()
        return time.perf_counter() - t
    print(f"chan_buffered {best(5, buffered) / (2 * n) * 1e9:.1f}")

    def pingpong():
        a, b = Channel(), Channel()

        def peer():
            get, put = a.get, b.put
            while True:
                v = get()
                if v is None:
                    return
                put(v)
        g = gevent.spawn(peer)
        put, get = a.put, b.get
        t = time.perf_counter()
        for i in range(n):
            put(i)
            get()
        el = time.perf_counter() - t
        a.put(None)
        g.join()
        return el
    print(f"pingpong {best(5, pingpong) / (2 * n) * 1e9:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
