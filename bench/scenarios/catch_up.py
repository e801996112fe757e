"""bench/run catch-up: 1,000,000 lines already in the file, to one client,
through lighttpd: sse-tail against its ceiling, the shell route, websocketd
and frontail. Then the same straight from sse-tail --listen over loopback
TCP against over a unix socket (a lagging client's segments)."""

import statistics

from benchlib import (TAG_EMPTY, Failed, LINE, Load, bar_plot, can_connect, complete,
                      env_int, free_port, log, problems, verdict, wait_for,
                      write_lines)
from stack import Stack, sio_args


def run(env, sse_tail):
    """Runs the scenario; returns (Markdown lines, the plot's file name)."""
    n = env_int("CATCHUP_LINES", 1000000)
    runs = env_int("CATCHUP_RUNS", 5)
    limit = max(30, n // 10000)     # s a client: 10,000 lines/s at least
    data = env.path("catchup.log")
    write_lines(data, n)
    st = Stack(env, sse_tail, {"catchup": (data, 10)}, "lighttpd")
    addr = ["-a", "127.0.0.1:%d" % st.port, "-e", str(n)]
    tools = [
        ("ceiling", ["-P", "http", "-u", "/ceiling/?lines=%d" % n]),
        ("sse-tail", ["-P", "http", "-u", "/events/catchup", "-i",
                      "0." + TAG_EMPTY]),
        ("shell route (tail -F \\| awk, CGI)",
         ["-P", "http", "-I", "-u", "/shell?catchup.log"]),
        ("websocketd + tail -F", ["-P", "ws", "-I", "-u", "/ws/?catchup.log"]),
        ("frontail", None),
    ]
    rows = []
    runs_of = {}

    def one_run(name, args, tag):
        return backlog_seconds(env, "catchup-%s-%s" % (name.split()[0], tag),
                               addr + args, limit)

    # the ceiling and sse-tail take turns; then each peer on its own
    for group in (tools[:2], tools[2:3], tools[3:4], tools[4:]):
        fp, live, notes = None, [], {}
        for name, args in group:
            if args is None:
                # frontail reads the file when it starts: the warm-up
                # client waits for all of it
                fp, ns = st.start_frontail(data, n)
                args = sio_args(ns)
            # one run first, not measured, for every tool: a backend that
            # lighttpd spawns or starts on the first request, and the page
            # cache, are then ready
            try:
                one_run(name, args, "warm")
                live.append((name, args))
            except Failed as e:
                notes[name] = "warm-up " + str(e)
        for r in range(runs):
            for name, args in list(live):
                try:
                    t = one_run(name, args, r)
                    runs_of.setdefault(name, []).append(t)
                    if t > 5:
                        live.remove((name, args))   # slow: one run tells
                except Failed as e:
                    notes[name] = str(e)
                    live.remove((name, args))
        if fp is not None:
            env.stop(fp)
        for name, _ in group:
            note = notes.get(name, "")
            times = runs_of.get(name, [])
            rows.append((name, statistics.median(times) if times and not note
                         else None, note))
            log("  %-34s %s %s" % (name, "%.3f s" % rows[-1][1]
                                   if rows[-1][1] else "-", note))
    env.stop(st.server)
    env.stop(st.websocketd)
    ceiling = rows[0][1]
    shell = rows[2][1]
    md = ["## Catch-up: %s lines of %d bytes to one client through lighttpd"
          % (f"{n:,}", LINE), "",
          "Time from the request to the last line: the median of %d runs "
          "(one for a tool that takes over 5 s), after one run not counted; "
          "the ceiling and sse-tail take turns." % runs,
          "",
          "| tool | seconds | lines/s | × ceiling | × shell route |",
          "|---|---:|---:|---:|---:|"]
    dat = []
    for name, t, note in rows:
        if t is None:
            md.append("| %s | — | — | — | — |" % name)
            if note:
                md[-1] = md[-1][:-2] + "%s |" % note
            continue
        md.append("| %s | %.3f | %s | %s | %s |" % (
            name, t, f"{n / t:,.0f}",
            "%.2f" % (ceiling / t) if ceiling else "—",
            "%.1f" % (shell / t) if shell else "—"))
        dat.append((name, n / t))
    sse = rows[1][1]
    md += ["", "Targets: sse-tail ≥ 0.7× the ceiling: %s; ≥ 5× the shell "
           "route: %s." % (verdict(sse and ceiling and ceiling / sse >= 0.7,
                                   sse and ceiling and "%.2f×" % (ceiling / sse)),
                           verdict(sse and shell and shell / sse >= 5,
                                   sse and shell and "%.1f×" % (shell / sse)))]
    notes = [r[0] + ": " + r[2] for r in rows if r[2]]
    if notes:
        md += ["", "Notes: " + "; ".join(notes) + "."]
    md += [""] + over_sockets(env, sse_tail, n, runs, limit)
    return md, bar_plot("catch-up", dat, "lines per second", log_y=True)


def backlog_seconds(env, label, args, limit):
    """Seconds one sse-load client (args) takes to the last line, or raises
    Failed("incomplete...")."""
    s = Load(env, label, 1, args, limit=limit).finish(limit + 10)
    if not complete(s, 1):
        raise Failed("incomplete: %s" % problems(s))
    return s["settle_ms"] / 1000


def over_sockets(env, sse_tail, n, runs, limit):
    """The same backlog straight from sse-tail --listen (FastCGI, no web
    server), over a unix socket and over loopback TCP, taking turns: the
    Markdown lines of its table."""
    tcp_port = free_port()
    addrs = [("unix socket", "unix:" + env.path("direct.sock")),
             ("loopback TCP", "127.0.0.1:%d" % tcp_port)]
    daemons = []
    for _, a in addrs:
        daemons.append(env.start([sse_tail, "--config", env.path("sse-tail.conf"),
                                  "--listen", a], "direct-" + a.split(":")[0]))
    wait_for(lambda: can_connect(env.path("direct.sock")) and
             can_connect(tcp_port), 20, "sse-tail --listen to accept")
    times, live = {}, list(addrs)
    for r in ["warm"] + list(range(runs)):
        for name, a in list(live):
            try:
                t = backlog_seconds(env, "direct-%s-%s" % (name.split()[1], r),
                                    ["-a", a, "-s", "catchup", "-e", str(n),
                                     "-i", "0." + TAG_EMPTY], limit)
            except Failed as e:
                log("  %s: %s" % (name, e))
                live.remove((name, a))
                times.pop(name, None)
                continue
            if r != "warm":
                times.setdefault(name, []).append(t)
    for p in daemons:
        env.stop(p)
    med = {name: statistics.median(times[name]) if times.get(name) else None
           for name, _ in addrs}
    unix, tcp = med["unix socket"], med["loopback TCP"]
    md = ["### The same, straight from sse-tail --listen: TCP against a unix socket",
          "",
          "One FastCGI client (bench/sse-load), no web server; the median of %d "
          "runs each, taking turns. Over loopback a TCP segment could be the "
          "whole 64 KiB send buffer, and a client behind got one segment per "
          "delayed ACK (40 ms); sse-tail's TCP segments are 16 KiB." % runs,
          "",
          "| socket | seconds | lines/s | × unix socket |",
          "|---|---:|---:|---:|"]
    for name, _ in addrs:
        t = med[name]
        md.append("| %s | %s | %s | %s |" % (
            name, "%.3f" % t if t else "—", f"{n / t:,.0f}" if t else "—",
            "%.2f" % (unix / t) if t and unix else "—"))
        log("  direct, %-28s %s" % (name, "%.3f s" % t if t else "-"))
    md += ["", "Target: TCP ≥ 0.5× the unix socket: %s." % verdict(
        tcp and unix and unix / tcp >= 0.5, tcp and unix and "%.2f×" % (unix / tcp))]
    return md
