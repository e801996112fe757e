"""bench/run latency: 1,000 lines/s for 10 s to one client, through lighttpd:
the delay from the writer's write to the client's read, p50/p99/max."""

import os
import subprocess

from benchlib import (BENCH, Failed, LINE, Load, bar_plot, complete, env_int, log,
                      problems, verdict)
from stack import Stack, sio_args


def run(env, sse_tail):
    """Runs the scenario; returns (Markdown lines, the plot's file name)."""
    n = env_int("LIVE_LINES", 10000)
    files = {t: env.path("live-%s.log" % t) for t in
             ("sse", "floor", "shell", "ws", "frontail")}
    for f in files.values():
        open(f, "w").close()
    st = Stack(env, sse_tail, {"live": (files["sse"], 0)}, "lighttpd")
    bc = st.start_broadcaster(files["floor"])
    addr = ["-a", "127.0.0.1:%d" % st.port, "-e", str(n)]
    tools = [
        ("sse-tail", "sse", ["-P", "http", "-u", "/events/live"]),
        ("floor (one-thread epoll broadcaster)", "floor",
         ["-P", "http", "-u", "/floor/"]),
        ("shell route (tail -F \\| awk, CGI)", "shell",
         ["-P", "http", "-I", "-u", "/shell?live-shell.log"]),
        ("websocketd + tail -F", "ws", ["-P", "ws", "-I", "-u",
                                        "/ws/?live-ws.log"]),
        ("frontail", "frontail", None),
    ]
    rows = []
    for name, key, args in tools:
        fp = None
        if args is None:
            fp, ns = st.start_frontail(files[key], 10)
            args = sio_args(ns)
        load = Load(env, "live-" + key, 1, addr + args, latency=True,
                    limit=n / 1000 + 60)
        try:
            load.phase("open", 30)
            w = subprocess.run([os.path.join(BENCH, "writer"), "-o", files[key],
                                "-i", "1", "-n", str(n), "-T", "-l",
                                str(LINE)], capture_output=True, text=True)
            if w.returncode != 0:
                raise Failed("writer: " + w.stderr)
            s = load.finish(n / 1000 + 60)
        finally:
            if fp is not None:
                env.stop(fp)
        lat = s["lat"]
        note = "" if complete(s, 1) else "incomplete: " + problems(s)
        rows.append((name, lat, note))
        log("  %-38s %s %s" % (name, lat, note))
    env.stop(bc)
    env.stop(st.server)
    env.stop(st.websocketd)
    md = ["## Live latency: %s lines/s for %d s, one client through lighttpd"
          % ("1,000", n // 1000), "",
          "From the writer's write(2) to the client's read, both on this "
          "machine, in ms.", "",
          "| tool | every line once? | p50 | p99 | max | × floor p99 |",
          "|---|---|---:|---:|---:|---:|"]
    floor = rows[1][1] if not rows[1][2] else None
    dat = []
    for name, lat, note in rows:
        if lat is None:
            md.append("| %s | %s | — | — | — | — |" % (name, note or "no"))
            continue
        md.append("| %s | %s | %.2f | %.2f | %.2f | %s |" % (
            name, "no: " + note if note else "yes", lat["p50"] / 1000,
            lat["p99"] / 1000, lat["max"] / 1000,
            "%.1f" % (lat["p99"] / floor["p99"]) if floor else "—"))
        dat.append((name, lat["p50"] / 1000, lat["p99"] / 1000))
    sse = rows[0][1] if not rows[0][2] else None
    md += ["", "Target: sse-tail p99 ≤ 2 ms: %s." %
           verdict(sse is not None and sse["p99"] <= 2000,
                   "%.2f ms" % (sse["p99"] / 1000) if sse
                   else "no complete run")]
    return md, bar_plot("latency", dat, "ms (p50, p99)", log_y=True,
                        columns=["p50", "p99"])
