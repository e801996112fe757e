"""The sse-tail end-to-end tests, written from the contract
(shared/spec.md) and the implementer's stated decisions.  Each test gets a
harness.T: a temp dir and the processes it starts, all cleaned up."""

import errno
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time

import fcgi
from harness import (BIN, TestFailure, base_env, check, eq, pump_many, register, test,
                     wait_until)

MiB = 1024 * 1024


# ------------------------------------------------------------- helpers ----
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


# ======================================================= options, start ==
@test
def version_prints_name_and_version(t):
    p = t.run(["--version"])
    eq(p.returncode, 0, "exit status")
    check(re.fullmatch(rb"sse-tail \d+\.\d+\.\d+\n", p.stdout),
          "stdout is %r, want 'sse-tail X.Y.Z'" % p.stdout)


@test
def help_prints_usage_to_stdout(t):
    p = t.run(["--help"])
    eq(p.returncode, 0, "exit status")
    check(p.stdout.startswith(b"usage: sse-tail"), "stdout starts %r" % p.stdout[:60])


@test
def unknown_option_exits_2(t):
    p = t.run(["--no-such-option"])
    eq(p.returncode, 2, "exit status")
    check(p.stderr.strip() != b"", "no message on stderr")


@test
def no_start_mode_exits_2_with_message(t):
    conf = t.config("[stream log]\npath = %s\n" % t.path("x.log"))
    p = t.run([], conf=conf)
    eq(p.returncode, 2, "exit status (no --listen, fd 0 /dev/null, no GATEWAY_INTERFACE)")
    check(p.stderr.strip() != b"", "no message on stderr")


def _serves_a_stream(t, mode, env=None):
    data, ids = lines_data(["one", "two"])
    srv, path = file_stream(t, data, mode=mode, env=env)
    r = srv.get("log")
    expect_stream_ok(r)
    expect(r, [L("one", 4), L("two", 8)])
    expect_marker(t, r, path)
    return srv


@test
def listen_unix_socket_serves_stream(t):
    _serves_a_stream(t, "unix")


@test
def listen_tcp_127_0_0_1_serves_stream(t):
    _serves_a_stream(t, "tcp")


@test
def spawned_with_listening_socket_on_fd0_serves_stream(t):
    _serves_a_stream(t, "fd0")


@test
def systemd_socket_activation_fd3_serves_stream(t):
    _serves_a_stream(t, "systemd")


