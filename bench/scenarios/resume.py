"""bench/run resume: reconnecting with Last-Event-ID just before the last line
of a 1 MB and a 1 GB file: the time to the first event."""

import os
import statistics

from benchlib import (Failed, LINE, Load, bar_plot, complete, env_int, file_id, log,
                      problems, verdict, write_lines)
from stack import Stack


def run(env, sse_tail):
    """Runs the scenario; returns (Markdown lines, the plot's file name)."""
    big_mb = env_int("RESUME_MB", 1024)
    runs = env_int("RESUME_RUNS", 20)
    sizes = [(1, env.path("resume-1m.log")), (big_mb, env.path("resume-big.log"))]
    for mb, path in sizes:
        write_lines(path, mb * 1024 * 1024 // LINE)
    st = Stack(env, sse_tail, {"small": (sizes[0][1], 10),
                               "big": (sizes[1][1], 10)}, "lighttpd")
    targets = []
    for (mb, path), stream in zip(sizes, ("small", "big")):
        n = os.path.getsize(path) // LINE
        # the id a client got for the line before the last: OFFSET.TAG
        targets.append((mb, path, stream, n, file_id(path, (n - 1) * LINE)))

    def reconnect(stream, n, last_id, tag):
        """One reconnect just before the last line; ms to its event."""
        load = Load(env, "resume-%s-%s" % (stream, tag), 1,
                    ["-a", "127.0.0.1:%d" % st.port, "-P", "http", "-u",
                     "/events/" + stream, "-i", last_id,
                     "-f", str(n), "-e", "1"], limit=30)
        s = load.finish(40)
        if not complete(s, 1):
            raise Failed("resume into %s: %s %s" % (stream, problems(s),
                                                    s["diag"]))
        return s["settle_ms"]
    # one reconnect to each, not counted (the first request to a stream
    # opens its file and follower); then they take turns
    for mb, path, stream, n, last_id in targets:
        reconnect(stream, n, last_id, "warm")
    times = {stream: [] for _, _, stream, _, _ in targets}
    for r in range(runs):
        for mb, path, stream, n, last_id in targets:
            times[stream].append(reconnect(stream, n, last_id, r))
    rows = []
    for mb, path, stream, n, last_id in targets:
        t = times[stream]
        rows.append((mb, os.path.getsize(path), statistics.median(t), max(t)))
        log("  %d MB: median %.2f ms, max %.2f ms" % (mb, rows[-1][2],
                                                      rows[-1][3]))
    env.stop(st.server)
    env.stop(st.websocketd)
    md = ["## Resume cost: reconnect with Last-Event-ID just before the last "
          "line, through lighttpd", "",
          "Time from the request to the first event, %d reconnects each, "
          "the two files taking turns after one reconnect each not counted "
          "(the files in the page cache). \"The same\": the big file's "
          "median within 1.5× the small one's." % runs, "",
          "| file | bytes | median ms | max ms |", "|---|---:|---:|---:|"]
    dat = []
    for mb, size, med, mx in rows:
        label = "%d MB" % mb if mb < 1024 else "%g GB" % (mb / 1024)
        md.append("| %s | %s | %.2f | %.2f |" % (label, f"{size:,}", med, mx))
        dat.append((label, med))
    ratio = rows[1][2] / rows[0][2]
    md += ["", "Target: the same time for the big file as for 1 MB: %s "
           "(big/small = %.2f)." % (verdict(ratio <= 1.5, None), ratio)]
    return md, bar_plot("resume", dat, "ms to the first event", log_y=False)
