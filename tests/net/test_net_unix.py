"""Unix domain stream sockets: round trips, errors, socket files."""

import os

import pytest

import netpoll
from netpoll import net

from support import drain, unix_pair


def test_unix_round_trip(run, tmp_path):
    def main():
        client, server = unix_pair(tmp_path / "s.sock")
        assert isinstance(client, net.UnixConn)
        data = os.urandom(1 << 20)
        g = netpoll.go(drain, server, len(data))
        client.write(data)
        assert g.join() == data
        client.close()
        assert server.read() == b""
        server.close()
    run(main)


def test_unix_listen_on_existing_path_fails(run, tmp_path):
    def main():
        path = str(tmp_path / "s.sock")
        with net.listen("unix", path):
            with pytest.raises(OSError) as e:
                net.listen("unix", path)
            assert str(e.value) == f"listen unix {path}: bind: address already in use"
        assert not os.path.exists(path)
    run(main)


def test_unix_listener_leaves_foreign_file(run, tmp_path):
    """close() removes the socket file only if it is still the one it made."""
    def main():
        path = tmp_path / "s.sock"
        ln = net.listen("unix", str(path))
        path.unlink()
        path.write_text("not a socket")
        ln.close()
        assert path.read_text() == "not a socket"
    run(main)


def test_unix_many_clients(run, tmp_path):
    def main():
        path = str(tmp_path / "s.sock")
        ln = net.listen("unix", path)

        def serve():
            while True:
                try:
                    c = ln.accept()
                except net.ClosedError:
                    return
                netpoll.go(lambda c=c: (c.write(c.read()), c.close()))
        netpoll.go(serve)

        def client(i):
            with net.dial("unix", path) as c:
                c.write(b"%d" % i)
                return c.read()
        gs = [netpoll.go(client, i) for i in range(50)]
        assert [g.join() for g in gs] == [b"%d" % i for i in range(50)]
        ln.close()
    run(main)
