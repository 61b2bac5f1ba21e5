"""An echo server: one goroutine per connection, blocking-style code.

    python examples/echo_server.py --listen 127.0.0.1:7000
    nc 127.0.0.1 7000
"""

import argparse
import sys

import netpoll
from netpoll import net
from netpoll.cli import listen_address
from netpoll.server import serve


def handle(conn):
    with conn:
        try:
            while data := conn.read(65536):     # b"" at EOF
                conn.write(data)                # writes all of it
        except OSError:
            pass                                # reset by the peer


def main(address):
    with net.listen("tcp", address) as ln:
        print(f"listening on {ln.addr}", flush=True)
        serve(ln, handle)                       # accept loop, a goroutine per conn


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll echo server example")
    p.add_argument("--listen", type=listen_address, default="127.0.0.1:7000", metavar="HOST:PORT")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    args = p.parse_args()
    try:
        netpoll.run(main, args.listen, poller=args.poller)
    except KeyboardInterrupt:
        pass
    except OSError as exc:          # address in use, not ours, no such host: one line
        sys.exit(f"echo_server: {exc}")
