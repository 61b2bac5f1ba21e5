"""Half close: after close_write the peer reads EOF and can still send
back; after close_read, reads return b""."""

import netpoll

from support import drain, tcp_pair, unix_pair


def _half_close(client, server):
    client.write(b"request")
    client.close_write()
    assert drain(server, 100) == b"request"       # then EOF
    assert server.read() == b""
    server.write(b"response")
    assert client.read() == b"response"
    server.close()
    assert client.read() == b""
    client.close()


def test_tcp_close_write(run):
    def main():
        _half_close(*tcp_pair())
    run(main)


def test_unix_close_write(run, tmp_path):
    def main():
        _half_close(*unix_pair(tmp_path / "s.sock"))
    run(main)


def test_close_read_returns_eof(run):
    def main():
        client, server = tcp_pair()
        server.write(b"unread")                 # (loopback: already in client's buffer)
        client.close_read()
        assert client.read() == b""
        assert client.read_into(bytearray(8)) == 0
        client.write(b"still writing")          # the write side still works
        assert server.read() == b"still writing"
        client.close()
        server.close()
    run(main)


def test_close_read_wakes_parked_reader(run):
    def main():
        client, server = tcp_pair()
        g = netpoll.go(client.read)
        netpoll.gosched()
        client.close_read()
        assert g.join() == b""
        client.close()
        server.close()
    run(main)


def test_write_after_close_write_fails(run):
    def main():
        client, server = tcp_pair()
        client.close_write()
        try:
            client.write(b"x")
        except BrokenPipeError as e:
            assert str(e).startswith("write tcp ")
        else:
            raise AssertionError("write after close_write succeeded")
        client.close()
        server.close()
    run(main)

