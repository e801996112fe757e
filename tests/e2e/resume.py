"""End-to-end tests of ids and resumption (issue 11): OFFSET.TAG ids, the
preamble's id-only block, resuming in the current file or through its
rotated predecessors (event: rotated), resets only where lines may be
missing, bare ids of older clients, named-pipe ids across a restart, and
a storm of reconnects while the file is rotated and truncated.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up. The expected ids are computed here from the file's bytes, by
the contract's rule, and not taken from helpers.py."""

import bisect
import os
import random
import re
import selectors
import shutil
import threading
import time

import fcgi
from harness import TestFailure, cgi_params, check, eq, test
from helpers import POLL, close_writer, open_writer, write_all

TAG_SPAN = 4096
EMPTY = "0.811c9dc5"          # the id of offset 0: the tag of zero bytes
ROTATED = ("rotated", None, "rotated")


# ------------------------------------------------------------ ids ----
def fnv(data, h=0x811c9dc5):
    """FNV-1a 32 of data, going on from h."""
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xffffffff
    return h


def tag(data, off):
    """The tag of a file holding data at offset off."""
    return "%08x" % fnv(data[:min(off, TAG_SPAN)])


def id_of(data, off):
    """The id "OFFSET.TAG" of offset off in a file holding data."""
    return "%d.%s" % (off, tag(data, off))


def text(lines):
    """[str] -> the bytes of a file holding them, each with '\\n'."""
    return "".join(x + "\n" for x in lines).encode()


def ends(data):
    """The offsets just past each '\\n' of data."""
    return [i + 1 for i, b in enumerate(data) if b == 0x0A]


def msgs(data, start=0):
    """The events of data's complete lines that start at or after start:
    [(type, own id, data)]."""
    out = []
    pos = 0
    h = fnv(b"")
    for end in ends(data):
        if pos < TAG_SPAN:          # the tag, going on from the last line's
            h = fnv(data[pos:min(end, TAG_SPAN)], h)
        if pos >= start:
            out.append(("message", "%d.%08x" % (end, h), data[pos:end - 1].decode()))
        pos = end
    return out


def reset(why):
    return ("reset", EMPTY, why)


def ev(e):
    return (e["type"], e["own_id"], e["data"])


def _short(x):
    s = repr(x)
    return s if len(s) < 1500 else s[:700] + " ... " + s[-700:]


def want(r, events, timeout=5.0, what="events"):
    """The next len(events) events of r are exactly events."""
    try:
        got = r.wait_events(len(events), timeout)
    except fcgi.Timeout:
        got = r.pending_events()
        raise TestFailure("%s: expected %s, got only %s (%s)"
                          % (what, _short(events), _short([ev(e) for e in got]), r.summary()))
    got = [ev(e) for e in got]
    if got != events:
        raise TestFailure("%s: expected %s, got %s" % (what, _short(events), _short(got)))


def marker(t, r, path, word="MARKER"):
    """Appends a line to path and checks it is r's very next event, with
    its id in that file: nothing else was sent, and the stream follows the
    file at path."""
    t.append(path, word + "\n")
    data = read(path)
    want(r, [("message", id_of(data, len(data)), word)], what="marker after")


PREAMBLE = re.compile(rb"retry: \d+\n: sse-tail\n\nid: ([^\n]*)\n\n")


def preamble_id(r, timeout=3.0):
    """The id of the preamble's id-only block, which must come right after
    "retry: N", the comment and their blank line."""
    r.wait_until(lambda x: bytes(x.body).count(b"\n\n") >= 2, timeout, "the preamble")
    m = PREAMBLE.match(bytes(r.body))
    check(m, "the body does not start with retry, the comment and an id-only block: %r"
          % bytes(r.body)[:120])
    return m.group(1).decode()


# --------------------------------------------------------- fronts ----
def stream_conf(t, path, sect="", glob=""):
    """A config of one stream "log", in a file of its own."""
    t.nconf = getattr(t, "nconf", 0) + 1
    return t.config("%s\n[stream log]\npath = %s\n%s\n" % (glob, path, sect),
                    "sse-tail-%d.conf" % t.nconf)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Front:
    """sse-tail serving the config's stream "log": one FastCGI daemon
    (mode "fcgi") or one CGI process a request (mode "cgi")."""

    def __init__(self, t, conf, mode="fcgi", env=None):
        self.t, self.conf, self.mode, self.env = t, conf, mode, env
        self.srv = t.start(conf, env=env) if mode == "fcgi" else None

    def get(self, last_id=None, query=""):
        if self.srv is not None:
            return self.srv.get("log", last_event_id=last_id, query=query)
        c = self.t.cgi(self.conf, stream="log", env=self.env, last_event_id=last_id,
                       query=query)
        return c.resp.wait_headers(5)


def first_lines(f, n):
    """Connects with no id, takes n events, goes away: the client's last
    id, as a browser keeps it."""
    r = f.get()
    r.wait_events(n)
    last = r.events[n - 1]["id"]
    r.close()
    return last


# ---------------------------------------------- 1. the current file ----
def _resume_current(t, mode):
    data = text(["line %03d" % i for i in range(1, 31)])
    path = t.write("log", data)
    f = Front(t, stream_conf(t, path), mode)
    off = ends(data)[11]
    r = f.get(id_of(data, off))
    eq(preamble_id(r), id_of(data, off), "the preamble's id on a resume")
    want(r, msgs(data, off), what="resume after line 12")
    marker(t, r, path)


@test
def resume_in_current_file_is_exact(t):
    _resume_current(t, "fcgi")


@test
def resume_in_current_file_is_exact_cgi(t):
    _resume_current(t, "cgi")


