"""Graceful shutdown (Go: Server.Shutdown) and close, under every poller:
a request in flight that takes 1 s completes, idle keep-alive connections
are closed at once, new connections are refused; a shutdown that outlasts
its timeout raises TimeoutError and the request goes on."""

import socket
import threading
import time

import netpoll


def slow_app_and_event():
    """An app whose /slow takes 1 s, and the event it sets when /slow
    begins (so the tests wait for it instead of sleeping)."""
    started = threading.Event()

    def slow_app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            started.set()
            netpoll.sleep(1.0)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]
    return slow_app, started


def answer_of(sock):
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_shutdown_waits_for_requests_in_flight(http_serve):
    slow_app, started = slow_app_and_event()
    srv = http_serve(slow_app)
    idle = socket.create_connection(srv.address, timeout=10)
    idle.sendall(b"GET / HTTP/1.1\r\n\r\n")            # served, then idle (keep-alive)
    assert idle.recv(65536).endswith(b"done")
    silent = socket.create_connection(srv.address, timeout=10)   # never sends
    busy = socket.create_connection(srv.address, timeout=10)
    busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
    assert started.wait(10)                             # the slow request is running
    result = {}

    def shutdown():
        t0 = time.monotonic()
        result["answer"] = srv.command("shutdown", timeout=10)
        result["took"] = time.monotonic() - t0
    t = threading.Thread(target=shutdown)
    t.start()
    try:
        # idle connections are closed at once: before the slow request ends
        assert answer_of(idle) == b"" and answer_of(silent) == b""
        busy.setblocking(False)
        try:
            early = busy.recv(1)                       # nothing yet, or it is over
        except BlockingIOError:
            early = None
        busy.setblocking(True)
        busy.settimeout(10)
        assert early is None, "the idle connections were closed only after the request"
        # new connections are refused once the listener is closed
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(srv.address, timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still accepting during shutdown"
            time.sleep(0.01)
        # the request in flight completes, with Connection: close
        answer = answer_of(busy)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"done")
        assert b"Connection: close" in answer
    finally:
        t.join(10)
        idle.close()
        silent.close()
        busy.close()
    assert result["answer"] == {"ok": True}
    assert 0.5 < result["took"] < 5
    assert srv.connections() == 0


def test_shutdown_timeout_raises_and_close_ends_the_rest(http_serve):
    slow_app, started = slow_app_and_event()
    srv = http_serve(slow_app)
    busy = socket.create_connection(srv.address, timeout=10)
    busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
    assert started.wait(10)
    got = srv.command("shutdown", timeout=0.2)
    assert got["ok"] is False and "still" in got["error"]
    assert srv.connections() == 1                      # it goes on
    srv.close()                                        # ends it at once
    try:
        assert answer_of(busy) == b""
    except ConnectionResetError:
        pass
    busy.close()
