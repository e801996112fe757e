"""End-to-end tests of the signals sse-tail takes: SIGTERM ends every
stream and the process; (issue 9) SIGHUP re-reads the configuration,
SIGUSR1 logs a status line, SIGUSR2 and SIGPIPE do nothing; none of them
kills the process or stops it accepting."""
import os
import signal
import subprocess
import time

from harness import TestFailure, check, eq, test, wait_until
from helpers import (L, expect, expect_error, expect_marker, expect_stream_ok, lines_data,
                     opened)


def two_streams(t, extra_a=""):
    a = t.write("a.log", b"a1\n")
    b = t.write("b.log", b"b1\n")
    text = ("[stream a]\npath = %s\n%s\n[stream b]\npath = %s\n"
            % (a, extra_a, b))
    conf = t.config(text)
    return conf, a, b


def hup_and_wait(t, srv, count_before, what="read again"):
    """Sends SIGHUP and waits for the log line that says it was handled."""
    os.kill(srv.pid, signal.SIGHUP)
    wait_until(lambda: srv.stderr_text().count("SIGHUP:") > count_before, 5.0,
               "the SIGHUP log line")
    txt = srv.stderr_text()
    line = [x for x in txt.splitlines() if "SIGHUP:" in x][-1]
    check(what in line, "SIGHUP log line %r does not say %r" % (line, what))
    return line


def signal_pending(pid, signo):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("SigPnd:", "ShdPnd:")):
                if int(line.split()[1], 16) & (1 << (signo - 1)):
                    return True
    return False


@test
def sighup_keeps_unchanged_streams_ends_removed_ones_and_adds_new(t):
    conf, a, b = two_streams(t)
    srv = t.start(conf)
    ra = srv.get("a", query="lines=0")
    rb = srv.get("b", query="lines=0")
    expect_stream_ok(ra)
    expect_stream_ok(rb)
    c = t.write("c.log", b"c1\nc2\n")
    t.config("[stream a]\npath = %s\n\n[stream c]\npath = %s\n" % (a, c))
    hup_and_wait(t, srv, 0)
    # b went away: its client gets END_REQUEST.
    rb.wait_end(5.0)
    eq(rb.protocol_status, 0, "b's END_REQUEST protocol status")
    # a did not change: its client goes on, nothing lost or repeated.
    expect_marker(t, ra, a)
    check(not ra.ended, "a's client was ended by a reload that left a alone")
    # New requests use the new configuration.
    expect_error(t, srv.answer("b"), 404)
    rc = srv.get("c", query="lines=1")
    expect_stream_ok(rc)
    expect(rc, [L("c2", 6)], src=c)
    check(srv.alive(), "sse-tail died")


@test
def sighup_ends_the_clients_of_a_changed_stream(t):
    conf, a, b = two_streams(t)
    srv = t.start(conf)
    ra = srv.get("a", query="lines=0")
    rb = srv.get("b", query="lines=0")
    expect_stream_ok(ra)
    t.config("[stream a]\npath = %s\nevent = changed\n\n[stream b]\npath = %s\n"
             % (a, b))
    hup_and_wait(t, srv, 0)
    ra.wait_end(5.0)
    expect_marker(t, rb, b)
    check(not rb.ended, "b's client was ended though b did not change")
    r = srv.get("a", query="lines=1")
    got = r.wait_events(1, 5.0)
    eq(got[0]["type"], "changed", "the new event name")


@test
def sighup_refuses_a_bad_configuration_and_keeps_the_old(t):
    conf, a, b = two_streams(t)
    srv = t.start(conf)
    ra = srv.get("a", query="lines=0")
    expect_stream_ok(ra)
    t.config("[stream a]\npath = %s\nno-such-key = 1\n" % a)
    line = hup_and_wait(t, srv, 0, "kept")
    check("sse-tail.conf:3" in line, "the refusal %r does not name line 3" % line)
    expect_marker(t, ra, a)
    r = srv.get("b", query="lines=1")
    expect_stream_ok(r)
    expect(r, [L("b1", 3)], src=b)


@test
def sigusr1_logs_status_and_no_signal_deafens_it(t):
    data, ids = lines_data(["x"])
    p = t.write("log.log", data)
    conf = t.config("[stream log]\npath = %s\n" % p)
    srv = t.start(conf)
    r0 = srv.get(query="lines=0")
    expect_stream_ok(r0)
    os.kill(srv.pid, signal.SIGUSR1)
    wait_until(lambda: "status:" in srv.stderr_text(), 5.0, "the SIGUSR1 status line")
    line = [x for x in srv.stderr_text().splitlines() if "status:" in x][-1]
    check("log: 1" in line, "status line %r does not count the stream's client" % line)
    for sig in (signal.SIGUSR2, signal.SIGPIPE, signal.SIGUSR1):
        os.kill(srv.pid, sig)
        wait_until(lambda: not signal_pending(srv.pid, sig), 5.0,
                   "sse-tail to take signal %d" % sig)
        check(srv.alive(), "sse-tail died of signal %d" % sig)
        # It still accepts, and the open stream still flows.
        r = srv.get(query="lines=1")
        expect_stream_ok(r)
        expect(r, [L("x", 2)], src=data)
        r.close()
    expect_marker(t, r0, p)
    eq(srv.stop(), 0, "exit status after SIGTERM")


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

