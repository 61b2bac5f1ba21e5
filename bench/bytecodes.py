"""Bytecodes the server executes per echoed message (or per HTTP request),
by function: a measure of the hot path that this noisy machine cannot blur.

    .venv/bin/python bench/bytecodes.py            # echo server (netpoll.echo.handle)
    .venv/bin/python bench/bytecodes.py --http     # netpoll.http + a WSGI hello app
    .venv/bin/python bench/bytecodes.py --churn    # echo, one message per connection

The server runs in this process under netpoll with sys.settrace counting
every bytecode it executes; the clients are plain blocking sockets in
another thread (not traced), each round sending one message (or GET
request) on every connection and reading every echo back.  The process is
pinned to one CPU, so the clients' thread and the server take turns in
whole rounds and every poll returns the round's events: the count does not
depend on how the two threads happened to interleave.  Timing numbers
of the harness move by 20-60 % from run to run here; this count moves by
well under 1 %, so it shows what a change to the hot path removed.  It is
not a timing: a bytecode's cost varies, and system calls, greenlet switches
and allocations are not counted.

``--churn`` counts per connection instead, as the harness's churn scenario
(``loadgen --mode churn``): each round the clients open ``--conns``
connections, send one message on each, read every echo back and close
them all, so a connection's whole life is counted: accept, FD and PollDesc
open, goroutine start, the read and the echo, EOF and close.
"""

import argparse
import collections
import os
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

import netpoll  # noqa: E402
from netpoll import net  # noqa: E402
from netpoll.server import serve  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"
MESSAGE = b"x" * 64


def count(http, conns, rounds, churn=False):
    counts = collections.Counter()

    def trace_calls(frame, event, arg):
        frame.f_trace_opcodes = True
        return trace_opcodes

    def trace_opcodes(frame, event, arg):
        if event == "opcode":
            counts[frame.f_code.co_qualname] += 1
        return trace_opcodes

    if http:
        from netpoll.http import Server

        def hello(environ, start_response):       # the harness's wsgi_hello.app
            start_response("200 OK", [("Content-Type", "text/plain"),
                                      ("Content-Length", "13")])
            return [b"Hello, World!"]
        srv = Server(hello, read_header_timeout=10.0, idle_timeout=60.0)  # the CLI's defaults
        handler, args, send = srv._serve_conn, (), REQUEST
        done = lambda got: got.endswith(b"Hello, World!")  # noqa: E731
    else:
        from netpoll.echo import handle
        handler, args, send = handle, (), MESSAGE
        done = lambda got: len(got) >= len(MESSAGE)  # noqa: E731

    def one_round(socks):
        """One message (or request) on every connection, every answer read."""
        for s in socks:
            s.sendall(send)
        for s in socks:
            got = b""
            while not done(got):
                chunk = s.recv(4096)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                got += chunk

    def churn_clients(port):
        for _ in range(rounds):
            socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
            try:
                one_round(socks)
            finally:
                for s in socks:
                    s.close()

    def clients(port):
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
        try:
            for _ in range(rounds):
                one_round(socks)
        finally:
            for s in socks:
                s.close()

    def main():
        with net.listen("tcp", "127.0.0.1:0") as ln:
            netpoll.go(serve, ln, handler, *args)
            t = threading.Thread(target=churn_clients if churn else clients,
                                 args=(ln.addr.port,))
            sys.settrace(trace_calls)
            try:
                t.start()
                netpoll.to_thread(t.join)
            finally:
                sys.settrace(None)

    netpoll.run(main)
    return counts


def main():
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--http", action="store_true",
                   help="netpoll.http serving a WSGI hello app instead of echo")
    p.add_argument("--churn", action="store_true",
                   help="echo, counted per connection: each connects, "
                        "exchanges one message and closes")
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--top", type=int, default=12, help="functions to list")
    a = p.parse_args()
    if a.churn and a.http:
        p.error("--churn counts the echo server only")
    counts = count(a.http, a.conns, a.rounds, a.churn)
    n = a.conns * a.rounds
    what = "connection" if a.churn else "HTTP request" if a.http else "echoed message"
    print(f"{sum(counts.values()) / n:.1f} bytecodes per {what} "
          f"({a.conns} connections x {a.rounds} rounds)")
    for fn, c in counts.most_common(a.top):
        print(f"  {c / n:7.1f}  {fn}")


if __name__ == "__main__":
    main()
