"""What the end-to-end tests, the web-server tests and the benchmarks
share: the failure and timeout exceptions, check(), waiting for a condition
with a deadline, picking a free port and probing a listening socket, and
the ids of a file's events (OFFSET.TAG).
Python 3 standard library only."""

import functools
import re
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


# ------------------------------------------------------------------ ids --
TAG_SPAN = 4096         # bytes a tag covers at most
TAG_EMPTY = "811c9dc5"  # the tag of zero bytes: a reset's, an offset 0's
ID_RE = re.compile(r"(0|[1-9][0-9]*)\.([0-9a-f]{8})\Z")


def id_tag(src, offset):
    """The TAG of a file at offset: FNV-1a 32 of its first min(offset, 4096)
    bytes, as 8 lowercase hex digits. src is the file's content (bytes) or
    its path, read now."""
    if isinstance(src, str):
        with open(src, "rb") as f:
            src = f.read(TAG_SPAN)
    n = min(offset, TAG_SPAN)
    if len(src) < n:
        raise ValueError("%d bytes, not the %d a tag at %d covers" % (len(src), n, offset))
    return _fnv1a(bytes(src[:n]))


@functools.lru_cache(maxsize=4096)
def _fnv1a(b):
    h = 0x811c9dc5
    for c in b:
        h = ((h ^ c) * 0x01000193) & 0xffffffff
    return "%08x" % h


def file_id(src, offset):
    """The id "OFFSET.TAG" of the event that ends at offset in the file
    src (content or path, as id_tag)."""
    return "%d.%s" % (offset, id_tag(src, offset))


def split_id(s):
    """(OFFSET, TAG) of an id "OFFSET.TAG" as sse-tail writes it, or None
    when s is not one."""
    m = ID_RE.match(s) if isinstance(s, str) else None
    return (int(m.group(1)), m.group(2)) if m else None