@test
def systemd_listen_pid_of_another_process_is_ignored(t):
    conf = t.config("[stream log]\npath = %s\n" % t.path("x.log"))
    sp = t.path("sd.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(sp)
    ls.listen(16)
    try:
        p = subprocess.run(["/bin/sh", "-c",
                            'exec 3<&0 0</dev/null; LISTEN_PID=1 LISTEN_FDS=1 exec "$0" "$@"',
                            BIN, "--config", conf],
                           stdin=ls.fileno(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=base_env(), timeout=10)
    finally:
        ls.close()
    eq(p.returncode, 2, "exit status when LISTEN_PID names another process")


@test
def config_from_sse_tail_config_env(t):
    data, _ = lines_data(["x"])
    path = t.write("log.log", data)
    conf = t.config("[stream log]\npath = %s\n" % path, name="other.conf")
    srv = t.start(None, env={"SSE_TAIL_CONFIG": conf})
    r = srv.get("log")
    expect_stream_ok(r)
    expect(r, [L("x", 2)])


@test
def check_missing_config_file_exits_1(t):
    p = t.run(["--check", "--config", t.path("nope.conf")])
    eq(p.returncode, 1, "exit status")
    check(b"nope.conf" in p.stderr, "stderr does not name the file: %r" % p.stderr)


# ================================================================ --check ==
@test
def check_valid_config_prints_nothing_exits_0(t):
    p1 = t.path("a.log")
    text = """# a comment line
   # an indented comment

heartbeat   = 15      # seconds
retry       = 3000
backlog     = 10
max-clients = 1000
max-line    = 65536
buffer      = 1048576

[stream syslog]
path  = %s
event = log           # optional
backlog = 50

[stream with.dots_and-dash]
path = %s
heartbeat = 1
retry = 0
max-line = 16
buffer = 4096
max-clients = 1
""" % (p1, t.path("b#c.log"))
    conf = t.config(text)
    p = t.run(["--check"], conf=conf)
    eq((p.returncode, p.stdout, p.stderr), (0, b"", b""), "(status, stdout, stderr)")


@test
def check_accepts_boundary_values(t):
    for key, vals in (("heartbeat", (1, 3600)), ("retry", (0, 3600000)),
                      ("backlog", (0, 100000)), ("max-clients", (1, 1000000)),
                      ("max-line", (16, 1048576)), ("buffer", (4096,))):
        for v in vals:
            conf = t.config("%s = %d\n[stream a]\npath = %s\n" % (key, v, t.path("a.log")))
            p = t.run(["--check"], conf=conf)
            eq((p.returncode, p.stderr), (0, b""), "--check of %s = %d" % (key, v))
    name = "a" * 64
    ev = "A.b_c-9" + "x" * 57
    conf = t.config("[stream %s]\npath = %s\nevent = %s\n" % (name, t.path("a.log"), ev))
    p = t.run(["--check"], conf=conf)
    eq((p.returncode, p.stderr), (0, b""), "--check of 64-char stream name and event")


BAD_CONFIGS = [
    # (name, text with {P} for an absolute path, acceptable line numbers)
    ("unknown_global_key", "heartbeat = 15\nbogus = 1\n[stream a]\npath = {P}\n", {2}),
    ("unknown_stream_key", "[stream a]\npath = {P}\ncolour = red\n", {3}),
    ("heartbeat_0", "heartbeat = 0\n[stream a]\npath = {P}\n", {1}),
    ("heartbeat_3601", "heartbeat = 3601\n[stream a]\npath = {P}\n", {1}),
    ("heartbeat_not_a_number", "\nheartbeat = 15s\n[stream a]\npath = {P}\n", {2}),
    ("heartbeat_empty", "heartbeat =\n[stream a]\npath = {P}\n", {1}),
    ("retry_negative", "retry = -1\n[stream a]\npath = {P}\n", {1}),
    ("retry_3600001", "retry = 3600001\n[stream a]\npath = {P}\n", {1}),
    ("backlog_100001", "backlog = 100001\n[stream a]\npath = {P}\n", {1}),
    ("backlog_in_section_bad", "[stream a]\npath = {P}\nbacklog = x\n", {3}),
    ("max_clients_0", "max-clients = 0\n[stream a]\npath = {P}\n", {1}),
    ("max_clients_1000001", "max-clients = 1000001\n[stream a]\npath = {P}\n", {1}),
    ("max_line_15", "max-line = 15\n[stream a]\npath = {P}\n", {1}),
    ("max_line_1048577", "max-line = 1048577\n[stream a]\npath = {P}\n", {1}),
    ("buffer_4095", "[stream a]\npath = {P}\nbuffer = 4095\n", {3}),
    ("event_bad_chars", "[stream a]\npath = {P}\nevent = a b\n", {3}),
    ("event_slash", "[stream a]\npath = {P}\nevent = a/b\n", {3}),
    ("event_reset", "[stream a]\npath = {P}\nevent = reset\n", {3}),
    ("event_65_chars", "[stream a]\npath = {P}\nevent = " + "e" * 65 + "\n", {3}),
    ("stream_name_slash", "[stream a/b]\npath = {P}\n", {1}),
    ("stream_name_dotdot_slash", "[stream ../x]\npath = {P}\n", {1}),
    ("stream_name_65_chars", "[stream " + "n" * 65 + "]\npath = {P}\n", {1}),
    ("stream_name_empty", "[stream ]\npath = {P}\n", {1}),
    ("section_not_stream", "[foo]\npath = {P}\n", {1}),
    ("section_streams", "[streams a]\npath = {P}\n", {1}),
    ("section_unclosed", "[stream a\npath = {P}\n", {1}),
    ("section_without_path", "[stream a]\nevent = x\n[stream b]\npath = {P}\n", {1, 3}),
    ("last_section_without_path", "[stream b]\npath = {P}\n[stream a]\nevent = x\n", {3, 4, 5}),
    ("duplicate_stream_name", "[stream a]\npath = {P}\n[stream a]\npath = {P}2\n", {3}),
    ("duplicate_key_in_section", "[stream a]\npath = {P}\npath = {P}2\n", {3}),
    ("duplicate_global_key", "heartbeat = 1\nheartbeat = 2\n[stream a]\npath = {P}\n", {2}),
    ("line_without_equals", "heartbeat 15\n[stream a]\npath = {P}\n", {1}),
    ("line_without_equals_in_section", "[stream a]\npath = {P}\njunk\n", {3}),
    ("relative_path", "[stream a]\npath = logs/a.log\n", {2}),
    ("empty_path", "[stream a]\npath =\n", {2}),
    ("path_outside_section", "path = {P}\n[stream a]\npath = {P}\n", {1}),
]


def _make_check_bad(text, lines):
    def f(t):
        conf = t.config(text.replace("{P}", t.path("a.log")))
        p = t.run(["--check"], conf=conf)
        eq(p.returncode, 1, "exit status of --check")
        eq(p.stdout, b"", "stdout")
        err = p.stderr.decode("utf-8", "replace")
        check(err.endswith("\n") and err.count("\n") == 1,
              "want exactly one line on stderr, got %r" % err)
        m = re.fullmatch(r"sse-tail: (.+):(\d+): (.+)\n", err)
        check(m is not None, "stderr %r is not 'sse-tail: FILE:LINE: message'" % err)
        eq(m.group(1), conf, "file named in the message")
        check(int(m.group(2)) in lines,
              "line number %s, want one of %s (%r)" % (m.group(2), sorted(lines), err))
    return f


for _n, _text, _lines in BAD_CONFIGS:
    register("check_rejects_" + _n, _make_check_bad(_text, _lines))


@test
def hash_inside_a_word_is_not_a_comment(t):
    data, _ = lines_data(["hash"])
    path = t.write("a#b.log", data)
    conf = t.config("heartbeat = 15 # comment after whitespace\n"
                    "[stream log]   # header comment\npath = %s\n" % path)
    p = t.run(["--check"], conf=conf)
    eq((p.returncode, p.stderr), (0, b""), "--check")
    srv = t.start(conf)
    r = srv.get("log")
    expect(r, [L("hash", 5)])


# ============================================================ requests ====
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
    expect(r, [L("beta-line", 10)])


@test
def stream_named_by_query_stream_param(t):
    srv = _two_streams(t)
    r = srv.get(query="stream=beta")
    expect_stream_ok(r)
    expect(r, [L("beta-line", 10)])


@test
def path_info_wins_over_query_stream(t):
    srv = _two_streams(t)
    r = srv.get("alpha", query="stream=beta")
    expect_stream_ok(r)
    expect(r, [L("alpha-line", 11)])


@test
def percent_encoded_stream_name_in_query_is_decoded(t):
    srv = _two_streams(t)
    r = srv.get(query="stream=%62eta")
    expect_stream_ok(r)
    expect(r, [L("beta-line", 10)])


@test
def single_stream_used_when_none_named(t):
    data, _ = lines_data(["only"])
    srv, path = file_stream(t, data)
    r = srv.get()
    expect_stream_ok(r)
    expect(r, [L("only", 5)])


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
        expect(r, [L("x", 2)], what="Accept %r" % acc)
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
    expect(r, [L("a", 2), L("b", 4)])
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
    expect(r, [L("a", 2)])


@test
def unknown_query_parameters_are_ignored(t):
    data, _ = lines_data(["a", "b", "c"])
    srv, path = file_stream(t, data)
    r = srv.get(query="foo=bar&stream=log&_=1234567&lines=1&x=")
    expect_stream_ok(r)
    expect(r, [L("c", 6)])
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
    expect(d, [L("a", 2)])
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


# ============================================================ the stream ==
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


def _n_lines(n, fmt="line %03d"):
    return lines_data([fmt % i for i in range(1, n + 1)])


@test
def backlog_default_is_last_10_lines(t):
    data, ids = _n_lines(25)
    srv, path = file_stream(t, data)
    r = srv.get("log")
    expect(r, [L(x, o) for x, o in ids[-10:]])
    expect_marker(t, r, path)


@test
def backlog_read_from_end_of_big_file(t):
    data, ids = _n_lines(400000, "%08d" + "x" * 40)   # ~20 MB
    srv, path = file_stream(t, data)
    t0 = time.monotonic()
    r = srv.get("log", query="lines=3")
    expect(r, [L(x, o) for x, o in ids[-3:]])
    dt = time.monotonic() - t0
    check(dt < 1.0, "backlog of 3 lines from a 20 MB file took %.2fs" % dt)


@test
def lines_param_overrides_backlog(t):
    data, ids = _n_lines(25)
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
    data, ids = _n_lines(25)
    srv, path = file_stream(t, data, glob="backlog = 7", sect="backlog = 2")
    r = srv.get("log")
    expect(r, [L(x, o) for x, o in ids[-2:]])
    expect_marker(t, r, path)


@test
def last_event_id_header_resumes_exactly(t):
    data, ids = _n_lines(50)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=ids[4][1])
    expect(r, [L(x, o) for x, o in ids[5:]], what="resume after line 5 (more than backlog)")
    expect_marker(t, r, path)
    r = srv.get("log", last_event_id=ids[4][1], query="lines=0")
    expect(r, [L(x, o) for x, o in ids[5:8]], what="Last-Event-ID with lines=0")


@test
def last_event_id_at_end_sends_no_old_line(t):
    data, ids = _n_lines(5)
    srv, path = file_stream(t, data)
    r = opened(srv.get("log", last_event_id=len(data)))
    expect_marker(t, r, path)


@test
def last_event_id_zero_sends_whole_file(t):
    data, ids = _n_lines(30)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=0)
    expect(r, [L(x, o) for x, o in ids])
    expect_marker(t, r, path)