# ------------------------------------------ 2. renamed while away ----
def _rename_away(t, mode):
    old = b"aaaa\nbbbb\n"
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path), mode)
    last = first_lines(f, 2)
    eq(last, id_of(old, 10), "the last id after aaaa, bbbb")
    t.append(path, "cccc\n")
    old += b"cccc\n"
    os.rename(path, path + ".1")
    new = text(["new1", "new2", "new3", "new4"])
    t.write(path, new)
    r = f.get(last)
    eq(preamble_id(r), last, "the preamble's id")
    want(r, msgs(old, 10) + [ROTATED] + msgs(new),
         what="resume across a rename while away (issue 11's example)")
    marker(t, r, path)


@test
def resume_across_rename_rotation_while_away(t):
    _rename_away(t, "fcgi")


@test
def resume_across_rename_rotation_while_away_cgi(t):
    _rename_away(t, "cgi")


# ---------------------------------------- 3. two predecessors back ----
def _two_back(t, mode):
    path = t.path("log")
    p2 = t.write(path + ".2", text(["two-%d" % i for i in range(1, 5)]))
    p1 = t.write(path + ".1", text(["one-%d" % i for i in range(1, 4)]))
    cur = text(["cur-1", "cur-2"])
    t.write(path, cur)
    f = Front(t, stream_conf(t, path, "rotated = %s %s" % (p1, p2)), mode)
    d2, d1 = read(p2), read(p1)
    off = ends(d2)[1]
    r = f.get(id_of(d2, off))
    want(r, msgs(d2, off) + [ROTATED] + msgs(d1) + [ROTATED] + msgs(cur),
         what="resume in PATH.2")
    marker(t, r, path, "M1")
    cur += b"M1\n"
    off = ends(d1)[0]
    r = f.get(id_of(d1, off))
    want(r, msgs(d1, off) + [ROTATED] + msgs(cur), what="resume in PATH.1")
    marker(t, r, path, "M2")


@test
def resume_through_two_predecessors(t):
    _two_back(t, "fcgi")


@test
def resume_through_two_predecessors_cgi(t):
    _two_back(t, "cgi")


@test
def resume_skips_a_predecessor_that_is_the_current_file(t):
    # PATH.1 a hard link of PATH: sending it would repeat the current file
    path = t.path("log")
    p2 = t.write(path + ".2", text(["two-1", "two-2", "two-3"]))
    cur = text(["cur-1", "cur-2"])
    t.write(path, cur)
    os.link(path, path + ".1")
    f = Front(t, stream_conf(t, path, "rotated = %s.1 %s" % (path, p2)))
    d2 = read(p2)
    r = f.get(id_of(d2, ends(d2)[0]))
    want(r, msgs(d2, ends(d2)[0]) + [ROTATED] + msgs(cur),
         what="resume in PATH.2 with PATH.1 the current file's inode")
    marker(t, r, path)


# ------------------------------------------------- 4. a glob of dates ----
def _dated(t):
    path = t.path("app.log")
    names = ["app.log-2024-01-01", "app.log-2024-01-02", "app.log-2024-01-03"]
    datas = {}
    base = time.time() - 10 * 86400
    for k, n in enumerate(names):
        datas[n] = text(["%s line %d" % (n[-5:], i) for i in range(1, 4)])
        p = t.write(n, datas[n])
        os.utime(p, (base + k * 86400, base + k * 86400))
    cur = text(["today 1", "today 2"])
    t.write(path, cur)
    return path, names, datas, cur, base


@test
def resume_through_glob_of_dated_files_newest_modification_first(t):
    path, names, datas, cur, base = _dated(t)
    f = Front(t, stream_conf(t, path, "rotated = %s" % t.path("app.log-*")))
    second = datas[names[1]]
    off = ends(second)[0]
    r = f.get(id_of(second, off))
    want(r, msgs(second, off) + [ROTATED] + msgs(datas[names[2]]) + [ROTATED] + msgs(cur),
         what="resume in the second newest")
    # the oldest name modified last: the order is by modification, not name
    os.utime(t.path(names[0]), (base + 5 * 86400, base + 5 * 86400))
    third = datas[names[2]]
    off = ends(third)[1]
    r = f.get(id_of(third, off))
    want(r, msgs(third, off) + [ROTATED] + msgs(datas[names[0]]) + [ROTATED] + msgs(cur),
         what="resume in the second newest modification (2024-01-03 behind 2024-01-01)")
    marker(t, r, path)


@test
def resume_glob_skips_symlinks_and_directories(t):
    path, names, datas, cur, base = _dated(t)
    second = datas[names[1]]
    # newer than all: a link to a copy of the second newest, and a directory
    os.mkdir(t.path("elsewhere"))
    copy = t.write(t.path("elsewhere", "copy"), second)
    os.symlink(copy, t.path("app.log-link"))
    os.mkdir(t.path("app.log-dir"))
    for p in (copy, t.path("app.log-dir")):
        os.utime(p, (base + 8 * 86400, base + 8 * 86400))
    os.utime(t.path("app.log-link"), (base + 8 * 86400, base + 8 * 86400),
             follow_symlinks=False)
    f = Front(t, stream_conf(t, path, "rotated = %s" % t.path("app.log-*")))
    off = ends(second)[0]
    r = f.get(id_of(second, off))
    want(r, msgs(second, off) + [ROTATED] + msgs(datas[names[2]]) + [ROTATED] + msgs(cur),
         what="resume with a newer symlink and directory matching the glob")
    marker(t, r, path)


# --------------------------------------------------- 5. copytruncate ----
def copytruncate(path, add=b""):
    """What logrotate's copytruncate does (the old PATH.1 removed first, as
    rotate 1 does), then the writer's next lines."""
    if os.path.exists(path + ".1"):
        os.unlink(path + ".1")
    shutil.copyfile(path, path + ".1")
    with open(path, "r+b") as f:
        f.truncate(0)
    if add:
        with open(path, "ab") as f:
            f.write(add)


