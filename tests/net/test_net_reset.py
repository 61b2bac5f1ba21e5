"""A peer that resets or goes away: ConnectionResetError / BrokenPipeError
with Go-style messages, never a SIGPIPE."""

import signal

import pytest

import netpoll

from support import BLOB, tcp_pair, wait_parked


def test_peer_reset_gives_connection_reset(run):
    def main():
        client, server = tcp_pair()
        server.set_linger(0)            # close sends RST
        g = netpoll.go(lambda: pytest.raises(ConnectionResetError, client.read))
        netpoll.gosched()
        server.close()
        exc = g.join().value
        assert str(exc).startswith("read tcp ")
        assert str(exc).endswith("connection reset by peer")
        assert exc.errno is not None
        client.close()
    run(main)


def test_write_to_closed_peer_raises_not_signal(run):
    def main():
        client, server = tcp_pair()
        server.close()
        with pytest.raises((BrokenPipeError, ConnectionResetError)) as e:
            for _ in range(100):
                client.write(b"x" * 65536)
                netpoll.sleep(0.001)
        assert str(e.value).startswith("write tcp ")
        client.close()
    run(main)


def test_write_to_closed_peer_with_sigpipe_default(run):
    """Even with SIGPIPE at its default action (kill the process), MSG_NOSIGNAL
    keeps a write to a gone peer an exception."""
    old = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        def main():
            client, server = tcp_pair()
            server.set_linger(0)
            server.close()
            with pytest.raises((BrokenPipeError, ConnectionResetError)):
                for _ in range(100):
                    client.write(b"x" * 65536)
                    netpoll.sleep(0.001)
            client.close()
        run(main)
    finally:
        signal.signal(signal.SIGPIPE, old)


def test_reset_while_writer_parked(run):
    def main():
        client, server = tcp_pair()
        g = netpoll.go(lambda: pytest.raises((ConnectionResetError, BrokenPipeError),
                                             client.write, BLOB))
        wait_parked(g)                       # the socket buffer is full
        server.set_linger(0)
        server.close()
        exc = g.join().value
        assert str(exc).startswith("write tcp ")
        client.close()
    run(main)
