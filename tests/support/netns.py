"""Network namespaces for the fault tests: a peer that vanishes silently.

On loopback a peer always answers (it resets, closes or stops reading, and
the kernel says so at once).  A cable pulled or a NAT that forgets a
connection says nothing.  ``VethPair`` makes that happen on this machine:
two fresh network namespaces, ``a`` and ``b``, joined by a veth pair
(``10.200.0.1/30`` in ``a``, ``10.200.0.2/30`` in ``b``; only these
namespaces have the addresses, so no packet leaves the machine), with
permanent neighbour entries (no ARP, which would otherwise fail a few
seconds into an outage and report "no route to host" instead of silence).
``down("b")`` takes b's end of the link down: from then on everything sent
to b is dropped without a word, in both directions.

Code runs inside a namespace in one of two ways: ``run_in``/``thread``
switch a fresh thread into it (``setns``; a socket keeps the namespace it
was made in, so the thread may hand it to any other), and ``exec_argv``
prefixes ``ip netns exec NS`` for a child process.

Needs Linux, root and ``ip`` (iproute2).  ``require()`` skips with the
reason elsewhere, and fails under CI (``CI`` set), where they must run.
``VethPair`` deletes its namespaces (and with them the link) when closed,
even if the test failed, and first deletes those that a killed run of this
helper left behind (their creator's pid is in the name).
"""

import ctypes
import itertools
import os
import queue
import shutil
import subprocess
import sys
import threading

import pytest

PREFIX = "npfault"
ADDR = {"a": "10.200.0.1", "b": "10.200.0.2"}
MAC = {"a": "02:00:0a:c8:00:01", "b": "02:00:0a:c8:00:02"}
DEV = {"a": "npa", "b": "npb"}
CLONE_NEWNET = 0x40000000
_counter = itertools.count()