def _copytruncate_away(t, mode):
    old = text(["l1", "l2", "l3", "l4", "l5"])
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path), mode)
    last = first_lines(f, 2)
    eq(last, id_of(old, 6), "the last id after l1, l2")
    new = text(["n1", "n2"])
    # offset 6 is just past a newline of the new file too: only the tag tells
    copytruncate(path, new)
    r = f.get(last)
    want(r, msgs(old, 6) + [ROTATED] + msgs(new), what="resume after a copytruncate")
    marker(t, r, path)


@test
def resume_across_copytruncate_while_away(t):
    _copytruncate_away(t, "fcgi")


@test
def resume_across_copytruncate_while_away_cgi(t):
    _copytruncate_away(t, "cgi")


def _copytruncate_live(t, env=None):
    old = text(["l1", "l2", "l3", "l4", "l5"])
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path), env=env)
    r = f.get()
    want(r, msgs(old), what="backlog")
    # lines appended right before the copy, perhaps not read when it truncates
    t.append(path, "l6\nl7\n")
    full = old + b"l6\nl7\n"
    new = text(["n1", "n2"])
    copytruncate(path, new)
    want(r, msgs(full, len(old)) + [ROTATED] + msgs(new),
         what="copytruncate while connected, PATH.1 holding the rest")
    marker(t, r, path)


@test
def copytruncate_while_connected_goes_on_in_path_1(t):
    _copytruncate_live(t)


@test
def copytruncate_while_connected_goes_on_in_path_1_poll(t):
    _copytruncate_live(t, POLL)


@test
def copytruncate_while_connected_without_predecessor_is_reset_truncated(t):
    old = text(["l1", "l2", "l3", "l4", "l5"])
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path, "rotated ="))
    r = f.get()
    want(r, msgs(old), what="backlog")
    new = text(["n1", "n2"])
    copytruncate(path, new)
    want(r, [reset("truncated")] + msgs(new), what="copytruncate with rotated = (empty)")
    marker(t, r, path)


@test
def copytruncate_without_predecessor_unread_lines_are_announced_poll(t):
    # polling: the lines appended right before the truncation are, most
    # likely, not read before it, and with no PATH.1 they are gone: the
    # reset says so (were they read, they come before it)
    old = text(["l1", "l2", "l3", "l4", "l5"])
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path, "rotated ="), env=POLL)
    r = f.get()
    want(r, msgs(old), what="backlog")
    t.append(path, "l6\nl7\n")
    new = text(["n1", "n2"])
    copytruncate(path, new)
    lost = msgs(old + b"l6\nl7\n", len(old))
    e = r.wait_event(5)
    if ev(e) == lost[0]:
        t.note("l6 and l7 were read before the truncation")
        want(r, lost[1:], what="the line after l6")
        e = r.wait_event(5)
    eq(ev(e), reset("truncated"), "the event after the truncation")
    want(r, msgs(new), what="the truncated file from its start")
    marker(t, r, path)


def _after_the_old_file(t, r, old, start, g1, g2, path):
    """r, behind in the file holding old (from offset start) while the file
    after it (g1) was copytruncated, must get the rest of old, then g1 (from
    PATH.1, found by what its head was) and g2: nothing lost."""
    last = msgs(g2)[-1]
    r.wait_until(lambda x: x.events and ev(x.events[-1]) == last, 30, "the last line of g2")
    got = [ev(e) for e in r.pending_events()]
    rest = msgs(old, start)
    eq(got[:len(rest)], rest, "the rest of the old file")
    eq(got[len(rest):], [ROTATED] + msgs(g1) + [ROTATED] + msgs(g2),
       "after the old file: the copy of the next one, then the truncated one")
    marker(t, r, path)


@test(timeout=60)
def copytruncate_while_a_client_is_behind_in_path_1_after_a_resume(t):
    path = t.path("log")
    g0 = text(["g0 %06d" % i for i in range(50000)])     # 2 MB of events
    t.write(path + ".1", g0)
    g1 = text(["g1 %06d" % i for i in range(5)])
    t.write(path, g1)
    f = Front(t, stream_conf(t, path))
    start = ends(g0)[0]
    r = f.get(id_of(g0, start))
    r.wait_events(1)
    # r reads no more: sse-tail is held in PATH.1, far from its end
    g2 = text(["g2 %06d" % i for i in range(3)])
    copytruncate(path, g2)
    r.next_event = 0
    _after_the_old_file(t, r, g0, start, g1, g2, path)


@test(timeout=60)
def copytruncate_of_the_new_file_while_a_client_is_still_in_the_renamed_one(t):
    path = t.path("log")
    t.write(path, b"")
    f = Front(t, stream_conf(t, path))
    slow = f.get()
    fast = f.get()
    preamble_id(slow)
    preamble_id(fast)
    g0 = text(["g0 %06d" % i for i in range(50000)])
    t.append(path, g0)
    slow.wait_events(1)
    # slow reads no more: sse-tail is held in the old file, far from its end
    fast.wait_until(lambda x: len(x.events) >= 50000, 30, "the fast client to read g0")
    os.rename(path, path + ".1")
    g1 = text(["g1 %06d" % i for i in range(5)])
    t.write(path, g1)
    fast.next_event = 50000
    want(fast, [ROTATED] + msgs(g1), 10, "the fast client: the new file")
    g2 = text(["g2 %06d" % i for i in range(3)])
    copytruncate(path, g2)
    want(fast, [ROTATED] + msgs(g2), 10, "the fast client: the truncated file from PATH.1")
    slow.next_event = 0
    _after_the_old_file(t, slow, g0, 0, g1, g2, path)


# Polling: a resume must look at the file as it is, not as the follower saw
# it at its last look, up to FOLLOW_POLL_MS before.
@test
def copytruncate_then_resume_before_the_next_poll(t):
    old = text(["old %d" % i for i in range(1, 6)])
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path), env=POLL)
    a = f.get()                 # keeps the file open in the follower
    want(a, msgs(old), what="backlog")
    last = first_lines(f, 2)
    new = text(["new 1", "new 2"])
    copytruncate(path, new)
    r = f.get(last)
    want(r, msgs(old, ends(old)[1]) + [ROTATED] + msgs(new),
         what="resume in PATH.1 right after a copytruncate")
    marker(t, r, path)
    want(a, [ROTATED] + msgs(new + b"MARKER\n"), what="the client that stayed")


