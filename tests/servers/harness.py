"""What the web-server tests share: the binary, temporary directories,
processes started and stopped by pid, readiness by connecting, the shipped
snippets with their default paths replaced, and sse-tail configurations.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time

from common import (TestFailure, TestTimeout, can_connect, check,  # noqa: F401
                    file_id, free_port, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
CONF_DIR = os.path.join(TOP, "conf")
BIN = os.path.abspath(os.environ.get("SSE_TAIL") or
                      os.path.join(HERE, "..", "..", "src", "sse-tail"))

# The user the servers run their workers as, and the daemons run as.
WORKER_USER = "www-data"
WORKER_GROUP = "www-data"


def worker_ids():
    return pwd.getpwnam(WORKER_USER).pw_uid, grp.getgrnam(WORKER_GROUP).gr_gid


# ---- processes ----

def proc_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def procs_mentioning(marker, exe=None):
    """Pids of live processes whose command line or environment contains
    marker (a test directory), and, when exe is given, that run it (exe: a
    path, or a function of the path)."""
    out = []
    m = marker.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        pid = int(d)
        if exe is not None:
            try:
                path = os.readlink("/proc/%d/exe" % pid)
                if not (exe(path) if callable(exe) else path == exe):
                    continue
            except OSError:
                continue
        if (m in _read("/proc/%d/cmdline" % pid) or
                m in _read("/proc/%d/environ" % pid)) and proc_alive(pid):
            out.append(pid)
    return sorted(out)


def sse_tail_pids(marker):
    """sse-tail processes of a test directory: the binary, or a copy of it
    inside the directory (uploaded, as on shared hosting)."""
    real = os.path.realpath(BIN)
    return procs_mentioning(marker, lambda path: path == real or
                            path.startswith(marker.rstrip("/") + "/"))


def socket_fds(pid):
    """How many sockets pid holds open (-1 once it is gone)."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return -1
    n = 0
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def stop_pid(pid, sig=signal.SIGTERM, timeout=10.0):
    """Signals pid and waits for it to go; SIGKILL after timeout."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while proc_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Proc:
    """A process started by a test, its output in a log file."""

    def __init__(self, argv, log, env=None, user=False, name=None):
        self.name = name or os.path.basename(argv[0])
        self.log = log
        kw = {}
        if user:
            uid, gid = worker_ids()
            kw = {"user": uid, "group": gid, "extra_groups": []}
        with open(log, "ab") as f:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=f, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True, **kw)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.p.poll() is not None:
            return
        self.p.send_signal(sig)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)


# ---- the test directory ----

class Dir:
    """A world-readable temporary directory for one server instance, with
    run/ writable by the worker user (as Debian's /run/lighttpd is). Its
    path marks every process started for it."""

    def __init__(self, tag):
        self.path = tempfile.mkdtemp(prefix="sse-tail-srv-%s-" % tag)
        os.chmod(self.path, 0o755)
        uid, gid = worker_ids()
        for sub in ("run", "log", "htdocs"):
            os.mkdir(self.p(sub))
            os.chmod(self.p(sub), 0o755)
        os.chown(self.p("run"), uid, gid)
        self.logs = []          # files to show when a test fails

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def write(self, name, text, mode=0o644):
        path = self.p(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def cleanup(self):
        """Ends whatever still runs for this directory, by pid, then
        removes it (kept when SSE_TAIL_KEEP is set)."""
        for pid in procs_mentioning(self.path):
            stop_pid(pid, signal.SIGKILL, 5)
        if not os.environ.get("SSE_TAIL_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)


def tail_logs(paths, n=40):
    out = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        if not lines:
            continue
        out.append("--- %s (last %d lines)" % (path, min(n, len(lines))))
        out.extend(lines[-n:])
    return out


# ---- snippets ----

def snippet(name):
    with open(os.path.join(CONF_DIR, name)) as f:
        return f.read()


def fill_paths(text, d, name):
    """The snippet with its default paths replaced by the test's: the only
    change made to a shipped snippet (besides a timeout test's shortened
    value, see set_value). A default that the snippet should hold and does
    not is an error, so that the test and the snippet cannot drift apart."""
    pairs = [
        ("/usr/bin/sse-tail", BIN),
        ("/etc/sse-tail.conf", d.p("sse-tail.conf")),
        ("/home/user/sse-tail.conf", d.p("sse-tail.conf")),  # conf/htaccess
        ("/run/sse-tail.sock", d.p("run", "sse-tail.sock")),
        ("/run/sse-tail.pid", d.p("run", "sse-tail.pid")),
        ("/run/lighttpd/", d.p("run") + "/"),
        # The TLS snippets' certificate (Debian's ssl-cert): make_cert's.
        ("/etc/ssl/certs/ssl-cert-snakeoil.pem", d.p("tls", "cert.pem")),
        ("/etc/ssl/private/ssl-cert-snakeoil.key", d.p("tls", "key.pem")),
    ]
    used = 0
    for old, new in pairs:
        # Only whole paths, and not inside comments.
        # A directory (ending in /) is a prefix; a file is a whole word.
        pat = re.compile(r"(?<![\w/.-])%s%s" % (
            re.escape(old), "" if old.endswith("/") else r"(?![\w.-])"))
        lines = []
        for line in text.split("\n"):
            code, hash_, comment = _split_comment(line)
            code, n = pat.subn(lambda m: new, code)
            used += n
            lines.append(code + hash_ + comment)
        text = "\n".join(lines)
    check(used > 0, "%s: none of the default paths found" % name)
    return text


def _split_comment(line):
    """(code, '#', comment) for a config line; a '#' inside quotes or
    after non-space is not a comment."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i], "#", line[i + 1:]
    return line, "", ""


def set_value(text, pattern, value, name):
    """Replaces the value captured by group 1 of pattern, which must match
    exactly once outside comments: how a test shortens a timeout."""
    rx = re.compile(pattern, re.M)
    lines = text.split("\n")
    hits = 0
    for i, line in enumerate(lines):
        code, h, c = _split_comment(line)
        m = rx.search(code)
        if m:
            hits += 1
            code = code[:m.start(1)] + str(value) + code[m.end(1):]
            lines[i] = code + h + c
    check(hits == 1, "%s: %r matched %d times, not once" % (name, pattern, hits))
    return "\n".join(lines)


def make_cert(d):
    """A self-signed certificate for 127.0.0.1 in d/tls (cert.pem,
    key.pem), where fill_paths puts the TLS snippets' certificate."""
    require("/usr/bin/openssl", "openssl")
    tls = d.p("tls")
    if os.path.exists(os.path.join(tls, "cert.pem")):
        return
    os.makedirs(tls, exist_ok=True)
    os.chmod(tls, 0o755)
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-days", "1",
                        "-keyout", os.path.join(tls, "key.pem"),
                        "-out", os.path.join(tls, "cert.pem")],
                       capture_output=True, timeout=30)
    check(r.returncode == 0, "openssl req: %s"
          % r.stderr.decode(errors="replace").strip()[-300:])


