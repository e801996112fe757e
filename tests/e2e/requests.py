"""End-to-end tests of how a request names its stream, what each kind of client
is answered (stream, JSON list, HTML index, viewer page), the 4xx and 5xx
answers and max-clients.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import json
import os
import re
import time

from harness import check, eq, pump_many, test, wait_until
from helpers import (L, browser_accept, expect, expect_error, expect_marker,
                     expect_stream_ok, file_stream, lines_data, opened)


def _two_streams(t):
    a, _ = lines_data(["alpha-line"])
    b, _ = lines_data(["beta-line"])
    pa = t.write("alpha.log", a)
    pb = t.write("beta.log", b)
    conf = t.config("[stream alpha]\npath = %s\n[stream beta]\npath = %s\n" % (pa, pb))
    return t.start(conf)


@test
def stream_named_by_path_info(t):
    srv = _two_streams(t)
    r = srv.get("beta")
    expect_stream_ok(r)
    expect(r, [L("beta-line", 10)], src=b"beta-line\n")


@test
def stream_named_by_query_stream_param(t):
    srv = _two_streams(t)
    r = srv.get(query="stream=beta")
    expect_stream_ok(r)
    expect(r, [L("beta-line", 10)], src=b"beta-line\n")


@test
def path_info_wins_over_query_stream(t):
    srv = _two_streams(t)
    r = srv.get("alpha", query="stream=beta")
    expect_stream_ok(r)
    expect(r, [L("alpha-line", 11)], src=b"alpha-line\n")


@test
def percent_encoded_stream_name_in_query_is_decoded(t):
    srv = _two_streams(t)
    r = srv.get(query="stream=%62eta")
    expect_stream_ok(r)
    expect(r, [L("beta-line", 10)], src=b"beta-line\n")


@test
def single_stream_used_when_none_named(t):
    data, _ = lines_data(["only"])
    srv, path = file_stream(t, data)
    r = srv.get()
    expect_stream_ok(r)
    expect(r, [L("only", 5)], src=data)


@test
def several_streams_none_named_gives_json_list(t):
    srv = _two_streams(t)
    for acc, pi in (("text/event-stream", None), ("*/*", None), (None, None),
                    ("application/json", None), ("text/event-stream", "")):
        r = srv.answer(accept=acc, path_info=pi)
        eq(r.status, 200, "status (Accept %r)" % acc)
        ct = r.header("Content-Type") or ""
        check(ct.startswith("application/json"), "Content-Type %r (Accept %r)" % (ct, acc))
        names = json.loads(bytes(r.body).decode())
        check(isinstance(names, list), "JSON is not an array: %r" % names)
        eq(sorted(names), ["alpha", "beta"], "names")
        r.close()


@test
def several_streams_browser_gets_html_index(t):
    srv = _two_streams(t)
    r = srv.answer(accept=browser_accept())
    eq(r.status, 200, "status")
    ct = r.header("Content-Type") or ""
    check(ct.startswith("text/html"), "Content-Type %r" % ct)
    body = bytes(r.body)
    check(b"<" in body and b"alpha" in body and b"beta" in body,
          "index page does not list the streams: %r" % body[:300])


@test
def named_stream_browser_gets_viewer_page(t):
    data, _ = lines_data(["x"])
    srv, path = file_stream(t, data)
    r = srv.answer("log", accept=browser_accept())
    eq(r.status, 200, "status")
    ct = r.header("Content-Type") or ""
    check(ct.startswith("text/html"), "Content-Type %r" % ct)
    check(b"<" in bytes(r.body), "no HTML body")
    r = srv.answer("log", accept="text/event-stream;q=0.5, text/html")
    check((r.header("Content-Type") or "").startswith("text/html"),
          "html preferred by q: got %r" % r.header("Content-Type"))


@test
def event_stream_or_any_accept_gets_the_stream(t):
    data, _ = lines_data(["x"])
    srv, path = file_stream(t, data)
    for acc in ("text/event-stream", "*/*", None, "text/html;q=0.5, text/event-stream",
                "text/event-stream, text/html;q=0.9"):
        r = srv.get("log", accept=acc)
        eq(r.header("Content-Type"), "text/event-stream", "Content-Type for Accept %r" % acc)
        expect(r, [L("x", 2)], what="Accept %r" % acc, src=data)
        r.close()


@test
def unknown_stream_is_404(t):
    srv, path = file_stream(t, b"a\n")
    expect_error(t, srv.request("nosuch"), 404, paths=(path,))
    expect_error(t, srv.request(query="stream=nosuch"), 404, paths=(path,))


@test
def path_like_stream_names_are_404(t):
    srv, path = file_stream(t, b"a\n")
    for pi in ("/../etc/passwd", "/..", "/%2e%2e", "/%2e%2e%2fetc%2fpasswd", "/etc/passwd",
               "/log/../log", "/./log", path, "/" + path):
        expect_error(t, srv.request(path_info=pi), 404, paths=(path,))
    for q in ("../etc/passwd", "%2e%2e", "%2e%2e%2fetc%2fpasswd", "%2fetc%2fpasswd",
              "log%2f..", "..", ".", "log%00"):
        r = srv.request(query="stream=" + q)
        r.wait_end(5)
        if q == "log%00":
            check(r.status in (404, 400), "stream=%s: status %r, want 404 (or 400)" % (q, r.status))
        else:
            eq(r.status, 404, "status for stream=%s" % q)
        expect_error(t, r, r.status, paths=(path,))
    check(srv.alive(), "sse-tail died")


@test
def bad_lines_values_are_400(t):
    srv, path = file_stream(t, b"a\n")
    for v in ("-1", "abc", "100001", "", "1.5", "99999999999999999999", "1e3", "0x10"):
        expect_error(t, srv.request("log", query="lines=" + v), 400, paths=(path,))


@test
def lines_bounds_0_and_100000_accepted(t):
    data, _ = lines_data(["a", "b"])
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lines=100000")
    expect_stream_ok(r)
    expect(r, [L("a", 2), L("b", 4)], src=data)
    r = srv.get("log", query="lines=0")
    expect_stream_ok(r)
    expect_marker(t, r, path)


@test
def malformed_percent_encoding_is_400(t):
    srv, path = file_stream(t, b"a\n")
    for q in ("stream=%zz", "stream=lo%g", "stream=log%", "stream=log%4", "lines=%31%",
              "stream=log&x=%zz"):
        expect_error(t, srv.request(query=q), 400, paths=(path,))


@test
def repeated_parameter_is_400(t):
    srv, path = file_stream(t, b"a\n")
    for q in ("stream=log&stream=log", "lines=1&lines=1", "lastEventId=0&lastEventId=2",
              "stream=log&lines=1&stream=log"):
        expect_error(t, srv.request(query=q), 400, paths=(path,))


@test
def huge_query_string_is_400_and_4096_is_fine(t):
    srv, path = file_stream(t, b"a\n")
    q = "stream=log&x="
    expect_error(t, srv.request(query=q + "a" * (4097 - len(q))), 400, paths=(path,))
    expect_error(t, srv.request(query=q + "a" * 100000), 400, paths=(path,))
    r = srv.get(query=q + "a" * (4096 - len(q)))
    expect_stream_ok(r)
    expect(r, [L("a", 2)], src=path)


@test
def unknown_query_parameters_are_ignored(t):
    data, _ = lines_data(["a", "b", "c"])
    srv, path = file_stream(t, data)
    r = srv.get(query="foo=bar&stream=log&_=1234567&lines=1&x=")
    expect_stream_ok(r)
    expect(r, [L("c", 6)], src=data)
    expect_marker(t, r, path)


@test
def other_methods_are_405_with_allow(t):
    srv, path = file_stream(t, b"a\n")
    for m in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        stdin = b"a=b&c" if m == "POST" else b""
        extra = {"CONTENT_LENGTH": str(len(stdin)), "CONTENT_TYPE":
                 "application/x-www-form-urlencoded"} if stdin else None
        r = srv.request("log", method=m, stdin=stdin, extra=extra)
        expect_error(t, r, 405, paths=(path,))
        eq(r.header("Allow"), "GET, HEAD", "Allow header for %s" % m)


@test
def head_answers_headers_only(t):
    data, _ = lines_data(["a", "b"])
    srv, path = file_stream(t, data)
    r = srv.request("log", method="HEAD").wait_end(5)
    expect_stream_ok(r)
    eq(r.header("Cache-Control"), "no-cache, no-transform", "Cache-Control")
    eq(bytes(r.body), b"", "HEAD body")
    r = srv.request("nosuch", method="HEAD").wait_end(5)
    eq(r.status, 404, "HEAD of an unknown stream")
    eq(bytes(r.body), b"", "HEAD 404 body")


@test
def max_clients_503_with_retry_after_and_slot_freed(t):
    data, _ = lines_data(["a"])
    srv, path = file_stream(t, data, glob="max-clients = 2\nheartbeat = 1\n")
    a = opened(srv.get("log"))
    b = opened(srv.get("log"))
    c = srv.request("log")
    expect_error(t, c, 503, paths=(path,))
    ra = c.header("Retry-After")
    check(ra is not None and re.fullmatch(r"\d+", ra), "Retry-After is %r" % ra)
    a.close()
    t0 = time.monotonic()

    def try_one():
        r = srv.request("log").wait_headers(5)
        if r.status == 200:
            return r
        r.wait_end(5)
        r.close()
        return None
    d = wait_until(try_one, 3.0, "the closed client's slot to be freed (heartbeat = 1)", 0.05)
    t.note("slot freed after %.2fs" % (time.monotonic() - t0))
    expect(d, [L("a", 2)], src=data)
    expect_error(t, srv.request("log"), 503)
    b.pump(0)
    check(not b.eof, "the other client's stream was closed")


@test
def unreadable_file_is_503_and_logged(t):
    data, _ = lines_data(["secret"])
    path = t.write("secret.log", data)
    os.chmod(path, 0)
    conf = t.config("[stream sec]\npath = %s\n" % path)
    os.chmod(conf, 0o644)
    srv = t.start(conf, as_nobody=(os.geteuid() == 0))
    r = srv.request("sec")
    expect_error(t, r, 503, paths=(path,))
    check(r.header("Retry-After") is not None, "no Retry-After header")
    err = wait_until(lambda: srv.stderr_text(), 2, "a log line on stderr")
    check("sec" in err and "Permission denied" in err and path in err,
          "stderr does not name the stream, the file and strerror: %r" % err)


@test
def max_clients_counts_all_streams_of_the_process(t):
    pa = t.write("a.log", b"a\n")
    pb = t.write("b.log", b"b\n")
    conf = t.config("max-clients = 2\n[stream a]\npath = %s\n[stream b]\npath = %s\n" % (pa, pb))
    srv = t.start(conf)
    opened(srv.get("a"))
    opened(srv.get("b"))
    r = srv.request("a")
    expect_error(t, r, 503, paths=(pa, pb))
    check(r.header("Retry-After") is not None, "no Retry-After")
    expect_error(t, srv.request("b"), 503)


@test(timeout=60)
def default_max_clients_is_1000(t):
    srv, path = file_stream(t, b"x\n")
    rs = [srv.request("log", query="lines=0") for _ in range(1000)]
    pump_many(rs, lambda: all(r.retry is not None for r in rs), 30, "1000 streams to open")
    check(all(r.status == 200 for r in rs), "not all of 1000 got 200")
    r = srv.request("log")
    expect_error(t, r, 503, paths=(path,))
    check(r.header("Retry-After") is not None, "no Retry-After")
