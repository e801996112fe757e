"""What the benchmark scenarios share: sizes and knobs, the processes
started in a temp dir and their stopping, CPU and memory figures from
/proc, the sse-load clients and their figures, and the tables and plots
written to bench/results/.  Free ports, socket probes and waiting come
from tests/common.py, as the tests use them."""

import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(TOP, "bench")
sys.path.insert(0, os.path.join(TOP, "tests"))
# can_connect, free_port, file_id and TAG_EMPTY are for the scenarios
from common import (TAG_EMPTY, TestFailure, can_connect, file_id,  # noqa: E402,F401
                    free_port, wait_until)

RESULTS = os.path.join(BENCH, "results")
# clients a load process: one open file each, and a few to spare
PER_LOAD_PROCESS = max(1, min(2500, resource.getrlimit(
    resource.RLIMIT_NOFILE)[1] - 64))
LINE = 100                      # bytes a line, with its newline


def env_int(name, default):
    return int(os.environ.get(name, default))


def log(msg):
    print(msg, flush=True)


class Failed(Exception):
    """A scenario could not run: its section is left as it was."""


def wait_for(cond, timeout, what):
    """Polls cond() until it is true; raises Failed after timeout s."""
    try:
        return wait_until(cond, timeout, what, interval=0.01)
    except TestFailure as e:
        raise Failed(str(e)) from None


def seq_line(k):
    """Line k as the ceiling writes it: "k " padded with x, LINE bytes."""
    s = "%d " % k
    return s + "x" * (LINE - 1 - len(s)) + "\n"


def write_lines(path, count):
    """A file of count numbered lines, written 100,000 lines at a time."""
    with open(path, "w") as f:
        k = 1
        while k <= count:
            n = min(100000, count - k + 1)
            f.write("".join(seq_line(i) for i in range(k, k + n)))
            k += n


# ---- processes ----

def run_ns(pid):
    """The CPU time of every thread of pid, in ns (schedstat)."""
    total = 0
    if not os.path.exists("/proc/self/schedstat"):
        raise Failed("no /proc/PID/schedstat here: CPU times cannot be read")
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
    return total


def cpu_seconds(*pids):
    """The CPU time of pids and of their live descendants (schedstat, in
    ns), and of the children each of them has reaped (cutime+cstime, in
    ticks), in seconds: from one pass over /proc, so that a snapshot of a
    thousand processes is taken at one moment."""
    tick = os.sysconf("SC_CLK_TCK")
    roots = set(pids)
    parent = {}
    reaped = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        parent[int(d)] = int(fields[1])
        reaped[int(d)] = int(fields[13]) + int(fields[14])
    total = 0.0
    for p in parent:
        q = p
        while q > 1 and q not in roots:
            q = parent.get(q, 0)
        if q in roots:
            total += run_ns(p) / 1e9 + reaped[p] / tick
    return total


def rss_kib(pid, field="VmRSS"):
    """VmRSS (or VmHWM, the peak) of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def die_with_parent():
    """In a child before exec: SIGKILL it when bench/run dies, however
    (prctl PR_SET_PDEATHSIG), so that a killed run leaves no load behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Env:
    """A temp dir, the processes started in it, and their stopping."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sse-bench.")
        os.chmod(self.dir, 0o755)
        self.procs = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, args, name, env=None, stdin=None):
        out = open(self.path(name + ".out"), "w")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                             stdin=stdin if stdin is not None
                             else subprocess.DEVNULL,
                             env=env, start_new_session=True, cwd=self.dir,
                             preexec_fn=die_with_parent)
        out.close()
        p.name = name
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        """Stops p and everything in its process group, by its pid."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        else:
            try:        # children it left behind, still in its group
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if p in self.procs:
            self.procs.remove(p)

    def close(self, keep=False):
        for p in reversed(list(self.procs)):
            self.stop(p)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- the load client ----

