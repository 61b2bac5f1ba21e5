"""select.select, select.poll and selectors, patched: a wait parks only the
calling goroutine, returns what the original would, and honours its
timeout; urllib3's own wait helpers go through them."""

import pytest

pytestmark = pytest.mark.timeout(120)


def test_patch_select_poll_selectors_park(patched):
    out = patched("""
        import select, selectors, socket, time, os
        def main():
            a, b = socket.socketpair()
            r, w = os.pipe()                 # a plain descriptor, not a socket
            ticks = []
            def ticker():
                while True:
                    ticks.append(1); time.sleep(0.005)
            netpoll.go(ticker)
            res = {}
            def later(sock, fd):
                time.sleep(0.1)
                sock.send(b"x"); os.write(fd, b"y")
            netpoll.go(later, b, w)
            n0 = len(ticks)
            rl, wl, xl = select.select([a, r], [], [], 5)
            res["select"] = len(rl) >= 1 and all(x in (a, r) for x in rl)
            res["ticks_select"] = len(ticks) - n0
            a.recv(1); os.read(r, 1)
            # timeouts: nothing ready
            t0 = time.monotonic(); res["select_timeout"] = select.select([a, r], [], [], 0.1)
            res["select_took"] = time.monotonic() - t0
            p = select.poll(); p.register(a, select.POLLIN); p.register(r, select.POLLIN)
            t0 = time.monotonic(); res["poll_timeout"] = p.poll(100)
            res["poll_took"] = time.monotonic() - t0
            netpoll.go(later, b, w)
            n0 = len(ticks)
            ready = sorted(fd for fd, ev in p.poll())
            res["poll"] = len(ready) >= 1 and set(ready) <= {a.fileno(), r}
            res["ticks_poll"] = len(ticks) - n0
            a.recv(1); os.read(r, 1)
            for name in ("DefaultSelector", "PollSelector", "SelectSelector", "EpollSelector"):
                sel = getattr(selectors, name)()
                sel.register(a, selectors.EVENT_READ, "A")
                sel.register(r, selectors.EVENT_READ, "R")
                t0 = time.monotonic()
                none = sel.select(0.05)
                took = time.monotonic() - t0
                netpoll.go(later, b, w)
                n0 = len(ticks)
                got = set()
                while len(got) < 2:
                    got |= {key.data for key, ev in sel.select(5)}
                res[name] = [none, took >= 0.045, sorted(got), len(ticks) - n0 > 5]
                a.recv(1); os.read(r, 1)
                sel.close()
            # a writable socket is reported at once; zero timeout never parks
            res["writable"] = select.select([], [a], [], 5)[1] == [a]
            res["zero"] = select.select([a], [], [], 0)
            return res
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["select"] and out["ticks_select"] > 5, out
    assert out["select_timeout"] == [[], [], []] and 0.09 <= out["select_took"] < 2
    assert out["poll_timeout"] == [] and 0.09 <= out["poll_took"] < 2
    assert out["poll"] and out["ticks_poll"] > 5
    for name in ("DefaultSelector", "PollSelector", "SelectSelector", "EpollSelector"):
        assert out[name] == [[], True, ["A", "R"], True], (name, out[name])
    assert out["writable"] and out["zero"] == [[], [], []]


def test_patch_urllib3_wait_for_read(patched_epoll):
    out = patched_epoll("""
        import socket, time
        from urllib3.util.wait import wait_for_read, wait_for_write
        def main():
            a, b = socket.socketpair()
            ticks = []
            def ticker():
                while True:
                    ticks.append(1); time.sleep(0.005)
            netpoll.go(ticker)
            t0 = time.monotonic()
            none = wait_for_read(a, timeout=0.2)
            took = time.monotonic() - t0
            during = len(ticks)
            b.send(b"x")
            return {"none": none, "took": took, "during": during,
                    "ready": wait_for_read(a, timeout=5), "w": wait_for_write(a, timeout=5)}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["none"] is False and 0.19 <= out["took"] < 2 and out["during"] > 10, out
    assert out["ready"] is True and out["w"] is True