@test
def last_event_id_query_param_resumes(t):
    data, ids = _n_lines(20)
    srv, path = file_stream(t, data)
    r = srv.get("log", query="lastEventId=%d" % ids[14][1])
    expect(r, [L(x, o) for x, o in ids[15:]])
    expect_marker(t, r, path)


@test
def last_event_id_header_wins_over_query(t):
    data, ids = _n_lines(20)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=ids[16][1], query="lastEventId=%d" % ids[2][1])
    expect(r, [L(x, o) for x, o in ids[17:]])
    expect_marker(t, r, path)


@test
def non_decimal_last_event_id_is_treated_as_absent(t):
    data, ids = _n_lines(15)
    srv, path = file_stream(t, data)
    for v in ("abc", "-5", "12abc", "0x10", "", "1.0", " "):
        r = srv.get("log", last_event_id=v)
        expect(r, [L(x, o) for x, o in ids[-10:]], what="Last-Event-ID %r" % v)
        r.close()
    r = srv.get("log", query="lastEventId=abc")
    expect(r, [L(x, o) for x, o in ids[-10:]], what="lastEventId=abc")


@test
def huge_last_event_id_does_not_crash(t):
    data, ids = _n_lines(3)
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
    data, ids = _n_lines(3)
    srv, path = file_stream(t, data)
    r = srv.get("log", last_event_id=len(data) + 100)
    e = r.wait_event()
    eq(e["fields"], [("event", "reset"), ("id", "0"), ("data", "gap")], "reset event fields")
    expect(r, [L(x, o) for x, o in ids])
    expect_marker(t, r, path)


