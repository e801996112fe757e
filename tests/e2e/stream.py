"""End-to-end tests of the event stream itself: its headers and opening, ids
(OFFSET.TAG: the byte offset and the tag of the file's first bytes), backlog
and lines=, Last-Event-ID resumption in one file, line ends,
invalid UTF-8, long and partial lines, heartbeats, idle cost.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import os
import time

from harness import check, eq, test
from helpers import (L, R, TAG_EMPTY, expect, expect_marker, expect_stream_ok, file_id,
                     file_stream, id_tag, lines_data, n_lines, opened, preamble_id,
                     tup)


@test
def stream_headers_exactly(t):
    srv, path = file_stream(t, b"a\n")
    r = srv.get("log")
    check(r.status_line in ("200", "200 OK"), "Status header %r" % r.status_line)
    eq(r.header("Content-Type"), "text/event-stream", "Content-Type")
    eq(r.header("Cache-Control"), "no-cache, no-transform", "Cache-Control")
    eq(r.header("X-Accel-Buffering"), "no", "X-Accel-Buffering")
    for h in ("Content-Type", "Cache-Control", "X-Accel-Buffering", "Status"):
        eq(len(r.header_all(h)), 1, "number of %s headers" % h)


@test
def first_bytes_arrive_at_once_on_empty_file(t):
    srv, path = file_stream(t, b"")
    t0 = time.monotonic()
    r = srv.request("log")
    opened(r, 2.0)
    dt = time.monotonic() - t0
    t.note("retry + comment after %.3fs" % dt)
    check(dt < 0.5, "retry and comment took %.2fs" % dt)
    check(bytes(r.body).startswith(b"retry: 3000\n"), "body starts %r" % bytes(r.body)[:40])
    second = bytes(r.body).split(b"\n")[1]
    check(second.startswith(b":"), "second body line is not a comment: %r" % second)
    eq(preamble_id(r), "0." + TAG_EMPTY, "the preamble's id on an empty file")
    eq(bytes(r.body), b"retry: 3000\n: sse-tail\n\nid: 0.811c9dc5\n\n", "the whole preamble")
    eq(r.events, [], "events on an empty file")


@test
def retry_value_comes_from_config(t):
    p = t.write("a.log", b"")
    conf = t.config("retry = 1234\n[stream a]\npath = %s\n[stream b]\npath = %s\nretry = 0\n"
                    % (p, p))
    srv = t.start(conf)
    eq(opened(srv.get("a")).retry, 1234, "retry of stream a")
    eq(opened(srv.get("b")).retry, 0, "retry of stream b")


@test
def appended_line_arrives_within_1s(t):
    srv, path = file_stream(t, b"")
    r = opened(srv.get("log"))
    worst = 0.0
    off = 0
    for i in range(5):
        line = "line %d" % i
        t0 = time.monotonic()
        t.append(path, line + "\n")
        off += len(line) + 1
        expect(r, [L(line, off, path)], 2.0)
        worst = max(worst, time.monotonic() - t0)
    t.note("worst latency %.3fs" % worst)
    check(worst < 1.0, "an appended line took %.2fs" % worst)


@test
def ids_are_byte_offsets_past_the_newline(t):
    data = "a\nbb\n\nccc\n€uro\n".encode()
    srv, path = file_stream(t, data)
    r = srv.get("log")
    expect(r, [L("a", 2), L("bb", 5), L("", 6), L("ccc", 10), L("€uro", 10 + 7)], src=data)
    t.append(path, "dddd\n")
    expect(r, [L("dddd", 22)], src=path)
    eq(os.path.getsize(path), 22, "file size")


@test
def tags_hash_at_most_the_first_4096_bytes(t):
    data, ids = n_lines(60, "%03d" + "t" * 96)      # 100 bytes a line
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lines=60")
    got = expect(r, [L(x, o) for x, o in ids], src=data)
    tags = [g[1].split(".")[1] for g in got]
    eq(len(set(tags[:40])), 40, "distinct tags up to offset 4000")
    eq(set(tags[40:]), {id_tag(data, 4096)}, "tags past offset 4096")
    t.append(path, "past\n")
    expect(r, [L("past", len(data) + 5, tag=id_tag(data, 4096))], what="a line appended")


@test
def line_event_fields_exactly(t):
    data, _ = lines_data(["a"])
    p = t.write("a.log", data)
    conf = t.config("[stream plain]\npath = %s\n[stream named]\npath = %s\nevent = log\n" % (p, p))
    srv = t.start(conf)
    r = srv.get("plain")
    i = file_id(data, 2)
    e = r.wait_event()
    eq(e["fields"], [("id", i), ("data", "a")], "fields of a line event")
    check(("\nid: %s\ndata: a\n\n" % i).encode() in bytes(r.body), "raw body %r" % bytes(r.body))
    r = srv.get("named")
    e = r.wait_event()
    eq(e["fields"], [("event", "log"), ("id", i), ("data", "a")], "fields with event = log")
    check(("\nevent: log\nid: %s\ndata: a\n\n" % i).encode() in bytes(r.body),
          "raw body %r" % bytes(r.body))


@test
def backlog_default_is_last_10_lines(t):
    data, ids = n_lines(25)
    srv, path = file_stream(t, data)
    r = srv.get("log")
    eq(preamble_id(r), file_id(data, ids[-11][1]), "the preamble's id: where the backlog starts")
    expect(r, [L(x, o) for x, o in ids[-10:]], src=data)
    expect_marker(t, r, path)


@test
def backlog_read_from_end_of_big_file(t):
    data, ids = n_lines(400000, "%08d" + "x" * 40)   # ~20 MB
    srv, path = file_stream(t, data)
    t0 = time.monotonic()
    r = srv.get("log", query="lines=3")
    expect(r, [L(x, o) for x, o in ids[-3:]], src=data)
    dt = time.monotonic() - t0
    check(dt < 1.0, "backlog of 3 lines from a 20 MB file took %.2fs" % dt)


@test
def lines_param_overrides_backlog(t):
    data, ids = n_lines(25)
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lines=3")
    expect(r, [L(x, o) for x, o in ids[-3:]], src=data)
    expect_marker(t, r, path, "M1")
    r2 = srv.get("log", query="lines=0")
    eq(preamble_id(r2), file_id(path, os.path.getsize(path)), "the preamble's id with lines=0")
    expect_marker(t, r2, path, "M2")
    r3 = srv.get("log", query="lines=100")
    eq(preamble_id(r3), "0." + TAG_EMPTY, "the preamble's id with the whole file as backlog")
    _, ids2 = lines_data(["line %03d" % i for i in range(1, 26)] + ["M1", "M2"])
    expect(r3, [L(x, o) for x, o in ids2], src=path)


@test
def per_stream_backlog_overrides_global(t):
    data, ids = n_lines(25)
    srv, path = file_stream(t, data, glob="backlog = 7", sect="backlog = 2")
    r = srv.get("log")
    expect(r, [L(x, o) for x, o in ids[-2:]], src=data)
    expect_marker(t, r, path)


@test
def last_event_id_header_resumes_exactly(t):
    data, ids = n_lines(50)
    srv, path = file_stream(t, data)
    own = file_id(data, ids[4][1])
    r = srv.get("log", last_event_id=own)
    eq(preamble_id(r), own, "the preamble's id on a resume")
    expect(r, [L(x, o) for x, o in ids[5:]], what="resume after line 5 (more than backlog)",
           src=data)
    expect_marker(t, r, path)
    r = srv.get("log", last_event_id=own, query="lines=0")
    expect(r, [L(x, o) for x, o in ids[5:8]], what="Last-Event-ID with lines=0", src=data)


@test
def bare_decimal_last_event_id_resumes_in_the_current_file(t):
    # what a client of an earlier version sends: the offset without a tag
    data, ids = n_lines(50)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=ids[4][1])
    eq(preamble_id(r), file_id(data, ids[4][1]), "the preamble's id (with its tag)")
    expect(r, [L(x, o) for x, o in ids[5:]], what="resume after line 5, bare id", src=data)
    expect_marker(t, r, path)
    r = srv.get("log", last_event_id=ids[4][1] + 1)
    expect(r, [R("gap")] + [L(x, o) for x, o in ids], what="bare id not after a newline",
           src=data)


@test
def last_event_id_at_end_sends_no_old_line(t):
    data, ids = n_lines(5)
    srv, path = file_stream(t, data)
    r = opened(srv.get("log", last_event_id=file_id(data, len(data))))
    expect_marker(t, r, path)


@test
def last_event_id_zero_sends_whole_file(t):
    data, ids = n_lines(30)
    srv, path = file_stream(t, data)
    rs = [srv.get("log", last_event_id=v) for v in ("0." + TAG_EMPTY, "0")]
    for r, v in zip(rs, ("0." + TAG_EMPTY, "0")):
        expect(r, [L(x, o) for x, o in ids], what="Last-Event-ID %s" % v, src=data)
    t.append(path, "MARKER\n")
    for r in rs:
        expect(r, [L("MARKER", len(data) + 7, path)], what="the marker after")


@test
def last_event_id_query_param_resumes(t):
    data, ids = n_lines(20)
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lastEventId=" + file_id(data, ids[14][1]))
    expect(r, [L(x, o) for x, o in ids[15:]], src=data)
    expect_marker(t, r, path)


@test
def last_event_id_header_wins_over_query(t):
    data, ids = n_lines(20)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=file_id(data, ids[16][1]),
                query="lastEventId=" + file_id(data, ids[2][1]))
    expect(r, [L(x, o) for x, o in ids[17:]], src=data)
    expect_marker(t, r, path)


@test
def non_decimal_last_event_id_is_treated_as_absent(t):
    data, ids = n_lines(15)
    srv, path = file_stream(t, data)
    good = file_id(data, ids[2][1])          # would resume after line 3
    off, tag = good.split(".")
    for v in ("abc", "-5", "12abc", "0x10", "", "1.0", " ", "0" + off, "+" + off,
              off + ".", "." + tag, off + "." + tag.upper(), off + "." + tag[:7],
              good + "0", good + " ", " " + good, off + ".." + tag, off + "." + tag + ".1",
              off + ":" + tag, "0" + good):
        r = srv.get("log", last_event_id=v)
        expect(r, [L(x, o) for x, o in ids[-10:]], what="Last-Event-ID %r" % v, src=data)
        r.close()
    r = srv.get("log", query="lastEventId=abc")
    expect(r, [L(x, o) for x, o in ids[-10:]], what="lastEventId=abc", src=data)


@test
def huge_last_event_id_does_not_crash(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    for v in ("99999999999999999999999999", "99999999999999999999999999." + TAG_EMPTY,
              "4611686018427387903." + TAG_EMPTY, "4611686018427387904." + TAG_EMPTY,
              "18446744073709551615." + TAG_EMPTY, "18446744073709551616." + TAG_EMPTY):
        r = srv.get("log", last_event_id=v)
        expect_stream_ok(r)
        first = r.wait_event()
        if tup(first) == R("gap"):
            expect(r, [L(x, o) for x, o in ids], what="after the gap (%s)" % v, src=data)
        else:
            eq(tup(first), L(*ids[0], data), "first event (backlog) for %s" % v)
        r.close()
    check(srv.alive(), "sse-tail died")


@test
def last_event_id_beyond_eof_gives_gap_then_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    longer = data + b"x\n" * 50               # the file was longer once
    own = file_id(longer, len(longer))
    r = srv.get("log", last_event_id=own)
    eq(preamble_id(r), own, "the preamble's id: the client's own")
    e = r.wait_event()
    eq(e["fields"], [("event", "reset"), ("id", "0." + TAG_EMPTY), ("data", "gap")],
       "reset event fields")
    expect(r, [L(x, o) for x, o in ids], src=data)
    r2 = srv.get("log", last_event_id=len(longer))
    expect(r2, [R("gap")] + [L(x, o) for x, o in ids], what="a bare id beyond the end", src=data)
    expect_marker(t, r, path)


@test
def last_event_id_not_after_newline_gives_gap_then_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    for n in (1, ids[0][1] + 3, len(data) - 1):
        r = srv.get("log", last_event_id=file_id(data, n))
        expect(r, [R("gap")] + [L(x, o) for x, o in ids], what="Last-Event-ID %d" % n,
               src=data)
        r.close()


@test
def last_event_id_with_another_tag_gives_gap_then_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    off = ids[1][1]
    other = data[:off - 2] + b"X\n"             # same length, another last byte
    for v in ("%d.%s" % (off, id_tag(other, off)), "%d.%s" % (off, TAG_EMPTY),
              "%d.00000000" % off, "%d.%s" % (ids[0][1], id_tag(data, off))):
        r = srv.get("log", last_event_id=v)
        expect(r, [R("gap")] + [L(x, o) for x, o in ids], what="Last-Event-ID %s" % v, src=data)
        r.close()
    r = srv.get("log", last_event_id=file_id(data, off))
    expect(r, [L(*ids[2], data)], what="the right tag")


@test
def reconnect_after_reset_with_id_0_gets_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=file_id(data, 7))
    got = expect(r, [R("gap")] + [L(x, o) for x, o in ids], src=data)
    r2 = srv.get("log", last_event_id=got[0][1])
    expect(r2, [L(x, o) for x, o in ids], src=data)
    expect_marker(t, r2, path)


@test
def crlf_counts_as_one_line_end(t):
    srv, path = file_stream(t, b"one\r\ntwo\r\n")
    r = srv.get("log")
    e = r.wait_event()
    eq(tup(e), L("one", 5), "first")
    eq(e["fields"], [("id", file_id(path, 5)), ("data", "one")],
       "fields (no CR, one data field)")
    expect(r, [L("two", 10)], src=path)
    t.append(path, "three\r")
    t.append(path, "\n")
    expect(r, [L("three", 17)], src=path)


@test
def crlf_split_across_writes_is_one_line_end(t):
    srv, path = file_stream(t, b"", glob="heartbeat = 1")
    r = opened(srv.get("log"))
    t.append(path, "abc\r")
    n = len(r.comments)
    r.wait_until(lambda x: len(x.comments) >= n + 2, 5, "two heartbeats")
    eq(r.events, [], "events before the \\n")
    t.append(path, "\n")
    e = r.wait_event()
    eq(tup(e), L("abc", 5), "event")
    eq(e["fields"], [("id", file_id(path, 5)), ("data", "abc")], "fields")


@test
def lone_cr_inside_a_line_gives_two_data_fields(t):
    srv, path = file_stream(t, b"a\rb\nc\rd\re\n")
    r = srv.get("log")
    e = r.wait_event()
    eq(e["fields"], [("id", file_id(path, 4)), ("data", "a"), ("data", "b")], "fields")
    eq(e["data"], "a\nb", "data")
    expect(r, [L("c\nd\ne", 10)], src=path)


@test
def invalid_utf8_and_nul_become_replacement_char(t):
    srv, path = file_stream(t, b"a\xffb\x00c\xc3(d\nok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n"
                               b"\xc0\x80x\n")
    r = srv.get("log")
    expect(r, [L("a\ufffdb\ufffdc\ufffd(d", 9), L("ok é€😀", 9 + 13),
               L("\ufffd\ufffdx", 26)], src=path)
    body = bytes(r.body)
    body.decode("utf-8")
    check(b"\0" not in body, "NUL in body")


@test
def long_line_cut_on_char_boundary_with_count(t):
    lines = ["a" + "é" * 80, "ab" + "€" * 50, "x" * 100, "y" * 101, "😀" * 30, "short"]
    data, ids = lines_data(lines)
    srv, path = file_stream(t, data, glob="max-line = 100")
    r = srv.get("log")
    want = ["a" + "é" * 49 + " [… 62 bytes cut]",
            "ab" + "€" * 32 + " [… 54 bytes cut]",
            "x" * 100,
            "y" * 100 + " [… 1 bytes cut]",
            "😀" * 25 + " [… 20 bytes cut]",
            "short"]
    expect(r, [L(w, o) for w, (_, o) in zip(want, ids)], src=data)


@test
def partial_line_not_sent_until_newline(t):
    srv, path = file_stream(t, b"", glob="heartbeat = 1")
    r = opened(srv.get("log"))
    t.append(path, "abc")
    n = len(r.comments)
    r.wait_until(lambda x: len(x.comments) >= n + 2, 5, "two heartbeats")
    eq(r.events, [], "events before the newline")
    t.append(path, "def\n")
    expect(r, [L("abcdef", 7)], src=path)


@test
def heartbeat_comment_every_heartbeat_seconds(t):
    srv, path = file_stream(t, b"", glob="heartbeat = 1")
    r = opened(srv.get("log"))
    n = len(r.comments)
    t0 = time.monotonic()
    r.wait_until(lambda x: len(x.comments) >= n + 2, 5, "two heartbeats")
    dt = time.monotonic() - t0
    check(dt > 1.0, "two heartbeats after only %.2fs (heartbeat = 1)" % dt)
    t1 = time.monotonic()
    r.read_for(2.0)
    k = len(r.comments) - n
    el = time.monotonic() - t0
    check(k <= el + 1.5, "%d heartbeats in %.1fs (heartbeat = 1)" % (k, el))
    check(time.monotonic() - t1 >= 1.9, "read_for ended early")
    eq(r.events, [], "events")


@test
def idle_streams_cost_no_cpu(t):
    srv, path = file_stream(t, b"a\n")
    rs = [opened(srv.get("log")) for _ in range(20)]
    rs[0].wait_event()
    c0 = srv.cpu_seconds()
    rs[0].read_for(3.0)
    used = srv.cpu_seconds() - c0
    t.note("cpu while idle for 3s with 20 streams: %.3fs" % used)
    check(used <= 0.05, "sse-tail used %.2fs of CPU in 3s idle" % used)
