"""End-to-end tests of following that recovers by itself (issue 9, point 4):
a file rotated in that cannot be opened yet (logrotate's create makes it
0600 and chmods it a moment later; or no descriptor is left at that
moment) is retried until it opens.  Meanwhile the clients, new ones too,
go on with the old file; then the rotation proceeds as any other; the
error is logged once, not at every retry."""

import os
import resource
import time

from harness import TestFailure, check, eq, test, wait_until
from helpers import POLL, L, ROT, expect, file_id, lines_data, opened

POLL_S = 1.0            # FOLLOW_POLL_MS
WINDOW = 2.5 * POLL_S   # two retries at the polling interval, at least


def log_count(srv, needle):
    return sum(needle in line for line in srv.stderr_text().splitlines())


def logged_once(t, srv, needle):
    """Waits for a log line holding needle, then watches the log for a
    window of WINDOW seconds, in which the follower retries at least twice:
    the line must not come again.  (The retries leave no other trace: this
    window is the measurement itself, not a wait for an event.)"""
    wait_until(lambda: log_count(srv, needle) >= 1, 5, "log line %r" % needle)
    deadline = time.monotonic() + WINDOW
    while time.monotonic() < deadline:
        n = log_count(srv, needle)
        if n > 1:
            raise TestFailure("%r logged %d times within %.1f s, want once"
                              % (needle, n, WINDOW))
        time.sleep(0.05)
    check(srv.alive(), "sse-tail exited")


def ends_cleanly(srv):
    """SIGTERM: exit 0 (under the sanitizers, a leak or an error is 99)."""
    eq(srv.stop(), 0, "exit status on SIGTERM")
    check("Sanitizer" not in srv.stderr_text(), "a sanitizer spoke: %r" % srv.stderr_text())