def _new_file_id_before_the_poll(t, kind):
    # A client that took a line of the new file from another process (mod_fcgid
    # runs many) comes back to one that has not looked since the rotation.
    old = text(["old %d" % i for i in range(1, 6)])
    path = t.write("log", old)
    conf = stream_conf(t, path)
    f = Front(t, conf, env=POLL)
    a = f.get()
    want(a, msgs(old), what="backlog")
    new = text(["new 1", "new 2", "new 3"])
    if kind == "rename":
        os.rename(path, path + ".1")
        t.write(path, new)
    else:
        copytruncate(path, new)
    other = Front(t, conf, "cgi", env=POLL)
    c = other.get(EMPTY)
    want(c, msgs(new)[:1], what="the first line of the new file from another process")
    r = f.get(c.events[0]["id"])
    want(r, msgs(new, ends(new)[0]), what="resume in the new file after a %s" % kind)
    marker(t, r, path)


@test
def rename_then_resume_in_the_new_file_before_the_next_poll(t):
    _new_file_id_before_the_poll(t, "rename")


@test
def copytruncate_then_resume_in_the_new_file_before_the_next_poll(t):
    _new_file_id_before_the_poll(t, "copytruncate")


# ----------------------------------------- 6. truncated and regrown ----
def _regrown_away(t, mode):
    old = text(["l1", "l2", "l3", "l4", "l5"])
    path = t.write("log", old)
    t.write(path + ".1", b"unrelated\n")
    f = Front(t, stream_conf(t, path), mode)
    last = first_lines(f, 2)
    new = text(["x1", "x2", "x3", "x4"])    # a newline at offset 6 again
    t.write(path, new)
    r = f.get(last)
    eq(preamble_id(r), last, "the preamble's id on a resume that ends in a reset")
    want(r, [reset("gap")] + msgs(new), what="resume in a file truncated and regrown")
    marker(t, r, path)


@test
def truncated_and_regrown_while_away_is_reset_gap(t):
    _regrown_away(t, "fcgi")


@test
def truncated_and_regrown_while_away_is_reset_gap_cgi(t):
    _regrown_away(t, "cgi")


def _regrown_live(t, env=None):
    old = text(["l1", "l2", "l3", "l4", "l5"])           # 15 bytes
    path = t.write("log", old)
    f = Front(t, stream_conf(t, path), env=env)
    r = f.get()
    want(r, msgs(old), what="backlog")
    new = text(["n%03d" % i for i in range(1, 7)])       # 30 bytes, a newline at 15
    t.write(path, new)
    want(r, [reset("truncated")] + msgs(new),
         what="a file truncated and regrown past the client's offset")
    marker(t, r, path)


@test
def truncated_and_regrown_while_connected_is_reset_truncated_poll(t):
    _regrown_live(t, POLL)


@test
def truncated_and_regrown_while_connected_is_reset_truncated(t):
    _regrown_live(t)


# ------------------------------------------------------ 7. bare ids ----
def _bare(t, mode):
    data = text(["line %02d" % i for i in range(1, 21)])
    path = t.write("log", data)
    t.write(path + ".1", text(["older %02d" % i for i in range(1, 21)]))
    f = Front(t, stream_conf(t, path), mode)
    off = ends(data)[14]
    r = f.get(str(off))
    eq(preamble_id(r), id_of(data, off), "the preamble's id (normalised) for a bare id")
    want(r, msgs(data, off), what="a bare offset just past a newline")
    r = f.get(str(off + 2))
    want(r, [reset("gap")] + msgs(data), what="a bare offset inside a line")
    r = f.get(str(len(data) + 9))
    want(r, [reset("gap")] + msgs(data), what="a bare offset past the end")
    # a line end of PATH.1 (10 bytes a line) that is not one here: a bare
    # id is tried against the current file only
    off1 = 10 * 7
    check(off1 not in ends(data), "test data: %d is a line end of the current file" % off1)
    r = f.get(str(off1))
    want(r, [reset("gap")] + msgs(data), what="a bare offset that is a line end of PATH.1")
    marker(t, r, path)


@test
def resume_bare_decimal_id_of_an_older_client(t):
    _bare(t, "fcgi")


@test
def resume_bare_decimal_id_of_an_older_client_cgi(t):
    _bare(t, "cgi")


# ------------------------------------------- 8. pipes and restarts ----
PIPE_ID = re.compile(r"^(\d+)\.([0-9a-f]{8})$")


def _pipe_ids(evs):
    """[(offset, tag)] of events from a pipe; all must have one tag."""
    out = []
    for e in evs:
        m = PIPE_ID.match(e["own_id"] or "")
        check(m, "pipe event id %r is not OFFSET.TAG" % e["own_id"])
        out.append((int(m.group(1)), m.group(2)))
    check(len(set(x[1] for x in out)) == 1, "tags of one pipe reader differ: %r" % out)
    return out