@test
def last_event_id_not_after_newline_gives_gap_then_whole_file(t):
    data, ids = _n_lines(3)
    srv, path = file_stream(t, data)
    for n in (1, ids[0][1] + 3, len(data) - 1):
        r = srv.get("log", last_event_id=n)
        expect(r, [R("gap")] + [L(x, o) for x, o in ids], what="Last-Event-ID %d" % n)
        r.close()


@test
def reconnect_after_reset_with_id_0_gets_whole_file(t):
    data, ids = _n_lines(3)
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


# ============================================================ following ===
def _rotation(t, env=None):
    data, _ = lines_data(["old1", "old2"])
    srv, path = file_stream(t, data, env=env)
    r = srv.get("log")
    expect(r, [L("old1", 5), L("old2", 10)])
    t.append(path, "old3\npartial")
    os.rename(path, path + ".1")
    t.write(path, b"new1\nnew2\n")
    expect(r, [L("old3", 15), L("partial", 22), R("rotated"), L("new1", 5), L("new2", 10)],
           timeout=5)
    t.append(path, "new3\n")
    expect(r, [L("new3", 15)], 3)
    r2 = srv.get("log", last_event_id=10)
    expect(r2, [L("new3", 15)], what="resume in the new file")
    r3 = srv.get("log", last_event_id=0)
    expect(r3, [L("new1", 5), L("new2", 10), L("new3", 15)], what="Last-Event-ID 0 after rotation")


def _rotation_later(t, env=None):
    # logrotate without copytruncate: rename, the writer goes on writing to
    # the renamed file until it reopens, then the new file appears.
    data, _ = lines_data(["old1"])
    srv, path = file_stream(t, data, env=env, glob="heartbeat = 1")
    r = srv.get("log")
    expect(r, [L("old1", 5)])
    t.append(path, "tail")
    os.rename(path, path + ".1")
    n = len(r.comments)
    r.wait_until(lambda x: len(x.comments) >= n + 2, 5, "two heartbeats after the rename")
    t.append(path + ".1", "-more\nlast")
    t.write(path, b"fresh\n")
    expect(r, [L("tail-more", 15), L("last", 19), R("rotated"), L("fresh", 6)], 5)


