"""bench/run idle: 1,000 clients connected and nothing written, through nginx:
the CPU time a second of each tool and of the web server."""

import time

from benchlib import (Load, bar_plot, children, comm, cpu_seconds, env_int, log, run_ns,
                      verdict)
from stack import Stack, sio_args, start_nchan_feed


def idle_round(env, st, name, key, args, clients, seconds, tool_pids,
               server_cpu):
    """clients connect and nothing is written for seconds. Returns the row
    (name, the tool's CPU-s/s or None, the server's CPU-s/s, note)."""
    load = Load(env, "idle-" + key, clients,
                ["-a", "127.0.0.1:%d" % st.port, "-e", "1"] + args,
                hold=True, limit=seconds + 120)
    note = ""
    try:
        load.phase("open", 90)
        pids = tool_pids() if tool_pids else []

        def tool_cpu():
            return cpu_seconds(*pids) if pids else 0
        c0, n0 = tool_cpu(), server_cpu()
        t0 = time.monotonic()
        # the measurement: nothing happens for `seconds` seconds
        deadline = t0 + seconds
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in load.procs):
                note = "a load process exited early"
                break
            time.sleep(min(1, max(0, deadline - time.monotonic())))
        dt = time.monotonic() - t0
        c1, n1 = tool_cpu(), server_cpu()
    finally:
        load.signal_hold_end()
        s = load.finish(30)
    gone = int(s.get("closed_early", 0) + s.get("connect_err", 0) +
               s.get("http_err", 0))
    if int(s.get("opened", 0)) < clients or gone:
        note = (note + " opened=%d lost=%d" % (s.get("opened", 0), gone)
                ).strip()
    row = (name, (c1 - c0) / dt if tool_pids else None, (n1 - n0) / dt, note)
    log("  %-38s tool %s server %.4f CPU-s/s %s" % (name, row[1], row[2],
                                                     note))
    return row


def run(env, sse_tail):
    """Runs the scenario; returns (Markdown lines, the plot's file name)."""
    seconds = env_int("IDLE_SECONDS", 60)
    clients = env_int("IDLE_CLIENTS", 1000)
    files = {t: env.path("idle-%s.log" % t) for t in
             ("sse", "floor", "nchan", "ws", "frontail", "shell")}
    for f in files.values():
        open(f, "w").close()
    st = Stack(env, sse_tail, {"idle": (files["sse"], 0)}, "nginx")
    bc = st.start_broadcaster(files["floor"])
    feed = start_nchan_feed(env, st, files["nchan"])
    nginx_pid = st.server.pid
    tools = [
        ("sse-tail (heartbeat 15 s)", "sse", ["-P", "http", "-u", "/events/idle"],
         lambda: [st.sse_tail_pid]),
        ("floor (one-thread epoll broadcaster)", "floor",
         ["-P", "http", "-u", "/floor/"], lambda: [bc.pid]),
        ("nginx nchan (in nginx)", "nchan", ["-P", "http", "-I", "-u",
                                             "/nchan/sub"], None),
        ("websocketd + tail -F", "ws", ["-P", "ws", "-I", "-u",
                                        "/ws/?idle-ws.log:1"],
         lambda: [st.websocketd.pid]),
        ("frontail", "frontail", None, None),
    ]
    rows = []
    for name, key, args, tool_pids in tools:
        fp = None
        if args is None:
            fp, ns = st.start_frontail(files[key], 10)
            args = sio_args(ns)
            tool_pids = (lambda p: lambda: [p.pid])(fp)
        try:
            rows.append(idle_round(env, st, name, key, args, clients,
                                   seconds, tool_pids,
                                   lambda: cpu_seconds(nginx_pid)))
        finally:
            if fp is not None:
                env.stop(fp)
    env.stop(feed)
    env.stop(bc)
    env.stop(st.server)
    env.stop(st.sse_tail)
    env.stop(st.websocketd)
    # The shell route is a CGI, which nginx cannot run (fcgiwrap does not
    # stream): lighttpd's mod_cgi, as in catch-up and latency. The tool is
    # every CGI lighttpd started (sh, tail, awk), the server lighttpd itself.
    lt = Stack(env, sse_tail, {"idle": (files["sse"], 0)}, "lighttpd")
    lt_pid = lt.server.pid

    def cgis():
        """lighttpd's children but the FastCGI backends it spawned."""
        return [p for p in children(lt_pid)
                if comm(p) not in ("sse-tail", "ceiling")]
    rows.append(idle_round(env, lt, "shell route (tail -F \\| awk, CGI; "
                           "lighttpd)", "shell", ["-P", "http", "-I", "-u",
                                                  "/shell?idle-shell.log"],
                           clients, seconds, cgis,
                           lambda: run_ns(lt_pid) / 1e9))
    env.stop(lt.server)
    env.stop(lt.websocketd)
    md = ["## Idle: %s connected clients, no new lines, %d s, through nginx "
          "(the shell route through lighttpd)" % (f"{clients:,}", seconds), "",
          "CPU seconds per second of wall time (/proc/PID/task/*/schedstat "
          "of the process and its children; websocketd with its tail "
          "processes; the shell route's CGIs, each sh, tail and awk, behind "
          "lighttpd). One tool at a time.", "",
          "| tool | the tool's CPU-s/s | the web server's CPU-s/s | note |",
          "|---|---:|---:|---|"]
    dat = []
    for name, cpu, ncpu, note in rows:
        md.append("| %s | %s | %.4f | %s |" % (
            name, "%.4f" % cpu if cpu is not None else "(in nginx)", ncpu,
            note))
        dat.append((name, cpu if cpu is not None else ncpu))
    sse = rows[0][1] if not rows[0][3] else None
    md += ["", "Target: sse-tail ≤ 0.01 CPU-s/s for %s clients: %s." % (
        f"{clients:,}", verdict(sse is not None and sse <= 0.01,
                                "%.4f" % sse if sse is not None
                                else "not every client stayed connected"))]
    return md, bar_plot("idle", dat, "CPU-s per s", log_y=False)