def create_unreadable(t, path, as_nobody):
    """logrotate's create: a new empty file at path, mode 0600, owned by
    root while sse-tail runs as nobody (else mode 0, which its owner cannot
    read either)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    if not as_nobody:
        os.fchmod(fd, 0)
    os.close(fd)


def _started_as_reader(t, content, env):
    """A file stream served by an sse-tail that cannot read a root-owned
    file of mode 0600 (nobody when we are root)."""
    as_nobody = os.geteuid() == 0
    path = t.write("log.log", content)
    os.chmod(path, 0o644)
    conf = t.config("heartbeat = 60\n[stream log]\npath = %s\n" % path)
    os.chmod(conf, 0o644)
    srv = t.start(conf, env=env, as_nobody=as_nobody)
    return srv, path, as_nobody


def _create_then_chmod(t, env=None):
    data, _ = lines_data(["old1", "old2"])
    srv, path, as_nobody = _started_as_reader(t, data, env)
    r = srv.get("log")
    expect(r, [L("old1", 5), L("old2", 10)], src=data)
    t.append(path, "old3\npartial")
    old = path + ".1"
    os.rename(path, old)
    create_unreadable(t, path, as_nobody)
    t.append(path, "new1\nnew2\n")         # root writes through its permission
    # The writer has not reopened yet: the old file is still followed.
    t.append(old, "-end\n")
    expect(r, [L("old3", 15), L("partial-end", 27)], 5, "the old file's tail", src=old)
    logged_once(t, srv, "Permission denied")
    err = srv.stderr_text()
    check(path in err and "stream log" in err,
          "the log line does not name the stream and the file: %r" % err)

    # New clients meanwhile get the old file, backlog or resume.
    r2 = srv.get("log", query="lines=2")
    eq(r2.status, 200, "status of a client that connects during the failure")
    expect(r2, [L("old3", 15), L("partial-end", 27)], 5, "backlog from the old file", src=old)
    r3 = srv.get("log", last_event_id=file_id(data, 10))
    eq(r3.status, 200, "status of a client that resumes during the failure")
    expect(r3, [L("old3", 15), L("partial-end", 27)], 5, "resume in the old file", src=old)

    t0 = time.monotonic()
    os.chmod(path, 0o644)
    after = [ROT, L("new1", 5, path), L("new2", 10, path)]
    for x, what in ((r, "first client"), (r2, "backlog client"), (r3, "resumed client")):
        expect(x, after, 5, "%s after the chmod" % what)
    t.note("new file followed %.3f s after the chmod" % (time.monotonic() - t0))
    t.append(path, "new3\n")
    for x in (r, r2, r3):
        expect(x, [L("new3", 15)], 3, "a line appended to the new file", src=path)
    wait_until(lambda: log_count(srv, "no longer retrying") == 1, 3, "the recovery logged")
    eq(log_count(srv, "Permission denied (retrying)"), 1, "lines logged about the failure")
    ends_cleanly(srv)


@test
def logrotate_create_0600_then_chmod_is_followed(t):
    _create_then_chmod(t)


@test
def poll_mode_logrotate_create_0600_then_chmod_is_followed(t):
    _create_then_chmod(t, POLL)


def lowest_free_fd(pid):
    used = {int(n) for n in os.listdir("/proc/%d/fd" % pid)}
    n = 0
    while n in used:
        n += 1
    return n


def _emfile_at_rotation(t, env=None):
    data, _ = lines_data(["old1", "old2"])
    path = t.write("log.log", data)
    conf = t.config("heartbeat = 60\n[stream log]\npath = %s\n" % path)
    srv = t.start(conf, env=env)
    r = srv.get("log")
    expect(r, [L("old1", 5), L("old2", 10)], src=data)
    soft, hard = resource.prlimit(srv.pid, resource.RLIMIT_NOFILE)
    # No descriptor left in sse-tail: its next open fails with EMFILE.
    resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (lowest_free_fd(srv.pid), hard))
    t.cleanups.append(lambda: srv.alive() and resource.prlimit(
        srv.pid, resource.RLIMIT_NOFILE, (soft, hard)))
    t.append(path, "old3\n")
    os.rename(path, path + ".1")
    t.write(path, b"new1\nnew2\n")
    expect(r, [L("old3", 15)], 5, "the old file's tail", src=path + ".1")
    logged_once(t, srv, "Too many open files")
    # Descriptors again; no file system event says so.
    resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (soft, hard))
    expect(r, [ROT, L("new1", 5, path), L("new2", 10, path)], 5,
           "the new file once fds are free")
    t.append(path, "new3\n")
    expect(r, [L("new3", 15)], 3, "a line appended to the new file", src=path)
    r2 = srv.get("log", query="lines=1")
    expect(r2, [L("new3", 15)], 3, "a new client's backlog", src=path)
    wait_until(lambda: log_count(srv, "no longer retrying") == 1, 3, "the recovery logged")
    eq(log_count(srv, "Too many open files (retrying)"), 1, "lines logged about the failure")
    ends_cleanly(srv)


@test
def emfile_at_rotation_recovers_when_fds_free(t):
    _emfile_at_rotation(t)


@test
def poll_mode_emfile_at_rotation_recovers_when_fds_free(t):
    _emfile_at_rotation(t, POLL)


@test
def unreadable_file_with_none_open_is_503_then_followed(t):
    # The stream waits for a file that comes unreadable: no older file is
    # open to serve meanwhile.  A waiting client keeps waiting, a new one
    # is told 503 (as at a first open); after the chmod both are served.
    as_nobody = os.geteuid() == 0
    path = t.path("log.log")
    conf = t.config("heartbeat = 60\n[stream log]\npath = %s\n" % path)
    os.chmod(conf, 0o644)
    srv = t.start(conf, as_nobody=as_nobody)
    r = opened(srv.get("log"))
    eq(r.status, 200, "status while the file is missing")
    create_unreadable(t, path, as_nobody)
    t.append(path, "new1\n")
    logged_once(t, srv, "Permission denied")
    r2 = srv.request("log")
    r2.wait_end(5)
    eq(r2.status, 503, "status of a new client while the file cannot be read")
    check(not r.eof and not r.events, "the waiting client's stream changed")
    os.chmod(path, 0o644)
    expect(r, [L("new1", 5)], 5, "the waiting client after the chmod", src=path)
    r3 = srv.get("log")
    expect(r3, [L("new1", 5)], 5, "a new client after the chmod", src=path)
    ends_cleanly(srv)
