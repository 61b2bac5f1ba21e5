"""A recycled descriptor number never sees the previous owner's wake-up,
deadline or error (Go: the pollDesc sequence numbers, and closing only
after every in-flight operation has returned)."""

import time

import netpoll
from netpoll import net
from netpoll.net import ClosedError

from support import tcp_pair, timed


def test_new_socket_on_same_number_ignores_old_waiter(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        old, old_peer = tcp_pair()
        num = old.fileno()
        old.set_read_deadline(time.monotonic() + 0.05)   # an armed timer
        waiter = netpoll.go(timed, old.read)
        netpoll.gosched()
        old.close()
        # Immediately: the lowest free number is the one just closed.
        new = net.dial("tcp", str(ln.addr))
        peer = ln.accept()
        assert new.fileno() == num or peer.fileno() == num
        reused = new if new.fileno() == num else peer
        other = peer if reused is new else new
        err, _ = waiter.join()
        assert isinstance(err, ClosedError)

        reader = netpoll.go(timed, reused.read)
        netpoll.sleep(0.15)               # past the old deadline
        assert not reader.done            # no stale timeout, no stale wake-up
        other.write(b"fresh")
        data, _ = reader.join()
        assert data == b"fresh"
        for c in (new, peer, old_peer, ln):
            c.close()
    run(main)


def test_reuse_many_times_with_waiters(run):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        for _ in range(50):
            a = net.dial("tcp", str(ln.addr))
            b = ln.accept()
            g = netpoll.go(timed, a.read)
            netpoll.gosched()
            a.close()
            assert isinstance(g.join()[0], ClosedError)
            # b's write to a closed peer must not disturb the next pair
            b.close()
            c = net.dial("tcp", str(ln.addr))
            d = ln.accept()
            d.write(b"ok")
            assert c.read() == b"ok"
            c.close()
            d.close()
        ln.close()
    run(main)
