"""Signals never wait for I/O.

Each case runs in a child process, so that SIGINT and the process-wide
signal wake-up descriptor are the child's own."""

import signal
import time

import pytest

import netpoll
from support import Child, wait_until


def wait_asleep(pid):
    """Until the child's only thread sleeps in the kernel (in the poller)."""
    def asleep():
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "S"
    wait_until(asleep, what="the child to block in the poller")

POLLERS = [p for p in ("select", "poll", "epoll") if p in netpoll.pollers()]

# The main goroutine blocks on a channel; one goroutine waits in accept(),
# one in read(): the runtime blocks in the poller with no timer at all.
BLOCKED_IN_POLLER = """
    import sys, time
    import netpoll
    from netpoll import net

    def waiter(obj, name):
        try:
            obj.read() if name == "reader" else obj.accept()
        finally:
            print("finally", name, flush=True)

    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        client = net.dial("tcp", str(ln.addr))
        peer = ln.accept()                # kept open: the reader gets nothing
        netpoll.go(waiter, ln, "acceptor")
        netpoll.go(waiter, client, "reader")
        netpoll.gosched()             # both run until they park
        s = netpoll.stats()
        assert s["timers"] == 0 and s["netpoll_waiters"] == 2, s
        try:
            print("blocked", flush=True)
            netpoll.Chan().recv()
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
            raise

    netpoll.run(main, poller=sys.argv[1] if len(sys.argv) > 1 else POLLER)
"""


@pytest.mark.parametrize("poller", POLLERS)
def test_sigint_while_blocked_in_poller_interrupts_main_promptly(poller):
    code = BLOCKED_IN_POLLER.replace("POLLER)", f"{poller!r})")
    with Child.script(code) as child:
        child.expect("blocked")
        wait_asleep(child.pid)
        sent = time.monotonic()
        child.proc.send_signal(signal.SIGINT)
        line = child.expect("interrupted", timeout=5)
        latency = float(line.split()[1]) - sent        # CLOCK_MONOTONIC is system-wide
        assert latency < 0.5, latency
        rc, out, err = child.finish()
        # run() stopped the other goroutines: their finally blocks ran
        assert "finally acceptor" in child.lines and "finally reader" in child.lines
        # and the KeyboardInterrupt left the process, as Python's default does
        assert rc == -signal.SIGINT, (rc, err)
        assert "KeyboardInterrupt" in err


# A Python signal handler readies the main goroutine (Chan.try_send) while
# the runtime sleeps in the poller until a timer an hour away.
HANDLER_READIES_GOROUTINE = """
    import signal, time
    import netpoll

    def main():
        ch = netpoll.Chan(1)
        signal.signal(signal.SIGUSR1, lambda signum, frame: ch.try_send(signum))
        netpoll.go(netpoll.sleep, 3600)      # the only timer: far away
        netpoll.gosched()
        print("waiting", flush=True)
        got = ch.recv()
        print("woken", time.monotonic(), got, flush=True)

    netpoll.run(main, poller=POLLER)
"""


@pytest.mark.parametrize("poller", POLLERS)
def test_signal_handler_readying_a_goroutine_wakes_the_poller(poller):
    code = HANDLER_READIES_GOROUTINE.replace("POLLER)", f"{poller!r})")
    with Child.script(code) as child:
        child.expect("waiting")
        wait_asleep(child.pid)
        sent = time.monotonic()
        child.proc.send_signal(signal.SIGUSR1)
        line = child.expect("woken", timeout=5)
        assert float(line.split()[1]) - sent < 0.5, line
        assert line.split()[2] == str(int(signal.SIGUSR1))
        rc, out, err = child.finish()
        assert rc == 0, err


def test_sigint_with_a_signal_wakeup_fd_owned_by_someone_else():
    """If another library already owns the wake-up descriptor, netpoll
    leaves it alone; SIGINT still interrupts a poller wait with no timer."""
    code = BLOCKED_IN_POLLER.replace("def main():", """def main():
        assert signal.set_wakeup_fd(-1) == w     # netpoll did not take it
        signal.set_wakeup_fd(w)
""", 1).replace("import sys, time", """import sys, time, signal, socket
    a, b = socket.socketpair()
    a.setblocking(False)
    w = a.fileno()
    signal.set_wakeup_fd(w)""")
    code = code.replace("POLLER)", "'epoll' if 'epoll' in netpoll.pollers() else 'poll')")
    with Child.script(code) as child:
        child.expect("blocked")
        wait_asleep(child.pid)
        sent = time.monotonic()
        child.proc.send_signal(signal.SIGINT)
        line = child.expect("interrupted", timeout=5)
        assert float(line.split()[1]) - sent < 0.5
        rc, out, err = child.finish()
        assert rc == -signal.SIGINT, err