@test
def pipe_id_from_before_a_restart_is_reset_gap(t):
    fifo = t.path("p.fifo")
    os.mkfifo(fifo)
    conf = t.config("[stream p]\npath = %s\nbuffer = 4096\nmax-line = 100\n" % fifo)
    s1 = t.start(conf)
    a = s1.get("p")
    w = open_writer(t, fifo)
    write_all(w, "a1\na2\na3\n")
    ids1 = _pipe_ids(a.wait_events(3))
    eq([o for o, _ in ids1], [3, 6, 9], "offsets of the first reader")
    t1 = ids1[0][1]
    old = "6." + t1
    close_writer(t, w)
    eq(s1.stop(), 0, "exit status on SIGTERM")

    s2 = t.start(conf)
    b = s2.get("p")
    w = open_writer(t, fifo)
    write_all(w, "x1\nx2\nx3\n")
    ids2 = _pipe_ids(b.wait_events(3))
    eq([o for o, _ in ids2], [3, 6, 9], "offsets of the new reader")
    t2 = ids2[0][1]
    check(t2 != t1, "the new reader has the old reader's tag %s" % t1)
    new = [("message", "%d.%s" % (o, t2), x) for o, x in ((3, "x1"), (6, "x2"), (9, "x3"))]
    # offset 6 is a line end in the new reader's buffer too: only the tag tells
    c = s2.get("p", last_event_id=old)
    eq(preamble_id(c), old, "the preamble's id on a resume that ends in a reset")
    want(c, [("reset", "0." + t2, "gap")] + new, what="an id of the reader before the restart")
    d = s2.get("p", last_event_id="6")
    want(d, [("reset", "0." + t2, "gap")] + new, what="a bare id on a pipe")
    e = s2.get("p", last_event_id="6." + t2)
    want(e, new[2:], what="an id of this reader")

    # the buffer wraps: the reset's id is the start of the oldest line it holds
    lines = ["%04d" % i + "-" * 94 for i in range(100)]   # 99 bytes each
    for k in range(0, 100, 10):
        write_all(w, "".join(x + "\n" for x in lines[k:k + 10]))
        b.wait_events(10)
    end = 9 + 99 * 100
    g = s2.get("p", last_event_id=old)
    g.wait_until(lambda x: x.events and x.events[-1]["own_id"] == "%d.%s" % (end, t2), 5,
                 "the last line")
    got = [ev(x) for x in g.events]
    eq(got[0][0], "reset", "the first event for an old id")
    first = _pipe_ids(g.events[1:2])[0][0]
    eq(got[0], ("reset", "%d.%s" % (first - 99, t2), "gap"),
       "the reset's id: the start of the oldest buffered line")
    check(first > 9 + 99, "the buffer did not wrap (oldest line ends at %d)" % first)
    eq(got[1:], [("message", "%d.%s" % (9 + 99 * (i + 1), t2), lines[i])
                 for i in range(100 - len(got) + 1, 100)], "the buffered lines after the reset")


# ------------------------------------------------- 9. the preamble ----
def _raw_preamble(r, idtext, what):
    r.wait_until(lambda x: bytes(x.body).count(b"\n\n") >= 2, 3, "the preamble")
    body = bytes(r.body)
    want_b = b"retry: 3000\n: sse-tail\n\nid: " + idtext.encode() + b"\n\n"
    check(body.startswith(want_b), "%s: body starts %r, want %r" % (what, body[:80], want_b))


def _preamble(t, mode):
    empty = t.write("empty", b"")
    f = Front(t, stream_conf(t, empty), mode)
    r = f.get()
    _raw_preamble(r, EMPTY, "an empty file")
    t.append(empty, "first\n")
    want(r, msgs(b"first\n"), what="the first line of an empty file")

    data = text(["line %02d" % i for i in range(1, 26)])
    path = t.write("log", data)
    f = Front(t, stream_conf(t, path), mode)
    r = f.get()
    start = ends(data)[14]                      # backlog 10: lines 16..25
    _raw_preamble(r, id_of(data, start), "after a backlog")
    want(r, msgs(data, start), what="the backlog")
    # a browser that goes away before any line resumes where it began
    r = f.get(id_of(data, start))
    want(r, msgs(data, start), what="a reconnect with the preamble's id")

    r = f.get(query="lines=0")
    _raw_preamble(r, id_of(data, len(data)), "lines=0")
    t.append(path, "part")
    r = f.get(query="lines=0")
    _raw_preamble(r, id_of(data, len(data)), "lines=0 with a partial last line")
    t.append(path, "ial\n")
    want(r, [("message", id_of(data + b"partial\n", len(data) + 8), "partial")],
         what="the partial line completed")


@test
def preamble_id_only_block(t):
    _preamble(t, "fcgi")


@test
def preamble_id_only_block_cgi(t):
    _preamble(t, "cgi")


@test
def preamble_id_of_a_file_that_does_not_exist_yet(t):
    path = t.path("later")
    f = Front(t, stream_conf(t, path))
    r = f.get()
    _raw_preamble(r, EMPTY, "no file yet")
    t.write(path, b"hello\n")
    want(r, msgs(b"hello\n"), what="the first line of the new file")


@test
def resume_id_zero_is_the_current_file_never_a_predecessor(t):
    path = t.path("log")
    t.write(path + ".1", text(["old 1", "old 2"]))
    cur = text(["cur 1", "cur 2"])
    t.write(path, cur)
    f = Front(t, stream_conf(t, path))
    r = f.get(EMPTY)
    eq(preamble_id(r), EMPTY, "the preamble's id")
    want(r, msgs(cur), what="Last-Event-ID 0.811c9dc5")
    marker(t, r, path)


# ------------------------------------------------------- 10. tags ----
@test
def tags_hash_the_first_4096_bytes(t):
    rnd = random.Random(11)
    lines = []
    n = 0
    while n < TAG_SPAN - 150:
        x = "a%d " % len(lines) + "x" * rnd.randrange(10, 120)
        lines.append(x)
        n += len(x) + 1
    fill = TAG_SPAN - n - 1                        # a line that ends at 4096 exactly
    lines.append("f" * fill)
    for i in range(60):
        lines.append("b%d " % i + "y" * rnd.randrange(10, 120))
    data = text(lines)
    check(TAG_SPAN in ends(data), "test data: no line ends at 4096")
    path = t.write("log", data)
    f = Front(t, stream_conf(t, path))
    r = f.get(query="lines=100000")
    want(r, msgs(data), what="every line's id")
    tags = {}
    for off in ends(data):
        tags.setdefault(off >= TAG_SPAN, set()).add(tag(data, off))
    eq(len(tags[True]), 1, "distinct tags past 4096")
    check(len(tags[False]) == len([o for o in ends(data) if o < TAG_SPAN]),
          "tags below 4096 repeat")
    t.append(path, "live 1\nlive 2\n")
    data += b"live 1\nlive 2\n"
    want(r, msgs(data, len(data) - 14), what="appended lines past 4096")
    eq(r.events[-1]["own_id"], "%d.%s" % (len(data), tag(data, TAG_SPAN)), "the last id")
    # a resume far past 4096 is exact
    off = ends(data)[-10]
    r = f.get(id_of(data, off))
    want(r, msgs(data, off), what="resume past 4096")
    marker(t, r, path)


