"""A line-based chat room: every line a client sends goes to all the others.

    python examples/chat.py --listen 127.0.0.1:7001
    nc 127.0.0.1 7001          # in several terminals

One *room* goroutine owns the set of clients and receives everything from a
single channel: joins, lines, leaves.  Each client has a buffered *outbox*
channel, drained to its socket by a writer goroutine of its own.  The room
never blocks on a client: it only ``try_send``s into outboxes, and a client
whose outbox is full (it does not read fast enough) is disconnected.  So one
slow reader cannot stall the room, or anybody else.
"""

import argparse
import sys

import netpoll
from netpoll import net
from netpoll.cli import listen_address
from netpoll.server import serve

OUTBOX = 256        # lines a client may fall behind before it is dropped
MAX_LINE = 4096


class Client:
    def __init__(self, conn):
        self.conn = conn
        self.name = str(conn.remote_addr)
        self.outbox = netpoll.Chan(OUTBOX)


def room(events):
    clients = set()
    for kind, client, text in events:
        if kind == "join":
            clients.add(client)
            text = f"* {client.name} joined\n"
        elif kind == "leave":
            if client in clients:                # (not if it was dropped already)
                clients.discard(client)
                client.outbox.close()            # its writer ends after the backlog
            text = f"* {client.name} left\n"
        else:
            text = f"{client.name}: {text}\n"
        slow = [c for c in clients if c is not client and not c.outbox.try_send(text)]
        for c in slow:                           # outbox full: too slow, drop it
            clients.discard(c)
            c.outbox.close()
            c.conn.close()                       # wakes its reader and its writer


def writer(client):
    try:
        for text in client.outbox:
            client.conn.write(text.encode())
    except OSError:
        pass
    client.conn.close()


def handle(conn, events):
    client = Client(conn)
    netpoll.go(writer, client)
    events.send(("join", client, None))
    with conn:
        buf = b""
        try:
            while data := conn.read(MAX_LINE):
                *lines, buf = (buf + data).split(b"\n")
                for line in lines:
                    events.send(("line", client, line.rstrip(b"\r").decode(errors="replace")))
                if len(buf) > MAX_LINE:
                    break                        # no newline in sight: not a chat client
        except OSError:
            pass
        events.send(("leave", client, None))


def main(address):
    events = netpoll.Chan(256)
    netpoll.go(room, events)
    with net.listen("tcp", address) as ln:
        print(f"listening on {ln.addr}", flush=True)
        serve(ln, handle, events)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="netpoll chat room example")
    p.add_argument("--listen", type=listen_address, default="127.0.0.1:7001", metavar="HOST:PORT")
    p.add_argument("--poller", default=None, help="epoll, poll, select, kqueue (default: best)")
    args = p.parse_args()
    try:
        netpoll.run(main, args.listen, poller=args.poller)
    except KeyboardInterrupt:
        pass
    except OSError as exc:          # address in use, not ours, no such host: one line
        sys.exit(f"chat: {exc}")
