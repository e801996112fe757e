"""End-to-end tests of access control (issue 9, point 6): allow-users
checked against REMOTE_USER (403, the index), allow-origin and the CORS
answers a browser needs (preflight included), --socket-mode and
--socket-group, and the warning when allow-users meets a TCP listener.
FastCGI requests come from the harness's client; CGI ones from the
environment, as a web server would set it."""

import grp
import json
import os
import socket
import stat
import subprocess

from harness import Skip, TestFailure, check, eq, test, wait_until
from helpers import (L, browser_accept, expect, expect_error, expect_stream_ok, file_id,
                     lines_data, opened)

DATA, _ = lines_data(["one", "two"])      # the file of access_conf()
DASH = "https://dash.example.org"
EVIL = "https://evil.example.org"
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                "Access-Control-Max-Age")


def access_conf(t, glob="", team="allow-users = alice bob", open_=""):
    """Three streams on one file: open (anyone), team (alice, bob), authed
    (any authenticated user)."""
    path = t.write("log.log", DATA)
    conf = t.config("%s\n[stream open]\npath = %s\n%s\n"
                    "[stream team]\npath = %s\n%s\n"
                    "[stream authed]\npath = %s\nallow-users = *\n"
                    % (glob, path, open_, path, team, path))
    return conf, path


def user(name):
    return {"REMOTE_USER": name} if name is not None else None


def no_cors(r, what):
    for h in CORS_HEADERS:
        check(r.header(h) is None, "%s: %s: %r sent" % (what, h, r.header(h)))


def cors_for(r, origin, what, credentials=True):
    eq(r.header("Access-Control-Allow-Origin"), origin, what + ": Access-Control-Allow-Origin")
    eq(r.header("Access-Control-Allow-Credentials"), "true" if credentials else None,
       what + ": Access-Control-Allow-Credentials")
    check("Origin" in [v.strip() for h in r.header_all("Vary") for v in h.split(",")],
          "%s: no Vary: Origin in %r" % (what, r.headers))


# ------------------------------------------------------------ allow-users --
@test
def access_allow_users_403_without_or_with_unlisted_user(t):
    conf, path = access_conf(t)
    srv = t.start(conf)
    for who in (None, "", "carol", "Alice", "*"):
        r = srv.answer("team", extra=user(who))
        expect_error(t, r, 403, paths=(path,))
    for who in (None, ""):
        expect_error(t, srv.answer("authed", extra=user(who)), 403, paths=(path,))
    # The viewer of a forbidden stream, and HEAD, are 403 too.
    expect_error(t, srv.answer("team", accept=browser_accept(), extra=user("carol")), 403,
                 paths=(path,))
    r = srv.answer("team", method="HEAD")
    eq(r.status, 403, "HEAD status")
    eq(bytes(r.body), b"", "HEAD body")
    # The only stream of a file, not named in the request: 403 as well.
    conf1 = t.config("[stream team]\npath = %s\nallow-users = alice\n" % path, "one.conf")
    c = t.cgi(conf1, path_info=None)
    expect_error(t, c.resp, 403, paths=(path,))


@test
def access_listed_user_gets_the_stream_fastcgi_and_cgi(t):
    conf, path = access_conf(t)
    srv = t.start(conf)
    for stream, who in (("team", "alice"), ("team", "bob"), ("authed", "carol"),
                        ("open", None), ("open", "mallory")):
        r = opened(srv.get(stream, extra=user(who)))
        expect_stream_ok(r)
        expect(r, [L("one", 4, DATA), L("two", 8, DATA)], what="%s as %r" % (stream, who))
        r.close()
    r = srv.answer("team", accept=browser_accept(), extra=user("bob"))
    eq(r.status, 200, "viewer status")
    check(b"<html" in bytes(r.body), "no viewer page: %r" % bytes(r.body)[:80])
    c = t.cgi(conf, stream="team", env={"REMOTE_USER": "alice"})
    r = opened(c.resp.wait_headers(5))
    expect_stream_ok(r)
    expect(r, [L("one", 4, DATA), L("two", 8, DATA)], what="CGI as alice")
    c = t.cgi(conf, stream="team", env={"REMOTE_USER": "carol"})
    expect_error(t, c.resp, 403, paths=(path,))
    # A header cannot pose as REMOTE_USER: it arrives as HTTP_REMOTE_USER.
    c = t.cgi(conf, stream="team", headers={"Remote-User": "alice"})
    expect_error(t, c.resp, 403, paths=(path,))


