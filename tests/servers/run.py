#!/usr/bin/env python3
"""Runs sse-tail's web-server tests: each route (a real lighttpd, nginx or
Apache on 127.0.0.1, configured from the snippet in conf/ with only ports
and paths filled in) and the checks made through it. All of them, or those
named on the command line ("nginx" runs a route, "nginx/append" one check,
a trailing "*" matches a prefix); -l lists them.

Speaks TAP, which automake's tap-driver.sh reads as one result a test: the
plan "1..N", then "ok N - NAME" or "not ok N - NAME" per test, the reason
and the servers' logs as "#" lines, and last the plain line "N passed, N
failed"; exits 1 if any failed, 2 if no test matches. Runs as root (the
servers run their workers as www-data). The binary: $SSE_TAIL, else
../../src/sse-tail from here. SSE_TAIL_KEEP=1 keeps the test directories.
"""

import os
import signal
import sys
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# tests/common.py
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness as h  # noqa: E402
import routes  # noqa: E402


def _alarm(signum, frame):
    raise h.TestTimeout()


def selected(argv):
    tests = [(route, name, fn, to) for route in routes.ROUTES
             for name, fn, to in route.checks]
    if not argv:
        return tests
    out = []
    for t in tests:
        full = "%s/%s" % (t[0].name, t[1])
        for a in argv:
            if (full == a or t[0].name == a or
                    (a.endswith("*") and full.startswith(a[:-1]))):
                out.append(t)
                break
    return out


def run_one(route, name, fn, timeout):
    """Returns (ok, message)."""
    route.touched = []
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        note = fn(route)
        return True, note
    except h.TestTimeout:
        return False, "timed out after %d s" % timeout
    except (h.TestFailure, AssertionError) as e:
        return False, str(e)
    except Exception as e:  # a bug in a test or an unexpected answer
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return False, "%s: %s (%s:%d)" % (type(e).__name__, e,
                                          os.path.basename(tb.filename),
                                          tb.lineno)
    finally:
        signal.alarm(0)


def main(argv):
    if "-l" in argv or "--list" in argv:
        for route, name, _, _ in selected([]):
            print("%s/%s" % (route.name, name))
        return 0
    tests = selected(argv)
    if not tests:
        print("no test matches %s" % " ".join(argv), file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("# not root: the servers cannot switch to www-data",
              file=sys.stderr)
    print("1..%d" % len(tests))
    print("# testing %s" % h.BIN)
    if not os.access(h.BIN, os.X_OK):
        print("# sse-tail binary not found (set SSE_TAIL)")
    sys.stdout.flush()
    passed = failed = 0
    start = time.monotonic()
    for i, (route, name, fn, timeout) in enumerate(tests):
        full = "%s/%s" % (route.name, name)
        t0 = time.monotonic()
        ok, msg = run_one(route, name, fn, timeout)
        dt = time.monotonic() - t0
        if ok:
            passed += 1
            print("ok %d - %s" % (i + 1, full))
            if msg:
                print("#   %s (%.1f s)" % (msg.replace("\n", "\n#   "), dt))
        else:
            failed += 1
            print("not ok %d - %s" % (i + 1, full))
            print("# FAIL %s: %s" % (full, msg.replace("\n", "\n# ")))
            logs = []
            for inst in route.touched:
                logs.extend(inst.d.logs)
            for line in h.tail_logs(logs):
                print("#   " + line)
        sys.stdout.flush()
        last_of_route = i + 1 == len(tests) or tests[i + 1][0] is not route
        if last_of_route:
            route.teardown()
    print("# %.0f s" % (time.monotonic() - start))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    finally:
        for r in routes.ROUTES:
            r.teardown()