# ------------------------------------------------- 11. a wrong tag ----
@test
def resume_wrong_tag_at_a_line_end_is_reset_gap(t):
    data = text(["line %02d" % i for i in range(1, 21)])
    path = t.write("log", data)
    f = Front(t, stream_conf(t, path))
    off = ends(data)[9]
    wrong = "%d.%08x" % (off, int(tag(data, off), 16) ^ 1)
    r = f.get(wrong)
    eq(preamble_id(r), wrong, "the preamble's id on a resume that ends in a reset")
    want(r, [reset("gap")] + msgs(data), what="a wrong tag at a line end")
    marker(t, r, path)


@test
def resume_malformed_ids_count_as_absent(t):
    data = text(["line %02d" % i for i in range(1, 21)])
    path = t.write("log", data)
    f = Front(t, stream_conf(t, path))
    off = ends(data)[9]
    good = tag(data, off)
    backlog = msgs(data, ends(data)[9])              # the last 10 lines
    for bad in ("%d.%s" % (off, good.upper()), "%d.%s" % (off, good[:7]),
                "%d.%s0" % (off, good), "%d." % off, ".%s" % good, "x%d.%s" % (off, good),
                "%d.%s " % (off, good), "-%d.%s" % (off, good)):
        r = f.get(bad)
        want(r, backlog, what="Last-Event-ID %r" % bad)


# ------------------------------------------------------ 12. a storm ----
STORM_SECONDS = 20.0        # the writer's run
STORM_RATE = 5000           # lines a second
STORM_PERIOD = 2.2          # seconds between rotations
STORM_CHAINS = 12           # clients, each a chain of short connections
STORM_RECONNECTS = 1000     # at least, in a plain build; an instrumented
                            # one (E2E_TIME_SCALE, test.sh's sanitizer run)
                            # is that many times slower: the count divided
TIME_SCALE = float(os.environ.get("E2E_TIME_SCALE", "1"))
AWAY_CHANCE = 0.01          # a connection after which its client is away
SEQ = re.compile(r"^seq (\d+)$")


class Writer(threading.Thread):
    """Appends "seq N" lines at a steady rate, rotating the file every
    period: rename (mv PATH PATH.1, a new PATH) and copytruncate in turn.
    It does the rotations itself, between its writes, so that no line is
    ever lost on disk: every line is in PATH or PATH.1 until the second
    rotation after it. What it wrote is known before it is written."""

    def __init__(self, path, rate, seconds, period):
        super().__init__(daemon=True)
        self.path, self.rate, self.seconds, self.period = path, rate, seconds, period
        self.next = 0                   # the next seq
        self.cum = [0]                  # cum[n]: bytes of seqs 0..n-1
        self.gen_seq = [0]              # the first seq of each generation
        self.prefix = [bytearray()]     # a generation's first TAG_SPAN bytes
        self.started = []               # monotonic time each rotation began
        self.done = []                  # ... and ended
        self.kinds = []
        self.stop = False
        self.error = None
        self.t0 = None

    def run(self):
        try:
            self._run()
        except BaseException as e:      # reported by the test
            self.error = e

    def _run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.t0 = time.monotonic()
        nrot = 0
        while not self.stop:
            now = time.monotonic() - self.t0
            if now >= self.seconds:
                break
            if now >= self.period * (nrot + 1):
                fd = self._rotate(fd, "rename" if nrot % 2 == 0 else "copytruncate")
                nrot += 1
            n = min(int(now * self.rate) - self.next, 1000)
            if n > 0:
                os.write(fd, self._lines(n))
            time.sleep(0.003)           # the writer's pace
        os.close(fd)

    def _lines(self, n):
        out = bytearray()
        pre = self.prefix[-1]
        for _ in range(n):
            b = b"seq %d\n" % self.next
            self.cum.append(self.cum[-1] + len(b))
            if len(pre) < TAG_SPAN:
                pre += b
            self.next += 1
            out += b
        return bytes(out)

    def _rotate(self, fd, kind):
        self.started.append(time.monotonic())
        self.kinds.append(kind)
        self.gen_seq.append(self.next)
        self.prefix.append(bytearray())
        old = self.path + ".1"
        if kind == "rename":
            os.rename(self.path, old)
            nfd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            fd = nfd
        else:
            if os.path.exists(old):
                os.unlink(old)
            shutil.copyfile(self.path, old)
            os.ftruncate(fd, 0)
        self.done.append(time.monotonic())
        return fd

    # what the test asks
    def gen_of(self, seq):
        return bisect.bisect_right(self.gen_seq, seq) - 1

    def id_of_seq(self, seq, cache):
        g = self.gen_of(seq)
        off = self.cum[seq + 1] - self.cum[self.gen_seq[g]]
        key = (g, min(off, TAG_SPAN))
        if key not in cache:
            cache[key] = "%08x" % fnv(bytes(self.prefix[g][:key[1]]))
        return "%d.%s" % (off, cache[key])

    def rotations_started(self, when):
        return bisect.bisect_right(self.started, when)

    def rotations_done(self, when):
        return bisect.bisect_right(self.done, when)


class Chain:
    """A browser's EventSource: connection after connection, each resuming
    with the last id it took."""

    def __init__(self, k):
        self.k = k
        self.last_id = None             # None: the first connection
        self.last_seq = None            # the last line taken
        self.reset_since = False        # a reset taken since that line
        self.r = None
        self.connects = 0


