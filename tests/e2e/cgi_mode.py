"""End-to-end tests of sse-tail run as a CGI program, one process a request.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import os
import signal
import subprocess
import time

from harness import TestFailure, check, eq, test, wait_until
from helpers import (L, expect, expect_error, expect_stream_ok, lines_data, open_writer,
                     opened, own_tag, write_all)


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
    expect(r, [L("one", 4), L("two", 8)], src=data)
    t0 = time.monotonic()
    t.append(path, "three\n")
    expect(r, [L("three", 14)], 2, src=path)
    check(time.monotonic() - t0 < 1.0, "appended line slow in CGI mode")


@test
def cgi_mode_config_from_env_and_query_name(t):
    data, _ = lines_data(["one"])
    path = t.write("log.log", data)
    conf = t.config("[stream log]\npath = %s\n[stream other]\npath = %s\n" % (path, path))
    c = t.cgi(None, query="stream=log", env={"SSE_TAIL_CONFIG": conf})
    r = c.resp.wait_headers(5)
    expect_stream_ok(r)
    expect(r, [L("one", 4)], src=data)


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
    expect(c1.resp, [L("y", 4, tag=own_tag(c1.resp.events[0]))], what="the reader's tag")
