"""sync (Go: sync.Mutex, RWMutex, Once; x/sync semaphore and errgroup):
mutual exclusion with parking inside the critical section, FIFO hand-off,
writers not starved, Once with a raising function, the deadlock report
and teardown."""

import pytest

import netpoll
from netpoll import Chan, DeadlockError, ErrGroup, Mutex, Once, RWMutex, Semaphore, context

from support import wait_parked


def test_mutual_exclusion_1000_goroutines_parking_inside(run):
    def main():
        m = Mutex()
        inside = [0]
        entered = [0]

        def worker():
            with m:
                inside[0] += 1
                assert inside[0] == 1
                entered[0] += 1
                netpoll.gosched()          # park while holding it
                netpoll.sleep(0)
                assert inside[0] == 1
                inside[0] -= 1
        gs = [netpoll.go(worker) for _ in range(1000)]
        for g in gs:
            g.join()
        assert entered[0] == 1000 and not m.locked()
    run(main)


def test_fifo_hand_off(run):
    def main():
        m = Mutex()
        order = []
        m.lock()

        def waiter(i):
            m.lock()
            order.append(i)
            m.unlock()
        gs = []
        for i in range(10):
            gs.append(netpoll.go(waiter, i))
            wait_parked(gs[-1], reason="sync.Mutex.Lock")
        m.unlock()
        m.lock()                      # queues behind all ten
        assert order == list(range(10))
        m.unlock()
    run(main)


def test_unlock_and_relock_queues_behind_waiters(run):
    def main():
        m = Mutex()
        order = []

        def greedy():
            for _ in range(3):
                m.lock()
                order.append("greedy")
                netpoll.gosched()
                m.unlock()

        def other():
            m.lock()
            order.append("other")
            m.unlock()
        m.lock()
        g = netpoll.go(greedy)
        wait_parked(g, reason="sync.Mutex.Lock")
        h = netpoll.go(other)
        wait_parked(h, reason="sync.Mutex.Lock")
        m.unlock()
        g.join()
        h.join()
        assert order[:2] == ["greedy", "other"]
    run(main)


def test_mutex_errors_and_try_lock(run):
    def main():
        m = Mutex()
        with pytest.raises(RuntimeError, match="unlock of unlocked mutex"):
            m.unlock()
        assert m.try_lock() is True
        assert m.try_lock() is False
        m.unlock()
    run(main)


def test_deadlock_report_names_the_lock(run):
    def main():
        m = Mutex()
        rw = RWMutex()
        m.lock()
        rw.lock()
        netpoll.go(m.lock)
        netpoll.go(rw.rlock)
        with pytest.raises(DeadlockError) as info:
            rw.lock()
        text = str(info.value)
        assert "[sync.Mutex.Lock]" in text
        assert "[sync.RWMutex.RLock]" in text
        assert "main goroutine [sync.RWMutex.Lock]" in text
    run(main)


def test_teardown_leaves_no_waiter_and_no_held_lock(run):
    locks = []

    def main():
        m = Mutex()
        locks.append(m)
        m.lock()
        gs = [netpoll.go(m.lock) for _ in range(3)]
        wait_parked(*gs, reason="sync.Mutex.Lock")
        m.unlock()        # handed to the first; it is killed before it runs
    run(main)
    m = locks[0]
    assert not m._waiters
    # the first was granted it, then killed: it passed the lock on, and so
    # did the others, so nobody holds it
    assert not m.locked()


def test_rwmutex_readers_share_writer_excludes(run):
    def main():
        rw = RWMutex()
        rw.rlock()
        rw.rlock()
        assert rw.try_lock() is False
        w = netpoll.go(rw.lock)
        wait_parked(w, reason="sync.RWMutex.Lock")
        assert rw.try_rlock() is False          # a waiting writer keeps readers out
        r = netpoll.go(rw.rlock)
        wait_parked(r, reason="sync.RWMutex.RLock")
        rw.runlock()
        rw.runlock()
        w.join()                                 # the writer got it
        assert not r.done
        rw.unlock()
        r.join()                                 # then the reader
        rw.runlock()
        with rw.rlocker():
            assert rw.try_lock() is False
        with rw:
            assert rw.try_rlock() is False
        with pytest.raises(RuntimeError):
            rw.unlock()
        with pytest.raises(RuntimeError):
            rw.runlock()
    run(main)


