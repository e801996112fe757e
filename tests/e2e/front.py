"""End-to-end tests of how sse-tail takes FastCGI connections (issue 9):
the peers it serves on TCP (FCGI_WEB_SERVER_ADDRS, as libfcgi did)."""
import fcgi
from harness import TestFailure, check, eq, test, wait_until
from helpers import L, expect, file_stream


@test
def web_server_addrs_limits_tcp_peers(t):
    srv, path = file_stream(t, b"a\n", mode="tcp",
                            env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.2, ::1"})
    r = srv.request(query="lines=1")
    try:
        r.wait_headers(3.0)
    except (fcgi.ProtocolError, fcgi.Timeout, OSError):
        pass
    check(r.status is None, "a peer not listed got an answer: %r" % r.summary())
    wait_until(lambda: "FCGI_WEB_SERVER_ADDRS" in srv.stderr_text(), 5.0,
               "the refusal in the log")
    srv2, _ = file_stream(t, b"a\n", mode="tcp",
                          env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.2,127.0.0.1"})
    r2 = srv2.get(query="lines=1")
    expect(r2, [L("a", 2)], src=b"a\n")


@test
def web_server_addrs_that_do_not_parse_stop_the_start(t):
    p = t.write("log.log", b"a\n")
    conf = t.config("[stream log]\npath = %s\n" % p)
    srv = t.start(conf, mode="tcp", env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.1,nonsense"},
                  wait=False)
    srv.proc.wait(5)
    eq(srv.proc.returncode, 1, "exit status")
    check("not an address: nonsense" in srv.stderr_text(), "no word on the bad address")