def _truncation(t, env=None):
    data, _ = lines_data(["l1", "l2", "l3", "l4", "l5"])
    srv, path = file_stream(t, data, env=env)
    r = srv.get("log")
    r.wait_events(5)
    shutil.copy(path, path + ".1")
    with open(path, "r+b") as f:
        f.truncate(0)
    t.append(path, "after\n")
    expect(r, [R("truncated"), L("after", 6)], 5)
    t.append(path, "more\n")
    expect(r, [L("more", 11)], 3)


def _appears_later(t, env=None):
    path = t.path("later.log")
    conf = t.config("[stream log]\npath = %s\n" % path)
    srv = t.start(conf, env=env)
    t0 = time.monotonic()
    r = opened(srv.get("log"), 2.0)
    expect_stream_ok(r)
    check(time.monotonic() - t0 < 1.0, "opening took too long")
    t.write(path, b"x1\nx2\n")
    e = r.wait_event(5)
    if tup(e)[0] == "reset":     # tolerated: the contract does not say
        t.note("reset %r before a file that appeared" % e["data"])
        e = r.wait_event(5)
    eq(tup(e), L("x1", 3), "first line of the new file")
    expect(r, [L("x2", 6)])
    t.append(path, "x3\n")
    expect(r, [L("x3", 9)])


def _deleted_recreated(t, env=None):
    data, _ = lines_data(["a", "b"])
    srv, path = file_stream(t, data, env=env)
    r = srv.get("log")
    expect(r, [L("a", 2), L("b", 4)])
    os.unlink(path)
    t.write(path, b"c\n")
    e = r.wait_event(5)
    check(e["type"] == "reset" and e["data"] in ("rotated", "truncated") and e["own_id"] == "0",
          "want a reset (rotated) event, got %r" % (tup(e),))
    expect(r, [L("c", 2)])
    t.append(path, "d\n")
    expect(r, [L("d", 4)])


def _append_fast(t, env=None, limit=1.0):
    srv, path = file_stream(t, b"", env=env)
    r = opened(srv.get("log"))
    worst = 0
    off = 0
    for i in range(3):
        t0 = time.monotonic()
        t.append(path, "p%d\n" % i)
        off += 3
        expect(r, [L("p%d" % i, off)], 3)
        worst = max(worst, time.monotonic() - t0)
    t.note("worst latency %.3fs" % worst)
    check(worst <= limit, "appended line took %.2fs (limit %.1fs)" % (worst, limit))


@test
def rotation_rename_then_new_file(t):
    _rotation(t)


@test
def rotation_new_file_appears_after_rename(t):
    _rotation_later(t)


@test
def copytruncate_gives_reset_truncated(t):
    _truncation(t)


@test
def file_missing_at_connect_is_waited_for(t):
    _appears_later(t)


@test
def file_deleted_and_recreated_is_followed(t):
    _deleted_recreated(t)


POLL = {"SSE_TAIL_POLL": "1"}


@test
def poll_mode_append_arrives_within_1s(t):
    _append_fast(t, POLL, limit=1.3)


@test
def poll_mode_rotation(t):
    _rotation(t, POLL)


@test
def poll_mode_rotation_new_file_appears_after_rename(t):
    _rotation_later(t, POLL)


@test
def poll_mode_copytruncate(t):
    _truncation(t, POLL)


@test
def poll_mode_file_missing_at_connect(t):
    _appears_later(t, POLL)


@test
def poll_mode_file_deleted_and_recreated(t):
    _deleted_recreated(t, POLL)


@test
def resume_across_processes(t):
    data, ids = _n_lines(5)
    srv, path = file_stream(t, data)
    r = srv.get("log")
    got = r.wait_events(5)
    last = got[-1]["id"]
    eq(srv.stop(), 0, "exit status on SIGTERM")
    t.append(path, "while-down-1\nwhile-down-2\n")
    conf = t.path("sse-tail.conf")
    srv2 = t.start(conf)
    r2 = srv2.get("log", last_event_id=last)
    base = len(data)
    expect(r2, [L("while-down-1", base + 13), L("while-down-2", base + 26)])
    expect_marker(t, r2, path)


# ============================================================ named pipes ==
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
    for k, r in enumerate(rs):
        expect(r, [L(x, o) for x, o in ids], what="client %d" % k)


@test
def pipe_writer_closes_and_reopens_ids_continue(t):
    (srv,), fifo = pipe_stream(t)
    r = opened(srv.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "a\n")
    expect(r, [L("a", 2)])
    close_writer(t, w)
    w = open_writer(t, fifo)
    write_all(w, "bb\n")
    expect(r, [L("bb", 5)])
    close_writer(t, w)
    r2 = opened(srv.get("p", query="lines=0"))
    w = open_writer(t, fifo)
    write_all(w, "ccc\n")
    expect(r, [L("ccc", 9)])
    expect(r2, [L("ccc", 9)])


