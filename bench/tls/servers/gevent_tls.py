"""gevent's TLS echo server for bench/tls: StreamServer with an
ssl_context (gevent.ssl), a greenlet per connection."""

import socket
import ssl
import sys

from gevent.server import StreamServer


def handle(sock, addr):
    # gevent leaves Nagle on; netpoll, uvloop and Go turn it off.  Without
    # this the 64-byte answer waits for the session tickets' ACK (~40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while data := sock.recv(65536):
            sock.sendall(data)
    except OSError:
        pass
    finally:
        sock.close()


def main(address, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    host, _, port = address.rpartition(":")
    server = StreamServer((host, int(port)), handle, ssl_context=ctx, backlog=1024)
    server.start()
    h, p = server.address[:2]
    print(f"listening on {h}:{p}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:4])
