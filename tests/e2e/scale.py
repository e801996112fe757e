"""End-to-end tests of scale and hostile input: a thousand streams at once,
100 MB lines in a file and in a pipe, binary garbage.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import random
import re
import time

from harness import TestFailure, check, eq, pump_many, test
from helpers import (MiB, L, file_id, file_stream, open_writer, opened, own_offset, own_tag,
                     pipe_stream, tup, write_all)


@test(timeout=90)
def thousand_concurrent_streams_get_an_appended_line(t):
    srv, path = file_stream(t, b"start\n", glob="max-clients = 2000\nheartbeat = 60")
    rs = []
    for i in range(1000):
        rs.append(srv.request("log", query="lines=0", what="client %d" % i))
        if i % 100 == 99:
            pump_many(rs, lambda: True, 0, "")
    pump_many(rs, lambda: all(r.retry is not None and r.comments for r in rs), 30,
              "1000 streams to open (got %d)")
    bad = [r for r in rs if r.status != 200]
    check(not bad, "%d of 1000 did not get 200: %s" % (len(bad), bad[:1]))
    t.note("RSS with 1000 streams: %d KiB" % srv.rss_kb())
    t0 = time.monotonic()
    t.append(path, "hello\n")
    try:
        pump_many(rs, lambda: all(len(r.events) >= 1 for r in rs), 15,
                  "all 1000 clients to get the line")
    except TestFailure:
        n = sum(1 for r in rs if r.events)
        raise TestFailure("only %d of 1000 clients got the appended line" % n)
    t.note("all 1000 got it in %.3fs" % (time.monotonic() - t0))
    want = L("hello", 12, path)
    for r in rs:
        eq(tup(r.events[0]), want, "event")
    check(srv.alive(), "sse-tail died")


@test(timeout=120)
def hostile_100mb_line_in_file_bounded_memory_and_cut(t):
    srv, path = file_stream(t, b"")
    r = opened(srv.get("log"))
    peak = srv.rss_kb()
    chunk = b"x" * MiB
    with open(path, "ab") as f:
        for i in range(100):
            f.write(chunk)
            f.flush()
            if i % 5 == 0:
                peak = max(peak, srv.rss_kb())
        f.write(b"\n")
    deadline = time.monotonic() + 60
    while not r.events:
        check(time.monotonic() < deadline, "no event 60s after the newline")
        r.pump(0.05)
        peak = max(peak, srv.rss_kb())
    t.note("peak RSS %d KiB" % peak)
    e = r.events[0]
    eq(e["own_id"], file_id(path, 100 * MiB + 1), "id")
    want = "x" * 65536 + " [… %d bytes cut]" % (100 * MiB - 65536)
    check(e["data"] == want, "data: %d chars, ends %r; want ends %r"
          % (len(e["data"]), e["data"][-40:], want[-40:]))
    check(peak < 64 * 1024, "RSS reached %d KiB (limit 64 MiB)" % peak)
    t.append(path, "after\n")
    r.next_event = 1
    e2 = r.wait_event(5)
    eq(tup(e2), L("after", 100 * MiB + 7, path), "next line")


@test(timeout=120)
def hostile_100mb_line_in_pipe_bounded_memory_and_cut(t):
    (srv,), fifo = pipe_stream(t, glob="max-line = 1000")
    r = opened(srv.get("p"))
    w = open_writer(t, fifo)
    peak = srv.rss_kb()
    chunk = b"y" * MiB
    for i in range(100):
        write_all(w, chunk)
        if i % 5 == 0:
            peak = max(peak, srv.rss_kb())
    write_all(w, b"\nz\n")
    deadline = time.monotonic() + 60
    while len(r.events) < 2:
        check(time.monotonic() < deadline, "no events 60s after the newline")
        r.pump(0.05)
        peak = max(peak, srv.rss_kb())
    t.note("peak RSS %d KiB" % peak)
    e = r.events[0]
    eq(own_offset(e), 100 * MiB + 1, "id's offset")
    eq(e["data"], "y" * 1000 + " [… %d bytes cut]" % (100 * MiB - 1000), "data")
    eq(tup(r.events[1]), L("z", 100 * MiB + 3, tag=own_tag(e)), "next line")
    check(peak < 64 * 1024, "RSS reached %d KiB (limit 64 MiB)" % peak)


def _collapse(s):
    return re.sub("\ufffd+", "\ufffd", s)


@test(timeout=60)
def binary_garbage_gives_valid_utf8_without_nul_or_cr(t):
    rnd = random.Random(20240601)
    data = rnd.randbytes(400000)
    data += b"\n"
    srv, path = file_stream(t, data)
    nl = data.count(b"\n")
    r = srv.get("log", query="lines=100000")
    r.wait_until(lambda x: len(x.events) >= nl, 30, "%d events" % nl)
    body = bytes(r.body)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TestFailure("body is not valid UTF-8: %s" % e)
    check(b"\0" not in body, "NUL in body")
    eq(len(r.events), nl, "number of events")
    pos = 0
    for k, e in enumerate(r.events):
        end = data.index(b"\n", pos) + 1
        eq(e["own_id"], file_id(data, end), "id of event %d" % k)
        raw_line = data[pos:end - 1]
        if raw_line.endswith(b"\r"):
            raw_line = raw_line[:-1]
        parts = raw_line.split(b"\r")
        eq(sum(1 for f in e["fields"] if f[0] == "data"), len(parts),
           "data fields of event %d (lone CRs + 1)" % k)
        for f in e["raw"]:
            check(b"\0" not in f, "NUL in event %d" % k)
        want = "\n".join(p.decode("utf-8", "replace").replace("\0", "\ufffd") for p in parts)
        if _collapse(e["data"]) != _collapse(want):
            raise TestFailure("event %d: data %r, want (up to the count of U+FFFD) %r"
                              % (k, e["data"][:200], want[:200]))
        pos = end
    check(srv.alive(), "sse-tail died")
