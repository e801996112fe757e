"""What the end-to-end and the web-server tests share: their failure and
timeout exceptions, check(), and waiting for a condition with a deadline.
Python 3 standard library only."""

import time


class TestFailure(AssertionError):
    pass


class TestTimeout(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def wait_until(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns a true value, which is returned;
    raises TestFailure naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("%s: not within %.1f s" % (what, timeout))
        time.sleep(interval)
