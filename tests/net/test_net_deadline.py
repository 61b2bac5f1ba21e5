"""Deadlines, table-driven in the style of Go's net/timeout_test.go.

Every case runs under each poller.  A timeout <= 0 means the deadline has
already passed: the operation fails at once, even with data (or a
connection) ready.  A positive timeout fails after at least that long.
After the deadline is cleared the connection works again.
"""

import time

import pytest

import netpoll
from support import BIG, BLOB, drain, tcp_pair, timed, wait_parked
from netpoll import DeadlineExceededError, net


# (timeout in seconds, the operation fails at once)
TIMEOUT_TABLE = [
    (-5, True),
    (0, True),
    (0.05, False),
    (0.1, False),
]

SLACK = 3.0   # generous upper bound on lateness (loaded CI machines)


def _check_late(err, elapsed, timeout, deadline):
    assert isinstance(err, DeadlineExceededError), repr(err)
    assert isinstance(err, TimeoutError)
    assert str(err).endswith("i/o timeout")
    if timeout <= 0:
        assert elapsed < SLACK
    else:
        assert time.monotonic() >= deadline
        assert elapsed >= timeout - 0.001
        assert elapsed < timeout + SLACK


@pytest.mark.parametrize("timeout,at_once", TIMEOUT_TABLE)
def test_read_deadline(run, timeout, at_once):
    def main():
        client, server = tcp_pair()
        with client, server:
            if at_once:
                server.write(b"ready")          # data ready: still times out
            deadline = time.monotonic() + timeout
            client.set_read_deadline(deadline)
            err, elapsed = timed(client.read)
            _check_late(err, elapsed, timeout, deadline)
            assert str(err).startswith(f"read tcp {client.local_addr}->{client.remote_addr}: ")
            # read_into obeys the same deadline
            err, _ = timed(client.read_into, bytearray(10))
            assert isinstance(err, DeadlineExceededError)
            client.set_read_deadline(None)
            if not at_once:
                server.write(b"ready")
            assert drain(client, 5) == b"ready"
    run(main)


@pytest.mark.parametrize("timeout,at_once", TIMEOUT_TABLE)
def test_write_deadline(run, timeout, at_once):
    def main():
        client, server = tcp_pair()
        with client, server:
            deadline = time.monotonic() + timeout
            client.set_write_deadline(deadline)
            err, elapsed = timed(client.write, BLOB)
            _check_late(err, elapsed, timeout, deadline)
            assert str(err).startswith(f"write tcp {client.local_addr}->")
            if at_once:
                assert err.written == 0
                # nothing was sent
                server.set_read_deadline(time.monotonic() + 0.05)
                with pytest.raises(DeadlineExceededError):
                    server.read()
                server.set_read_deadline(None)
            else:
                assert 0 < err.written < BIG
            sent = err.written
            # cleared: the connection works again
            client.set_write_deadline(None)
            g = netpoll.go(drain, server, sent + 5)
            assert client.write(b"hello") == 5
            assert g.join()[-5:] == b"hello"
    run(main)


@pytest.mark.parametrize("timeout,at_once", TIMEOUT_TABLE)
def test_accept_deadline(run, timeout, at_once):
    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            pending = net.dial("tcp", str(ln.addr)) if at_once else None
            deadline = time.monotonic() + timeout
            ln.set_deadline(deadline)
            err, elapsed = timed(ln.accept)
            _check_late(err, elapsed, timeout, deadline)
            assert str(err).startswith(f"accept tcp {ln.addr}: ")
            ln.set_deadline(None)
            if pending is None:
                pending = net.dial("tcp", str(ln.addr))
            with pending, ln.accept() as conn:
                pending.write(b"hi")
                assert conn.read() == b"hi"
    run(main)


def test_set_deadline_sets_both(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_deadline(time.monotonic() - 1)
            with pytest.raises(DeadlineExceededError):
                client.read()
            with pytest.raises(DeadlineExceededError) as e:
                client.write(b"x")
            assert e.value.written == 0
            client.set_deadline(None)
            client.write(b"x")
            assert server.read() == b"x"
    run(main)


def test_deadline_moved_later_while_parked(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            t0 = time.monotonic()
            client.set_read_deadline(t0 + 0.05)
            g = netpoll.go(timed, client.read)
            netpoll.gosched()                      # the reader parks
            client.set_read_deadline(t0 + 0.2)     # moved later
            err, _ = g.join()
            elapsed = time.monotonic() - t0
            assert isinstance(err, DeadlineExceededError)
            assert elapsed >= 0.2 - 0.001
            assert elapsed < 0.2 + SLACK
    run(main)


def test_deadline_moved_into_past_wakes_at_once(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_read_deadline(time.monotonic() + 30)
            g = netpoll.go(timed, client.read)
            netpoll.gosched()
            t0 = time.monotonic()
            client.set_read_deadline(t0 - 1)
            err, _ = g.join()
            assert isinstance(err, DeadlineExceededError)
            assert time.monotonic() - t0 < SLACK
    run(main)


def test_deadline_cleared_while_parked(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_read_deadline(time.monotonic() + 0.05)
            g = netpoll.go(client.read)
            netpoll.gosched()
            client.set_read_deadline(None)
            netpoll.sleep(0.1)                  # past the old deadline
            assert not g.done
            server.write(b"late")
            assert g.join() == b"late"
    run(main)


def test_deadline_applies_to_future_operations(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            client.set_read_deadline(time.monotonic() + 0.05)
            for _ in range(3):            # every read, not just the next
                with pytest.raises(DeadlineExceededError):
                    client.read()
    run(main)


def test_write_deadline_moved_while_parked(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            t0 = time.monotonic()
            client.set_write_deadline(t0 + 30)
            g = netpoll.go(timed, client.write, BLOB)
            wait_parked(g)                     # buffers full, parked in write
            client.set_write_deadline(t0)      # into the past
            err, _ = g.join()
            assert isinstance(err, DeadlineExceededError)
            assert err.written > 0
            assert time.monotonic() - t0 < SLACK
    run(main)


def test_deadline_type_checked(run):
    def main():
        client, server = tcp_pair()
        with client, server:
            with pytest.raises(TypeError):
                client.set_deadline("soon")
    run(main)