@test
def access_index_lists_only_what_the_user_may_open(t):
    conf, _ = access_conf(t)
    srv = t.start(conf)
    for who, want in ((None, ["open"]), ("carol", ["open", "authed"]),
                      ("alice", ["open", "team", "authed"])):
        r = srv.answer(None, extra=user(who))
        eq(r.status, 200, "index status")
        eq(r.header("Content-Type"), "application/json", "index Content-Type")
        eq(json.loads(bytes(r.body)), want, "JSON index for %r" % who)
        r = srv.answer(None, accept=browser_accept(), extra=user(who))
        html = bytes(r.body).decode()
        for name in ("open", "team", "authed"):
            eq("?stream=%s\"" % name in html, name in want,
               "HTML index for %r links %s" % (who, name))
    c = t.cgi(conf, path_info=None, env={"REMOTE_USER": "bob"})
    c.resp.wait_eof(5)
    eq(json.loads(bytes(c.resp.body)), ["open", "team", "authed"], "CGI index for bob")


# ------------------------------------------------------------------ CORS --
@test
def access_cors_headers_on_stream_head_and_errors(t):
    conf, path = access_conf(t, glob="allow-origin = %s http://127.0.0.1:8080" % DASH)
    srv = t.start(conf)
    r = opened(srv.get("open", headers={"Origin": DASH}))
    expect_stream_ok(r)
    cors_for(r, DASH, "stream")
    expect(r, [L("one", 4, DATA), L("two", 8, DATA)])
    r.close()
    # A reconnect: Last-Event-ID and the same CORS answer.
    r = opened(srv.get("open", headers={"Origin": DASH}, last_event_id=file_id(DATA, 4)))
    cors_for(r, DASH, "reconnect")
    expect(r, [L("two", 8, DATA)], what="after Last-Event-ID 4")
    r.close()
    r = srv.answer("open", method="HEAD", headers={"Origin": DASH})
    eq(r.status, 200, "HEAD status")
    cors_for(r, DASH, "HEAD")
    # Errors carry it, so that the page can read them.
    r = expect_error(t, srv.answer("team", headers={"Origin": DASH}), 403, paths=(path,))
    cors_for(r, DASH, "403")
    r = expect_error(t, srv.answer("nosuch", headers={"Origin": DASH}), 404)
    cors_for(r, DASH, "404")
    r = expect_error(t, srv.answer("open", query="lines=x", headers={"Origin": DASH}), 400)
    cors_for(r, DASH, "400")
    r = srv.answer(None, headers={"Origin": "http://127.0.0.1:8080"})
    cors_for(r, "http://127.0.0.1:8080", "index")
    # CGI, the same.
    c = t.cgi(conf, stream="open", headers={"Origin": DASH})
    cors_for(opened(c.resp.wait_headers(5)), DASH, "CGI stream")


@test
def access_preflight_from_an_allowed_origin_gets_204(t):
    conf, path = access_conf(t, glob="allow-origin = %s" % DASH)
    srv = t.start(conf)
    pre = {"Origin": DASH, "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Headers": "last-event-id"}
    # No REMOTE_USER: a browser sends a preflight without credentials.
    for stream in ("open", "team", None):
        r = srv.answer(stream, method="OPTIONS", headers=pre, accept="*/*")
        eq(r.status, 204, "preflight status for %r (%s)" % (stream, r.summary()))
        cors_for(r, DASH, "preflight")
        eq(r.header("Access-Control-Allow-Methods"), "GET, HEAD", "Allow-Methods")
        eq(r.header("Access-Control-Allow-Headers"), "Last-Event-ID", "Allow-Headers")
        eq(r.header("Access-Control-Max-Age"), "3600", "Max-Age")
        eq(r.header("Content-Type"), None, "204 Content-Type")
        eq(bytes(r.body), b"", "204 body")
    c = t.cgi(conf, stream="team", method="OPTIONS", headers=pre)
    c.resp.wait_eof(5)
    eq(c.resp.status, 204, "CGI preflight status")
    # Anything else stays 405 with Allow.
    for what, h in (("no Origin", {"Access-Control-Request-Method": "GET"}),
                    ("no request method", {"Origin": DASH}),
                    ("POST", {"Origin": DASH, "Access-Control-Request-Method": "POST"}),
                    ("another origin", dict(pre, Origin=EVIL))):
        r = expect_error(t, srv.answer("open", method="OPTIONS", headers=h), 405)
        eq(r.header("Allow"), "GET, HEAD", "Allow of OPTIONS with " + what)
        if what == "another origin":
            no_cors(r, "OPTIONS from another origin")