def source_addresses():
    """Loopback addresses for the load processes to connect from, a fresh
    one each: 10,000 connections closed a round leave their ports in
    TIME_WAIT for a minute, and the next rounds from 127.0.0.1 would run
    out of the 28,000 ephemeral ports (seen as resets at 10,000 clients)."""
    k = 0
    while True:
        yield "127.1.%d.%d" % (k // 250 % 256, k % 250 + 1)
        k += 1


SOURCES = source_addresses()


class Load:
    """CLIENTS clients in as many sse-load processes as the open-file limit
    needs, each with a status file (the phase) and a latency histogram.
    Over TCP each process connects from an address of its own."""

    def __init__(self, env, name, clients, args, latency=False, hold=False,
                 limit=120):
        self.env, self.name, self.procs = env, name, []
        self.status, self.hist = [], []
        nproc = (clients + PER_LOAD_PROCESS - 1) // PER_LOAD_PROCESS
        for i in range(nproc):
            share = clients // nproc + (1 if i < clients % nproc else 0)
            st = env.path("%s.%d.status" % (name, i))
            hi = env.path("%s.%d.hist" % (name, i))
            for f in (st, hi):
                if os.path.exists(f):
                    os.unlink(f)
            a = [os.path.join(BENCH, "sse-load"), "-n", str(share),
                 "-S", st, "-t", str(limit), "-r", "2"] + args
            if any(x.startswith("127.") for x in args):
                a += ["-b", next(SOURCES)]
            if latency:
                a += ["-L", "-O", hi]
            if hold:
                a += ["-H"]
            self.procs.append(env.start(a, "%s.%d" % (name, i)))
            self.status.append(st)
            self.hist.append(hi)

    def phase(self, want, timeout):
        """Waits until every process has reached phase want (open, settled)
        or has exited."""
        order = ["open", "settled"]

        def reached(i):
            if self.procs[i].poll() is not None:
                return True
            try:
                with open(self.status[i]) as f:
                    ph = f.read().split()[0]
            except (OSError, IndexError):
                return False
            return order.index(ph) >= order.index(want)
        wait_for(lambda: all(reached(i) for i in range(len(self.procs))),
                 timeout, "%s: every client %s" % (self.name, want))

    def signal_hold_end(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGUSR1)

    def finish(self, timeout):
        """Waits for every process; returns the summed summary and the
        merged histogram."""
        end = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.env.stop(p, signal.SIGUSR1)
        total, hist, lat_max = {}, {}, 0
        for p in self.procs:
            with open(self.env.path(p.name + ".out")) as f:
                text = f.read()
            summary = [l for l in text.splitlines()
                       if l.startswith("clients=")]
            if not summary:
                raise Failed("%s: no summary: %s" % (p.name, text[-500:]))
            for kv in summary[0].split():
                k, v = kv.split("=")
                v = float(v)
                if k in ("open_ms", "settle_ms"):
                    # the slowest process; -1 (never reached) wins
                    old = total.get(k, v)
                    total[k] = -1 if min(old, v) < 0 else max(old, v)
                elif k == "elapsed_s":
                    total[k] = max(total.get(k, v), v)
                else:
                    total[k] = total.get(k, 0) + v
            total.setdefault("diag", "")
            if len(total["diag"]) < 400:
                total["diag"] += "".join(l + "\n" for l in text.splitlines()
                                         if l.startswith("sse-load:"))[:400]
            if p in self.env.procs:
                self.env.procs.remove(p)
        for h in self.hist:
            if not os.path.exists(h):
                continue
            with open(h) as f:
                for line in f:
                    a, b = line.split()
                    if a == "max":
                        lat_max = max(lat_max, int(b))
                    else:
                        hist[int(a)] = hist.get(int(a), 0) + int(b)
        total["lat"] = percentiles(hist, lat_max)
        return total


def percentiles(hist, lat_max):
    n = sum(hist.values())
    if n == 0:
        return None
    out = {"n": n, "max": lat_max}
    for name, p in (("p50", 50), ("p99", 99)):
        want, seen = max(1, int(p / 100 * n + 0.999999)), 0
        for v in sorted(hist):
            seen += hist[v]
            if seen >= want:
                out[name] = min(v, lat_max)
                break
    return out


def complete(s, clients):
    return int(s.get("complete", 0)) == clients


def problems(s):
    keys = ["missing", "dup", "resets", "badid", "extra", "malformed",
            "connect_err", "http_err", "proto_err", "closed_early"]
    bad = ["%s=%d" % (k, s[k]) for k in keys if s.get(k)]
    return ", ".join(bad)


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def children(pid):
    """The pids whose parent is pid."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True)
    return [int(p) for p in out.stdout.split()]


# ---- output ----

def verdict(ok, figure):
    word = "met" if ok else "missed"
    return "%s (%s)" % (word, figure) if figure else word


def gnuplot(name, script):
    png = os.path.join(RESULTS, name + ".png")
    full = ('set terminal pngcairo size 900,480 font "sans,10"\n'
            'set output "%s"\n' % png) + script
    r = subprocess.run(["gnuplot"], input=full, text=True,
                       capture_output=True)
    if r.returncode != 0:
        log("gnuplot %s: %s" % (name, r.stderr.strip()))
    return "%s.png" % name


def bar_plot(name, rows, ylabel, log_y=False, columns=None):
    dat = os.path.join(RESULTS, name + ".dat")
    with open(dat, "w") as f:
        for r in rows:
            f.write('"%s" %s\n' % (r[0], " ".join("%g" % v for v in r[1:])))
    columns = columns or [ylabel]
    plots = ", ".join('"%s" using %d:xtic(1) title "%s"' % (dat, i + 2, c)
                      for i, c in enumerate(columns))
    return gnuplot(name, """
set title "sse-tail bench: %s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "%s"
%s
set xtics rotate by -20 noenhanced
set key top right
set grid ytics
plot %s
""" % (name, ylabel, "set logscale y" if log_y else "set yrange [0:*]", plots))


def line_plot(name, series, xlabel, ylabel):
    dat = os.path.join(RESULTS, name + ".dat")
    with open(dat, "w") as f:
        for s, pts in series.items():
            f.write('# "%s"\n' % s)
            for x, y in pts:
                f.write("%g %g\n" % (x, y))
            f.write("\n\n")
    plots = ", ".join('"%s" index %d using 1:2 with linespoints title "%s"' %
                      (dat, i, s) for i, s in enumerate(series))
    return gnuplot(name, """
set title "sse-tail bench: %s"
set logscale xy
set xlabel "%s"
set ylabel "%s"
set key top left noenhanced
set grid
plot %s
""" % (name, xlabel, ylabel, plots))
