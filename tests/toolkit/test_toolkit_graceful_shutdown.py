"""examples/graceful_shutdown.py driven with a real SIGTERM: it stops
accepting, closes idle connections, lets the request in flight answer, and
cuts off what outlasts the grace period."""

import signal
import socket

import pytest

from support import ServerProcess, example, recv_all


def connect(addr):
    s = socket.create_connection(addr, timeout=30)
    return s


def test_sigterm_drains_in_flight_requests(poller):
    with ServerProcess(example("graceful_shutdown", "--listen", "127.0.0.1:0",
                               "--grace", "30", "--poller", poller)) as srv:
        busy = connect(srv.address)
        idle = connect(srv.address)
        srv.expect("accepted")
        srv.expect("accepted")                   # both have their goroutine
        busy.sendall(b"work 0.5\n")
        srv.expect("working 0.5")                # the request is in flight
        srv.proc.send_signal(signal.SIGTERM)
        srv.expect("got SIGTERM: draining")
        assert recv_all(idle) == b""             # idle: closed at once
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(srv.address, timeout=30).close()
        assert recv_all(busy) == b"done 0.5\n"   # answered, then closed
        rc, out, err = srv.finish(timeout=30)
        assert rc == 0, err
        assert "stopped: 1 finished, 0 cut off" in out, (out, err)
        busy.close()
        idle.close()


def test_grace_period_cuts_off_slow_requests(poller):
    with ServerProcess(example("graceful_shutdown", "--listen", "127.0.0.1:0",
                               "--grace", "0.2", "--poller", poller)) as srv:
        slow = connect(srv.address)
        slow.sendall(b"work 3600\n")
        srv.expect("working 3600")
        srv.proc.send_signal(signal.SIGTERM)
        srv.expect("got SIGTERM: draining")
        srv.expect("grace period over: cutting off")
        assert recv_all(slow) == b""             # cut off: closed, no answer
        rc, out, err = srv.finish(timeout=30)
        assert rc == 0, err
        assert "stopped: 0 finished, 1 cut off" in out, (out, err)
        slow.close()
