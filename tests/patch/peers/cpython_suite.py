"""Run parts of CPython's own test suite (the interpreter's ``test``
package) with ``netpoll.patch()`` applied, inside ``netpoll.run`` so the
main thread's socket calls park as goroutines (the helper threads those
tests start have no runtime: their calls behave like the originals).

Usage: cpython_suite.py MODULE [TEST_ID_PREFIX ...]
Prints one JSON line: counts and the ids of failures and errors."""

import faulthandler
import json
import os
import sys
import unittest

import netpoll

if not os.environ.get("CPYTHON_SUITE_NOPATCH"):      # the baseline: same run, unpatched
    netpoll.patch()


def main():
    module = sys.argv[1]
    prefixes = sys.argv[2:]
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromName(module)

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t

    # Classes left out of every run, patched or not, with the reason:
    # ThreadedVSOCKSocketStreamTest waits in accept() forever on a kernel
    # without a vsock transport (unpatched too).
    exclude = ["ThreadedVSOCKSocketStreamTest"] + \
        [e for e in os.environ.get("CPYTHON_SUITE_EXCLUDE", "").split(",") if e]
    tests = [t for t in flatten(suite)
             if (not prefixes or any(t.id().startswith(f"{module}.{p}") for p in prefixes))
             and not any(t.id().startswith(f"{module}.{e}") for e in exclude)]
    per_test = float(os.environ.get("CPYTHON_SUITE_TEST_TIMEOUT", "60"))
    verbose = bool(os.environ.get("CPYTHON_SUITE_VERBOSE"))

    class Result(unittest.TestResult):
        def startTest(self, test):  # noqa: N802 (unittest's name)
            # A test that hangs ends the run with every thread's stack.
            faulthandler.dump_traceback_later(per_test, exit=True)
            if verbose:
                print("start", test.id(), file=sys.stderr, flush=True)
            super().startTest(test)

        def stopTest(self, test):  # noqa: N802
            faulthandler.cancel_dump_traceback_later()
            super().stopTest(test)

    result = Result()
    # What the tests print goes to stderr: stdout carries only the JSON
    # line (a parent reading it after exit never sees a full pipe).
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        netpoll.run(unittest.TestSuite(tests).run, result)
    finally:
        sys.stdout = real_stdout
    out = {
        "run": result.testsRun,
        "failures": sorted(t.id() for t, _ in result.failures),
        "errors": sorted(t.id() for t, _ in result.errors),
        "skipped": len(result.skipped),
        "first_trace": (result.failures + result.errors)[0][1][-1500:]
        if result.failures or result.errors else "",
    }
    print(json.dumps(out), flush=True)
    sys.stderr.flush()
    # Not a normal exit: an abandoned to_thread call (a test interrupted in
    # a lookup) would keep the interpreter waiting for its worker.
    os._exit(0)


if __name__ == "__main__":
    main()
