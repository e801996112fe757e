"""End-to-end tests of named pipes: fan-out, writers closing and reopening,
the buffer for backlog and Last-Event-ID (ids OFFSET.TAG, TAG the reader's),
slow clients, one reader a pipe.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import time

from harness import TestFailure, check, eq, pump_many, test, wait_until
from helpers import (L, R, TAG_EMPTY, close_writer, expect, expect_error, expect_stream_ok,
                     lines_data, n_lines, open_writer, opened, own_offset, own_tag,
                     pipe_stream, reader_tag, tup, write_all)


def pid(offset, tag):
    """A named pipe's id."""
    return "%d.%s" % (offset, tag)


@test
def pipe_fan_out_to_three_clients(t):
    (srv,), fifo = pipe_stream(t)
    rs = [opened(srv.get("p")) for _ in range(3)]
    for r in rs:
        expect_stream_ok(r)
    w = open_writer(t, fifo)
    data, ids = lines_data(["line-%03d" % i for i in range(200)])
    for i in range(0, len(data), 333):
        write_all(w, data[i:i + 333])
    tag = reader_tag(rs[0])
    for k, r in enumerate(rs):
        expect(r, [L(x, o, tag=tag) for x, o in ids], what="client %d" % k)


@test
def pipe_writer_closes_and_reopens_ids_continue(t):
    (srv,), fifo = pipe_stream(t)
    r = opened(srv.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "a\n")
    tag = reader_tag(r)
    expect(r, [L("a", 2, tag=tag)])
    close_writer(t, w)
    w = open_writer(t, fifo)
    write_all(w, "bb\n")
    expect(r, [L("bb", 5, tag=tag)], what="the reader's tag and offsets after a new writer")
    close_writer(t, w)
    r2 = opened(srv.get("p", query="lines=0"))
    w = open_writer(t, fifo)
    write_all(w, "ccc\n")
    expect(r, [L("ccc", 9, tag=tag)])
    expect(r2, [L("ccc", 9, tag=tag)])


@test
def pipe_partial_line_sent_when_writer_closes(t):
    (srv,), fifo = pipe_stream(t)
    r = opened(srv.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "abc\npartial")
    tag = reader_tag(r)
    expect(r, [L("abc", 4, tag=tag)])
    close_writer(t, w)
    expect(r, [L("partial", 11, tag=tag)], 3, "unterminated line on writer close")
    w = open_writer(t, fifo)
    write_all(w, "next\n")
    expect(r, [L("next", 16, tag=tag)])


@test
def pipe_backlog_and_last_event_id_from_buffer(t):
    (srv,), fifo = pipe_stream(t)
    a = opened(srv.get("p"))
    w = open_writer(t, fifo)
    data, ids = n_lines(20)
    write_all(w, data)
    tag = reader_tag(a)
    lines = [L(x, o, tag=tag) for x, o in ids]
    expect(a, lines)
    b = srv.get("p", last_event_id=pid(0, tag))
    expect(b, lines, what="Last-Event-ID 0.TAG (whole buffer, no reset)")
    c = srv.get("p", query="lines=3")
    expect(c, lines[-3:], what="lines=3")
    d = srv.get("p")
    expect(d, lines[-10:], what="default backlog")
    e = srv.get("p", last_event_id=pid(ids[14][1], tag))
    expect(e, lines[15:], what="resume from the buffer")
    gap = [R("gap", pid(0, tag))] + lines
    f = srv.get("p", last_event_id=pid(len(data) + 1000, tag))
    expect(f, gap, what="id beyond the pipe's end")
    g = srv.get("p", last_event_id=pid(ids[3][1] + 2, tag))
    expect(g, gap, what="id not after a newline")
    other = "%08x" % (int(tag, 16) ^ 1)
    rs = [a, b, c, d, e, f, g]
    for v in (pid(ids[14][1], other), pid(ids[14][1], TAG_EMPTY), str(ids[14][1]), "0"):
        rs.append(srv.get("p", last_event_id=v))
        expect(rs[-1], gap, what="Last-Event-ID %s: another reader's, or bare" % v)
    write_all(w, "z\n")
    for r in rs:
        expect(r, [L("z", len(data) + 2, tag=tag)])