@test
def pipe_partial_line_sent_when_writer_closes(t):
    (srv,), fifo = pipe_stream(t)
    r = opened(srv.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "abc\npartial")
    expect(r, [L("abc", 4)])
    close_writer(t, w)
    expect(r, [L("partial", 11)], 3, "unterminated line on writer close")
    w = open_writer(t, fifo)
    write_all(w, "next\n")
    expect(r, [L("next", 16)])


@test
def pipe_backlog_and_last_event_id_from_buffer(t):
    (srv,), fifo = pipe_stream(t)
    a = opened(srv.get("p"))
    w = open_writer(t, fifo)
    data, ids = _n_lines(20)
    write_all(w, data)
    expect(a, [L(x, o) for x, o in ids])
    b = srv.get("p", last_event_id=0)
    expect(b, [L(x, o) for x, o in ids], what="Last-Event-ID 0 (whole buffer, no reset)")
    c = srv.get("p", query="lines=3")
    expect(c, [L(x, o) for x, o in ids[-3:]], what="lines=3")
    d = srv.get("p")
    expect(d, [L(x, o) for x, o in ids[-10:]], what="default backlog")
    e = srv.get("p", last_event_id=ids[14][1])
    expect(e, [L(x, o) for x, o in ids[15:]], what="resume from the buffer")
    f = srv.get("p", last_event_id=len(data) + 1000)
    expect(f, [R("gap")] + [L(x, o) for x, o in ids], what="id beyond the pipe's end")
    g = srv.get("p", last_event_id=ids[3][1] + 2)
    expect(g, [R("gap")] + [L(x, o) for x, o in ids], what="id not after a newline")
    write_all(w, "z\n")
    for r in (a, b, c, d, e, f, g):
        expect(r, [L("z", len(data) + 2)])


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
    for r in (a, b, s):
        expect(r, [L(line(0).decode()[:-1], 100)])
    # The writer goes at the pace of the fast clients (each chunk is read by
    # a and b before the next is written); s reads nothing meanwhile.
    t0 = time.monotonic()
    for k in range(1, N, PER):
        write_all(w, b"".join(line(i) for i in range(k, min(N, k + PER))))
        last = str(min(N, k + PER) * 100)
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
        eq(r.events[-1]["own_id"], str(N * 100), "last id of client %s" % name)
    # now the slow one reads
    s.wait_until(lambda r: r.events and r.events[-1]["own_id"] == str(N * 100), 20,
                 "the slow client to catch up to the last line")
    evs = s.events
    resets = [i for i, e in enumerate(evs) if e["type"] == "reset"]
    check(len(resets) == 1, "slow client: %d reset events, want 1" % len(resets))
    i = resets[0]
    eq(tup(evs[i]), R("gap"), "the reset event")
    before = [int(e["data"][1:8]) for e in evs[:i]]
    after = [int(e["data"][1:8]) for e in evs[i + 1:]]
    eq(before, list(range(len(before))), "slow client's lines before the gap")
    check(after and after == list(range(after[0], N)),
          "slow client's lines after the gap are not contiguous to the end")
    check(after[0] > before[-1] + 1, "a gap was reported but nothing was skipped")
    for e in evs[i + 1:]:
        eq(e["own_id"], str((int(e["data"][1:8]) + 1) * 100), "id after the gap")
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
    data, ids = _n_lines(30)
    write_all(w, data)
    expect(a, [L(x, o + 2) for x, o in ids], what="first process still gets every line")


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
    write_all(w, "y\n")
    e = c.wait_event(5)
    eq(e["data"], "y", "line read by the second process")


# ====================================================== scale, hostile ====
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
    for r in rs:
        eq(tup(r.events[0]), L("hello", 12), "event")
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
    eq(e["own_id"], str(100 * MiB + 1), "id")
    want = "x" * 65536 + " [… %d bytes cut]" % (100 * MiB - 65536)
    check(e["data"] == want, "data: %d chars, ends %r; want ends %r"
          % (len(e["data"]), e["data"][-40:], want[-40:]))
    check(peak < 64 * 1024, "RSS reached %d KiB (limit 64 MiB)" % peak)
    t.append(path, "after\n")
    r.next_event = 1
    e2 = r.wait_event(5)
    eq(tup(e2), L("after", 100 * MiB + 7), "next line")


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
    eq(e["own_id"], str(100 * MiB + 1), "id")
    eq(e["data"], "y" * 1000 + " [… %d bytes cut]" % (100 * MiB - 1000), "data")
    eq(tup(r.events[1]), L("z", 100 * MiB + 3), "next line")
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
        eq(e["own_id"], str(end), "id of event %d" % k)
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


