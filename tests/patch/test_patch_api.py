"""netpoll.patch() / netpoll.patched(): idempotent, additive, applied by
NETPOLL_PATCH at import, undone by netpoll.patch.unpatch (for tests)."""

import pytest

from support import PYTHON, Child

pytestmark = pytest.mark.timeout(60)


def test_patch_idempotent_and_additive(patched_epoll):
    out = patched_epoll("""
        import socket, select, selectors, ssl, time
        first = sorted(netpoll.patched())
        cls = socket.socket
        again = sorted(netpoll.patch(socket=True, ssl=False, select=False, time=False, dns=False))
        same = socket.socket is cls and not issubclass(socket.socket, type(None))
        more = sorted(netpoll.patch())
        from netpoll.patch import unpatch
        unpatch()
        restored = [socket.socket.__module__, getattr(select.select, "__module__", None),
                    getattr(time.sleep, "__module__", None),
                    ssl.SSLContext.sslsocket_class is ssl.SSLSocket,
                    selectors.DefaultSelector.__module__, sorted(netpoll.patched())]
        print(json.dumps({"first": first, "again": again, "same": same, "more": more,
                          "restored": restored}))
    """, patch="netpoll.patch(socket=True, ssl=False, select=False, time=False, dns=False)")
    assert out["first"] == ["socket"] and out["again"] == ["socket"] and out["same"]
    assert out["more"] == ["dns", "select", "socket", "ssl", "time"]
    assert out["restored"] == ["socket", "select", "time", True, "selectors", []]


@pytest.mark.parametrize("value, expect", [
    ("1", ["dns", "select", "socket", "ssl", "time"]),
    ("socket,dns", ["dns", "socket"]),
    ("0", []),
])
def test_patch_env_applies_at_import(value, expect):
    code = ("import json, socket, netpoll\n"
            "print(json.dumps([sorted(netpoll.patched()), socket.socket.__module__]))")
    with Child([PYTHON, "-c", code], env={"NETPOLL_PATCH": value}) as child:
        rc, out, err = child.finish(30)
    assert rc == 0, err
    import json
    names, module = json.loads(child.lines[-1])
    assert names == expect
    assert module == ("netpoll.patch.sockets" if "socket" in expect else "socket")


def test_patch_env_rejects_unknown_name():
    with Child([PYTHON, "-c", "import netpoll"], env={"NETPOLL_PATCH": "sockets"}) as child:
        rc, out, err = child.finish(30)
    assert rc != 0 and "unknown name" in err and "socket, ssl, select, time, dns" in err
