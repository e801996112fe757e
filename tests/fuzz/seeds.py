#!/usr/bin/env python3
"""seeds.py - writes the seed corpora of the fuzz harnesses into
tests/fuzz/corpus/<harness>/ (committed; rerun after changing a seed here).

Each harness's input format is described at the top of its fuzz_*.c."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# FastCGI (specification section 8)
BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR, DATA, GET_VALUES = range(1, 10)
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1


def rec(rtype, rid, content=b"", pad=0, version=1):
    """One record; pad is the padding length (nginx pads to 8)."""
    return struct.pack(">BBHHBx", version, rtype, rid, len(content), pad) + \
        content + b"\0" * pad


def padded(rtype, rid, content=b""):
    return rec(rtype, rid, content, (8 - len(content) % 8) % 8)


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pairs(items):
    out = b""
    for name, value in items:
        name, value = name.encode(), value.encode()
        out += length(len(name)) + length(len(value)) + name + value
    return out


def begin(rid, flags=0, role=RESPONDER):
    return rec(BEGIN, rid, struct.pack(">HB5x", role, flags))


def cgi(server, path="/syslog", query="", accept="text/event-stream",
        last_id=None, method="GET"):
    env = [("GATEWAY_INTERFACE", "CGI/1.1"), ("SERVER_SOFTWARE", server),
           ("REQUEST_METHOD", method), ("SCRIPT_NAME", "/events"),
           ("PATH_INFO", path), ("QUERY_STRING", query),
           ("REQUEST_URI", "/events" + path + ("?" + query if query else "")),
           ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1"),
           ("HTTP_HOST", "127.0.0.1:8080"), ("HTTP_ACCEPT", accept)]
    if last_id is not None:
        env.append(("HTTP_LAST_EVENT_ID", last_id))
    return pairs(env)


def request(rid, params, flags=0, body=b"", pad=False):
    """BEGIN_REQUEST, the PARAMS in one record, an empty PARAMS, STDIN."""
    r = padded if pad else rec
    out = begin(rid, flags) + r(PARAMS, rid, params) + r(PARAMS, rid)
    if body:
        out += r(STDIN, rid, body)
    return out + r(STDIN, rid)


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def fcgi_seeds():
    # Two control bytes first: the chunking seed and the driver flags
    # (bit 0 ends each request at once, bit 1 frees the parameters).
    stream, short = b"\x00\x00", b"\x00\x01"
    s = {}
    s["lighttpd-get"] = stream + request(1, cgi("lighttpd/1.4.69"))
    s["lighttpd-viewer"] = short + request(1, cgi("lighttpd/1.4.69",
                                                  accept=BROWSER))
    s["nginx-get-padded"] = stream + request(
        1, cgi("nginx/1.22.1", last_id="12345"), pad=True)
    s["nginx-keep-conn-two-requests"] = b"\x07\x03" + \
        request(1, cgi("nginx/1.22.1"), KEEP_CONN, pad=True) + \
        request(1, cgi("nginx/1.22.1", path="/app.log", query="lines=5"),
                KEEP_CONN, pad=True)
    s["apache-proxy-fcgi-keep-conn"] = b"\x03\x01" + \
        request(1, cgi("Apache/2.4.62", path="", query="stream=syslog"),
                KEEP_CONN) + \
        request(1, cgi("Apache/2.4.62", method="POST"), KEEP_CONN,
                body=b"a=1&b=2")
    s["mod-fcgid-get"] = stream + request(
        1, cgi("Apache/2.4.62", path="/", query="stream=syslog&lastEventId=7"))
    # PARAMS in three records, one cut inside a pair, and a value past
    # 127 bytes (4-byte lengths).
    p = cgi("lighttpd/1.4.69", accept="text/event-stream;q=1, " * 12)
    s["params-split"] = b"\x05\x00" + begin(1) + rec(PARAMS, 1, p[:10]) + \
        rec(PARAMS, 1, p[10:100]) + rec(PARAMS, 1, p[100:]) + \
        rec(PARAMS, 1) + rec(STDIN, 1)
    s["get-values"] = b"\x00\x00" + rec(GET_VALUES, 0, pairs(
        [("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
         ("FCGI_MPXS_CONNS", "")]))
    # What overflowed libfcgi's stack: one variable named four times.
    s["get-values-max-conns-4x"] = b"\x00\x00" + rec(GET_VALUES, 0, pairs(
        [("FCGI_MAX_CONNS", "")] * 4))
    # Found by fuzzing: a NUL after a known name was taken for it.
    s["get-values-name-with-nul"] = b"\x00\x00" + rec(GET_VALUES, 0,
        b"\x0f\x00FCGI_MAX_CONNS\x00\x0e\x01FCGI_MAX_REQS\x00x")
    s["get-values-long-name"] = b"\x02\x04" + rec(GET_VALUES, 0, pairs(
        [("X" * 200, ""), ("FCGI_MPXS_CONNS", "")]), pad=3)
    # What made libfcgi allocate 2 GiB: lengths of 0x40000000 each.
    huge = struct.pack(">II", 0xc0000000, 0xc0000000) + b"NAME"
    s["params-lengths-1g"] = b"\x00\x00" + begin(1) + rec(PARAMS, 1, huge) + \
        rec(PARAMS, 1) + rec(STDIN, 1)
    s["params-over-64k"] = b"\x09\x00" + begin(1) + b"".join(
        rec(PARAMS, 1, pairs([("HTTP_X_%d" % i, "v" * 8000)]))
        for i in range(9)) + rec(PARAMS, 1) + rec(STDIN, 1)
    s["abort-streaming"] = stream + request(1, cgi("nginx/1.22.1")) + \
        rec(ABORT, 1)
    s["abort-keep-conn-then-request"] = b"\x01\x00" + \
        request(3, cgi("nginx/1.22.1"), KEEP_CONN) + rec(ABORT, 3) + \
        request(4, cgi("nginx/1.22.1", path="/other"), KEEP_CONN)
    s["abort-while-reading-params"] = stream + begin(1) + \
        rec(PARAMS, 1, cgi("x")[:40]) + rec(ABORT, 1)
    s["unknown-management-type"] = stream + rec(99, 0, b"what") + \
        rec(GET_VALUES, 5, pairs([("FCGI_MAX_CONNS", "")]))
    s["second-begin-cant-mpx"] = stream + begin(1) + rec(PARAMS, 1,
        cgi("x")) + begin(2) + rec(PARAMS, 1) + rec(STDIN, 1)
    s["begin-again-same-id"] = stream + begin(1) + begin(1)
    s["authorizer-role"] = stream + rec(BEGIN, 1, struct.pack(
        ">HB5x", AUTHORIZER, 0)) + request(2, cgi("x"))
    s["other-ids-ignored"] = stream + begin(1) + rec(PARAMS, 2, cgi("x")) + \
        rec(STDIN, 7, b"xx") + rec(DATA, 1, b"data") + \
        rec(PARAMS, 1, pairs([("REQUEST_METHOD", "HEAD")])) + rec(PARAMS, 1)
    s["params-duplicate-and-empty"] = stream + begin(1) + rec(PARAMS, 1,
        pairs([("REQUEST_METHOD", "GET"), ("REQUEST_METHOD", "POST"),
               ("PATH_INFO", ""), ("QUERY_STRING", "")])) + rec(PARAMS, 1)
    s["params-empty-name"] = stream + begin(1) + rec(PARAMS, 1,
        b"\x00\x03abc") + rec(PARAMS, 1)
    s["params-nul-in-value"] = stream + begin(1) + rec(PARAMS, 1,
        b"\x01\x03Xa\x00c") + rec(PARAMS, 1)
    s["version-2"] = stream + rec(BEGIN, 1, struct.pack(">HB5x", 1, 0),
                                  version=2)
    s["begin-body-7-bytes"] = stream + rec(BEGIN, 1, b"\x00\x01\x00\x00\x00"
                                           b"\x00\x00")
    s["get-values-cut-pair"] = stream + rec(GET_VALUES, 0, b"\x0e\x00FCGI")
    s["cut-in-header"] = stream + begin(1)[:5]
    return s


def req_seeds():
    f = lambda *fields: b"\0".join(x.encode() for x in fields)
    return {
        "stream": f("GET", "/syslog", "", "", "text/event-stream"),
        "viewer": f("GET", "/app.log", "", "", BROWSER),
        "index-json": f("GET", "", "", "", "*/*"),
        "index-html": f("HEAD", "/", "", "", BROWSER),
        "query": f("GET", "", "stream=a-b_C9&lines=100000&lastEventId=42"),
        "query-encoded": f("GET", "/", "stream=app%2elog&lines=+5&x=%zz"),
        "query-pct00": f("GET", "", "stream=sys%00log"),
        "query-twice": f("GET", "", "lines=1&lines=2"),
        "last-event-id": f("GET", "/syslog", "", "4611686018427387903"),
        "last-event-id-over": f("GET", "/syslog", "lastEventId=7",
                                "4611686018427387904"),
        "last-event-id-zeros": f("GET", "/syslog", "", "000000000000000000000"
                                 "00000000042"),
        "accept-q": f("GET", "/syslog", "", "", "text/event-stream;q=0.5, "
                      "text/html;q=0.4, TEXT/*;Q=0.45, */*;q=0"),
        "accept-q-negative": f("GET", "", "", "", "text/event-stream;q=-1"),
        "post": f("POST", "/syslog"),
        "method-only": f("GET"),
        "dot-dot": f("GET", "/../etc/passwd"),
        "query-4097": f("GET", "", "x=" + "a" * 4095),
        "user-listed": f("GET", "/app.log", "", "", "", "bob"),
        "user-unlisted": f("GET", "/app.log", "", "", "", "carol",
                           "https://dash.example.org"),
        "user-any": f("GET", "/a-b_C9", "", "", "", "x"),
        "user-none": f("GET", "/a-b_C9"),
        "cors": f("GET", "/syslog", "", "", "", "", "HTTPS://DASH.example.org"),
        "preflight": f("OPTIONS", "/app.log", "", "", "", "",
                       "http://other.example", "GET"),
        "preflight-refused": f("OPTIONS", "/syslog", "", "", "", "",
                               "http://other.example", "POST"),
    }


def cfg_seeds():
    with open(os.path.join(HERE, "..", "..", "conf", "sse-tail.conf")) as fh:
        example = fh.read()
    return {
        "example": example,
        "every-key": "heartbeat = 30\nretry = 0\nbacklog = 100000\n"
        "max-clients = 1\nmax-line = 16\nbuffer = 4096\nevent = log\n"
        "[stream a]\npath = /a\n[stream b.c_d-9]\t# a comment\n"
        "path = /var/log/b #cut\nevent = other\nmax-line = 1048576\n"
        "buffer = 1073741824\nheartbeat = 3600\nretry = 3600000\n",
        "crlf": "backlog = 5\r\n[stream x]\r\npath = /x\r\n",
        "bad-range": "[stream x]\npath = /x\nheartbeat = 0\n",
        "bad-number": "[stream x]\npath = /x\nretry = 99999999999999999999\n",
        "duplicate-stream": "[stream x]\npath = /x\n[stream x]\npath = /y\n",
        "no-path": "[stream x]\nevent = log\n",
        "reset-event": "event = reset\n[stream x]\npath = /x\n",
        "bad-header": "[stream]\npath = /x\n",
        "small-err": "\x03[stream " + "n" * 65 + "]\n",
        "empty": "",
        "access": "allow-origin = HTTPS://Dash.Example.org:443 "
        "http://127.0.0.1:8080 http://[::1]:80\n"
        "[stream a]\npath = /a\nallow-users = alice bob\n"
        "[stream b]\npath = /b\nallow-users = *\nallow-origin = *\n",
        "access-bad": "[stream a]\npath = /a\nallow-origin = http://x/y\n",
        "path-too-long": "[stream x]\npath = /" + "a" * 4100 + "\n",
    }


def sse_head(max_line=0, event=0, seed=1, ident=42, extra=0):
    """max_line is 16 + this (mod 1009); event picks one of fuzz_sse.c's."""
    return struct.pack("<H", max_line) + bytes([event, seed]) + \
        struct.pack(">Q", ident) + bytes([extra])


