"""1,000 concurrent echo connections on one runtime, 100 messages each,
every byte verified (epoll and poll: select cannot watch descriptors above
FD_SETSIZE)."""

import pytest

import netpoll
from netpoll import net

CONNS = 1000
MESSAGES = 100


@pytest.mark.timeout(120)
@pytest.mark.parametrize("poller", [p for p in ("epoll", "poll") if p in netpoll.pollers()])
def test_1000_echo_connections(poller):
    def handle(conn):
        with conn:
            while data := conn.read(65536):
                conn.write(data)

    def serve(ln):
        while True:
            try:
                conn = ln.accept()
            except net.ClosedError:
                return
            netpoll.go(handle, conn)

    def client(addr, i):
        with net.dial("tcp", addr) as c:
            for m in range(MESSAGES):
                msg = f"conn {i} message {m} ".encode() * 4
                c.write(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = c.read(65536)
                    assert chunk, "unexpected EOF"
                    got += chunk
                assert got == msg
        return MESSAGES

    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        netpoll.go(serve, ln)
        addr = str(ln.addr)
        clients = [netpoll.go(client, addr, i) for i in range(CONNS)]
        assert sum(g.join() for g in clients) == CONNS * MESSAGES
        ln.close()
        return netpoll.stats()

    stats = netpoll.run(main, poller=poller)
    assert stats["poller"] == poller