def unavailable():
    """Why namespaces cannot be made here, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "making network namespaces needs root (CAP_SYS_ADMIN)"
    if shutil.which("ip") is None:
        return "the ip command is missing (Debian package iproute2; scripts/system-deps.sh)"
    return None


def in_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require():
    """Skip (fail under CI) when namespaces cannot be made here."""
    reason = unavailable()
    if reason is not None:
        _cannot(reason)


def _cannot(reason):
    if in_ci():
        pytest.fail(f"network namespace tests must run in CI: {reason}")
    pytest.skip(reason)


def ip(*args, check=True):
    """Run ``ip ARGS``; CalledProcessError (with ip's stderr) if it fails."""
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and r.returncode:
        raise subprocess.CalledProcessError(r.returncode, ["ip", *args], r.stdout, r.stderr)
    return r


def setns(name):
    """Move the calling thread into network namespace ``name``."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):                   # Python 3.12+
            os.setns(fd, CLONE_NEWNET)
        else:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)


def cleanup_stale():
    """Delete the namespaces of runs whose process no longer exists."""
    r = ip("netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX):].split("x", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            ip("netns", "del", name, check=False)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VethPair:
    """Namespaces ``a`` and ``b`` joined by a veth pair; see the module
    docstring.  Use as a context manager (or call ``close``)."""

    def __init__(self):
        require()
        cleanup_stale()
        tag = f"{PREFIX}{os.getpid()}x{next(_counter)}"
        self.ns = {"a": tag + "a", "b": tag + "b"}
        self.addr = dict(ADDR)
        self._made = []
        try:
            for side in "ab":
                try:
                    ip("netns", "add", self.ns[side])
                except subprocess.CalledProcessError as exc:    # a container, say
                    _cannot(f"ip netns add failed: {exc.stderr.strip()}")
                self._made.append(side)
            # Both ends are created inside the namespaces: their names
            # never appear in (or clash in) the machine's own namespace.
            ip("link", "add", DEV["a"], "address", MAC["a"], "netns", self.ns["a"],
               "type", "veth", "peer", "name", DEV["b"], "address", MAC["b"],
               "netns", self.ns["b"])
            for side, other in (("a", "b"), ("b", "a")):
                n = self.ns[side]
                ip("-n", n, "link", "set", "lo", "up")
                ip("-n", n, "addr", "add", f"{ADDR[side]}/30", "dev", DEV[side])
                ip("-n", n, "link", "set", DEV[side], "up")
                ip("-n", n, "neigh", "replace", ADDR[other], "lladdr", MAC[other],
                   "dev", DEV[side], "nud", "permanent")
        except BaseException:
            self.close()
            raise

    # -- the link ----------------------------------------------------------------

    def down(self, side="b"):
        """Take ``side``'s end of the link down: the peer vanishes."""
        ip("-n", self.ns[side], "link", "set", DEV[side], "down")

    def up(self, side="b"):
        """Bring it back (with its route and neighbour entry)."""
        n = self.ns[side]
        other = "a" if side == "b" else "b"
        ip("-n", n, "link", "set", DEV[side], "up")
        ip("-n", n, "neigh", "replace", ADDR[other], "lladdr", MAC[other],
           "dev", DEV[side], "nud", "permanent")

    def delete(self, side):
        """Delete namespace ``side`` (the veth pair goes with it once its
        last socket is closed)."""
        if side in self._made:
            ip("netns", "del", self.ns[side], check=False)
            self._made.remove(side)

    # -- running code inside -------------------------------------------------------

    def thread(self, side, target, *args, name=None):
        """A started daemon thread running ``target(*args)`` inside
        namespace ``side``."""
        ns = self.ns[side]

        def body():
            setns(ns)
            target(*args)
        t = threading.Thread(target=body, daemon=True, name=name or f"netns-{side}")
        t.start()
        return t

    def run_in(self, side, fn, *args):
        """``fn(*args)`` run in a fresh thread inside namespace ``side``;
        its result, or its exception re-raised."""
        out = {}

        def body():
            try:
                out["value"] = fn(*args)
            except BaseException as exc:
                out["error"] = exc
        self.thread(side, body).join(30)
        if "error" in out:
            raise out["error"]
        return out["value"]

    def socket(self, side, *args, **kwargs):
        """A socket.socket made inside namespace ``side``."""
        import socket
        return self.run_in(side, lambda: socket.socket(*args, **kwargs))

    def runtime(self, side, poller):
        """A ``NetpollThread`` inside namespace ``side``."""
        return NetpollThread(self, side, poller)

    def exec_argv(self, side, argv):
        """``argv`` run inside namespace ``side`` (ip netns exec)."""
        return ["ip", "netns", "exec", self.ns[side], *argv]

    def tcp_stat(self, side, name):
        """A TCP counter of namespace ``side`` (/proc/net/snmp), e.g.
        ``RetransSegs``."""
        r = subprocess.run(self.exec_argv(side, ["cat", "/proc/net/snmp"]), capture_output=True,
                           text=True, timeout=30, check=True)
        names, values = [line.split()[1:] for line in r.stdout.splitlines()
                         if line.startswith("Tcp:")]
        return int(values[names.index(name)])

    # -- cleanup -----------------------------------------------------------------

    def close(self):
        for side in list(self._made):
            self.delete(side)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



class NetpollThread:
    """A netpoll runtime (``poller``) in its own thread inside one
    namespace of ``pair``.  ``call(fn, *args)`` runs ``fn`` in a new
    goroutine there and returns its result (or raises its exception);
    ``go(fn, *args)`` starts one and returns at once.  ``close`` ends the
    runtime (its remaining goroutines are stopped, their ``finally``
    blocks run) and re-raises what ``run`` raised."""

    def __init__(self, pair, side, poller):
        self._requests = queue.Queue()
        self._error = None
        self._thread = pair.thread(side, self._run, poller, name=f"netpoll-{side}")

    def _run(self, poller):
        import netpoll
        try:
            netpoll.run(self._main, poller=poller)
        except BaseException as exc:
            self._error = exc

    def _main(self):
        import netpoll
        while (item := netpoll.to_thread(self._requests.get)) is not None:
            fn, args, reply = item
            netpoll.go(self._answer, fn, args, reply)

    @staticmethod
    def _answer(fn, args, reply):
        if reply is None:
            fn(*args)
            return
        try:
            reply.put((True, fn(*args)))
        except Exception as exc:
            reply.put((False, exc))

    def call(self, fn, *args, timeout=30):
        reply = queue.Queue()
        self._requests.put((fn, args, reply))
        ok, value = reply.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def go(self, fn, *args):
        self._requests.put((fn, args, None))

    def goroutines(self):
        """How many goroutines the runtime has (the request loop included)."""
        import netpoll
        return self.call(lambda: netpoll.stats()["goroutines"]) - 1   # not this call's

    def close(self):
        self._requests.put(None)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the netpoll thread did not end"
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
