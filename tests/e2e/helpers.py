"""What the end-to-end tests of every topic share beyond the harness: lines
with their ids, the expected-event shorthands L(), R() and ROT, expect() and
its friends, a server following one file, and named-pipe writers."""

import errno
import os
import re

import fcgi
from common import TAG_EMPTY, TAG_SPAN, file_id, id_tag, split_id  # noqa: F401 (for the tests)
from harness import TestFailure, check, eq, wait_until

MiB = 1024 * 1024


# ------------------------------------------------------------ events ----
def lines_data(texts):
    """[str] -> (bytes, [(text, offset)]): each line with '\\n', and the
    offset just past it (the OFFSET of its id)."""
    parts = []
    ids = []
    n = 0
    for x in texts:
        b = x.encode() + b"\n"
        parts.append(b)
        n += len(b)
        ids.append((x, n))
    return b"".join(parts), ids


class Id:
    """An expected event's own id, to compare with the id sent: OFFSET.TAG
    with this offset and a TAG of 8 lowercase hex digits, exactly tag when
    it is given (None: any)."""

    def __init__(self, offset, tag=None):
        self.offset = offset
        self.tag = tag

    def __eq__(self, other):
        if isinstance(other, Id):
            return (self.offset, self.tag) == (other.offset, other.tag)
        got = split_id(other)
        return (got is not None and got[0] == self.offset
                and self.tag in (None, got[1]))

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.offset)

    def __repr__(self):
        return "'%d.%s'" % (self.offset, self.tag or "*")


def L(text, offset, src=None, tag=None):
    """A line event ending at offset. Its id's TAG: that of the file src
    at offset (src its content or path, read now), or tag, or (neither
    given) any well-formed one; expect(src=) can fill it in."""
    if src is not None:
        tag = id_tag(src, offset)
    return ("message", Id(offset, tag), text)


def R(why, at=None):
    """A reset event: its id is a file's "0.811c9dc5", or at (a string or
    an Id: a named pipe's)."""
    return ("reset", "0." + TAG_EMPTY if at is None else at, why)


# The move to the next file (rotation, or a resume through predecessors).
ROT = ("rotated", None, "rotated")


def tup(e):
    return (e["type"], e["own_id"], e["data"])


def own_offset(e):
    """The OFFSET of an event's own id (None if it has none, or not a
    well-formed one)."""
    got = split_id(e["own_id"])
    return got[0] if got else None


def own_tag(e):
    """The TAG of an event's own id (None as own_offset)."""
    got = split_id(e["own_id"])
    return got[1] if got else None


def reader_tag(r, timeout=5.0):
    """A named pipe's reader tag: that of the first event r got."""
    r.wait_until(lambda x: x.events, timeout, "an event")
    tag = own_tag(r.events[0])
    check(tag is not None, "first event's id %r is not OFFSET.TAG" % r.events[0]["own_id"])
    return tag


def expect(r, want, timeout=5.0, what="events", src=None):
    """The next len(want) events are exactly want [(type, id, data)]. With
    src (a file's content or path, read now), each Id of want without a
    tag must have the tag of src at its offset."""
    if src is not None:
        want = _with_tags(want, src)
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


def _with_tags(want, src):
    if isinstance(src, str):
        with open(src, "rb") as f:
            src = f.read(TAG_SPAN)
    return [(w[0], Id(w[1].offset, id_tag(src, w[1].offset)), w[2])
            if isinstance(w[1], Id) and w[1].tag is None else w for w in want]


def _short(x):
    s = repr(x)
    return s if len(s) < 1500 else s[:700] + " ... " + s[-700:]


def expect_marker(t, r, path, text="MARKER", timeout=5.0):
    """Appends a marker line and checks it is the very next event: proves
    nothing else was (or will be) sent before it."""
    size = os.path.getsize(path)
    t.append(path, text + "\n")
    expect(r, [L(text, size + len(text) + 1, path)], timeout, "marker after")


def file_stream(t, content=b"", name="log", glob="", sect="", env=None, mode="unix",
                fname=None):
    path = t.path(fname or (name + ".log"))
    if content is not None:
        t.write(path, content)
    conf = t.config("%s\n[stream %s]\npath = %s\n%s\n" % (glob, name, path, sect))
    srv = t.start(conf, mode=mode, env=env)
    return srv, path


def preamble_id(r, timeout=2.0):
    """The id of the preamble's id-only block ("retry: MS", a comment, a
    blank line, "id: OFFSET.TAG", a blank line): where the stream starts."""
    r.wait_until(lambda x: _PREAMBLE.match(bytes(x.body)), timeout,
                     "the preamble's id-only block")
    return _PREAMBLE.match(bytes(r.body)).group(1).decode()


_PREAMBLE = re.compile(rb"retry: [0-9]+\n:[^\n]*\n\nid: ([^\n]*)\n\n")


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
