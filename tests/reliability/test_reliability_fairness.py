"""Fairness: a goroutine whose reads always find data
ready yields after a bounded number of them (fd.FAIR_READS), so one busy
connection cannot starve the rest.

In one runtime: a writer floods connection A with 8 MiB through 1 MiB
socket buffers while a *sink* reads it 512 bytes at a time (each read finds
data: the writer refills the buffers whenever it runs); a ping-pong pair
makes round trips on connection B meanwhile.  Counted, not timed: the
number of sink reads between two round trips stays small.  Without the
yield, the sink drains the whole buffer (about 2000 reads) before anyone
else runs, every time."""


import netpoll
from netpoll.internal import fd as fdmod
from support import tcp_pair

FLOOD = 8 << 20
BUFFER = 1 << 20
PIECE = 512


def test_flooded_reader_does_not_starve_ping_pong(run):
    def main():
        wa, ra = tcp_pair()                    # the flood: wa -> ra
        wa.set_write_buffer(BUFFER)
        ra.set_read_buffer(BUFFER)
        pb, eb = tcp_pair()                    # ping-pong: pb <-> eb
        state = {"reads": 0, "done": False}

        def writer():
            with wa:
                wa.write(b"f" * FLOOD)

        def sink():
            with ra:
                while ra.read(PIECE):
                    state["reads"] += 1
            state["done"] = True

        def echo():
            with eb:
                while d := eb.read(1):
                    eb.write(d)

        def pinger():
            gaps = []
            with pb:
                while not state["done"]:
                    before = state["reads"]
                    pb.write(b"p")
                    assert pb.read(1) == b"p"
                    gaps.append(state["reads"] - before)
            return gaps

        netpoll.go(echo)
        gs = [netpoll.go(f) for f in (writer, sink)]
        gaps = netpoll.go(pinger).join()
        for g in gs:
            g.join()
        return state["reads"], gaps

    reads, gaps = run(main)
    assert reads >= FLOOD // PIECE
    during = gaps[:-1]                         # the last may end with the flood
    # generous: a round trip takes a few scheduler passes, each of which
    # lets the sink do at most FAIR_READS reads
    bound = 20 * fdmod.FAIR_READS
    assert len(during) >= 10, f"{len(during)} round trips during {reads} flooded reads"
    assert max(during) <= bound, f"{max(during)} reads without a round trip (bound {bound})"
