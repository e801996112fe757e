#!/usr/bin/env python3
"""The static sse-tail (configure --enable-static) in a chroot that holds
nothing but the binary, its configuration and a log file: no C library,
no /dev, no /proc, no /etc. Checks that it answers a stream in CGI mode
and in FastCGI mode (TCP and a unix socket in the chroot, with a numeric
--socket-group), and that a host name given to --listen is refused with
a message. Run by tests/static.sh, as root (chroot needs it).

Usage: tests/static.py BINARY. Speaks TAP; the last line is "N passed,
N failed"; exits 1 if any failed.

Without /proc, inotify cannot watch the opened file (sse-tail names it
/proc/self/fd/N): sse-tail says so and polls the file once a second, so
an appended line may take a second here.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fcgi  # noqa: E402
from common import (TestFailure, can_connect, check, free_port,  # noqa: E402
                    wait_until)

POLL_S = 3.0    # an appended line, with polling once a second
# The chroot(8) of the test's PATH: sse-tail's environment is the request's.
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


class Chroot:
    """A directory with /sse-tail, /sse-tail.conf and /test.log only."""

    def __init__(self, binary):
        self.root = tempfile.mkdtemp(prefix="sse-tail-chroot-")
        os.chmod(self.root, 0o755)
        shutil.copy(binary, self.p("sse-tail"))
        os.chmod(self.p("sse-tail"), 0o755)
        with open(self.p("sse-tail.conf"), "w") as f:
            f.write("heartbeat = 1\nretry = 1000\nbacklog = 2\n\n"
                    "[stream test]\npath = /test.log\n")
        with open(self.p("test.log"), "w") as f:
            f.write("first line\nsecond line\n")
        self.procs = []

    def p(self, name):
        return os.path.join(self.root, name)

    def listing(self):
        return sorted(os.listdir(self.root))

    def append(self, text):
        with open(self.p("test.log"), "a") as f:
            f.write(text + "\n")

    def start(self, args, env, stdout=subprocess.DEVNULL):
        # stderr outside the chroot, so that it holds only the three files.
        err = tempfile.TemporaryFile()
        p = subprocess.Popen([CHROOT, self.root, "/sse-tail"] + args,
                             stdin=subprocess.DEVNULL, stdout=stdout,
                             stderr=err, env=env, start_new_session=True)
        p.err = err
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stderr(self, p):
        p.err.seek(0)
        return p.err.read().decode("utf-8", "replace")

    def cleanup(self):
        for p in self.procs:
            self.stop(p)
            p.err.close()
        shutil.rmtree(self.root, ignore_errors=True)


def check_stream(c, r):
    """The preamble and the backlog, then a line appended arrives."""
    r.wait_headers(5)
    check(r.status in (None, 200), "status %r" % r.status)
    check(r.header("Content-Type") == "text/event-stream",
          "Content-Type %r" % r.header("Content-Type"))
    r.wait_until(lambda x: x.retry == 1000, 5, "retry: 1000")
    evs = r.wait_events(2, 5)
    check([e.data for e in evs] == ["first line", "second line"],
          "backlog %r" % [e.data for e in evs])
    text = "appended at %.6f" % time.time()
    t0 = time.monotonic()
    c.append(text)
    e = r.wait_event(POLL_S)
    check(e.data == text, "got %r, not %r" % (e.data, text))
    return "appended line after %.0f ms" % ((time.monotonic() - t0) * 1000)


def t_only_three_files(binary, c):
    check(c.listing() == ["sse-tail", "sse-tail.conf", "test.log"],
          "the chroot holds %r" % c.listing())
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    check("not a dynamic executable" in out, "ldd says %r" % out)


def t_cgi(binary, c):
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
           "PATH_INFO": "/test", "SSE_TAIL_CONFIG": "/sse-tail.conf"}
    p = c.start([], env, stdout=subprocess.PIPE)
    try:
        r = fcgi.Response(p.stdout, framed=False, what="CGI in chroot")
        note = check_stream(c, r)
        check(p.poll() is None, "exited %r" % p.returncode)
    finally:
        c.stop(p)
    check(p.returncode == 0, "exit status %r after SIGTERM: %s"
          % (p.returncode, c.stderr(p)))
    return note


def fcgi_stream(c, addr):
    r = fcgi.request(addr, {"GATEWAY_INTERFACE": "CGI/1.1",
                            "REQUEST_METHOD": "GET", "PATH_INFO": "/test",
                            "SCRIPT_NAME": "/events"}, what="FastCGI")
    try:
        return check_stream(c, r)
    finally:
        r.close()


def t_fastcgi_tcp(binary, c):
    port = free_port()
    p = c.start(["--config", "/sse-tail.conf", "--listen",
                 "127.0.0.1:%d" % port], {})
    try:
        wait_until(lambda: can_connect(port) or p.poll() is not None,
                   5, "listening on 127.0.0.1:%d" % port)
        check(p.poll() is None, "exited: %s" % c.stderr(p))
        return fcgi_stream(c, "127.0.0.1:%d" % port)
    finally:
        c.stop(p)


def t_fastcgi_unix(binary, c):
    sock = c.p("sse-tail.sock")
    p = c.start(["--config", "/sse-tail.conf", "--listen",
                 "unix:/sse-tail.sock", "--socket-mode", "0660",
                 "--socket-group", "33"], {})
    try:
        wait_until(lambda: can_connect(sock) or p.poll() is not None,
                   5, "listening on unix:/sse-tail.sock")
        check(p.poll() is None, "exited: %s" % c.stderr(p))
        st = os.stat(sock)
        check(st.st_gid == 33 and st.st_mode & 0o777 == 0o660,
              "socket gid %d mode %o, not 33 0660"
              % (st.st_gid, st.st_mode & 0o777))
        return fcgi_stream(c, "unix:" + sock)
    finally:
        c.stop(p)
        check(not os.path.exists(sock), "the socket is left at exit")


def t_names_refused(binary, c):
    """Names need NSS, which the static build does not load: a clear
    error, exit 2 or 1, no crash."""
    out = []
    for args, want in (
            (["--listen", "localhost:%d" % free_port()], "--listen"),
            (["--listen", "unix:/s.sock", "--socket-group", "www-data"],
             "not a number")):
        p = c.start(["--config", "/sse-tail.conf"] + args, {})
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s: still running" % " ".join(args))
        err = c.stderr(p).strip()
        check(p.returncode in (1, 2) and want in err,
              "%s: exit %r, %r" % (" ".join(args), p.returncode, err))
        out.append(err.splitlines()[-1])
    return "; ".join(out)


TESTS = [("ldd-and-chroot", t_only_three_files), ("cgi", t_cgi),
         ("fastcgi-tcp", t_fastcgi_tcp), ("fastcgi-unix", t_fastcgi_unix),
         ("names-refused", t_names_refused)]


def main(argv):
    if len(argv) != 1:
        print("usage: static.py BINARY", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[0])
    print("1..%d" % len(TESTS))
    print("# testing %s" % binary)
    passed = failed = 0
    for i, (name, fn) in enumerate(TESTS):
        c = Chroot(binary)
        try:
            note = fn(binary, c)
            ok = True
        except (TestFailure, AssertionError, fcgi.Timeout) as e:
            ok, note = False, str(e)
        except Exception as e:
            tb = traceback.extract_tb(e.__traceback__)[-1]
            ok, note = False, "%s: %s (%s:%d)" % (
                type(e).__name__, e, os.path.basename(tb.filename), tb.lineno)
        errs = []
        for p in c.procs:
            errs.extend(c.stderr(p).strip().splitlines())
        c.cleanup()
        if ok:
            passed += 1
            print("ok %d - static/%s" % (i + 1, name))
        else:
            failed += 1
            print("not ok %d - static/%s" % (i + 1, name))
        if note:
            print("#   " + note.replace("\n", "\n#   "))
        for line in errs[-5:]:
            print("#   stderr: " + line)
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
