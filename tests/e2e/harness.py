"""Harness for the sse-tail end-to-end tests: temp dirs, config files,
starting and stopping sse-tail in each start mode, waiting helpers, and a
tiny test registry.  Python 3 standard library only."""

import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import traceback
import urllib.parse

import fcgi
from common import TestFailure, TestTimeout, check, free_port, wait_until  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- binary --
def binary_path():
    """SSE_TAIL, else $builddir/../src/sse-tail, else ../../src/sse-tail
    relative to this directory (an in-tree build)."""
    env = os.environ.get("SSE_TAIL")
    if env:
        return os.path.abspath(env)
    cands = []
    bd = os.environ.get("builddir")
    if bd:
        cands += [os.path.join(bd, "..", "src", "sse-tail"),
                  os.path.join(bd, "src", "sse-tail")]
    cands.append(os.path.join(HERE, "..", "..", "src", "sse-tail"))
    cands.append(os.path.join(os.getcwd(), "src", "sse-tail"))
    cands.append(os.path.join(os.getcwd(), "..", "src", "sse-tail"))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return os.path.abspath(cands[0])


BIN = binary_path()

# variables of the outer environment that would change how sse-tail starts
_STRIP = ("SSE_TAIL_CONFIG", "SSE_TAIL_POLL", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
          "GATEWAY_INTERFACE", "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SCRIPT_NAME",
          "HTTP_ACCEPT", "HTTP_LAST_EVENT_ID", "SERVER_PROTOCOL", "REQUEST_URI",
          "CONTENT_LENGTH", "CONTENT_TYPE")


def base_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