# ============================================================== signals ===
@test
def sigterm_ends_every_stream_and_exits_0_within_1s(t):
    data, _ = lines_data(["a"])
    p1 = t.write("a.log", data)
    fifo = t.path("p.fifo")
    os.mkfifo(fifo)
    conf = t.config("[stream a]\npath = %s\n[stream p]\npath = %s\n" % (p1, fifo))
    srv = t.start(conf)
    rs = [opened(srv.get("a")) for _ in range(3)] + [opened(srv.get("p"))]
    rs[0].wait_event()
    t0 = time.monotonic()
    os.kill(srv.pid, signal.SIGTERM)
    try:
        srv.proc.wait(3)
    except subprocess.TimeoutExpired:
        raise TestFailure("sse-tail still running 3s after SIGTERM")
    dt = time.monotonic() - t0
    t.note("exited %.3fs after SIGTERM" % dt)
    eq(srv.proc.returncode, 0, "exit status")
    check(dt <= 1.2, "exit took %.2fs after SIGTERM" % dt)
    names = ["file a #1", "file a #2", "file a #3", "pipe p #1"]
    missing = []
    for k, r in enumerate(rs):
        r.wait_until(lambda x: x.ended or x.eof, 2, "END_REQUEST or close")
        if not r.ended:
            missing.append(names[k])
        else:
            eq(r.protocol_status, 0, "protocolStatus (REQUEST_COMPLETE) of %s" % names[k])
    check(not missing, "no END_REQUEST (connection just closed) for: %s" % ", ".join(missing))


# ================================================================== CGI ====
@test
def cgi_mode_streams_raw_response(t):
    data, _ = lines_data(["one", "two"])
    path = t.write("log.log", data)
    conf = t.config("[stream log]\npath = %s\n" % path)
    c = t.cgi(conf, stream="log")
    r = c.resp.wait_headers(5)
    check(bytes(r.stdout).startswith(b"Status: 200"),
          "raw output does not start with a CGI Status header: %r" % bytes(r.stdout)[:60])
    eq(r.header("Content-Type"), "text/event-stream", "Content-Type")
    eq(r.header("Cache-Control"), "no-cache, no-transform", "Cache-Control")
    eq(r.header("X-Accel-Buffering"), "no", "X-Accel-Buffering")
    opened(r)
    expect(r, [L("one", 4), L("two", 8)])
    t0 = time.monotonic()
    t.append(path, "three\n")
    expect(r, [L("three", 14)], 2)
    check(time.monotonic() - t0 < 1.0, "appended line slow in CGI mode")


@test
def cgi_mode_config_from_env_and_query_name(t):
    data, _ = lines_data(["one"])
    path = t.write("log.log", data)
    conf = t.config("[stream log]\npath = %s\n[stream other]\npath = %s\n" % (path, path))
    c = t.cgi(None, query="stream=log", env={"SSE_TAIL_CONFIG": conf})
    r = c.resp.wait_headers(5)
    expect_stream_ok(r)
    expect(r, [L("one", 4)])


@test
def cgi_mode_sigterm_exits_0_within_1s(t):
    path = t.write("log.log", b"a\n")
    conf = t.config("[stream log]\npath = %s\n" % path)
    c = t.cgi(conf, stream="log")
    opened(c.resp.wait_headers(5))
    c.resp.wait_event()
    t0 = time.monotonic()
    os.kill(c.pid, signal.SIGTERM)
    try:
        c.proc.wait(3)
    except subprocess.TimeoutExpired:
        raise TestFailure("CGI process still running 3s after SIGTERM")
    dt = time.monotonic() - t0
    eq(c.proc.returncode, 0, "exit status")
    check(dt <= 1.2, "exit took %.2fs" % dt)
    c.resp.wait_eof(2)


@test
def cgi_mode_exits_when_stdout_reader_goes_away(t):
    path = t.write("log.log", b"a\n")
    conf = t.config("heartbeat = 1\n[stream log]\npath = %s\n" % path)
    c = t.cgi(conf, stream="log")
    opened(c.resp.wait_headers(5))
    c.resp.wait_event()
    c.resp.close()
    t0 = time.monotonic()
    wait_until(lambda: not c.alive(), 3.5, "the CGI process to exit after its reader went away "
             "(heartbeat = 1)")
    t.note("CGI exited %.2fs after the reader closed, status %r"
           % (time.monotonic() - t0, c.proc.returncode))


