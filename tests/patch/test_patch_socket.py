"""The patched socket.socket keeps CPython's interface and timeout
semantics while parking only its goroutine; every test body runs in a
patched child under each poller backend."""

import pytest

pytestmark = pytest.mark.timeout(120)


def test_patch_timeout_raises_while_others_run(patched):
    out = patched("""
        import socket, time
        def main():
            a, b = socket.socketpair()
            ticks = []
            def ticker():
                while True:
                    ticks.append(time.monotonic())
                    time.sleep(0.01)
            netpoll.go(ticker)
            a.settimeout(0.1)
            t0 = time.monotonic()
            try:
                a.recv(10)
                raised = None
            except socket.timeout as e:
                raised = [type(e).__name__, str(e), isinstance(e, TimeoutError)]
            took = time.monotonic() - t0
            during = len([t for t in ticks if t >= t0])
            b.send(b"x")
            got = a.recv(10)          # usable after the timeout
            return {"raised": raised, "took": took, "during": during, "got": got.decode(),
                    "timeout": a.gettimeout(), "blocking": a.getblocking()}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["raised"] == ["TimeoutError", "timed out", True]
    assert 0.09 <= out["took"] < 1.5, out
    assert out["during"] >= 3, out            # the ticker ran meanwhile
    assert out["got"] == "x" and out["timeout"] == 0.1 and out["blocking"] is True


def test_patch_tcp_roundtrip_interface(patched):
    out = patched("""
        import socket, hashlib, os, errno
        BLOB = os.urandom(3 << 20)
        def serve(srv):
            conn, addr = srv.accept()
            with conn:
                f = conn.makefile("rwb")
                line = f.readline()
                f.write(line.upper()); f.flush()
                n = int(f.readline())
                data = f.read(n)
                conn.sendall(hashlib.sha256(data).hexdigest().encode() + b"\\n")
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
                assert conn.recv(10) == b""
        def main():
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0)); srv.listen()
            assert isinstance(srv, socket.socket) and type(srv).__name__ == "socket"
            g = netpoll.go(serve, srv)
            c = socket.create_connection(srv.getsockname(), timeout=10)
            c.sendall(b"hello\\n")
            f = c.makefile("rb")
            first = f.readline()
            c.sendall(b"%d\\n" % len(BLOB)); c.sendall(BLOB)
            digest = f.readline().strip().decode()
            buf = bytearray(len(BLOB))
            assert f.readinto(buf) == len(BLOB)     # recv_into underneath
            eof = c.recv(10)
            c.close(); f.close()
            g.join()
            refused = socket.socket()
            port = srv.getsockname()[1]
            srv.close()
            rc = refused.connect_ex(("127.0.0.1", port))
            refused.close()
            return {"first": first.decode(),
                    "digest_ok": digest == hashlib.sha256(BLOB).hexdigest(),
                    "same": bytes(buf) == BLOB, "eof": eof.decode(),
                    "refused": rc == errno.ECONNREFUSED}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["first"] == "HELLO\n" and out["digest_ok"] and out["same"] and out["eof"] == ""
    assert out["refused"]


