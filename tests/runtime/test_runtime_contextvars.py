"""Each goroutine runs in a copy of its creator's contextvars context, taken
at go() (as asyncio.create_task does): it sees what its creator had set,
and nothing it sets is seen by its creator or by later goroutines on the
same reused worker (docs/reference.md, "Runtime")."""

import contextvars

import netpoll
from netpoll.runtime.scheduler import current_runtime

request_id = contextvars.ContextVar("request_id", default=None)


def test_no_value_leaks_between_goroutines_on_reused_workers(run):
    def handle(i):
        seen_at_start = request_id.get()
        request_id.set(i)
        netpoll.sleep(0)                  # park: others run on other workers
        return seen_at_start, request_id.get()

    def main():
        results = []
        workers = set()
        for start in range(0, 1000, 50):  # waves of 50: workers are reused
            gs = [netpoll.go(handle, i) for i in range(start, start + 50)]
            workers.update(id(g.worker) for g in gs)
            results += [g.join() for g in gs]
        return results, len(workers), request_id.get()

    results, nworkers, mine = run(main)
    assert nworkers <= 100                # reused, not 1,000 new greenlets
    assert results == [(None, i) for i in range(1000)]
    assert mine is None                   # nothing came back to the creator


def test_a_goroutine_starts_with_its_creators_values(run):
    def main():
        token = request_id.set("outer")
        try:
            inner = netpoll.go(lambda: request_id.get())
            request_id.set("changed after go")   # the copy was taken at go()
            return inner.join()
        finally:
            request_id.reset(token)             # main is the test's own thread

    assert run(main) == "outer"


def test_values_set_in_a_goroutine_do_not_outlive_it(run):
    def main():
        netpoll.go(request_id.set, "leaked?").join()
        (worker,) = current_runtime().idle
        follower = netpoll.go(request_id.get)
        assert follower.worker is worker  # the same worker runs it
        return follower.join(), request_id.get()

    assert run(main) == (None, None)
