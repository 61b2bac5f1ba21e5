"""The measurement behind netpoll.tls's design choice (ARCHITECTURE.md, "TLS"):
how should ciphertext reach OpenSSL?

  bio   ssl.SSLObject over two MemoryBIOs, fed by Conn.read / Conn.write
        (asyncio's and trio's way: works over any Conn)
  sock  the C-level SSL socket over the connection's own descriptor, whose
        SSLWantReadError / SSLWantWriteError park on the PollDesc (gevent's way)

Both are minimal prototypes written for this measurement only: two
goroutines in one netpoll runtime, one client and one server, over loopback
TCP.  Reported: CPU (process_time, both ends) per 64-byte round trip, and
CPU per MB plus MB/s for a bulk transfer.  Variants alternate and repeat,
because the machine is shared.

    python bench/tls/design.py [--rounds 5] [--pings 20000] [--mb 64]
"""

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import netpoll
from netpoll import net, tls
from netpoll.poller import MODE_READ, MODE_WRITE

WantRead = ssl.SSLWantReadError
WantWrite = ssl.SSLWantWriteError


class BioConn:
    def __init__(self, conn, ctx, server_side, name=None):
        self.conn = conn
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server_side,
                                server_hostname=name)

    def _flush(self):
        if self.out.pending:
            self.conn.write(self.out.read())

    def _fill(self):
        data = self.conn.read(65536)
        if data:
            self.inc.write(data)
        else:
            self.inc.write_eof()

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                return
            except WantRead:
                self._flush()
                self._fill()

    def read(self, n=65536):
        obj = self.obj
        while True:
            try:
                return obj.read(n)
            except WantRead:
                self._flush()
                self._fill()

    def write(self, data):
        self.obj.write(data)
        self.conn.write(self.out.read())

    def close(self):
        self.conn.close()


class BioCConn(BioConn):
    """BioConn calling the C-level _ssl object under ssl.SSLObject, which
    saves a Python frame per read and write."""

    def __init__(self, conn, ctx, server_side, name=None):
        BioConn.__init__(self, conn, ctx, server_side, name)
        self.ssl = self.obj         # the owner: an sni_callback needs it alive
        self.obj = self.obj._sslobj


class BioFastConn(BioCConn):
    """BioCConn that feeds the incoming BIO before trying to decrypt when
    it holds no ciphertext and OpenSSL no plaintext: the try would only
    raise SSLWantReadError, and an exception raised and caught is the
    dearest step of a small read."""

    def read(self, n=65536):
        obj = self.obj
        inc = self.inc
        while True:
            if inc.pending or obj.pending():
                try:
                    return obj.read(n)
                except WantRead:
                    pass
            if self.out.pending:
                self._flush()
            data = self.conn.read(65536)
            if data:
                inc.write(data)
            else:
                inc.write_eof()
                return obj.read(n)       # raises the EOF error


class SockConn:
    def __init__(self, conn, ctx, server_side, name=None):
        self.conn = conn
        self.fd = conn.fd
        # The C-level SSL socket wants a weak-referenceable socket.socket;
        # accepted FDs hold the bare _socket.socket, so share the number.
        raw = conn.fd.sock
        self.sock = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.fileno())
        self.sock.setblocking(False)
        self.obj = ctx._wrap_socket(self.sock, server_side, name)

    def _call(self, fn, *args):
        pd = self.fd.pd
        while True:
            try:
                return fn(*args)
            except WantRead:
                if pd.wait(MODE_READ):
                    raise TimeoutError from None
            except WantWrite:
                if pd.wait(MODE_WRITE):
                    raise TimeoutError from None

    def handshake(self):
        self._call(self.obj.do_handshake)

    def read(self, n=65536):
        return self._call(self.obj.read, n)

    def write(self, data):
        return self._call(self.obj.write, data)

    def close(self):
        self.sock.detach()
        self.conn.close()


