"""netpoll.server.serve: the accept loop that runs a handler per connection."""

import socket

import pytest

import netpoll
from netpoll import net
from netpoll.server import serve


def test_serve_runs_the_handler_per_connection_with_its_arguments(run):
    def main():
        got = netpoll.Chan(3)

        def handler(conn, tag):
            with conn:
                got.send((tag, conn.read(10)))

        with net.listen("tcp", "127.0.0.1:0") as ln:
            netpoll.go(serve, ln, handler, "t")

            def clients():
                for i in range(3):
                    with socket.create_connection(("127.0.0.1", ln.addr.port), timeout=10) as s:
                        s.sendall(b"m%d" % i)
                        s.recv(1)             # b"": the handler closed it
            netpoll.to_thread(clients)
            assert sorted(got.recv() for _ in range(3)) == [("t", b"m0"), ("t", b"m1"),
                                                            ("t", b"m2")]
    run(main)


@pytest.mark.parametrize("handler", [None, 42, "handle"])
def test_serve_refuses_a_handler_that_is_not_callable_before_accepting(run, handler):
    # Checked once, before the first accept: a waiting connection is not
    # taken (and dropped) because the handler cannot run.
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln, \
                socket.create_connection(("127.0.0.1", ln.addr.port), timeout=10) as client:
            with pytest.raises(TypeError, match=r"serve\(\)"):
                serve(ln, handler)
            with ln.accept() as conn:         # still queued: serve took nothing
                client.sendall(b"still here")
                assert conn.read(10) == b"still here"
    run(main)