def require(binary, package):
    if shutil.which(binary) is None and not os.path.exists(binary):
        raise TestFailure("%s is not installed (apt-get install %s)"
                          % (binary, package))


# ---- sse-tail ----

def sse_tail_conf(d, streams, **glob):
    """Writes d/sse-tail.conf. streams: {name: {key: value}}; each
    stream's file is d/log/NAME.log, created empty (world-readable)."""
    g = {"heartbeat": 1, "retry": 1000, "backlog": 10}
    g.update(glob)
    out = ["%s = %s" % (k.replace("_", "-"), v) for k, v in g.items()]
    for name, keys in streams.items():
        path = d.p("log", name + ".log")
        if not os.path.exists(path):
            open(path, "wb").close()
            os.chmod(path, 0o644)
        out.append("")
        out.append("[stream %s]" % name)
        out.append("path = %s" % path)
        for k, v in keys.items():
            out.append("%s = %s" % (k.replace("_", "-"), v))
    path = d.write("sse-tail.conf", "\n".join(out) + "\n")
    r = subprocess.run([BIN, "--check", "--config", path],
                       capture_output=True, timeout=10)
    check(r.returncode == 0, "sse-tail --check refuses the test config: %s"
          % r.stderr.decode(errors="replace").strip())
    return path


def append(d, stream, data):
    """Appends bytes to a stream's file; returns the new size."""
    path = d.p("log", stream + ".log")
    with open(path, "ab") as f:
        f.write(data)
    return os.path.getsize(path)


def event_id(d, stream, offset):
    """The id "OFFSET.TAG" of the event that ends at offset in a stream's
    file (as it is now)."""
    return file_id(d.p("log", stream + ".log"), offset)


def start_listen_daemon(d, sock=None):
    """sse-tail --listen unix:SOCK as the worker user, as the systemd unit
    or spawn-fcgi would run it; waits until the socket accepts."""
    sock = sock or d.p("run", "sse-tail.sock")
    log = d.p("sse-tail.log")
    d.logs.append(log)
    p = Proc([BIN, "--config", d.p("sse-tail.conf"), "--listen",
              "unix:" + sock], log, user=True, name="sse-tail")
    wait_until(lambda: can_connect(sock) or not p.alive(), 5,
               "sse-tail --listen socket")
    check(p.alive(), "sse-tail --listen exited: %s"
          % " | ".join(tail_logs([log], 5)))
    return p
