"""A runtime's life: created lazily by a thread and released when the
thread ends, the recursion depth its goroutines start at, the API
mistakes refused at the call, and what join re-raises (docs/reference.md,
"Runtime")."""

import sys
import threading
import traceback

import pytest

import netpoll
from netpoll.runtime.scheduler import current_runtime

from support import fd_count

pytestmark = pytest.mark.usefixtures("no_leftover_runtime")


def test_threads_using_netpoll_outside_run_release_their_descriptors():
    def work():
        netpoll.sleep(0.001)         # creates this thread's runtime lazily

    def batch(n):
        for _ in range(n):
            t = threading.Thread(target=work)
            t.start()
            t.join()

    batch(5)                          # warm up (thread pool, imports)
    before = fd_count()
    batch(200)
    assert fd_count() - before < 10   # was +400: an epoll fd and an eventfd each


def test_goroutines_start_at_the_depth_of_run_not_of_the_first_park(run):
    def rec(n):
        return 0 if n == 0 else 1 + rec(n - 1)

    def deep(n):
        if n:
            return deep(n - 1)
        netpoll.sleep(0)              # the runtime's first park, 500 frames down
        return True

    limit = sys.getrecursionlimit()
    depth = limit - 200               # fits in a fresh stack, not 500 frames down

    def main():
        deep(500)
        return netpoll.go(rec, depth).join()

    assert run(main) == depth


@pytest.mark.parametrize("api", ["go", "run"])
def test_calling_the_function_instead_of_passing_it_is_refused(api):
    def work(x):
        return x

    fn = getattr(netpoll, api)
    with pytest.raises(TypeError, match=rf"{api}\(fn, \*args\)"):
        fn(work(21))


@pytest.mark.parametrize("api", ["go", "run"])
def test_async_functions_are_refused(api):
    async def handler():
        return 1

    fn = getattr(netpoll, api)
    with pytest.raises(TypeError, match="async function"):
        fn(handler)
    assert current_runtime() is None or not current_runtime().goroutines


def test_join_keeps_the_goroutines_traceback(run):
    def fail():
        raise KeyError("k")

    def main():
        g = netpoll.go(fail)
        sizes = []
        for _ in range(5):
            try:
                g.join()
            except KeyError as exc:
                sizes.append(len(traceback.extract_tb(exc.__traceback__)))
        return sizes

    sizes = run(main)
    assert len(set(sizes)) == 1, sizes


def test_join_after_run_returns_the_result_of_a_finished_goroutine(run):
    holder = []

    def main():
        holder.append(netpoll.go(lambda: 7))
        holder[0].join()

    run(main)
    assert holder[0].join() == 7