class Storm:
    """Chains of connections to sse-tail (any of srvs) while w writes and
    rotates: each connection takes a random number of events (none, a few,
    many, or up to the line written when it began), then the chain comes
    back with the id it took last. Counts what every chain saw: duplicates,
    silent gaps, resets and whether the position was gone, wrong ids."""

    def __init__(self, t, srvs, w, rnd):
        self.t, self.srvs, self.w, self.rnd = t, srvs, w, rnd
        self.sel = selectors.DefaultSelector()
        self.tags = {}
        self.n = dict(reconnects=0, events=0, lines=0, rotated=0, resets=0, dups=0,
                      silent=0, bad_ids=0, bad_preamble=0, bad_events=0,
                      resets_found=0, resets_gone=0, resets_unsure=0, resets_after_0=0,
                      announced_skips=0, skipped_lines=0, skipped_in_path1=0,
                      resumed=0, catch_up=0, live_resets=0, bad_after_reset=0, away=0)
        self.bad = []                   # examples of failures
        self.timers = []                # (when, chain): reconnect then

    def fail(self, what, chain, detail):
        self.n[what] += 1
        if len(self.bad) < 12:
            self.bad.append("%s (chain %d, connection %d): %s"
                            % (what, chain.k, chain.connects, detail))

    def connect(self, c):
        c.connects += 1
        if c.last_id is not None:
            self.n["reconnects"] += 1
        x = self.rnd.random()
        if x < 0.1:
            c.budget = ("n", 0)
        elif x < 0.5:
            c.budget = ("n", self.rnd.randrange(1, 20))
        elif x < 0.7:
            c.budget = ("n", self.rnd.randrange(20, 2000))
        else:
            c.budget = ("catch", self.w.next - 1)
            self.n["catch_up"] += 1
        c.t_sent = time.monotonic()
        c.deadline = c.t_sent + 3.0
        c.sent_id = c.last_id
        c.taken = 0
        c.conn_lines = 0
        c.preamble = None
        c.from_0 = c.last_id == EMPTY
        params = cgi_params(stream="log", last_event_id=c.last_id)
        srv = self.rnd.choice(self.srvs)    # any of the processes, as a spawner's
        c.r = fcgi.request(srv.addr, params, timeout=5.0, what="chain %d" % c.k)
        self.sel.register(c.r.fileno(), selectors.EVENT_READ, c)

    def hang_up(self, c):
        """Closes c's connection and sets when it comes back: at once, as a
        lost connection's browser does, or (a few of them) after a while
        away, across one rotation or two."""
        self.sel.unregister(c.r.fileno())
        c.r.close()
        c.r = None
        away = self.rnd.random() * 0.02
        if self.rnd.random() < AWAY_CHANCE:
            away = self.rnd.uniform(0.5, 2.5) * STORM_PERIOD
            self.n["away"] += 1
        self.timers.append((time.monotonic() + away, c))

    def take(self, c, e):
        """The chain takes event e (as a browser dispatches it)."""
        self.n["events"] += 1
        c.taken += 1
        c.last_id = e["id"]
        typ = e["type"]
        if typ == "message":
            m = SEQ.match(e["data"])
            if not m:
                self.fail("bad_events", c, "data %r" % e["data"])
                return
            seq = int(m.group(1))
            self.n["lines"] += 1
            if e["own_id"] != self.w.id_of_seq(seq, self.tags):
                self.fail("bad_ids", c, "seq %d has id %r, want %r"
                          % (seq, e["own_id"], self.w.id_of_seq(seq, self.tags)))
            last = c.last_seq
            if last is not None:
                if seq <= last:
                    self.fail("dups", c, "seq %d after seq %d" % (seq, last))
                elif seq > last + 1:
                    if c.reset_since:
                        self.n["announced_skips"] += 1
                        self.n["skipped_lines"] += seq - last - 1
                        g = self.w.gen_of(seq)
                        if g >= 1:
                            self.n["skipped_in_path1"] += max(
                                0, seq - max(last + 1, self.w.gen_seq[g - 1]))
                    else:
                        self.fail("silent", c, "seq %d after seq %d, no reset between"
                                  % (seq, last))
            if c.reset_since and seq != self.w.gen_seq[self.w.gen_of(seq)]:
                self.fail("bad_after_reset", c, "seq %d after a reset: not the first line "
                          "of its file" % seq)
            c.last_seq = seq
            c.reset_since = False
            c.conn_lines += 1
        elif typ == "rotated":
            self.n["rotated"] += 1
            if ev(e) != ROTATED:
                self.fail("bad_events", c, repr(ev(e)))
        elif typ == "reset":
            self.n["resets"] += 1
            if c.taken > 1:
                self.n["live_resets"] += 1
            if e["own_id"] != EMPTY or e["data"] not in ("gap", "truncated"):
                self.fail("bad_events", c, repr(ev(e)))
            self.judge_reset(c, e)
            c.reset_since = True
        else:
            self.fail("bad_events", c, repr(ev(e)))

    def judge_reset(self, c, e):
        """A reset is right when the chain's position was gone from disk
        (its generation older than PATH.1's) all the time sse-tail may have
        looked, wrong when it was there all that time."""
        if c.from_0 and c.conn_lines == 0:
            if c.taken == 1:
                self.fail("resets_after_0", c, "a reset for %s" % EMPTY)
            else:   # a truncation before the first line: where was it?
                self.n["resets_unsure"] += 1
            return
        if c.last_seq is None:      # at the first connection's preamble id
            self.n["resets_unsure"] += 1
            return
        j = self.w.gen_of(c.last_seq)
        now = time.monotonic()
        if j >= self.w.rotations_started(now) - 1:
            self.fail("resets_found", c, "reset %r with seq %d (generation %d) on disk "
                      "between %.3f and %.3f s (rotations %d begun)"
                      % (e["data"], c.last_seq, j, c.t_sent - self.w.t0, now - self.w.t0,
                         self.w.rotations_started(now)))
        elif j < self.w.rotations_done(c.t_sent) - 1:
            self.n["resets_gone"] += 1
        else:
            self.n["resets_unsure"] += 1

    def step(self, c):
        """Takes c's new events up to its budget; True when it is done."""
        r = c.r
        if c.preamble is None:
            if r.head_done and r.status != 200:
                self.fail("bad_events", c, "status %r" % r.status)
                return True
            m = PREAMBLE.match(bytes(r.body[:200]))
            if not m:
                if bytes(r.body[:200]).count(b"\n\n") >= 2:
                    self.fail("bad_preamble", c, "body starts %r" % bytes(r.body[:80]))
                    return True
                return r.eof
            c.preamble = m.group(1).decode()
            c.last_id = c.preamble
            if c.sent_id is not None:
                self.n["resumed"] += 1
                if c.preamble != c.sent_id:
                    self.fail("bad_preamble", c, "preamble %r for Last-Event-ID %r"
                              % (c.preamble, c.sent_id))
        kind = c.budget[0]
        while True:
            if kind == "n" and c.taken >= c.budget[1]:
                return True
            if c.taken >= len(r.events):
                return r.eof
            e = r.events[c.taken]
            self.take(c, e)
            if kind == "catch" and e["type"] == "message" and c.last_seq is not None \
                    and c.last_seq >= c.budget[1]:
                return True

    def run(self, chains, until, reconnects):
        for c in chains:
            self.connect(c)
        while True:
            now = time.monotonic()
            if now > until:
                break
            if self.w.error is not None:
                raise TestFailure("the writer failed: %r" % self.w.error)
            if not self.w.is_alive() and self.n["reconnects"] >= reconnects:
                break
            due = [x for x in self.timers if x[0] <= now]
            self.timers = [x for x in self.timers if x[0] > now]
            for _, c in due:
                self.connect(c)
            for key, _ in self.sel.select(0.02):
                c = key.data
                c.r._read_avail()
                if self.step(c):
                    self.hang_up(c)
            now = time.monotonic()
            for c in chains:
                if c.r is not None and now > c.deadline:
                    self.step(c)
                    self.hang_up(c)
        for c in chains:
            if c.r is not None:
                self.sel.unregister(c.r.fileno())
                c.r.close()
        self.sel.close()


