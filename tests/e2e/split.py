"""End-to-end tests for issue 10's restructuring: holes a mutation test
found (heartbeats bounded from above; a rotation in one burst under
inotify), and named pipes that a reopening failure or a replaced FIFO
used to leave dead."""
import os
import time

from harness import check, test, wait_until
from helpers import (L, ROT, expect, expect_stream_ok, file_stream, lines_data,
                   open_writer, close_writer, opened, own_tag, pipe_stream, write_all)


@test
def heartbeat_gaps_are_bounded_above_and_below(t):
    # heartbeat = 1: each gap between two heartbeats is about 1 s; one
    # sent at twice its interval (or half) is caught.
    srv, path = file_stream(t, b"", glob="heartbeat = 1")
    r = opened(srv.get("log"))
    times = []
    for _ in range(4):
        n = len(r.comments)
        r.wait_until(lambda x: len(x.comments) > n, 5, "a heartbeat")
        times.append(time.monotonic())
    gaps = [b - a for a, b in zip(times, times[1:])]
    t.note("gaps between heartbeats: %s s" % ", ".join("%.2f" % g for g in gaps))
    check(all(0.6 <= g <= 1.5 for g in gaps),
          "heartbeat = 1 but heartbeats %s s apart" % ", ".join("%.2f" % g for g in gaps))


@test
def inotify_rotation_in_one_burst_reads_the_old_file_to_its_end(t):
    # More than a turn's worth appended, the file renamed and a new one
    # created before sse-tail looks: the old file is read to its end
    # (its last line without a newline too) before the new one.
    srv, path = file_stream(t, b"first\n")
    r = srv.get("log")
    expect(r, [L("first", 6)], src=path)
    texts = ["old-%05d-%s" % (i, "x" * 90) for i in range(2000)]
    data, _ = lines_data(texts)
    with open(path, "ab") as f:
        f.write(data + b"unterminated")
    old = path + ".1"
    os.rename(path, old)
    t.write(path, b"new1\n")
    want, off = [], 6
    for text in texts:
        off += len(text) + 1
        want.append(L(text, off, old))
    want += [L("unterminated", off + len("unterminated"), old), ROT, L("new1", 5, path)]
    expect(r, want, timeout=10)


def _pipe_with_one_line(t):
    """A pipe stream, a client, a writer, and a first line through."""
    (srv,), fifo = pipe_stream(t)
    r = opened(srv.get("p"))
    expect_stream_ok(r)
    w = open_writer(t, fifo)
    write_all(w, "one\n")
    expect(r, [L("one", 4)])
    return srv, fifo, r, w


@test
def pipe_replaced_by_another_fifo_is_read(t):
    srv, fifo, r, w = _pipe_with_one_line(t)
    # A new FIFO at the path while the old one still has its writer.
    os.unlink(fifo)
    os.mkfifo(fifo)
    w2 = open_writer(t, fifo)
    write_all(w2, "two\n")
    expect(r, [L("two", 8, tag=own_tag(r.events[0]))], timeout=5)
    close_writer(t, w)
    wait_until(lambda: "was replaced" in srv.stderr_text(), 5, "the log line")


@test
def pipe_whose_reopening_fails_is_retried(t):
    srv, fifo, r, w = _pipe_with_one_line(t)
    os.unlink(fifo)
    close_writer(t, w)      # EOF: the reopening finds no FIFO
    wait_until(lambda: "No such file" in srv.stderr_text(), 5,
               "the failed reopening's log line")
    os.mkfifo(fifo)
    w = open_writer(t, fifo)
    write_all(w, "two\n")
    expect(r, [L("two", 8, tag=own_tag(r.events[0]))], timeout=5)
    wait_until(lambda: "no longer retrying" in srv.stderr_text(), 5,
               "the recovery log line")