def test_patch_close_wakes_parked_reader(patched):
    out = patched("""
        import socket, errno
        def main():
            a, b = socket.socketpair()
            res = {}
            def reader():
                try:
                    a.recv(10)
                    res["r"] = "returned"
                except OSError as e:
                    res["r"] = e.errno
            g = netpoll.go(reader)
            while g.waitreason != "IO wait":
                netpoll.gosched()
            a.close()
            g.join(5)
            b.close()
            return {"r": res["r"], "ebadf": errno.EBADF, "fileno": a.fileno()}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["r"] == out["ebadf"] and out["fileno"] == -1


def test_patch_socketpair_fromfd_dup_detach_udp(patched):
    out = patched("""
        import socket, os
        def main():
            a, b = socket.socketpair()
            c = socket.fromfd(a.fileno(), a.family, a.type)
            d = b.dup()
            kinds = [type(s).__module__ for s in (a, b, c, d)]
            c.sendall(b"via fromfd"); r1 = d.recv(100)
            fd = d.detach(); assert d.fileno() == -1
            e = socket.socket(fileno=fd)
            e.sendall(b"after detach"); r2 = a.recv(100)
            for s in (a, b, c, e):
                s.close()
            u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(("127.0.0.1", 0))
            u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2.bind(("127.0.0.1", 0))
            u1.settimeout(5)
            def later():
                time.sleep(0.05)
                u2.sendto(b"dgram", u1.getsockname())
            import time
            netpoll.go(later)
            data, addr = u1.recvfrom(100)
            u1.settimeout(0.05)
            try:
                u1.recvfrom(100); t = None
            except socket.timeout:
                t = "timeout"
            buf = bytearray(10)
            u2.sendto(b"into", u1.getsockname())
            n, _ = u1.recvfrom_into(buf)
            addr_ok = addr == u2.getsockname()
            u1.close(); u2.close()
            return {"kinds": kinds, "r1": r1.decode(), "r2": r2.decode(), "data": data.decode(),
                    "addr_ok": addr_ok, "t": t, "into": buf[:n].decode()}
        print(json.dumps(netpoll.run(main)))
    """)
    assert set(out["kinds"]) == {"netpoll.patch.sockets"}
    assert out["r1"] == "via fromfd" and out["r2"] == "after detach"
    assert out["data"] == "dgram" and out["addr_ok"] and out["t"] == "timeout"
    assert out["into"] == "into"


def test_patch_registered_once_edge_triggered(patched_epoll):
    """Many reads of one patched socket cost one registration (ctl add) and
    one removal, as netpoll.net's connections do."""
    out = patched_epoll("""
        import socket
        def main():
            a, b = socket.socketpair()
            def echo():
                while data := b.recv(100):
                    b.sendall(data)
            netpoll.go(echo)
            before = netpoll.stats()["ctl"]
            for i in range(200):
                a.sendall(b"%d" % i)
                assert a.recv(100) == b"%d" % i
            during = netpoll.stats()["ctl"] - before
            a.close()
            return {"ctl": during}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["ctl"] <= 2, out


def test_patch_outside_runtime_behaves_like_original(patched_epoll):
    """No runtime in this thread (plain code, or a to_thread worker): the
    calls block that thread only, with CPython's timeout semantics."""
    out = patched_epoll("""
        import socket, threading, time
        a, b = socket.socketpair()
        a.settimeout(0.1)
        t0 = time.monotonic()
        try:
            a.recv(1); plain = "no"
        except socket.timeout:
            plain = "timeout"
        plain_took = time.monotonic() - t0
        b.sendall(b"z"); a.settimeout(None); z = a.recv(1)
        def blocking_worker():
            time.sleep(0.3)                 # the original: this thread only
            c, d = socket.socketpair()
            d.settimeout(0.1)
            try:
                d.recv(1)
            except socket.timeout:
                return "worker timeout"
        def main():
            ticks = []
            def ticker():
                for _ in range(20):
                    ticks.append(1)
                    time.sleep(0.01)
            g = netpoll.go(ticker)
            r = netpoll.to_thread(blocking_worker)
            g.join()
            return r, len(ticks)
        worker, ticks = netpoll.run(main)
        print(json.dumps({"plain": plain, "took": plain_took, "z": z.decode(),
                          "worker": worker, "ticks": ticks}))
    """)
    assert out["plain"] == "timeout" and 0.09 <= out["took"] < 2 and out["z"] == "z"
    assert out["worker"] == "worker timeout" and out["ticks"] == 20


def test_patch_time_sleep_parks(patched):
    out = patched("""
        import time
        def main():
            t0 = time.monotonic()
            gs = [netpoll.go(time.sleep, 0.2) for _ in range(200)]
            for g in gs:
                g.join()
            return time.monotonic() - t0
        took = netpoll.run(main)
        t0 = time.monotonic(); time.sleep(0.05); plain = time.monotonic() - t0
        try:
            time.sleep(-1); neg = None
        except ValueError as e:
            neg = str(e)
        print(json.dumps({"took": took, "plain": plain, "neg": neg}))
    """)
    assert 0.19 <= out["took"] < 5, out
    assert out["plain"] >= 0.05 and out["neg"]


def test_patch_recvmsg_into_generator_retried(patched):
    """recvmsg_into / sendmsg take any iterable of buffers; a call that has
    to wait and try again must not find a generator already consumed (the
    bug: the retry received into no buffer and returned 0)."""
    out = patched("""
        import socket, time
        def main():
            a, b = socket.socketpair()
            def later():
                time.sleep(0.05)
                b.sendmsg(o for o in [b"gen", b"erator"])
            netpoll.go(later)
            buf = bytearray(9)
            n, anc, flags, addr = a.recvmsg_into(o for o in [buf])   # waits first
            return {"n": n, "buf": buf.decode()}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out == {"n": 9, "buf": "generator"}


def test_patch_deadline_left_armed_never_leaks(patched):
    """A timeout's deadline stays armed between operations (moving it is
    free); once it has passed while the socket sat idle, no later call may
    see it: not a recv without timeout, not select, not connect."""
    out = patched("""
        import socket, select, time
        def main():
            a, b = socket.socketpair()
            a.settimeout(0.05)
            b.sendall(b"1"); a.recv(1)          # arms the read deadline
            time.sleep(0.15)                    # ... which passes, idle
            def later():
                time.sleep(0.1); b.sendall(b"2")
            netpoll.go(later)
            ready = select.select([a], [], [], 5)[0] == [a]
            second = a.recv(1)
            a.settimeout(None)
            time.sleep(0.1)
            netpoll.go(later)
            third = a.recv(1)                   # no timeout: waits for it
            a.settimeout(0.05)
            try:
                a.recv(1); fourth = "data?"
            except socket.timeout:
                fourth = "timeout"
            return {"ready": ready, "second": second.decode(), "third": third.decode(),
                    "fourth": fourth}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out == {"ready": True, "second": "2", "third": "2", "fourth": "timeout"}


def test_patch_dropped_socket_unregisters_and_closes_once(patched):
    """A registered patched socket dropped without close(): its descriptor
    is closed once (CPython's ResourceWarning path), its registration goes
    with it, and a new socket reusing the number parks and wakes normally."""
    out = patched("""
        import socket, os, time, gc, warnings
        warnings.simplefilter("ignore", ResourceWarning)
        def main():
            a, b = socket.socketpair()
            b.sendall(b"x"); a.recv(1)          # a is registered now
            num = a.fileno()
            del a; gc.collect()
            try:
                os.fstat(num); closed = False
            except OSError:
                closed = True
            c, d = socket.socketpair()
            reused = num in (c.fileno(), d.fileno())
            def later():
                time.sleep(0.05); d.sendall(b"y")
            netpoll.go(later)
            got = c.recv(1)
            return {"closed": closed, "reused": reused, "got": got.decode(),
                    "b_eof": b.recv(1) == b""}
        print(json.dumps(netpoll.run(main)))
    """)
    assert out["closed"] and out["got"] == "y" and out["b_eof"], out


def test_patch_huge_timeout_outside_runtime(patched_epoll):
    """Outside a runtime a patched socket waits in poll(), whose timeout is
    an int of milliseconds: a timeout of 1e9 s must wait, not raise
    OverflowError (the bug), as CPython's own socket does."""
    out = patched_epoll("""
        import socket, threading
        a, b = socket.socketpair()
        a.settimeout(1e9)
        threading.Timer(0.1, b.sendall, (b"z",)).start()
        got = a.recv(1)
        print(json.dumps({"got": got.decode()}))
    """)
    assert out == {"got": "z"}
