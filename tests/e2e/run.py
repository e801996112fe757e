#!/usr/bin/env python3
"""Runs the sse-tail end-to-end tests: all of them, or those named on the
command line (a name ending in '*' is a prefix).  Prints one line per test
and ends with 'N passed, N failed'; exit status 1 if any failed.

The binary: $SSE_TAIL, else $builddir/../src/sse-tail, else
../../src/sse-tail relative to this file."""

import os
import resource
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# tests/common.py
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness  # noqa: E402
import tests  # noqa: E402,F401  (registers the tests)

# Every other module here registers tests of one topic.
for _name in sorted(os.listdir(os.path.dirname(os.path.abspath(__file__)))):
    if _name.endswith(".py") and _name[:-3] not in (
            "run", "harness", "fcgi", "tests"):
        __import__(_name[:-3])


def main(argv):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 20000 if hard == resource.RLIM_INFINITY else min(hard, 20000)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
    if "-l" in argv or "--list" in argv:
        for name, _, _ in harness.TESTS:
            print(name)
        return 0
    selected = harness.TESTS
    if argv:
        selected = []
        for name, fn, to in harness.TESTS:
            for a in argv:
                if name == a or (a.endswith("*") and name.startswith(a[:-1])):
                    selected.append((name, fn, to))
                    break
        known = {n for n, _, _ in harness.TESTS}
        for a in argv:
            if not a.endswith("*") and a not in known:
                print("unknown test: %s" % a, file=sys.stderr)
                return 2
    if not os.path.exists(harness.BIN):
        print("# sse-tail binary not found at %s (set SSE_TAIL)" % harness.BIN)
    else:
        print("# testing %s" % harness.BIN)
    sys.stdout.flush()
    passed = failed = 0
    t0 = time.monotonic()
    for name, fn, timeout in selected:
        t1 = time.monotonic()
        status, reason, details = harness.run_one(name, fn, timeout)
        dt = time.monotonic() - t1
        if status == "FAIL":
            failed += 1
            print("FAIL %s: %s" % (name, reason.replace("\n", " | ")))
            for d in details:
                print(d)
        else:
            passed += 1
            extra = " (skipped: %s)" % reason if status == "skip" else ""
            print("ok %s%s  [%.1fs]" % (name, extra, dt) if os.environ.get("E2E_TIMES")
                  else "ok %s%s" % (name, extra))
            for d in details:
                print(d)
        sys.stdout.flush()
    print("# %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
