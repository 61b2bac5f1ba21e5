"""Fork: a child never runs or wakes its parent's
goroutines.

tests/runtime/test_fork.py checks that a child's runtime is rebuilt on first use
(new poller, empty run queue) and the parent is unaffected; tests/cli/test_cli.py
that `netpoll echo --workers` children serve from their own runtimes.  Here,
in child processes of a real script: what happens when the child *leaves*
the code that forked (returns from the goroutine, or lets an exception out
of the parent's run()), and when it closes a connection it inherited."""

import os

import pytest

from support import Child

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")

PARENT_GOROUTINES = """
    import os, sys, netpoll
    from netpoll import net

    def say(*words):
        print(*words, "pid", os.getpid(), flush=True)

    def parked(name, obj):
        try:
            data = obj.read() if hasattr(obj, "read") else obj.recv()
            say("woken", name, data)
        finally:
            say("finally", name)

    def setup():
        ln = net.listen("tcp", "127.0.0.1:0")
        c = net.dial("tcp", str(ln.addr))
        peer = ln.accept()
        reader = netpoll.go(parked, "reader", c)
        netpoll.go(parked, "chan", netpoll.Chan())
        netpoll.gosched()
        return c, peer, reader
"""


def child_lines(lines, child_pid):
    return [line for line in lines if line.endswith(f"pid {child_pid}")]


def test_child_leaving_run_does_not_run_parent_goroutines():
    code = PARENT_GOROUTINES + """
    def main():
        c, peer, reader = setup()
        pid = os.fork()
        if pid == 0:
            say("child")
            netpoll.run(lambda: netpoll.sleep(0.01))     # a runtime of its own works
            sys.exit(0)                                  # leaves the parent's run()
        os.waitpid(pid, 0)
        peer.write(b"hi")
        reader.join(timeout=10)              # the reader took "hi"

    netpoll.run(main)
    """
    with Child.script(code) as s:
        rc, out, err = s.finish()
    assert rc == 0, err
    child = [line for line in s.lines if line.startswith("child")][0].split()[-1]
    assert child_lines(s.lines, child) == [f"child pid {child}"], s.lines


def test_child_returning_from_forking_goroutine_does_not_run_parent_goroutines():
    code = PARENT_GOROUTINES + """
    def forker():
        pid = os.fork()
        if pid == 0:
            say("child")
            return
        os.waitpid(pid, 0)

    def main():
        c, peer, reader = setup()
        netpoll.go(forker).join()
        say("main done")
        peer.write(b"hi")
        reader.join(timeout=10)              # the reader took "hi"

    netpoll.run(main)
    """
    with Child.script(code) as s:
        rc, out, err = s.finish()
    child = [line for line in s.lines if line.startswith("child")][0].split()[-1]
    assert child_lines(s.lines, child) == [f"child pid {child}"], (s.lines, err)


def test_child_closing_inherited_conns_does_not_disturb_parent():
    """The child closes the connections it inherited, one of them with a
    parent goroutine parked on it, runs a runtime of its own and exits with
    os._exit: the parent's goroutine is still parked and is woken by the data
    that arrives, in the parent only.

    Closing the conn the parent's reader holds cannot wait for that reader
    (it will never run in the child): today it raises DeadlockError at once
    (reported to the lead: it could just close the child's copy); either
    way it must not hang."""
    code = PARENT_GOROUTINES + """
    def main():
        c, peer, reader = setup()
        pid = os.fork()
        if pid == 0:
            try:
                peer.close()
                try:
                    c.close()                            # evicts nothing in the parent
                except netpoll.DeadlockError:
                    pass
                netpoll.run(lambda: netpoll.go(netpoll.sleep, 0.01).join())
                say("child")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert netpoll.stats()["netpoll_waiters"] == 1
        peer.write(b"hi")
        reader.join(timeout=10)              # the reader took "hi"
        say("parent done")

    netpoll.run(main)
    """
    with Child.script(code) as s:
        rc, out, err = s.finish()
    assert rc == 0, err
    child = [line for line in s.lines if line.startswith("child")][0].split()[-1]
    assert child_lines(s.lines, child) == [f"child pid {child}"], s.lines
    parent = str(s.pid)
    assert f"woken reader b'hi' pid {parent}" in s.lines
    assert f"finally chan pid {parent}" in s.lines           # torn down in the parent
