"""The reference server of the demo: blocking stdlib sockets, one OS thread
per connection (the I/O model netpoll replaces).

    python -m netpoll.demo.threads_server --listen 127.0.0.1:0

Prints ``threads echo: listening on HOST:PORT`` once it accepts, echoes
every connection until EOF.  SIGTERM kills it at once.
"""

import argparse
import signal
import socket
import sys
import threading


def handle(sock):
    with sock:
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            pass


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT")
    a = p.parse_args(argv)
    host, _, port = a.listen.rpartition(":")
    ln = socket.create_server((host.strip("[]") or "0.0.0.0", int(port)), backlog=4096)

    # SIGTERM kills at once (the default action): with 10000 threads, even
    # getting the GIL back to run a Python-level handler can take seconds.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    host, port = ln.getsockname()[:2]
    print(f"threads echo: listening on {host}:{port}", flush=True)
    try:
        while True:
            sock, _ = ln.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handle, args=(sock,), daemon=True).start()
    except KeyboardInterrupt:
        return 0
    finally:
        ln.close()


if __name__ == "__main__":
    sys.exit(main())