def _storm(t, env=None, seconds=STORM_SECONDS, procs=1, reconnects=STORM_RECONNECTS):
    path = t.path("log")
    t.write(path, b"")
    conf = stream_conf(t, path, glob="heartbeat = 60\nmax-clients = 2000")
    srvs = [t.start(conf, env=env) for _ in range(procs)]
    w = Writer(path, STORM_RATE, seconds, STORM_PERIOD)
    rnd = random.Random(int(os.environ.get("E2E_SEED", "1111")))
    storm = Storm(t, srvs, w, rnd)
    chains = [Chain(k) for k in range(STORM_CHAINS)]
    t0 = time.monotonic()
    w.start()
    try:
        storm.run(chains, t0 + seconds + 25, reconnects)
    finally:
        w.stop = True
        w.join(5)
    n = storm.n
    dt = time.monotonic() - t0
    t.note("storm: %.1f s, %d sse-tail process%s, %d lines written (%d/s), %d rotations (%s)"
           % (dt, procs, "es" if procs > 1 else "", w.next, STORM_RATE, len(w.kinds),
              " ".join(w.kinds)))
    t.note("storm: %d chains, %d reconnects (%d resumed with an id, %d catching up, "
           "%d after a while away), %d events taken: %d lines, %d rotated"
           % (STORM_CHAINS, n["reconnects"], n["resumed"], n["catch_up"], n["away"],
              n["events"], n["lines"], n["rotated"]))
    t.note("storm: %d resets (%d while connected): %d with the position gone, %d unsure "
           "(a rotation under way), %d with it on disk; %d announced skips of %d lines, "
           "%d of them still in PATH.1 (step 3 sends the current file)"
           % (n["resets"], n["live_resets"], n["resets_gone"], n["resets_unsure"],
              n["resets_found"], n["announced_skips"], n["skipped_lines"],
              n["skipped_in_path1"]))
    t.note("storm: %d duplicates, %d silent gaps, %d wrong ids, %d wrong preamble ids, "
           "%d resets for %s, %d resets not followed by a file's first line, %d odd events"
           % (n["dups"], n["silent"], n["bad_ids"], n["bad_preamble"], n["resets_after_0"],
              EMPTY, n["bad_after_reset"], n["bad_events"]))
    check(all(x.alive() for x in srvs), "sse-tail died")
    check(w.error is None, "the writer failed: %r" % w.error)
    bad = {k: n[k] for k in ("dups", "silent", "bad_ids", "bad_preamble", "resets_found",
                             "resets_after_0", "bad_after_reset", "bad_events") if n[k]}
    check(not bad, "storm: %r; first: %s" % (bad, " | ".join(storm.bad)))
    check(n["reconnects"] >= reconnects / TIME_SCALE,
          "only %d reconnects (want %d)" % (n["reconnects"], reconnects / TIME_SCALE))
    check(w.kinds.count("rename") >= 2 and w.kinds.count("copytruncate") >= 2,
          "rotations: %r" % w.kinds)
    check(n["rotated"] > 0, "no chain was sent event: rotated")


@test(timeout=120)
def storm_reconnects_through_rotations_and_truncations(t):
    _storm(t)


@test(timeout=120)
def storm_reconnects_through_rotations_and_truncations_poll(t):
    _storm(t, POLL, seconds=12, reconnects=500)


@test(timeout=120)
def storm_reconnects_to_any_of_two_processes(t):
    _storm(t, seconds=12, procs=2, reconnects=500)