@test
def cgi_mode_errors_and_head(t):
    path = t.write("log.log", b"a\n")
    conf = t.config("[stream log]\npath = %s\n" % path)
    c = t.cgi(conf, stream="nosuch")
    expect_error(t, c.resp, 404, paths=(path,))
    wait_until(lambda: not c.alive(), 3, "the CGI process to exit after a 404")
    c = t.cgi(conf, stream="log", method="POST")
    expect_error(t, c.resp, 405, paths=(path,))
    eq(c.resp.header("Allow"), "GET, HEAD", "Allow")
    c = t.cgi(conf, stream="log", query="lines=abc")
    expect_error(t, c.resp, 400, paths=(path,))
    c = t.cgi(conf, stream="log", method="HEAD")
    c.resp.wait_eof(5)
    expect_stream_ok(c.resp)
    eq(bytes(c.resp.body), b"", "HEAD body")
    wait_until(lambda: not c.alive(), 3, "the CGI process to exit after HEAD")


# ============================================================== more ======
@test
def bad_config_at_start_exits_nonzero_with_line(t):
    conf = t.config("heartbeat = 15\n[stream a]\npath = %s\nbogus = 1\n" % t.path("a.log"))
    p = t.run(["--listen", "unix:" + t.path("s.sock")], conf=conf)
    check(p.returncode != 0, "exit status 0 with a bad config")
    check(("%s:4:" % conf).encode() in p.stderr, "stderr does not say FILE:4: %r" % p.stderr)


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


@test
def pipe_reader_kept_after_last_client_leaves(t):
    (srv,), fifo = pipe_stream(t)
    a = opened(srv.get("p"))
    w = open_writer(t, fifo)
    write_all(w, "a\n")
    expect(a, [L("a", 2)])
    a.close()
    write_all(w, "b\n")     # EPIPE here would mean the pipe was closed
    b = srv.get("p", last_event_id=2)
    expect(b, [L("b", 4)], what="line written while no client was connected")
    write_all(w, "c\n")
    expect(b, [L("c", 6)])


@test
def pipe_buffer_wrapped_id_0_and_old_id(t):
    # max-line small, so that the buffer is not raised to hold two longest lines
    (srv,), fifo = pipe_stream(t, sect="buffer = 4096\nmax-line = 100")
    a = opened(srv.get("p"))
    w = open_writer(t, fifo)
    data, ids = lines_data(["%04d" % i + "-" * 94 for i in range(200)])   # 99 bytes each
    for k in range(0, 200, 10):      # at the pace of client a
        write_all(w, data[k * 99:(k + 10) * 99])
        expect(a, [L(x, o) for x, o in ids[k:k + 10]])
    b = srv.get("p", last_event_id=0)
    b.wait_until(lambda r: r.events and r.events[-1]["own_id"] == str(len(data)), 5,
                 "the last line")
    got = [tup(e) for e in b.events]
    check(all(g[0] == "message" for g in got), "Last-Event-ID 0 on a pipe gave a reset: %r"
          % got[:2])
    k = len(got)
    check(1 <= k <= 41, "%d lines from a 4096-byte buffer" % k)
    eq(got, [L(x, o) for x, o in ids[-k:]], "lines from the buffer")
    c = srv.get("p", last_event_id=ids[5][1])
    c.wait_until(lambda r: r.events and r.events[-1]["own_id"] == str(len(data)), 5,
                 "the last line")
    got = [tup(e) for e in c.events]
    eq(got[0], R("gap"), "first event for an id that fell out of the buffer")
    eq(got[1:], [L(x, o) for x, o in ids[-(len(got) - 1):]], "lines after the gap")


@test
def cgi_mode_pipe_second_process_is_503(t):
    fifo = t.path("p.fifo")
    os.mkfifo(fifo)
    conf = t.config("[stream p]\npath = %s\n" % fifo)
    c1 = t.cgi(conf, stream="p")
    opened(c1.resp.wait_headers(5))
    w = open_writer(t, fifo)
    write_all(w, "x\n")
    expect(c1.resp, [L("x", 2)])
    c2 = t.cgi(conf, stream="p")
    expect_error(t, c2.resp, 503, paths=(fifo,))
    check(c2.resp.header("Retry-After") is not None, "no Retry-After")
    write_all(w, "y\n")
    expect(c1.resp, [L("y", 4)])
