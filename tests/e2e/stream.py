"""End-to-end tests of the event stream itself: its headers and opening, ids as
byte offsets, backlog and lines=, Last-Event-ID resumption, line ends,
invalid UTF-8, long and partial lines, heartbeats, idle cost.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import os
import time

from harness import check, eq, test
from helpers import (L, R, expect, expect_marker, expect_stream_ok, file_stream,
                     lines_data, n_lines, opened, tup)


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
        expect(r, [L(line, off)], 2.0)
        worst = max(worst, time.monotonic() - t0)
    t.note("worst latency %.3fs" % worst)
    check(worst < 1.0, "an appended line took %.2fs" % worst)


@test
def ids_are_byte_offsets_past_the_newline(t):
    data = "a\nbb\n\nccc\n€uro\n".encode()
    srv, path = file_stream(t, data)
    r = srv.get("log")
    expect(r, [L("a", 2), L("bb", 5), L("", 6), L("ccc", 10), L("€uro", 10 + 7)])
    t.append(path, "dddd\n")
    expect(r, [L("dddd", 22)])
    eq(os.path.getsize(path), 22, "file size")


@test
def line_event_fields_exactly(t):
    data, _ = lines_data(["a"])
    p = t.write("a.log", data)
    conf = t.config("[stream plain]\npath = %s\n[stream named]\npath = %s\nevent = log\n" % (p, p))
    srv = t.start(conf)
    r = srv.get("plain")
    e = r.wait_event()
    eq(e["fields"], [("id", "2"), ("data", "a")], "fields of a line event")
    check(b"\nid: 2\ndata: a\n\n" in bytes(r.body), "raw body %r" % bytes(r.body))
    r = srv.get("named")
    e = r.wait_event()
    eq(e["fields"], [("event", "log"), ("id", "2"), ("data", "a")], "fields with event = log")
    check(b"\nevent: log\nid: 2\ndata: a\n\n" in bytes(r.body), "raw body %r" % bytes(r.body))


@test
def backlog_default_is_last_10_lines(t):
    data, ids = n_lines(25)
    srv, path = file_stream(t, data)
    r = srv.get("log")
    expect(r, [L(x, o) for x, o in ids[-10:]])
    expect_marker(t, r, path)


@test
def backlog_read_from_end_of_big_file(t):
    data, ids = n_lines(400000, "%08d" + "x" * 40)   # ~20 MB
    srv, path = file_stream(t, data)
    t0 = time.monotonic()
    r = srv.get("log", query="lines=3")
    expect(r, [L(x, o) for x, o in ids[-3:]])
    dt = time.monotonic() - t0
    check(dt < 1.0, "backlog of 3 lines from a 20 MB file took %.2fs" % dt)


@test
def lines_param_overrides_backlog(t):
    data, ids = n_lines(25)
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lines=3")
    expect(r, [L(x, o) for x, o in ids[-3:]])
    expect_marker(t, r, path, "M1")
    r2 = srv.get("log", query="lines=0")
    opened(r2)
    expect_marker(t, r2, path, "M2")
    r3 = srv.get("log", query="lines=100")
    _, ids2 = lines_data(["line %03d" % i for i in range(1, 26)] + ["M1", "M2"])
    expect(r3, [L(x, o) for x, o in ids2])


@test
def per_stream_backlog_overrides_global(t):
    data, ids = n_lines(25)
    srv, path = file_stream(t, data, glob="backlog = 7", sect="backlog = 2")
    r = srv.get("log")
    expect(r, [L(x, o) for x, o in ids[-2:]])
    expect_marker(t, r, path)


@test
def last_event_id_header_resumes_exactly(t):
    data, ids = n_lines(50)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=ids[4][1])
    expect(r, [L(x, o) for x, o in ids[5:]], what="resume after line 5 (more than backlog)")
    expect_marker(t, r, path)
    r = srv.get("log", last_event_id=ids[4][1], query="lines=0")
    expect(r, [L(x, o) for x, o in ids[5:8]], what="Last-Event-ID with lines=0")


@test
def last_event_id_at_end_sends_no_old_line(t):
    data, ids = n_lines(5)
    srv, path = file_stream(t, data)
    r = opened(srv.get("log", last_event_id=len(data)))
    expect_marker(t, r, path)


@test
def last_event_id_zero_sends_whole_file(t):
    data, ids = n_lines(30)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=0)
    expect(r, [L(x, o) for x, o in ids])
    expect_marker(t, r, path)


@test
def last_event_id_query_param_resumes(t):
    data, ids = n_lines(20)
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lastEventId=%d" % ids[14][1])
    expect(r, [L(x, o) for x, o in ids[15:]])
    expect_marker(t, r, path)


@test
def last_event_id_header_wins_over_query(t):
    data, ids = n_lines(20)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=ids[16][1], query="lastEventId=%d" % ids[2][1])
    expect(r, [L(x, o) for x, o in ids[17:]])
    expect_marker(t, r, path)


@test
def non_decimal_last_event_id_is_treated_as_absent(t):
    data, ids = n_lines(15)
    srv, path = file_stream(t, data)
    for v in ("abc", "-5", "12abc", "0x10", "", "1.0", " "):
        r = srv.get("log", last_event_id=v)
        expect(r, [L(x, o) for x, o in ids[-10:]], what="Last-Event-ID %r" % v)
        r.close()
    r = srv.get("log", query="lastEventId=abc")
    expect(r, [L(x, o) for x, o in ids[-10:]], what="lastEventId=abc")


@test
def huge_last_event_id_does_not_crash(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id="99999999999999999999999999")
    expect_stream_ok(r)
    first = r.wait_event()
    if tup(first) == R("gap"):
        expect(r, [L(x, o) for x, o in ids])
    else:
        eq(tup(first), L(*ids[0]), "first event (backlog)")
    check(srv.alive(), "sse-tail died")


@test
def last_event_id_beyond_eof_gives_gap_then_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=len(data) + 100)
    e = r.wait_event()
    eq(e["fields"], [("event", "reset"), ("id", "0"), ("data", "gap")], "reset event fields")
    expect(r, [L(x, o) for x, o in ids])
    expect_marker(t, r, path)


@test
def last_event_id_not_after_newline_gives_gap_then_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    for n in (1, ids[0][1] + 3, len(data) - 1):
        r = srv.get("log", last_event_id=n)
        expect(r, [R("gap")] + [L(x, o) for x, o in ids], what="Last-Event-ID %d" % n)
        r.close()


@test
def reconnect_after_reset_with_id_0_gets_whole_file(t):
    data, ids = n_lines(3)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=7)
    expect(r, [R("gap")] + [L(x, o) for x, o in ids])
    r2 = srv.get("log", last_event_id=0)
    expect(r2, [L(x, o) for x, o in ids])
    expect_marker(t, r2, path)


@test
def crlf_counts_as_one_line_end(t):
    srv, path = file_stream(t, b"one\r\ntwo\r\n")
    r = srv.get("log")
    e = r.wait_event()
    eq(tup(e), L("one", 5), "first")
    eq(e["fields"], [("id", "5"), ("data", "one")], "fields (no CR, one data field)")
    expect(r, [L("two", 10)])
    t.append(path, "three\r")
    t.append(path, "\n")
    expect(r, [L("three", 17)])


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
    eq(e["fields"], [("id", "5"), ("data", "abc")], "fields")


@test
def lone_cr_inside_a_line_gives_two_data_fields(t):
    srv, path = file_stream(t, b"a\rb\nc\rd\re\n")
    r = srv.get("log")
    e = r.wait_event()
    eq(e["fields"], [("id", "4"), ("data", "a"), ("data", "b")], "fields")
    eq(e["data"], "a\nb", "data")
    expect(r, [L("c\nd\ne", 10)])


@test
def invalid_utf8_and_nul_become_replacement_char(t):
    srv, path = file_stream(t, b"a\xffb\x00c\xc3(d\nok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n"
                               b"\xc0\x80x\n")
    r = srv.get("log")
    expect(r, [L("a\ufffdb\ufffdc\ufffd(d", 9), L("ok é€😀", 9 + 13),
               L("\ufffd\ufffdx", 26)])
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
    expect(r, [L(w, o) for w, (_, o) in zip(want, ids)])


@test
def partial_line_not_sent_until_newline(t):
    srv, path = file_stream(t, b"", glob="heartbeat = 1")
    r = opened(srv.get("log"))
    t.append(path, "abc")
    n = len(r.comments)
    r.wait_until(lambda x: len(x.comments) >= n + 2, 5, "two heartbeats")
    eq(r.events, [], "events before the newline")
    t.append(path, "def\n")
    expect(r, [L("abcdef", 7)])


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