def tls_conn(conn, ctx, server_side, name=None):
    """The real thing: netpoll.tls.Conn (BIO design, with its locks)."""
    return tls.server(conn, ctx) if server_side else tls.client(conn, ctx, name)


VARIANTS = {"bio": BioConn, "bio-c": BioCConn, "bio-fast": BioFastConn, "sock": SockConn,
            "netpoll.tls": tls_conn}


def make_contexts(tmp):
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(sctx)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(cctx)
    for c in (sctx, cctx):
        c.minimum_version = c.maximum_version = ssl.TLSVersion.TLSv1_3
    return sctx, cctx


def pair(cls, sctx, cctx):
    ln = net.listen("tcp", "127.0.0.1:0")
    g = netpoll.go(ln.accept)
    c = net.dial("tcp", str(ln.addr))
    s = g.join()
    ln.close()
    sc = cls(s, sctx, True)
    cc = cls(c, cctx, False, "localhost")
    hs = netpoll.go(sc.handshake)
    cc.handshake()
    hs.join()
    return cc, sc


def pingpong(cls, sctx, cctx, n):
    def inner():
        cc, sc = pair(cls, sctx, cctx)

        def server():
            try:
                while True:
                    d = sc.read(4096)
                    if not d:
                        return
                    sc.write(d)
            except (ssl.SSLError, OSError):
                return          # the client closed without close_notify
        g = netpoll.go(server)
        msg = b"x" * 64
        cc.write(msg)
        cc.read(4096)                      # warm up
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            cc.write(msg)
            got = cc.read(4096)
            assert len(got) == 64
        t1, c1 = time.perf_counter(), time.process_time()
        cc.close()
        try:
            g.join()
        except Exception:
            pass
        sc.close()
        return (c1 - c0) / n * 1e6, (t1 - t0) / n * 1e6
    return netpoll.run(inner)


def bulk(cls, sctx, cctx, mb):
    total = mb << 20
    chunk = b"y" * 65536

    def inner():
        cc, sc = pair(cls, sctx, cctx)

        def sink():
            got = 0
            while got < total:
                d = sc.read(65536)
                if not d:
                    break
                got += len(d)
            return got
        g = netpoll.go(sink)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(total // len(chunk)):
            cc.write(chunk)
        got = g.join()
        t1, c1 = time.perf_counter(), time.process_time()
        assert got == total, got
        cc.close()
        sc.close()
        return (c1 - c0) / mb * 1e6, mb / (t1 - t0)
    return netpoll.run(inner)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pings", type=int, default=20000)
    ap.add_argument("--mb", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sctx, cctx = make_contexts(tmp)
    res = {k: {"rt_cpu": [], "rt_wall": [], "mb_cpu": [], "mbps": []} for k in VARIANTS}
    for r in range(args.rounds):
        order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
        for name in order:
            cpu, wall = pingpong(VARIANTS[name], sctx, cctx, args.pings)
            res[name]["rt_cpu"].append(cpu)
            res[name]["rt_wall"].append(wall)
            cpu, mbps = bulk(VARIANTS[name], sctx, cctx, args.mb)
            res[name]["mb_cpu"].append(cpu)
            res[name]["mbps"].append(mbps)
            print(f"round {r} {name}: rt {res[name]['rt_cpu'][-1]:.1f} us cpu, "
                  f"bulk {cpu:.0f} us cpu/MB {mbps:.0f} MB/s", flush=True)
    print("\nmedian of", args.rounds, "rounds (CPU of both ends, process_time):")
    print(f"{'variant':12} {'us CPU/64B rt':>14} {'us wall/rt':>11} {'us CPU/MB':>10} {'MB/s':>7}")
    for name, r in res.items():
        print(f"{name:12} {statistics.median(r['rt_cpu']):14.1f} "
              f"{statistics.median(r['rt_wall']):11.1f} "
              f"{statistics.median(r['mb_cpu']):10.0f} {statistics.median(r['mbps']):7.0f}")


if __name__ == "__main__":
    main()