def read_text(path):
    """The text of a log file the test collected, or "" when there is none."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Skip(Exception):
    pass


def eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


# -------------------------------------------------------------- requests --
def cgi_params(method="GET", stream=None, path_info=None, query="",
               accept="text/event-stream", last_event_id=None, headers=None,
               script_name="/events", extra=None):
    if stream is not None and path_info is None:
        path_info = "/" + stream
    if isinstance(query, dict):
        query = urllib.parse.urlencode(query)
    p = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "sse-tail-e2e",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "QUERY_STRING": query,
        "REQUEST_URI": script_name + (path_info or "") + ("?" + query if query else ""),
        "CONTENT_LENGTH": "0",
    }
    if path_info is not None:
        p["PATH_INFO"] = path_info
    if accept is not None:
        p["HTTP_ACCEPT"] = accept
    if last_event_id is not None:
        p["HTTP_LAST_EVENT_ID"] = str(last_event_id)
    for k, v in (headers or {}).items():
        p["HTTP_" + k.upper().replace("-", "_")] = v
    if extra:
        p.update(extra)
    return p


# ---------------------------------------------------------------- server --
def _demote():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


class Server:
    def __init__(self, t, proc, addr, stderr_path, mode):
        self.t = t
        self.proc = proc
        self.pid = proc.pid
        self.addr = addr
        self.stderr_path = stderr_path
        self.mode = mode
        self.returncode = None

    def alive(self):
        return self.proc.poll() is None

    def request(self, stream=None, timeout=5.0, stdin=b"", what=None, **kw):
        params = cgi_params(stream=stream, **kw)
        r = fcgi.request(self.addr, params, stdin=stdin, timeout=timeout,
                         what=what or ("%s %s%s" % (params["REQUEST_METHOD"],
                                                    params.get("PATH_INFO", ""),
                                                    "?" + params["QUERY_STRING"][:60]
                                                    if params["QUERY_STRING"] else "")))
        self.t.responses.append(r)
        return r

    def get(self, stream=None, timeout=5.0, **kw):
        """request() and wait for the headers."""
        return self.request(stream, timeout=timeout, **kw).wait_headers(timeout)

    def answer(self, stream=None, timeout=5.0, **kw):
        """request() and wait for the whole (error or page) answer."""
        return self.request(stream, timeout=timeout, **kw).wait_end(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        return self.returncode

    def stderr_text(self):
        return read_text(self.stderr_path)

    def status_field(self, name):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
        return None

    def rss_kb(self):
        v = self.status_field("VmRSS")
        return int(v.split()[0]) if v else 0

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


class CGI:
    """sse-tail run once as a CGI program: raw response on its stdout."""

    def __init__(self, t, proc, stderr_path):
        self.t = t
        self.proc = proc
        self.pid = proc.pid
        self.stderr_path = stderr_path
        self.resp = fcgi.Response(proc.stdout, framed=False, what="CGI")
        t.responses.append(self.resp)

    def stderr_text(self):
        return read_text(self.stderr_path)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        return Server.stop(self, sig, timeout)


# ----------------------------------------------------------- test context --
class T:
    """Per-test context: a temp dir, the processes started, cleanup."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="sse-tail-e2e-")
        self.servers = []
        self.responses = []
        self.fds = []
        self.cleanups = []
        self.notes = []
        self.nstart = 0

    # files
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, data=b"", mode="wb"):
        p = name if os.path.isabs(name) else self.path(name)
        if isinstance(data, str):
            data = data.encode()
        with open(p, mode) as f:
            f.write(data)
        return p

    def append(self, path, data):
        if isinstance(data, str):
            data = data.encode()
        with open(path, "ab") as f:
            f.write(data)

    def config(self, text, name="sse-tail.conf"):
        return self.write(name, text)

    def note(self, msg):
        self.notes.append(msg)

    # processes
    def start(self, conf, mode="unix", env=None, args=(), wait=True, as_nobody=False,
              timeout=10.0):
        self.nstart += 1
        n = self.nstart
        errp = self.path("stderr-%d.txt" % n)
        errf = open(errp, "wb")
        env = base_env(env)
        argv = [BIN]
        if conf is not None:
            argv += ["--config", conf]
        stdin = subprocess.DEVNULL
        lsock = None
        preexec = _demote if as_nobody else None
        if as_nobody and mode == "unix":
            mode = "fd0"
        if as_nobody:
            os.chmod(self.dir, 0o755)
        if mode == "unix":
            sp = self.path("s%d.sock" % n)
            addr = "unix:" + sp
            argv += ["--listen", addr]
        elif mode == "tcp":
            port = free_port()
            addr = "127.0.0.1:%d" % port
            argv += ["--listen", addr]
        elif mode in ("fd0", "systemd"):
            sp = self.path("s%d.sock" % n)
            addr = "unix:" + sp
            lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lsock.bind(sp)
            lsock.listen(4096)
            if as_nobody:
                os.chmod(sp, 0o777)
            stdin = lsock.fileno()
            if mode == "systemd":
                argv = ["/bin/sh", "-c",
                        'exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'] + argv
        else:
            raise ValueError(mode)
        argv += list(args)
        proc = subprocess.Popen(argv, stdin=stdin, stdout=errf, stderr=errf, env=env,
                                preexec_fn=preexec)
        errf.close()
        if lsock is not None:
            lsock.close()
        srv = Server(self, proc, addr, errp, mode)
        self.servers.append(srv)
        if wait:
            self.wait_ready(srv, timeout)
        return srv

    def wait_ready(self, srv, timeout=10.0):
        def ready():
            if not srv.alive():
                raise TestFailure("sse-tail exited with %r before accepting connections"
                                  % srv.proc.returncode)
            try:
                s = fcgi.connect(srv.addr, 1.0)
            except OSError:
                return False
            s.close()
            return True
        wait_until(ready, timeout, "sse-tail to accept connections on " + srv.addr)

    def cgi(self, conf, stream=None, env=None, args=(), **kw):
        """Runs sse-tail as a CGI program for one request."""
        self.nstart += 1
        errp = self.path("stderr-%d.txt" % self.nstart)
        errf = open(errp, "wb")
        params = cgi_params(stream=stream, **kw)
        e = base_env(params)
        if env:
            e.update(env)
        argv = [BIN] + (["--config", conf] if conf else []) + list(args)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errf, env=e)
        errf.close()
        c = CGI(self, proc, errp)
        self.servers.append(c)
        return c

    def run(self, args, env=None, stdin=subprocess.DEVNULL, timeout=10.0, conf=None):
        """Runs sse-tail to completion; returns CompletedProcess (text)."""
        argv = [BIN] + (["--config", conf] if conf else []) + list(args)
        return subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=base_env(env), timeout=timeout)

    # teardown
    def cleanup(self):
        for r in self.responses:
            try:
                r.close()
            except Exception:
                pass
        for s in self.servers:
            try:
                s.stop(signal.SIGTERM, 3.0)
            except Exception:
                pass
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        for fn in self.cleanups:
            try:
                fn()
            except Exception:
                pass
        self.saved_stderr = self.stderr_report()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stderr_report(self):
        out = []
        for i, s in enumerate(self.servers):
            txt = s.stderr_text().rstrip("\n")
            if txt:
                lines = txt.split("\n")
                if len(lines) > 40:
                    lines = ["... (%d lines)" % len(lines)] + lines[-40:]
                out.append("  --- stderr of sse-tail #%d (pid %d, %s) ---"
                           % (i + 1, s.pid, getattr(s, "mode", "cgi")))
                out += ["  " + l for l in lines]
        return out


