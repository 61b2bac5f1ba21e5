"""stats()['ctl'] under epoll: a small constant per opened descriptor, none
per read or write (registered once, edge-triggered, as in Go)."""

import pytest

import netpoll
from netpoll import net

from support import tcp_pair


@pytest.mark.skipif("epoll" not in netpoll.pollers(), reason="epoll only")
def test_ctl_per_descriptor_not_per_io():
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        ctl0 = netpoll.stats()["ctl"]
        pairs = [tcp_pair() for _ in range(10)]
        per_pair = (netpoll.stats()["ctl"] - ctl0) / 10
        assert per_pair <= 2 * 3          # dial + accept (+ a listener each)

        client, server = pairs[0]
        before = netpoll.stats()
        def echo():
            while data := server.read():
                server.write(data)
        g = netpoll.go(echo)
        for i in range(1000):                # each read parks: the echo
            client.write(b"ping %d" % i)     # goroutine has not run yet
            assert client.read() == b"ping %d" % i
        after = netpoll.stats()
        assert after["ctl"] == before["ctl"]
        assert after["events"] - before["events"] >= 1000     # it did park

        client.close_write()
        g.join()
        ctl1 = netpoll.stats()["ctl"]
        for c, s in pairs:
            c.close()
            s.close()
        assert netpoll.stats()["ctl"] - ctl1 == 20       # one delete each
        ln.close()
    netpoll.run(main, poller="epoll")


@pytest.mark.parametrize("poller", [p for p in ("poll", "select") if p in netpoll.pollers()])
def test_ctl_zero_for_level_triggered(poller):
    def main():
        client, server = tcp_pair()
        for _ in range(100):
            client.write(b"x")
            assert server.read() == b"x"
        client.close()
        server.close()
        return netpoll.stats()["ctl"]
    assert netpoll.run(main, poller=poller) == 0