def sse_seeds():
    u = lambda s: s.encode()
    return {
        "lines": sse_head(0) + u("first line\nsecond\r\nthird\n\nlast"),
        "utf8": sse_head(10, 1) + u("caf\u00e9 \u20ac \U0001f600 \u00e9\u00e9"
                                    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                                    "\u00e9\n"),
        "invalid": sse_head(0, 2) + b"\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80"
        b" \xff \x00 \xe2\x82\n\xf0\x9f\x98",
        "cr": sse_head(0, 3) + b"a\rb\r\rc\r\n\r\n\r",
        "long": sse_head(4, 4, 9, 2 ** 64 - 1, 3) + b"x" * 40 +
        u("\u00e9" * 30) + b"\n" + b"y" * 100,
        "cut-total-max": sse_head(0, 0, 0, 0, 255) + b"z" * 20 + b"\xe2\x80",
    }


def ring_seeds():
    return {
        # cap 64, 4 slots; pushes of growing length, finds, reads
        "pushes": struct.pack("<HB", 63, 3) + b"\x00\x10\x00" + b"\x01\x20\x00"
        + b"\x06\x01" + b"\x03\x00\x40\x00" + b"\x00\x30\x00" + b"\x0a\x00"
        + b"\x00\x3f\x00" + b"\x03\x01\x08\x00" + b"\x02\x05",
        "wrap": struct.pack("<HB", 9, 63) + (b"\x00\x03\x00" * 12) +
        b"\x03\x00\xff\xff" + b"\x03\x02\x04\x00",
        "one-slot": struct.pack("<HB", 200, 0) + b"\x10\x05\x00\x06\x00" * 4,
    }


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for seed, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, seed), "wb") as fh:
            fh.write(data)


def main():
    write("fcgi", fcgi_seeds())
    write("req", req_seeds())
    write("cfg", cfg_seeds())
    write("sse", sse_seeds())
    write("ring", ring_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
