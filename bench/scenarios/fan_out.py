"""bench/run fan-out: a line every 100 ms to 100, 1,000 and 10,000 clients,
through nginx: all lines to all? delivery p50/p99/max, sse-tail's memory a
client."""

import os
import subprocess

from benchlib import (BENCH, Failed, LINE, Load, complete, env_int, line_plot, log,
                      problems, rss_kib, verdict)
from stack import Stack, start_nchan_feed


def fan_tools(env, st, clients_max):
    """(name, key, args, file) for each fan-out peer."""
    return [
        ("sse-tail", "sse", ["-P", "http", "-u", "/events/fan"]),
        ("floor (one-thread epoll broadcaster)", "floor",
         ["-P", "http", "-u", "/floor/"]),
        ("nginx nchan", "nchan", ["-P", "http", "-I", "-u", "/nchan/sub"]),
        ("websocketd + tail -F", "ws", ["-P", "ws", "-I"]),
    ]


def fan_round(env, st, key, args, clients, first, lines, seconds, path):
    """One round of fan-out: clients connect, the writer appends lines
    (seq first...) to path, every client should get all of them. Returns
    (summary, KiB of sse-tail's peak RSS a client or None, note)."""
    rss0 = None
    if key == "sse":
        # a fresh sse-tail, measured once it serves: its RSS then owes
        # nothing to earlier rounds, and the peak below is this round's
        st.restart_sse_tail()
        rss0 = rss_kib(st.sse_tail_pid)
    load = Load(env, "fan-%s-%d-%d" % (key, clients, first), clients,
                ["-a", "127.0.0.1:%d" % st.port, "-e", str(lines),
                 "-f", str(first)] + args, latency=True,
                limit=seconds + 120)
    note = ""
    try:
        load.phase("open", 90)
        w = subprocess.run([os.path.join(BENCH, "writer"), "-o", path,
                            "-i", "100", "-n", str(lines), "-s", str(first),
                            "-T", "-l", str(LINE)],
                           capture_output=True, text=True)
        if w.returncode != 0:
            raise Failed("writer: " + w.stderr)
    except Failed as e:
        note = str(e)
        load.signal_hold_end()
    s = load.finish(seconds + 120)
    per = None
    if not complete(s, clients):
        note = "%d of %d complete: %s %s" % (
            s.get("complete", 0), clients, problems(s), note)
        log(s["diag"])
    elif rss0 is not None:
        per = (rss_kib(st.sse_tail_pid, "VmHWM") - rss0) / clients
    return s, per, note.strip()


