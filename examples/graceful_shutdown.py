"""Graceful shutdown on SIGTERM: context + ErrGroup + signal_notify.

    python examples/graceful_shutdown.py --listen 127.0.0.1:7000 --grace 5
    printf 'work 2\\n' | nc 127.0.0.1 7000      # answers "done 2" after 2 s
    kill -TERM <pid>

A line ``work SECONDS`` is a request that takes that long; the answer is
``done SECONDS``.  On SIGTERM (or SIGINT) the server:

  1. stops accepting (closes the listener: new clients are refused);
  2. closes idle connections at once (Go's http.Server.Shutdown does too);
  3. lets requests in flight finish and answer, each connection closing
     after its answer;
  4. if they have not finished within ``--grace`` seconds, cancels them (a
     context whose cancellation ends their work and their connection);
  5. exits 0, saying how many requests finished and how many were cut off.

The pieces: ``netpoll.signal_notify`` relays the signal into a channel;
``ErrGroup.with_context`` runs the accept loop and the signal watcher (the
first error in either cancels the other); ``context.with_cancel`` is the
"hard stop" every connection watches (``context.after_func`` wakes a
blocked read by moving its deadline, Go's pattern); ``select`` waits for
whichever comes first.
"""

import argparse
import signal
import sys

import netpoll
from netpoll import Chan, ClosedError, ErrGroup, Recv, WaitGroup, context, net, select
from netpoll.cli import listen_address


class Server:
    def __init__(self, ln, grace):
        self.ln = ln
        self.grace = grace
        self.draining, self.stop_draining = context.with_cancel(context.background())
        self.hard, self.cut_off = context.with_cancel(context.background())
        self.conns = WaitGroup()
        self.finished = 0          # requests answered
        self.aborted = 0           # requests cut off by the grace deadline

    def serve(self):
        """Accept until the listener is closed."""
        while True:
            try:
                conn = self.ln.accept()
            except ClosedError:
                return
            print(f"accepted {conn.remote_addr}", flush=True)
            self.conns.add(1)
            netpoll.go(self.handle, conn)

    def handle(self, conn):
        idle = [True]

        def on_drain():            # Shutdown: an idle connection goes now
            if idle[0]:
                try:
                    conn.set_read_deadline(0)
                except OSError:
                    pass
        stop_drain = self.draining.on_done(on_drain)
        stop_hard = context.after_func(self.hard, lambda: conn.set_deadline(0))
        try:
            with conn:
                buf = b""
                while self.draining.err() is None:
                    while b"\n" not in buf:
                        data = conn.read(4096)
                        if not data:
                            return
                        buf += data
                    idle[0] = False
                    line, buf = buf.split(b"\n", 1)
                    seconds = float(line.split()[1])
                    print(f"working {seconds}", flush=True)
                    # the work: it ends early only if the hard stop comes
                    i, _, _ = select(Recv(netpoll.after(seconds)), Recv(self.hard.done()))
                    if i == 1:
                        self.aborted += 1
                        return
                    conn.write(b"done %g\n" % seconds)
                    self.finished += 1
                    idle[0] = True
        except (OSError, ValueError, IndexError):
            pass                   # reset, cut off, or a malformed line
        finally:
            stop_drain()
            stop_hard()
            self.conns.done()

    def watch(self, stop, gctx):
        """Wait for a signal (or the group failing); then drain."""
        i, signum, _ = select(Recv(stop), Recv(gctx.done()))
        if i == 0:
            print(f"got {signal.Signals(signum).name}: draining", flush=True)
        self.ln.close()            # 1. no new connections
        self.stop_draining()       # 2. idle connections close
        drained = Chan(1)
        netpoll.go(lambda: (self.conns.wait(), drained.send(True)))
        # 3./4. in-flight requests finish, or the grace deadline cuts them
        i, _, _ = select(Recv(drained), Recv(netpoll.after(self.grace)))
        if i == 1:
            print("grace period over: cutting off", flush=True)
            self.cut_off()
            drained.recv()


def main(address, grace):
    stop = Chan(1)
    netpoll.signal_notify(stop, signal.SIGTERM, signal.SIGINT)
    with net.listen("tcp", address) as ln:
        server = Server(ln, grace)
        group, gctx = ErrGroup.with_context(context.background())
        group.go(server.serve)
        group.go(server.watch, stop, gctx)
        print(f"listening on {ln.addr}", flush=True)
        group.wait()
    print(f"stopped: {server.finished} finished, {server.aborted} cut off", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll graceful shutdown example")
    p.add_argument("--listen", type=listen_address, default="127.0.0.1:7000", metavar="HOST:PORT")
    p.add_argument("--grace", type=float, default=5.0, help="seconds in-flight requests get")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    args = p.parse_args()
    try:
        netpoll.run(main, args.listen, args.grace, poller=args.poller)
    except OSError as exc:
        sys.exit(f"graceful_shutdown: {exc}")
