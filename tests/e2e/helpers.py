"""What the end-to-end tests of every topic share beyond the harness: lines
with their ids, the expected-event shorthands L() and R(), expect() and its
friends, a server following one file, and named-pipe writers."""

import errno
import os

import fcgi
from harness import TestFailure, check, eq, wait_until

MiB = 1024 * 1024


# ------------------------------------------------------------ events ----
def lines_data(texts):
    """[str] -> (bytes, [(text, id)]): each line with '\\n', ids = offsets."""
    parts = []
    ids = []
    n = 0
    for x in texts:
        b = x.encode() + b"\n"
        parts.append(b)
        n += len(b)
        ids.append((x, n))
    return b"".join(parts), ids


def L(text, offset):
    return ("message", str(offset), text)


def R(why):
    return ("reset", "0", why)


def tup(e):
    return (e["type"], e["own_id"], e["data"])


def expect(r, want, timeout=5.0, what="events"):
    """The next len(want) events are exactly want [(type, id, data)]."""
    try:
        got = r.wait_events(len(want), timeout)
    except fcgi.Timeout:
        got = r.pending_events()
        raise TestFailure("%s: expected %r, got only %r (%s)"
                          % (what, _short(want), _short([tup(e) for e in got]), r.summary()))
    got = [tup(e) for e in got]
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, _short(want), _short(got)))
    return got


def _short(x):
    s = repr(x)
    return s if len(s) < 1500 else s[:700] + " ... " + s[-700:]


def expect_marker(t, r, path, text="MARKER", timeout=5.0):
    """Appends a marker line and checks it is the very next event: proves
    nothing else was (or will be) sent before it."""
    size = os.path.getsize(path)
    t.append(path, text + "\n")
    expect(r, [L(text, size + len(text) + 1)], timeout, "marker after")


def file_stream(t, content=b"", name="log", glob="", sect="", env=None, mode="unix",
                fname=None):
    path = t.path(fname or (name + ".log"))
    if content is not None:
        t.write(path, content)
    conf = t.config("%s\n[stream %s]\npath = %s\n%s\n" % (glob, name, path, sect))
    srv = t.start(conf, mode=mode, env=env)
    return srv, path


def opened(r, timeout=2.0):
    """Waits until the body's opening (retry + comment) arrived."""
    r.wait_until(lambda x: x.retry is not None and len(x.comments) >= 1, timeout,
                 "retry field and a comment")
    return r


def expect_stream_ok(r):
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), "text/event-stream", "Content-Type")


def expect_error(t, r, code, timeout=5.0, paths=()):
    """A short text/plain error answer with END_REQUEST, no path in it."""
    r.wait_end(timeout)
    if r.status != code:
        raise TestFailure("expected status %d, got %r (%s)" % (code, r.status, r.summary()))
    ct = r.header("Content-Type") or ""
    check(ct.startswith("text/plain"), "%d answer Content-Type is %r, not text/plain" % (code, ct))
    body = bytes(r.body)
    check(len(body) < 2000, "%d body is not short: %d bytes" % (code, len(body)))
    for p in (t.dir,) + tuple(paths):
        check(p.encode() not in body, "%d body echoes a path %r: %r" % (code, p, body))
    check(b"/tmp" not in body, "%d body looks like it has a path: %r" % (code, body))
    return r


def browser_accept():
    return "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def n_lines(n, fmt="line %03d"):
    """lines_data() of n numbered lines."""
    return lines_data([fmt % i for i in range(1, n + 1)])


# the environment that makes sse-tail poll instead of using inotify
POLL = {"SSE_TAIL_POLL": "1"}


# ------------------------------------------------------- named pipes ----
def pipe_stream(t, glob="", sect="", n=1, name="p"):
    fifo = t.path(name + ".fifo")
    os.mkfifo(fifo)
    conf = t.config("%s\n[stream %s]\npath = %s\n%s\n" % (glob, name, fifo, sect))
    srvs = [t.start(conf) for _ in range(n)]
    return srvs, fifo


def open_writer(t, fifo, timeout=5.0):
    def try_open():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return None
            raise
    fd = wait_until(try_open, timeout, "sse-tail to open the pipe for reading")
    os.set_blocking(fd, True)
    t.fds.append(fd)
    return fd


def close_writer(t, fd):
    os.close(fd)
    t.fds.remove(fd)


def write_all(fd, data):
    if isinstance(data, str):
        data = data.encode()
    mv = memoryview(data)
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]
