"""netpoll's TLS echo server for bench/tls: tls.listen, a goroutine per
connection, handshake in that goroutine."""

import ssl
import sys

import netpoll
from netpoll import tls
from netpoll.server import serve


def handle(conn):
    with conn:
        try:
            while data := conn.read(65536):
                conn.write(data)
        except OSError:
            pass


def main(address, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE     # the client's suite, as Go picks
    with tls.listen("tcp", address, ctx) as ln:
        print(f"listening on {ln.addr}", flush=True)
        serve(ln, handle)


if __name__ == "__main__":
    netpoll.run(main, *sys.argv[1:4])
