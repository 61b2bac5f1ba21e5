"""A TLS echo server: the echo server over netpoll.tls.

    python examples/tls_echo.py --make-cert /tmp/tlsdemo     # throwaway cert
    python examples/tls_echo.py --listen 127.0.0.1:7443 /tmp/tlsdemo/cert.pem /tmp/tlsdemo/key.pem
    openssl s_client -connect 127.0.0.1:7443 -CAfile /tmp/tlsdemo/cert.pem -servername localhost

The handshake runs in each connection's goroutine (tls.listen's accept
does not handshake), bounded by a deadline, so a client that connects and
says nothing costs only its own goroutine.
"""

import argparse
import os
import ssl
import subprocess
import sys
import time

import netpoll
from netpoll import tls
from netpoll.cli import listen_address
from netpoll.server import serve

HANDSHAKE_TIMEOUT = 10.0


def handle(conn):
    with conn:
        try:
            conn.set_deadline(time.monotonic() + HANDSHAKE_TIMEOUT)
            conn.handshake()
            conn.set_deadline(None)
            while data := conn.read(65536):     # b"" at the end of the stream
                conn.write(data)
        except OSError:
            pass      # a failed handshake (ssl.SSLError), a reset, a timeout


def main(address, context):
    with tls.listen("tcp", address, context) as ln:
        print(f"listening on {ln.addr}", flush=True)
        serve(ln, handle)                       # accept loop, a goroutine per conn


def make_cert(directory):
    """A self-signed certificate for localhost and 127.0.0.1 (valid one
    day), made with the openssl command: for trying the example only."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"wrote {cert} and {key}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll TLS echo server example")
    p.add_argument("cert", nargs="?", help="certificate chain (PEM)")
    p.add_argument("key", nargs="?", help="private key (PEM)")
    p.add_argument("--listen", type=listen_address, default="127.0.0.1:7443", metavar="HOST:PORT")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    p.add_argument("--make-cert", metavar="DIR", help="write a throwaway cert.pem and key.pem")
    args = p.parse_args()
    if args.make_cert:
        make_cert(args.make_cert)
        sys.exit(0)
    if not args.cert or not args.key:
        p.error("give CERT and KEY (or --make-cert DIR to make a throwaway pair)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(args.cert, args.key)
        netpoll.run(main, args.listen, context, poller=args.poller)
    except KeyboardInterrupt:
        pass
    except OSError as exc:          # no such file, address in use: one line
        sys.exit(f"tls_echo: {exc}")
