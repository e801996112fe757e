"""End-to-end tests of the command line, the start modes (--listen unix and tcp, a socket
on fd 0, systemd's LISTEN_FDS), the configuration file and --check.
Each test gets a harness.T: a temp dir and the processes it starts, all
cleaned up."""

import re
import socket
import subprocess

from harness import BIN, base_env, check, eq, register, test
from helpers import L, expect, expect_marker, expect_stream_ok, file_stream, lines_data


@test
def version_prints_name_and_version(t):
    p = t.run(["--version"])
    eq(p.returncode, 0, "exit status")
    check(re.fullmatch(rb"sse-tail \d+\.\d+\.\d+\n", p.stdout),
          "stdout is %r, want 'sse-tail X.Y.Z'" % p.stdout)


@test
def help_prints_usage_to_stdout(t):
    p = t.run(["--help"])
    eq(p.returncode, 0, "exit status")
    check(p.stdout.startswith(b"usage: sse-tail"), "stdout starts %r" % p.stdout[:60])


@test
def unknown_option_exits_2(t):
    p = t.run(["--no-such-option"])
    eq(p.returncode, 2, "exit status")
    check(p.stderr.strip() != b"", "no message on stderr")


@test
def no_start_mode_exits_2_with_message(t):
    conf = t.config("[stream log]\npath = %s\n" % t.path("x.log"))
    p = t.run([], conf=conf)
    eq(p.returncode, 2, "exit status (no --listen, fd 0 /dev/null, no GATEWAY_INTERFACE)")
    check(p.stderr.strip() != b"", "no message on stderr")


def _serves_a_stream(t, mode, env=None):
    data, ids = lines_data(["one", "two"])
    srv, path = file_stream(t, data, mode=mode, env=env)
    r = srv.get("log")
    expect_stream_ok(r)
    expect(r, [L("one", 4), L("two", 8)], src=data)
    expect_marker(t, r, path)
    return srv


@test
def listen_unix_socket_serves_stream(t):
    _serves_a_stream(t, "unix")


@test
def listen_tcp_127_0_0_1_serves_stream(t):
    _serves_a_stream(t, "tcp")


@test
def spawned_with_listening_socket_on_fd0_serves_stream(t):
    _serves_a_stream(t, "fd0")


@test
def systemd_socket_activation_fd3_serves_stream(t):
    _serves_a_stream(t, "systemd")