@test(timeout=60)
def pipe_slow_client_gets_gap_others_not_slowed(t):
    # max-line small, so that the buffer is not raised to hold two longest lines
    (srv,), fifo = pipe_stream(t, sect="buffer = 65536\nmax-line = 1000")
    a = opened(srv.get("p"))
    b = opened(srv.get("p"))
    s = opened(srv.get("p"))
    w = open_writer(t, fifo)
    N = 20000           # 2 MB of 100-byte lines
    PER = 40            # written 4000 bytes at a time

    def line(i):
        return ("L%07d " % i + "x" * 90 + "\n").encode()  # 100 bytes

    write_all(w, line(0))
    tag = reader_tag(a)
    for r in (a, b, s):
        expect(r, [L(line(0).decode()[:-1], 100, tag=tag)])
    # The writer goes at the pace of the fast clients (each chunk is read by
    # a and b before the next is written); s reads nothing meanwhile.
    t0 = time.monotonic()
    for k in range(1, N, PER):
        write_all(w, b"".join(line(i) for i in range(k, min(N, k + PER))))
        last = pid(min(N, k + PER) * 100, tag)
        try:
            pump_many([a, b], lambda: all(r.events and r.events[-1]["own_id"] == last
                                          for r in (a, b)), 5, "")
        except TestFailure:
            raise TestFailure("fast clients stalled at line %d while one client does not "
                              "read: a has %d events, b has %d" % (k, len(a.events), len(b.events)))
    dt = time.monotonic() - t0
    t.note("fast clients got %d lines in %.2fs" % (N, dt))
    for name, r in (("a", a), ("b", b)):
        check(not [e for e in r.events if e["type"] == "reset"],
              "fast client %s got a reset although it kept up" % name)
        seqs = [int(e["data"][1:8]) for e in r.events]
        eq(seqs, list(range(N)), "lines of fast client %s" % name)
        eq(r.events[-1]["own_id"], pid(N * 100, tag), "last id of client %s" % name)
        eq({own_tag(e) for e in r.events}, {tag}, "tags of client %s" % name)
    # now the slow one reads
    s.wait_until(lambda r: r.events and own_offset(r.events[-1]) == N * 100, 20,
                 "the slow client to catch up to the last line")
    evs = s.events
    resets = [i for i, e in enumerate(evs) if e["type"] == "reset"]
    check(len(resets) == 1, "slow client: %d reset events, want 1" % len(resets))
    i = resets[0]
    after0 = int(evs[i + 1]["data"][1:8])
    eq(tup(evs[i]), R("gap", pid(after0 * 100, tag)),
       "the reset event (its id: the start of the line it goes on from)")
    before = [int(e["data"][1:8]) for e in evs[:i]]
    after = [int(e["data"][1:8]) for e in evs[i + 1:]]
    eq(before, list(range(len(before))), "slow client's lines before the gap")
    check(after and after == list(range(after[0], N)),
          "slow client's lines after the gap are not contiguous to the end")
    check(after[0] > before[-1] + 1, "a gap was reported but nothing was skipped")
    for e in evs[:i] + evs[i + 1:]:
        eq(e["own_id"], pid((int(e["data"][1:8]) + 1) * 100, tag), "id of a line")
    t.note("slow client: %d lines, gap, then lines %d..%d" % (len(before), after[0], N - 1))


@test
def two_processes_on_one_pipe_second_is_503(t):
    (s1, s2), fifo = pipe_stream(t, n=2)
    a = opened(s1.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "x\n")
    expect(a, [L("x", 2)])
    b = s2.request("p")
    expect_error(t, b, 503, paths=(fifo,))
    check(b.header("Retry-After") is not None, "no Retry-After on the 503")
    err = wait_until(lambda: s2.stderr_text(), 2, "the second process to log why")
    check(err.strip() != "", "no log line")
    data, ids = n_lines(30)
    write_all(w, data)
    tag = reader_tag(a)
    expect(a, [L(x, o + 2, tag=tag) for x, o in ids], what="first process still gets every line")


@test
def pipe_lock_released_when_holder_exits(t):
    (s1, s2), fifo = pipe_stream(t, n=2)
    a = opened(s1.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "x\n")
    expect(a, [L("x", 2)])
    expect_error(t, s2.request("p"), 503)
    eq(s1.stop(), 0, "first process exit status")
    c = opened(s2.get("p"))
    expect_stream_ok(c)
    old = own_tag(a.events[0])
    write_all(w, "y\n")
    e = c.wait_event(5)
    eq(e["data"], "y", "line read by the second process")
    check(own_tag(e) not in (None, old), "the second process's reader has the tag %r of the "
          "first's (%r)" % (own_tag(e), old))


@test
def pipe_reader_kept_after_last_client_leaves(t):
    (srv,), fifo = pipe_stream(t)
    a = opened(srv.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "a\n")
    tag = reader_tag(a)
    got = expect(a, [L("a", 2, tag=tag)])
    a.close()
    write_all(w, "b\n")     # EPIPE here would mean the pipe was closed
    b = srv.get("p", last_event_id=got[0][1])
    expect(b, [L("b", 4, tag=tag)], what="line written while no client was connected")
    write_all(w, "c\n")
    expect(b, [L("c", 6, tag=tag)])


@test
def pipe_buffer_wrapped_id_0_and_old_id(t):
    # max-line small, so that the buffer is not raised to hold two longest lines
    (srv,), fifo = pipe_stream(t, sect="buffer = 4096\nmax-line = 100")
    a = opened(srv.get("p"))
    w = open_writer(t, fifo)
    data, ids = lines_data(["%04d" % i + "-" * 94 for i in range(200)])   # 99 bytes each
    write_all(w, data[:990])
    tag = reader_tag(a)
    lines = [L(x, o, tag=tag) for x, o in ids]
    expect(a, lines[:10])
    for k in range(10, 200, 10):      # at the pace of client a
        write_all(w, data[k * 99:(k + 10) * 99])
        expect(a, lines[k:k + 10])

    def from_buffer(last_event_id, what):
        """The reset and the lines a resume at an id that fell out of the
        buffer gets: the reset's id is the first line's start."""
        r = srv.get("p", last_event_id=last_event_id)
        r.wait_until(lambda x: x.events and own_offset(x.events[-1]) == len(data), 5,
                     "the last line")
        got = [tup(e) for e in r.events]
        k = len(got) - 1
        check(1 <= k <= 41, "%s: %d lines from a 4096-byte buffer" % (what, k))
        eq(got, [R("gap", pid(ids[-k - 1][1], tag))] + lines[-k:], what)
        r.next_event = len(got)
        return r, got[0][1]

    b, _ = from_buffer(pid(0, tag), "Last-Event-ID 0.TAG once 0 fell out of the buffer")
    c, reset_id = from_buffer(pid(ids[5][1], tag), "an id that fell out of the buffer")
    d = srv.get("p", last_event_id=reset_id)
    d.wait_until(lambda x: x.events and own_offset(x.events[-1]) == len(data), 5,
                 "the last line")
    eq([tup(e) for e in d.events], lines[-(len(c.events) - 1):],
       "a reconnect with the reset's id: the same lines, no reset")