def run(env, sse_tail):
    """Runs the scenario; returns (Markdown lines, the plot's file name)."""
    counts = [int(x) for x in
              os.environ.get("FAN_CLIENTS", "100,1000,10000").split(",")]
    seconds = env_int("FAN_SECONDS", 10)
    runs = env_int("FAN_RUNS", 3)
    ws_max = env_int("FAN_WEBSOCKETD_MAX", 1000)
    lines = seconds * 10
    files = {t: env.path("fan-%s.log" % t) for t in
             ("sse", "floor", "nchan", "ws")}
    for f in files.values():
        open(f, "w").close()
    st = Stack(env, sse_tail, {"fan": (files["sse"], 0)}, "nginx")
    bc = st.start_broadcaster(files["floor"])
    feed = start_nchan_feed(env, st, files["nchan"])
    next_seq = {k: 1 for k in files}
    tools = fan_tools(env, st, max(counts))
    rows = []
    for clients in counts:
        # sse-tail and the floor take turns, runs times each; the peers
        # are run once
        order = [t for _ in range(runs) for t in tools[:2]] + tools[2:]
        results = {}
        for name, key, args in order:
            if key == "ws":
                if clients > ws_max:
                    results[name] = None
                    continue
                args = args + ["-u", "/ws/?fan-ws.log:%d" %
                               (os.path.getsize(files["ws"]) + 1)]
            first = next_seq[key]
            next_seq[key] = first + lines
            r = fan_round(env, st, key, args, clients, first, lines, seconds,
                          files[key])
            results.setdefault(name, []).append(r)
            log("  %6d %-38s %s rss/client=%s %s" % (clients, name,
                                                      r[0]["lat"], r[1], r[2]))
        for name, key, args in tools:
            rs = results.get(name)
            if rs is None:
                rows.append((clients, name, None, None,
                             "not run: a tail process a client", 0, 0))
                continue
            # the figures come from the complete runs; an incomplete one
            # is named in the row, and sse-tail's then misses its target
            good = [r for r in rs if not r[2] and r[0]["lat"]]
            lats = sorted((r[0]["lat"] for r in good),
                          key=lambda lat: lat["p99"])
            pers = [r[1] for r in good if r[1] is not None]
            bad = ["%d of %d runs incomplete (%s)" % (
                len(rs) - len(good), len(rs),
                "; ".join(r[2] for r in rs if r[2]))] if len(good) < len(rs) \
                else []
            rows.append((clients, name, lats[len(lats) // 2] if lats else None,
                         max(pers) if pers else None, "".join(bad), len(rs),
                         len(good)))
    env.stop(feed)
    env.stop(bc)
    env.stop(st.server)
    env.stop(st.sse_tail)
    env.stop(st.websocketd)
    md = ["## Fan-out: a line every 100 ms for %d s to N clients through "
          "nginx (worker_processes 2)" % seconds, "",
          "Delivery latency (write to client) in ms: the complete run with "
          "the median p99 of %d for sse-tail and the floor, which take turns; "
          "one run for the others (runs: complete of all, where some were "
          "not; the floor drops a client whose socket is full). sse-tail's "
          "peak RSS (VmHWM) less its RSS before the clients came, a client "
          "(the largest of its runs; one-time costs weigh on the small "
          "counts)." % runs, "",
          "| clients | tool | runs | all lines to all? | p50 | p99 | max | "
          "× floor p99 | KiB/client |",
          "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    floor = {c: lat for c, name, lat, _, _, _, _ in rows
             if name.startswith("floor") and lat}
    dat = {}
    verdicts = ["no sse-tail row at %s clients" % f"{max(counts):,}"]
    for clients, name, lat, per, note, nruns, ngood in rows:
        fl = floor.get(clients)
        ratio = lat["p99"] / fl["p99"] if fl and lat else None
        runs_cell = (nruns if ngood == nruns else
                     "%d of %d" % (ngood, nruns)) if nruns else "—"
        if lat is None:
            md.append("| %s | %s | %s | %s | — | — | — | — | — |" % (
                f"{clients:,}", name, runs_cell, note or "no"))
        else:
            md.append("| %s | %s | %s | %s | %.1f | %.1f | %.1f | %s | %s |"
                      % (f"{clients:,}", name, runs_cell,
                         "yes" if not note else "no: " + note,
                         lat["p50"] / 1000, lat["p99"] / 1000,
                         lat["max"] / 1000, "%.2f" % ratio if ratio else "—",
                         "%.2f" % per if per is not None else ""))
            dat.setdefault(name, []).append((clients, lat["p99"] / 1000))
        if name == "sse-tail" and clients == max(counts):
            verdicts = [
                "every line delivered: %s" % verdict(lat and not note, None),
                "p99 within 2× the floor's: %s" % verdict(
                    ratio is not None and ratio <= 2,
                    "%.2f×" % ratio if ratio else
                    "no complete run of both to compare"),
                "≤ 4 KiB RSS per client: %s" % verdict(
                    per is not None and per <= 4,
                    "%.2f KiB" % per if per is not None else "not measured")]
    md += ["", "Targets at %s clients: %s." % (f"{max(counts):,}",
                                               "; ".join(verdicts))]
    return md, line_plot("fan-out", dat, "clients", "delivery p99, ms")