@test
def systemd_listen_pid_of_another_process_is_ignored(t):
    conf = t.config("[stream log]\npath = %s\n" % t.path("x.log"))
    sp = t.path("sd.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(sp)
    ls.listen(16)
    try:
        p = subprocess.run(["/bin/sh", "-c",
                            'exec 3<&0 0</dev/null; LISTEN_PID=1 LISTEN_FDS=1 exec "$0" "$@"',
                            BIN, "--config", conf],
                           stdin=ls.fileno(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=base_env(), timeout=10)
    finally:
        ls.close()
    eq(p.returncode, 2, "exit status when LISTEN_PID names another process")


@test
def config_from_sse_tail_config_env(t):
    data, _ = lines_data(["x"])
    path = t.write("log.log", data)
    conf = t.config("[stream log]\npath = %s\n" % path, name="other.conf")
    srv = t.start(None, env={"SSE_TAIL_CONFIG": conf})
    r = srv.get("log")
    expect_stream_ok(r)
    expect(r, [L("x", 2)], src=data)


@test
def check_missing_config_file_exits_1(t):
    p = t.run(["--check", "--config", t.path("nope.conf")])
    eq(p.returncode, 1, "exit status")
    check(b"nope.conf" in p.stderr, "stderr does not name the file: %r" % p.stderr)


# ================================================================ --check ==
@test
def check_valid_config_prints_nothing_exits_0(t):
    p1 = t.path("a.log")
    text = """# a comment line
   # an indented comment

heartbeat   = 15      # seconds
retry       = 3000
backlog     = 10
max-clients = 1000
max-line    = 65536
buffer      = 1048576

[stream syslog]
path  = %s
event = log           # optional
backlog = 50

[stream with.dots_and-dash]
path = %s
heartbeat = 1
retry = 0
max-line = 16
buffer = 4096
max-clients = 1
""" % (p1, t.path("b#c.log"))
    conf = t.config(text)
    p = t.run(["--check"], conf=conf)
    eq((p.returncode, p.stdout, p.stderr), (0, b"", b""), "(status, stdout, stderr)")


@test
def check_accepts_boundary_values(t):
    for key, vals in (("heartbeat", (1, 3600)), ("retry", (0, 3600000)),
                      ("backlog", (0, 100000)), ("max-clients", (1, 1000000)),
                      ("max-line", (16, 1048576)), ("buffer", (4096,))):
        for v in vals:
            conf = t.config("%s = %d\n[stream a]\npath = %s\n" % (key, v, t.path("a.log")))
            p = t.run(["--check"], conf=conf)
            eq((p.returncode, p.stderr), (0, b""), "--check of %s = %d" % (key, v))
    name = "a" * 64
    ev = "A.b_c-9" + "x" * 57
    conf = t.config("[stream %s]\npath = %s\nevent = %s\n" % (name, t.path("a.log"), ev))
    p = t.run(["--check"], conf=conf)
    eq((p.returncode, p.stderr), (0, b""), "--check of 64-char stream name and event")


BAD_CONFIGS = [
    # (name, text with {P} for an absolute path, acceptable line numbers)
    ("unknown_global_key", "heartbeat = 15\nbogus = 1\n[stream a]\npath = {P}\n", {2}),
    ("unknown_stream_key", "[stream a]\npath = {P}\ncolour = red\n", {3}),
    ("heartbeat_0", "heartbeat = 0\n[stream a]\npath = {P}\n", {1}),
    ("heartbeat_3601", "heartbeat = 3601\n[stream a]\npath = {P}\n", {1}),
    ("heartbeat_not_a_number", "\nheartbeat = 15s\n[stream a]\npath = {P}\n", {2}),
    ("heartbeat_empty", "heartbeat =\n[stream a]\npath = {P}\n", {1}),
    ("retry_negative", "retry = -1\n[stream a]\npath = {P}\n", {1}),
    ("retry_3600001", "retry = 3600001\n[stream a]\npath = {P}\n", {1}),
    ("backlog_100001", "backlog = 100001\n[stream a]\npath = {P}\n", {1}),
    ("backlog_in_section_bad", "[stream a]\npath = {P}\nbacklog = x\n", {3}),
    ("max_clients_0", "max-clients = 0\n[stream a]\npath = {P}\n", {1}),
    ("max_clients_1000001", "max-clients = 1000001\n[stream a]\npath = {P}\n", {1}),
    ("max_line_15", "max-line = 15\n[stream a]\npath = {P}\n", {1}),
    ("max_line_1048577", "max-line = 1048577\n[stream a]\npath = {P}\n", {1}),
    ("buffer_4095", "[stream a]\npath = {P}\nbuffer = 4095\n", {3}),
    ("event_bad_chars", "[stream a]\npath = {P}\nevent = a b\n", {3}),
    ("event_slash", "[stream a]\npath = {P}\nevent = a/b\n", {3}),
    ("event_reset", "[stream a]\npath = {P}\nevent = reset\n", {3}),
    ("event_65_chars", "[stream a]\npath = {P}\nevent = " + "e" * 65 + "\n", {3}),
    ("stream_name_slash", "[stream a/b]\npath = {P}\n", {1}),
    ("stream_name_dotdot_slash", "[stream ../x]\npath = {P}\n", {1}),
    ("stream_name_65_chars", "[stream " + "n" * 65 + "]\npath = {P}\n", {1}),
    ("stream_name_empty", "[stream ]\npath = {P}\n", {1}),
    ("section_not_stream", "[foo]\npath = {P}\n", {1}),
    ("section_streams", "[streams a]\npath = {P}\n", {1}),
    ("section_unclosed", "[stream a\npath = {P}\n", {1}),
    ("section_without_path", "[stream a]\nevent = x\n[stream b]\npath = {P}\n", {1, 3}),
    ("last_section_without_path", "[stream b]\npath = {P}\n[stream a]\nevent = x\n", {3, 4, 5}),
    ("duplicate_stream_name", "[stream a]\npath = {P}\n[stream a]\npath = {P}2\n", {3}),
    ("duplicate_key_in_section", "[stream a]\npath = {P}\npath = {P}2\n", {3}),
    ("duplicate_global_key", "heartbeat = 1\nheartbeat = 2\n[stream a]\npath = {P}\n", {2}),
    ("line_without_equals", "heartbeat 15\n[stream a]\npath = {P}\n", {1}),
    ("line_without_equals_in_section", "[stream a]\npath = {P}\njunk\n", {3}),
    ("relative_path", "[stream a]\npath = logs/a.log\n", {2}),
    ("empty_path", "[stream a]\npath =\n", {2}),
    ("path_outside_section", "path = {P}\n[stream a]\npath = {P}\n", {1}),
]


def _make_check_bad(text, lines):
    def f(t):
        conf = t.config(text.replace("{P}", t.path("a.log")))
        p = t.run(["--check"], conf=conf)
        eq(p.returncode, 1, "exit status of --check")
        eq(p.stdout, b"", "stdout")
        err = p.stderr.decode("utf-8", "replace")
        check(err.endswith("\n") and err.count("\n") == 1,
              "want exactly one line on stderr, got %r" % err)
        m = re.fullmatch(r"sse-tail: (.+):(\d+): (.+)\n", err)
        check(m is not None, "stderr %r is not 'sse-tail: FILE:LINE: message'" % err)
        eq(m.group(1), conf, "file named in the message")
        check(int(m.group(2)) in lines,
              "line number %s, want one of %s (%r)" % (m.group(2), sorted(lines), err))
    return f


for _n, _text, _lines in BAD_CONFIGS:
    register("check_rejects_" + _n, _make_check_bad(_text, _lines))


@test
def hash_inside_a_word_is_not_a_comment(t):
    data, _ = lines_data(["hash"])
    path = t.write("a#b.log", data)
    conf = t.config("heartbeat = 15 # comment after whitespace\n"
                    "[stream log]   # header comment\npath = %s\n" % path)
    p = t.run(["--check"], conf=conf)
    eq((p.returncode, p.stderr), (0, b""), "--check")
    srv = t.start(conf)
    r = srv.get("log")
    expect(r, [L("hash", 5)], src=data)


@test
def bad_config_at_start_exits_nonzero_with_line(t):
    conf = t.config("heartbeat = 15\n[stream a]\npath = %s\nbogus = 1\n" % t.path("a.log"))
    p = t.run(["--listen", "unix:" + t.path("s.sock")], conf=conf)
    check(p.returncode != 0, "exit status 0 with a bad config")
    check(("%s:4:" % conf).encode() in p.stderr, "stderr does not say FILE:4: %r" % p.stderr)
