"""What the end-to-end tests, the web-server tests and the benchmarks
share: the failure and timeout exceptions, check(), waiting for a condition
with a deadline, picking a free port and probing a listening socket.
Python 3 standard library only."""

import socket
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


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(addr):
    """True once a server accepts a connection at addr: a TCP port on
    127.0.0.1 (an int), or a unix socket's path."""
    unix = isinstance(addr, str)
    s = socket.socket(socket.AF_UNIX if unix else socket.AF_INET)
    s.settimeout(0.5)
    try:
        s.connect(addr if unix else ("127.0.0.1", addr))
        return True
    except OSError:
        return False
    finally:
        s.close()