@test
def access_other_origins_get_no_cors_headers(t):
    conf, _ = access_conf(t, glob="allow-origin = %s" % DASH)
    srv = t.start(conf)
    for origin in (EVIL, "http://dash.example.org", DASH + ".evil.org", "null"):
        r = opened(srv.get("open", headers={"Origin": origin}))
        expect_stream_ok(r)
        no_cors(r, "stream for " + origin)
        eq(r.header("Vary"), "Origin", "Vary")
        r.close()
    r = opened(srv.get("open"))
    no_cors(r, "stream without Origin")
    eq(r.header("Vary"), "Origin", "Vary without Origin")
    r.close()
    # Without allow-origin: nothing of CORS at all.
    conf2, _ = access_conf(t)
    srv2 = t.start(t.config(open(conf2).read(), "plain.conf"))
    r = opened(srv2.get("open", headers={"Origin": DASH}))
    no_cors(r, "no allow-origin")
    eq(r.header("Vary"), None, "Vary without allow-origin")
    r.close()
    r = expect_error(t, srv2.answer("open", method="OPTIONS",
                                    headers={"Origin": DASH,
                                             "Access-Control-Request-Method": "GET"}), 405)
    no_cors(r, "preflight without allow-origin")


@test
def access_star_origin_is_any_origin_without_credentials(t):
    conf, _ = access_conf(t, open_="allow-origin = *")
    srv = t.start(conf)
    r = opened(srv.get("open", headers={"Origin": EVIL}))
    cors_for(r, "*", "allow-origin = *", credentials=False)
    r.close()
    r = srv.answer("open", method="OPTIONS", headers={
        "Origin": "null", "Access-Control-Request-Method": "GET"})
    eq(r.status, 204, "preflight status")
    cors_for(r, "*", "preflight, allow-origin = *", credentials=False)


@test
def access_bad_lists_are_config_errors_with_line(t):
    for text, line, what in (
            ("allow-origin = https://x.org/\n", 2, "allow-origin"),
            ("allow-origin = * https://x.org\n", 2, "stands alone"),
            ("allow-users = al\x01ice\n", 2, "control character"),
            ("allow-user = alice\n", 2, "unknown key")):
        conf = t.config("[stream s]\npath = /x\n" + text, "bad.conf")
        p = t.run(["--check", "--config", conf])
        eq(p.returncode, 1, "--check of %r" % text)
        err = p.stderr.decode()
        check(("bad.conf:%d:" % (line + 1)) in err and what in err,
              "error for %r is %r" % (text, err))


