"""asyncio + uvloop TLS echo server for bench/tls: a Protocol and
loop.create_server(ssl=...)."""

import asyncio
import ssl
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(address, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    host, _, port = address.rpartition(":")
    server = await asyncio.get_running_loop().create_server(
        Echo, host, int(port), ssl=ctx, backlog=1024)
    h, p = server.sockets[0].getsockname()[:2]
    print(f"listening on {h}:{p}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(*sys.argv[1:4]))
