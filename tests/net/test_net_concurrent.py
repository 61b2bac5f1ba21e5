"""Two goroutines reading one conn and two writing one conn: reads are
serialized among themselves and writes among themselves; every byte is
delivered exactly once, each write whole, in order per writer."""

import struct

import netpoll

from support import tcp_pair

MSG = 200_000        # larger than a single send, so writes really park
COUNT = 10


def _message(writer, seq):
    head = struct.pack("!BI", writer, seq)
    return head + bytes([writer * 16 + seq % 16]) * (MSG - len(head))


def test_two_readers_two_writers(run):
    def main():
        client, server = tcp_pair()
        stream = []            # chunks in the order reads returned them
        total = 2 * COUNT * MSG
        got = [0]

        def reader():
            while got[0] < total:
                chunk = server.read(65536)
                if not chunk:
                    return
                stream.append(chunk)
                got[0] += len(chunk)

        def writer(w):
            for seq in range(COUNT):
                assert client.write(_message(w, seq)) == MSG

        readers = [netpoll.go(reader) for _ in range(2)]
        writers = [netpoll.go(writer, w) for w in (1, 2)]
        for g in writers:
            g.join()
        client.close_write()
        for g in readers:
            g.join()
        data = b"".join(stream)
        assert len(data) == total
        next_seq = {1: 0, 2: 0}
        for off in range(0, total, MSG):
            w, seq = struct.unpack_from("!BI", data, off)
            assert seq == next_seq[w]
            next_seq[w] += 1
            assert data[off:off + MSG] == _message(w, seq)
        assert next_seq == {1: COUNT, 2: COUNT}
        client.close()
        server.close()
    run(main)


def test_writev_and_write_do_not_interleave(run):
    def main():
        client, server = tcp_pair()
        parts = [b"a" * 70000, b"b" * 70000, b"c" * 70000]
        g1 = netpoll.go(lambda: [client.writev(parts) for _ in range(5)])
        g2 = netpoll.go(lambda: [client.write(b"z" * 210000) for _ in range(5)])
        buf = bytearray()
        while len(buf) < 10 * 210000:
            buf += server.read()
        g1.join()
        g2.join()
        for off in range(0, len(buf), 210000):
            block = bytes(buf[off:off + 210000])
            assert block in (b"".join(parts), b"z" * 210000)
        client.close()
        server.close()
    run(main)
