#!/usr/bin/env python3
"""Runs the sse-tail end-to-end tests: all of them, or those named on the
command line: a test's name, a name ending in '*' (a prefix), or a topic
(the name of a module here: options, requests, stream, following, ...).
-l lists the tests, -t the topics with their number of tests.

Speaks TAP, which automake's tap-driver.sh reads as one result a test:
the plan "1..N", then "ok N - NAME", "ok N - NAME # SKIP why" or
"not ok N - NAME" followed by the reason and details as "#" lines, and
last the plain line "N passed, N failed" (", N skipped" when any was).
Exit status 1 if any failed, 2 for a name that matches no test.

The binary: $SSE_TAIL, else $builddir/../src/sse-tail, else
../../src/sse-tail relative to this file."""

import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
# tests/common.py, tests/fcgi.py, tests/sse.py
sys.path.insert(1, os.path.dirname(HERE))

import harness  # noqa: E402

# Every other module here registers the tests of one topic. They run in
# the order they ran in before the split (the sections of the one file
# they were, then the others by name): the hostile memory figures were
# measured after the rest.
NOT_TOPICS = ("run", "harness", "helpers")
FIRST = ("options", "requests", "stream", "following", "named_pipes", "scale",
         "cgi_mode")
TOPICS = sorted(n[:-3] for n in os.listdir(HERE)
                if n.endswith(".py") and n[:-3] not in NOT_TOPICS)
for _name in [n for n in FIRST if n in TOPICS] + [n for n in TOPICS if n not in FIRST]:
    __import__(_name)


def select(argv):
    """The registered tests that argv names, in registration order; None
    (after a message) when an argument matches nothing."""
    if not argv:
        return list(harness.TESTS)
    chosen = []
    for a in argv:
        if a.endswith("*"):
            hits = [x for x in harness.TESTS if x[0].startswith(a[:-1])]
        elif a in TOPICS:
            hits = [x for x in harness.TESTS if x[1].__module__ == a]
        else:
            hits = [x for x in harness.TESTS if x[0] == a]
        if not hits:
            print("unknown test or topic: %s (-l lists the tests, -t the "
                  "topics)" % a, file=sys.stderr)
            return None
        chosen += [x for x in hits if x not in chosen]
    return [x for x in harness.TESTS if x in chosen]


def comment(lines):
    """Prints lines as TAP comments (a line of one of them too)."""
    for text in lines:
        for line in text.split("\n"):
            print("#" + line if line.startswith(" ") else "# " + line)


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
    if "-t" in argv or "--topics" in argv:
        for topic in TOPICS:
            n = sum(1 for x in harness.TESTS if x[1].__module__ == topic)
            print("%-16s %3d tests" % (topic, n))
        return 0
    selected = select(argv)
    if selected is None:
        return 2
    print("1..%d" % len(selected))
    if not os.path.exists(harness.BIN):
        print("# sse-tail binary not found at %s (set SSE_TAIL)" % harness.BIN)
    else:
        print("# testing %s" % harness.BIN)
    sys.stdout.flush()
    passed = failed = skipped = 0
    t0 = time.monotonic()
    for i, (name, fn, timeout) in enumerate(selected, 1):
        t1 = time.monotonic()
        status, reason, details = harness.run_one(name, fn, timeout)
        dt = "  [%.1fs]" % (time.monotonic() - t1) if os.environ.get("E2E_TIMES") else ""
        if status == "FAIL":
            failed += 1
            print("not ok %d - %s%s" % (i, name, dt))
            comment(["FAIL %s: %s" % (name, reason.replace("\n", " | "))] + details)
        elif status == "skip":
            skipped += 1
            print("ok %d - %s%s # SKIP %s" % (i, name, dt, reason))
            comment(details)
        else:
            passed += 1
            print("ok %d - %s%s" % (i, name, dt))
            comment(details)
        sys.stdout.flush()
    print("# %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed%s" % (passed, failed,
                                      ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
