"""CPython's own expectations: parts of the interpreter's test_socket,
test_selectors and test_ssl run with netpoll.patch() applied (inside
netpoll.run, so the main thread's calls park as goroutines) and must show
no failure beyond the ones docs/compatibility.md explains (the descriptor
of a patched socket is always O_NONBLOCK)."""

import json
import os

import pytest

from support import PYTHON, Child

HERE = os.path.dirname(os.path.abspath(__file__))

# Out of scope by design (docs/compatibility.md): they read O_NONBLOCK.
EXPECTED_FAILURES = {
    "test.test_socket.NonBlockingTCPTests.testSetBlocking",
    "test.test_socket.NonBlockingTCPTests.testSetBlocking_overflow",
    "test.test_socket.NonblockConstantTest.test_SOCK_NONBLOCK",
}

PARTS = {
    "test_socket": ("test.test_socket", [
        "GeneralModuleTests", "BasicTCPTest", "BasicUDPTest", "BasicSocketPairTest",
        "NonBlockingTCPTests", "NonblockConstantTest", "FileObjectClassTestCase",
        "UnbufferedFileObjectClassTestCase", "LineBufferedFileObjectClassTestCase",
        "SmallBufferedFileObjectClassTestCase", "UnicodeReadWriteFileObjectClassTestCase",
        "NetworkConnectionNoServer", "NetworkConnectionAttributesTest",
        "NetworkConnectionBehaviourTest", "TCPTimeoutTest", "UDPTimeoutTest",
        "TestExceptions", "ContextManagersTest", "InheritanceTest",
        "SendmsgTCPTest", "RecvmsgTCPTest", "RecvmsgIntoTCPTest", "SendrecvmsgUnixStreamTest",
        "TestSocketSharing", "CreateServerTest", "CreateServerFunctionalTest",
        "SendfileUsingSendTest", "SendfileUsingSendfileTest",
    ]),
    "test_selectors": ("test.test_selectors", []),
    "test_ssl": ("test.test_ssl", [
        "BasicSocketTests", "ContextTests", "SSLErrorTests", "MemoryBIOTests",
        "SSLObjectTests", "SimpleBackgroundTests", "ThreadedTests",
    ]),
}


MIN_RUN = {"test_selectors": 30}


def _importable(module):
    with Child([PYTHON, "-c", f"import {module}"]) as child:
        return child.finish(60)[0] == 0


@pytest.mark.timeout(900)
@pytest.mark.parametrize("part", sorted(PARTS))
def test_patch_cpython_suite(part):
    module, classes = PARTS[part]
    if not _importable(module):
        pytest.fail(f"{module} is not installed with this interpreter ({PYTHON}); "
                    f"use a build that ships the test package (pyenv builds do)")
    with Child([PYTHON, os.path.join(HERE, "peers", "cpython_suite.py"), module, *classes],
               env={"CPYTHON_SUITE_TEST_TIMEOUT": "120"}) as child:
        rc, out, err = child.finish(840)
    assert rc == 0, err[-3000:]
    res = json.loads(child.lines[-1])
    unexpected = set(res["failures"] + res["errors"]) - EXPECTED_FAILURES
    assert not unexpected, (sorted(unexpected), res["first_trace"])
    # Enough of the part really ran (3.12's test_selectors skips 43 of its
    # 79 tests on Linux: the kqueue and devpoll selectors among them).
    assert res["run"] - res["skipped"] > MIN_RUN.get(part, 50), res
