"""A TCP proxy: two goroutines per connection, half close passed on.

    python examples/proxy.py --listen 127.0.0.1:8000 --to 127.0.0.1:7000

Each direction is a plain blocking copy loop in its own goroutine.  When one
side finishes sending (EOF), the proxy closes only the write side of the
other connection, so a client that half-closes still gets the rest of the
answer.  An error in either direction closes both connections, which wakes
the other direction's blocked read.
"""

import argparse
import sys

import netpoll
from netpoll import net
from netpoll.cli import dial_address, listen_address
from netpoll.server import serve


def pipe(src, dst):
    """Copy ``src`` to ``dst`` until EOF, then pass the EOF on."""
    try:
        while data := src.read(65536):
            dst.write(data)
        dst.close_write()                   # half close: "no more data from me"
    except OSError:                         # reset, or closed by the other direction
        src.close()
        dst.close()


def handle(client, upstream_address):
    with client:
        try:
            upstream = net.dial("tcp", upstream_address, timeout=10)
        except OSError as exc:
            print(f"proxy: {exc}", file=sys.stderr, flush=True)
            return
        with upstream:
            back = netpoll.go(pipe, upstream, client)   # upstream -> client
            pipe(client, upstream)                      # client -> upstream
            back.join()


def main(address, upstream_address):
    with net.listen("tcp", address) as ln:
        print(f"listening on {ln.addr} (forwarding to {upstream_address})", flush=True)
        serve(ln, handle, upstream_address)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll TCP proxy example")
    p.add_argument("--listen", type=listen_address, default="127.0.0.1:8000", metavar="HOST:PORT")
    p.add_argument("--to", type=dial_address, required=True, metavar="HOST:PORT",
                   help="upstream address")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    args = p.parse_args()
    try:
        netpoll.run(main, args.listen, args.to, poller=args.poller)
    except KeyboardInterrupt:
        pass
    except OSError as exc:          # address in use, not ours, no such host: one line
        sys.exit(f"proxy: {exc}")