def test_rwmutex_writer_not_starved_by_readers(run):
    def main():
        rw = RWMutex()
        stop = [False]
        reads = [0]

        def reader():
            while not stop[0]:
                with rw.rlocker():
                    reads[0] += 1
                    netpoll.gosched()    # readers overlap all the time

        readers = [netpoll.go(reader) for _ in range(5)]
        netpoll.gosched()
        before = reads[0]
        rw.lock()                        # must get in despite the stream
        stop[0] = True
        rw.unlock()
        for g in readers:
            g.join()
        assert before > 0
    run(main)


def test_once_raising_counts_as_done(run):
    def main():
        once = Once()
        calls = []

        def boom():
            calls.append(1)
            raise ValueError("first")
        with pytest.raises(ValueError, match="first"):
            once.do(boom)
        once.do(boom)                    # not again, and no exception
        assert calls == [1] and once.done
    run(main)


def test_once_concurrent_callers_wait_for_the_first(run):
    def main():
        once = Once()
        calls = []
        gate = Chan()

        def slow():
            calls.append(1)
            gate.recv()                  # park inside the one call
        gs = [netpoll.go(once.do, slow) for _ in range(5)]
        wait_parked(gs[0], reason="chan receive")
        wait_parked(*gs[1:], reason="sync.Mutex.Lock")
        gate.send(None)
        for g in gs:
            g.join()
        assert calls == [1]
    run(main)


def test_semaphore_weights_fifo(run):
    def main():
        s = Semaphore(3)
        order = []
        s.acquire(2)

        def take(w, name):
            s.acquire(w)
            order.append(name)
        big = netpoll.go(take, 3, "big")
        wait_parked(big, reason="semacquire")
        small = netpoll.go(take, 1, "small")    # fits, but queues behind big
        wait_parked(small, reason="semacquire")
        assert s.try_acquire() is False
        s.release(2)
        big.join()
        assert order == ["big"]
        s.release(3)
        small.join()
        assert order == ["big", "small"]
        s.release(1)
        with pytest.raises(RuntimeError):
            s.release(1)
        with pytest.raises(ValueError):
            s.acquire(4)
        with s:
            assert s._cur == 1
    run(main)


def test_errgroup_first_exception_and_with_context(run):
    def main():
        g, ctx = ErrGroup.with_context(context.background())
        seen = []

        def fails():
            raise KeyError("first")

        def waits_for_cancel():
            ctx.done().recv_ok()
            seen.append(type(ctx.err()).__name__)
        g.go(waits_for_cancel)
        g.go(fails)
        with pytest.raises(KeyError, match="first"):
            g.wait()
        assert seen == ["Canceled"]
        ok = ErrGroup()
        ok.go(lambda: None)
        assert ok.wait() is None
    run(main)


def test_errgroup_set_limit(run):
    def main():
        g = ErrGroup()
        g.set_limit(2)
        running, peak = [0], [0]

        def work():
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            netpoll.sleep(0.001)
            running[0] -= 1
        for _ in range(10):
            g.go(work)
        g.wait()
        assert peak[0] == 2
        h = ErrGroup()
        h.set_limit(1)
        gate = Chan()
        h.go(gate.recv)
        assert h.try_go(lambda: None) is False
        gate.send(None)
        h.wait()
    run(main)


def test_teardown_leaves_rwmutex_and_semaphore_clean(run):
    objs = []

    def main():
        rw, sem = RWMutex(), Semaphore(2)
        objs.extend([rw, sem])
        rw.rlock()
        writer = netpoll.go(rw.lock)
        wait_parked(writer, reason="sync.RWMutex.Lock")
        readers = [netpoll.go(rw.rlock) for _ in range(3)]
        wait_parked(*readers, reason="sync.RWMutex.RLock")
        sem.acquire(2)
        takers = [netpoll.go(sem.acquire, 1) for _ in range(3)]
        wait_parked(*takers, reason="semacquire")
        sem.release(2)     # granted to two of them; all are killed before running
    run(main)
    rw, sem = objs
    assert not rw._wq and not rw._rq
    assert not sem._waiters and sem._cur == 0