# ----------------------------------------------------- sockets, warnings --
def can_connect_as_nobody(path):
    """Whether uid/gid 65534 may connect to the unix socket at path."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n sys.exit(3)\n")

    def demote():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    p = subprocess.run(["python3", "-c", code, path], preexec_fn=demote, timeout=10,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode not in (0, 3):
        raise TestFailure("connect as nobody: %r" % p.stderr)
    return p.returncode == 0


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


@test
def access_socket_mode_and_group_are_set_on_the_unix_socket(t):
    if os.getuid() != 0:
        raise Skip("needs root to chown the socket and to become nobody")
    # A group that nobody (uid and gid 65534) is not in.
    groups = [g for g in ("www-data", "adm", "daemon") if _gid(g) not in (None, 0, 65534)]
    if not groups:
        raise Skip("no group www-data, adm or daemon")
    name, gid = groups[0], _gid(groups[0])
    conf, _ = access_conf(t)
    os.chmod(t.dir, 0o755)
    srv = t.start(conf, args=("--socket-mode", "0660", "--socket-group", name))
    sp = srv.addr[len("unix:"):]
    st = os.stat(sp)
    check(stat.S_ISSOCK(st.st_mode), "not a socket")
    eq(oct(st.st_mode & 0o7777), oct(0o660), "socket mode")
    eq(st.st_gid, gid, "socket group")
    check(not can_connect_as_nobody(sp), "nobody (not in the group) could connect")
    # A numeric group, and a mode that lets everyone in (the control).
    srv2 = t.start(conf, args=("--socket-mode=666", "--socket-group", "4242"))
    sp2 = srv2.addr[len("unix:"):]
    st = os.stat(sp2)
    eq(oct(st.st_mode & 0o7777), oct(0o666), "socket mode 666")
    eq(st.st_gid, 4242, "numeric socket group")
    check(can_connect_as_nobody(sp2), "nobody could not connect to a 0666 socket")
    # And it serves.
    r = opened(srv.get("team", extra=user("alice")))
    expect(r, [L("one", 4, DATA), L("two", 8, DATA)])


@test
def access_socket_options_need_listen_unix(t):
    conf, _ = access_conf(t)
    for args, what in ((["--socket-mode", "0660"], "need --listen unix:"),
                       (["--socket-group", "root", "--listen", "127.0.0.1:1"],
                        "need --listen unix:"),
                       (["--socket-mode", "0999", "--listen", "unix:" + t.path("x.sock")],
                        "--socket-mode 0999"),
                       (["--socket-mode", "1777", "--listen", "unix:" + t.path("x.sock")],
                        "--socket-mode 1777"),
                       (["--socket-group", "no-such-group-x", "--listen",
                         "unix:" + t.path("x.sock")], "no-such-group-x")):
        p = t.run(args, conf=conf)
        eq(p.returncode, 2, "exit status of %r" % args)
        check(what in p.stderr.decode(), "stderr for %r: %r" % (args, p.stderr))
    check(not os.path.exists(t.path("x.sock")), "a socket was left behind")


WARNING = "listens on TCP"


@test
def access_allow_users_on_tcp_warns_at_start(t):
    conf, _ = access_conf(t)
    srv = t.start(conf, mode="tcp")
    wait_until(lambda: WARNING in srv.stderr_text(), 5, "the TCP warning")
    line = [x for x in srv.stderr_text().split("\n") if WARNING in x][0]
    check("allow-users" in line and "unix socket" in line, "warning: %r" % line)
    # A TCP socket handed over by a spawner (fd 0) or systemd: the same.
    for how in ("fd0", "systemd"):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        errp = t.path("stderr-%s.txt" % how)
        argv = [srv.proc.args[0], "--config", conf]
        if how == "systemd":
            argv = ["/bin/sh", "-c",
                    'exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'] + argv
        with open(errp, "wb") as errf:
            proc = subprocess.Popen(argv, stdin=ls.fileno(), stdout=errf, stderr=errf)
        ls.close()
        try:
            wait_until(lambda: WARNING in open(errp).read() or proc.poll() is not None, 5,
                       "the TCP warning (%s)" % how)
            check(WARNING in open(errp).read(), "%s: no warning: %r" % (how, open(errp).read()))
        finally:
            proc.terminate()
            proc.wait(5)
    # No allow-users, or a unix socket of the umask's mode: no warning.
    plain = t.config("[stream open]\npath = %s\n" % t.path("log.log"), "plain.conf")
    quiet = [t.start(plain, mode="tcp"), t.start(conf, mode="unix")]
    for s in quiet:
        eq(s.answer("nosuch").status, 404, "unknown stream")
        check("warning" not in s.stderr_text(), "%s: %r" % (s.mode, s.stderr_text()))
    # A unix socket anyone may connect to is as open as TCP.
    s = t.start(conf, args=("--socket-mode", "0666"))
    wait_until(lambda: "warning" in s.stderr_text(), 5, "the warning for a 0666 socket")


@test
def access_sighup_that_restricts_a_stream_ends_its_clients(t):
    from signals import hup_and_wait
    conf, path = access_conf(t)
    srv = t.start(conf)
    ro = opened(srv.get("open", extra=user("carol")))
    rt = opened(srv.get("team", extra=user("alice")))
    expect(ro, [L("one", 4, DATA), L("two", 8, DATA)])
    expect(rt, [L("one", 4, DATA), L("two", 8, DATA)])
    # open gets allow-users; team is left as it was.
    text = open(conf).read().replace("[stream open]\npath = %s\n" % path,
                                     "[stream open]\npath = %s\nallow-users = alice\n" % path)
    t.write(conf, text)
    hup_and_wait(t, srv, 0)
    ro.wait_end(5.0)
    check(not rt.ended, "team's client was ended though team did not change")
    expect_error(t, srv.answer("open", extra=user("carol")), 403, paths=(path,))
    opened(srv.get("open", extra=user("alice")))