# ------------------------------------------------------ many responses ----
def pump_many(responses, pred, timeout, what):
    """Reads from many responses at once (epoll) until pred() is true."""
    sel = selectors.DefaultSelector()
    by_fd = {}
    for r in responses:
        if not (r.closed or r.eof):
            sel.register(r.fileno(), selectors.EVENT_READ)
            by_fd[r.fileno()] = r
    deadline = time.monotonic() + timeout
    try:
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
            for key, _ in sel.select(min(left, 0.5)):
                r = by_fd.get(key.fd)
                if r is None:
                    continue
                r._read_avail()
                if r.eof or r.closed:
                    sel.unregister(key.fd)
                    del by_fd[key.fd]
    finally:
        sel.close()


# -------------------------------------------------------------- registry --
TESTS = []


def test(fn=None, *, timeout=30):
    """Decorator: registers fn as a test named as the function is (its
    topic is its module), with a timeout in seconds for the whole test."""
    def reg(f):
        register(f.__name__, f, timeout)
        return f
    if fn is not None:
        return reg(fn)
    return reg


def register(name, fn, timeout=30):
    """Registers fn(t) as the test name; a name is used once in all topics."""
    if any(n == name for n, _, _ in TESTS):
        raise ValueError("test %s registered twice" % name)
    TESTS.append((name, fn, timeout))


def _alarm(signum, frame):
    raise TestTimeout("test timed out")


def run_one(name, fn, timeout):
    """Runs one test; returns (status, reason, details)."""
    t = T(name)
    status, reason, details = "ok", "", []
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            fn(t)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Skip as e:
        status, reason = "skip", str(e)
    except TestTimeout:
        status, reason = "FAIL", "whole test took over %ds" % timeout
        details = ["  " + l for l in traceback.format_exc().rstrip().split("\n")[-6:]]
    except (TestFailure, fcgi.Timeout, AssertionError) as e:
        status, reason = "FAIL", str(e) or type(e).__name__
        tb = traceback.extract_tb(e.__traceback__)
        where = [f for f in tb if os.path.dirname(os.path.abspath(f.filename)) == HERE
                 and os.path.basename(f.filename) != "harness.py"]
        if where:
            details = ["  at %s:%d in %s: %s" % (os.path.basename(f.filename), f.lineno,
                                                 f.name, f.line) for f in where[-2:]]
    except Exception as e:
        status, reason = "FAIL", "%s: %s" % (type(e).__name__, e)
        details = ["  " + l for l in traceback.format_exc().rstrip().split("\n")[-8:]]
    finally:
        signal.signal(signal.SIGALRM, old)
        try:
            signal.setitimer(signal.ITIMER_REAL, 20)
            signal.signal(signal.SIGALRM, _alarm)
            t.cleanup()
        except TestTimeout:
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    if status != "FAIL" and os.environ.get("E2E_VERBOSE"):
        details = ["  note: " + n for n in t.notes]
    if status == "FAIL":
        details += t.notes and ["  note: " + n for n in t.notes] or []
        details += getattr(t, "saved_stderr", None) or t.stderr_report()
    return status, reason, details
