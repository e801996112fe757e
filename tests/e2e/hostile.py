"""End-to-end tests of sse-tail facing a FastCGI peer it cannot trust
(issue 9, points 1 and 5): raw records to the real binary, one-packet
crashes, silent and partial connections, huge parameters, ABORT_REQUEST,
keep-conn, random bytes, and clients that never read.

Figures (delays, socket memory, RSS) are given with t.note: run with
E2E_VERBOSE=1 to see them for passing tests."""

import os
import random
import re
import selectors
import socket
import struct
import subprocess
import sys
import time

import fcgi
# the record builders are the FastCGI client's
from fcgi import encode_pairs as pairs, header as hdr, record as rec, records as stream_recs
from harness import TestFailure, check, cgi_params, eq, test, wait_until
from helpers import file_stream, opened

KiB = 1024
MiB = 1024 * 1024

# The line-delay bound is the production build's promise (issue 9: 100 ms).
# An AddressSanitizer build runs several times slower: test.sh sets
# E2E_TIME_SCALE for it, which stretches that bound and nothing else.
TIME_SCALE = float(os.environ.get("E2E_TIME_SCALE", "1"))
DELAY_MAX_MS = 100 * TIME_SCALE
# SO_SNDBUF 32 KiB, which Linux doubles to 64 KiB; a unix stream socket may
# queue one more skb (up to half the buffer) once under it: 96 KiB, and a
# little bookkeeping.
UNIX_SEND_MAX = 104 * KiB

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3


# ------------------------------------------------------- raw records ------
def begin(rid=1, role=RESPONDER, flags=0):
    return rec(BEGIN, struct.pack("!HB5x", role, flags), rid)


def request_bytes(params, rid=1, flags=0, role=RESPONDER):
    """BEGIN_REQUEST, the PARAMS stream and an empty STDIN."""
    return (begin(rid, role, flags) + stream_recs(PARAMS, fcgi.encode_params(params), rid)
            + rec(PARAMS, b"", rid) + rec(STDIN, b"", rid))


def stream_params(stream="log", **kw):
    kw.setdefault("query", "lines=0")
    return cgi_params(stream=stream, **kw)


def decode_pairs(b):
    """Name-value pairs of a GET_VALUES_RESULT body; raises on a malformed
    body."""
    out = []
    i = 0
    while i < len(b):
        lens = []
        for _ in range(2):
            if i >= len(b):
                raise TestFailure("truncated pair length in %r" % b)
            if b[i] & 0x80:
                if i + 4 > len(b):
                    raise TestFailure("truncated 4-byte pair length in %r" % b)
                lens.append(struct.unpack("!I", b[i:i + 4])[0] & 0x7fffffff)
                i += 4
            else:
                lens.append(b[i])
                i += 1
        n, v = lens
        if i + n + v > len(b):
            raise TestFailure("pair longer than the record in %r" % b)
        out.append((b[i:i + n], b[i + n:i + n + v]))
        i += n + v
    return out


class Rec:
    def __init__(self, version, rtype, rid, content, padding, t):
        self.version, self.type, self.id = version, rtype, rid
        self.content, self.padding, self.t = content, padding, t

    def __repr__(self):
        c = self.content if len(self.content) < 80 else self.content[:80] + b"..."
        return "<rec type=%d id=%d len=%d pad=%r %r>" % (self.type, self.id,
                                                         len(self.content), self.padding, c)


class Raw:
    """A FastCGI connection written and read byte for byte. Every wait has a
    deadline; the socket is closed at the end of the test."""

    def __init__(self, t, addr, what="raw", timeout=5.0):
        self.what = what
        self.s = fcgi.connect(addr, timeout)
        self.s.setblocking(False)
        self.t_connect = time.monotonic()
        self.buf = b""
        self.recs = []          # every record received
        self.eof = False
        self.t_eof = None
        self.closed = False
        self.send_error = None
        t.cleanups.append(self.close)

    def fileno(self):
        return self.s.fileno()

    def send(self, data, timeout=5.0):
        """Sends all of data; returns False if the peer closed or reset the
        connection meanwhile (send_error says how), raises on a timeout."""
        mv = memoryview(data)
        deadline = time.monotonic() + timeout
        sel = None
        try:
            while mv:
                try:
                    n = self.s.send(mv)
                    mv = mv[n:]
                    continue
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError) as e:
                    self.send_error = e
                    return False
                if sel is None:
                    sel = selectors.DefaultSelector()
                    sel.register(self.s, selectors.EVENT_WRITE)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("%s: sse-tail took no bytes for %.1f s (%d of %d "
                                      "bytes left to send)" % (self.what, timeout, len(mv),
                                                              len(data)))
                sel.select(min(left, 0.5))
                self.read_avail()
        finally:
            if sel is not None:
                sel.close()
        return True

    def read_avail(self):
        """Reads what is there without blocking; True if anything came."""
        got = False
        while not self.eof:
            try:
                b = self.s.recv(262144)
            except (BlockingIOError, InterruptedError):
                break
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            got = True
            if not b:
                self.eof = True
                self.t_eof = time.monotonic()
                break
            self.buf += b
            self._parse()
        return got

    def _parse(self):
        while len(self.buf) >= 8:
            ver, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", self.buf[:8])
            if ver != 1:
                raise TestFailure("%s: sse-tail sent a record of version %d: %r"
                                  % (self.what, ver, self.buf[:24]))
            total = 8 + clen + plen
            if len(self.buf) < total:
                break
            self.recs.append(Rec(ver, rtype, rid, self.buf[8:8 + clen],
                                 self.buf[8 + clen:total], time.monotonic()))
            self.buf = self.buf[total:]

    def wait(self, pred, timeout, what):
        """Reads until pred(self) is true; raises TestFailure naming what."""
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.s, selectors.EVENT_READ)
        try:
            while True:
                self.read_avail()
                v = pred(self)
                if v:
                    return v
                left = deadline - time.monotonic()
                if self.eof:
                    raise TestFailure("%s: connection closed while waiting for %s; got %r"
                                      % (self.what, what, self.recs[-6:]))
                if left <= 0:
                    raise TestFailure("%s: %s not within %.1f s; got %r"
                                      % (self.what, what, timeout, self.recs[-6:]))
                sel.select(min(left, 0.5))
        finally:
            sel.close()

    def wait_eof(self, timeout, what="the connection to be closed by sse-tail"):
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.s, selectors.EVENT_READ)
        try:
            while not self.eof:
                self.read_avail()
                if self.eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("%s: %s: not within %.1f s; got %r"
                                      % (self.what, what, timeout, self.recs[-6:]))
                sel.select(min(left, 0.5))
        finally:
            sel.close()
        return self.t_eof - self.t_connect

    def of(self, rtype, rid=None):
        return [r for r in self.recs if r.type == rtype and (rid is None or r.id == rid)]

    def ended(self, rid):
        ends = self.of(END, rid)
        return ends[0] if ends else None

    def wait_end(self, rid, timeout=5.0):
        return self.wait(lambda c: c.ended(rid), timeout, "END_REQUEST for id %d" % rid)

    def stdout(self, rid):
        return b"".join(r.content for r in self.of(STDOUT, rid))

    def status(self, rid):
        """The Status of the answer to rid (200 when there is none), or None
        before the end of its headers."""
        out = self.stdout(rid)
        j = out.find(b"\r\n\r\n")
        if j < 0:
            return None
        m = re.search(rb"(?mi)^Status:\s*(\d{3})", out[:j])
        return int(m.group(1)) if m else 200

    def wait_stream_open(self, rid, timeout):
        """Waits for a 200 stream's headers and its retry: field."""
        def ok(c):
            out = c.stdout(rid)
            return b"\r\n\r\n" in out and b"\nretry:" in b"\n" + out.split(b"\r\n\r\n", 1)[1]
        self.wait(ok, timeout, "the stream's headers and retry: for id %d" % rid)
        eq(self.status(rid), 200, "%s: status of the stream" % self.what)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.s.close()
            except OSError:
                pass


def served(srv, timeout=1.0, what="a normal request"):
    """A normal stream request gets its headers and retry: within timeout;
    returns the open response."""
    check(srv.alive(), "sse-tail is not running (exit status %r) before %s"
          % (srv.proc.poll(), what))
    t0 = time.monotonic()
    r = srv.request("log", query="lines=0", what=what)
    try:
        opened(r, timeout)
    except fcgi.Timeout as e:
        raise TestFailure("%s: no headers and retry: within %.1f s (sse-tail %s): %s"
                          % (what, timeout, "alive" if srv.alive() else
                             "exited with %r" % srv.proc.poll(), e))
    eq(r.status, 200, "status of %s" % what)
    return time.monotonic() - t0, r


def alive(srv, what):
    if not srv.alive():
        raise TestFailure("sse-tail died %s: exit status %r (negative: the signal)"
                          % (what, srv.proc.poll()))


def start(t, mode="tcp", glob="", content=b"start\n"):
    return file_stream(t, content, glob=glob, mode=mode)


# ============================================================ GET_VALUES ==
def _get_values(c, names, what):
    """Sends one GET_VALUES naming names; returns the decoded answer after
    checking it is one GET_VALUES_RESULT with zero padding."""
    n0 = len(c.recs)
    check(c.send(rec(GET_VALUES, pairs([(n, b"") for n in names]), rid=0)),
          "%s: sse-tail closed the connection on a GET_VALUES" % what)
    r = c.wait(lambda x: len(x.recs) > n0 and x.recs[n0], 2.0,
               "%s: an answer to GET_VALUES" % what)
    eq((r.type, r.id), (GET_VALUES_RESULT, 0), "%s: the answer's type and request id" % what)
    check(r.padding == b"\0" * len(r.padding),
          "%s: the padding of GET_VALUES_RESULT is not zero: %r" % (what, r.padding))
    return decode_pairs(r.content)


@test
def hostile_fcgi_get_values_four_max_conns_answered_once(t):
    srv, path = start(t, glob="max-clients = 37")
    c = Raw(t, srv.addr, "GET_VALUES x4")
    # libfcgi wrote past a 64-byte stack buffer on this one
    got = _get_values(c, [b"FCGI_MAX_CONNS"] * 4, "four FCGI_MAX_CONNS")
    alive(srv, "after four FCGI_MAX_CONNS in one GET_VALUES")
    eq(got, [(b"FCGI_MAX_CONNS", b"37")], "answer to four FCGI_MAX_CONNS")
    got = _get_values(c, [b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS",
                          b"FCGI_NO_SUCH", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS"] * 3,
                      "all three names, thrice, and an unknown one")
    eq(sorted(got), [(b"FCGI_MAX_CONNS", b"37"), (b"FCGI_MAX_REQS", b"37"),
                     (b"FCGI_MPXS_CONNS", b"0")], "answer to every known name")
    # the connection is still usable for a request
    check(c.send(request_bytes(stream_params())), "sse-tail closed the connection")
    c.wait_stream_open(1, 2.0)
    eq(len(c.of(GET_VALUES_RESULT)), 2, "GET_VALUES_RESULT records (one per GET_VALUES)")
    served(srv)


@test
def hostile_fcgi_get_values_each_name_alone_zero_padding(t):
    srv, path = start(t, mode="unix", glob="max-clients = 5")
    want = {b"FCGI_MAX_CONNS": b"5", b"FCGI_MAX_REQS": b"5", b"FCGI_MPXS_CONNS": b"0"}
    for name, value in want.items():
        c = Raw(t, srv.addr, "GET_VALUES " + name.decode())
        eq(_get_values(c, [name], name.decode()), [(name, value)], "answer to " + name.decode())
        # sent one byte at a time: the reader must not assume whole records
        msg = rec(GET_VALUES, pairs([(name, b""), (b"X" * 300, b""), (name, b"")]), rid=0)
        for i in range(len(msg)):
            check(c.send(msg[i:i + 1]), "sse-tail closed the connection at byte %d" % i)
        c.wait(lambda x: len(x.of(GET_VALUES_RESULT)) == 2, 2.0,
               "an answer to a GET_VALUES sent byte by byte")
        last = c.of(GET_VALUES_RESULT)[-1]
        eq(decode_pairs(last.content), [(name, value)], "answer to a byte-by-byte GET_VALUES")
        check(last.padding == b"\0" * len(last.padding), "padding not zero: %r" % last.padding)
    # names that only start like a known one are unknown
    c = Raw(t, srv.addr, "GET_VALUES lookalikes")
    eq(_get_values(c, [b"FCGI_MAX_CONNS" + b"X" * 300, b"FCGI_MAX_CONN", b"FCGI_MAX_REQSX",
                       b"fcgi_mpxs_conns", b""], "lookalike names"),
       [], "answer to names that are not FastCGI variables")
    alive(srv, "after GET_VALUES")
    served(srv)


# ========================================================= huge params ===
def _huge_params(t, pair_head, total=100 * MiB):
    """Begins a request whose first pair has the lengths pair_head declares,
    sends total bytes of PARAMS content, checking sse-tail's RSS all along
    and that another client is served halfway; then ends PARAMS. Accepts a
    400 answer with END_REQUEST or the connection closed (at the 5 s
    deadline)."""
    srv, path = start(t)
    base = srv.rss_kb()
    c = Raw(t, srv.addr, "huge params")
    t0 = time.monotonic()
    check(c.send(begin(1) + rec(PARAMS, pair_head + b"a" * (65535 - len(pair_head)))),
          "sse-tail closed the connection on BEGIN_REQUEST")
    chunk = rec(PARAMS, b"a" * 65528)
    sent, peak, mid_checked, closed_at = 65535, base, False, None
    while sent < total:
        if not c.send(chunk, timeout=8.0):
            closed_at = time.monotonic() - t0
            break
        sent += 65528
        if sent % (4 * MiB) < 65528:
            alive(srv, "after %d MiB of PARAMS" % (sent // MiB))
            peak = max(peak, srv.rss_kb())
            check(peak - base < 30 * KiB, "RSS grew by %d KiB after %d MiB of one request's "
                  "PARAMS (from %d KiB)" % (peak - base, sent // MiB, base))
        if not mid_checked and sent >= total // 2:
            mid_checked = True
            dt, _ = served(srv, 1.0, "a request while another sends %d MiB of PARAMS"
                        % (sent // MiB))
            t.note("another client served in %.3f s meanwhile" % dt)
        if time.monotonic() - t0 > 8.0:
            raise TestFailure("%d MiB of PARAMS sent in 8 s and the connection is still open "
                              "(no 5 s deadline?)" % (sent // MiB))
    if closed_at is None:
        c.send(rec(PARAMS, b"") + rec(STDIN, b""))

        def done(x):
            return x.ended(1) or x.eof
        try:
            c.wait(done, max(0.5, 6.5 - (time.monotonic() - t0)),
                   "400 + END_REQUEST or the connection closed")
        except TestFailure:
            if not c.eof:
                raise
        if c.ended(1):
            status = c.status(1)
            how = "%s + END_REQUEST after %.2f s" % (status, c.ended(1).t - t0)
        else:
            how = "connection closed after %.2f s" % (c.t_eof - t0)
    else:
        how = "connection closed after %.2f s, %d MiB sent (%s)" % (
            closed_at, sent // MiB, type(c.send_error).__name__)
        check(closed_at < 6.5, "closed only after %.1f s" % closed_at)
    alive(srv, "after the huge PARAMS")
    peak = max(peak, srv.rss_kb())
    t.note("%d MiB of PARAMS sent; RSS %d KiB before, peak %d KiB (+%d KiB); %s"
           % (sent // MiB, base, peak, peak - base, how))
    if c.ended(1):
        eq(status, 400, "status of the answer to oversized PARAMS")
    served(srv)


@test(timeout=60)
def hostile_fcgi_params_lengths_0x40000000_each(t):
    # name and value lengths of 0x40000000: libfcgi's int sum overflowed
    _huge_params(t, b"\xc0\x00\x00\x00\xc0\x00\x00\x00")


@test(timeout=60)
def hostile_fcgi_params_value_of_2gib_memory_bounded(t):
    # a value of almost 2 GiB (0x7fff0000 bytes): libfcgi buffered every
    # byte of it (0x7fffffff it refuses)
    _huge_params(t, b"\x04\xff\xff\x00\x00HTTP")


@test
def hostile_fcgi_params_over_64k_get_400(t):
    srv, path = start(t, mode="unix")
    extra = {"HTTP_X_%05d" % i: "v" * 40 for i in range(1700)}
    p = stream_params(extra=extra)
    size = len(fcgi.encode_params(p))
    check(size > 65536, "test error: only %d bytes of params" % size)
    c = Raw(t, srv.addr, "%d bytes of params" % size)
    check(c.send(request_bytes(p)), "sse-tail closed the connection")
    c.wait_end(1, 3.0)
    eq(c.status(1), 400, "status with %d bytes of params" % size)
    eq(c.ended(1).content[4], REQUEST_COMPLETE, "protocolStatus")
    # just under the cap is served
    extra = {"HTTP_X_%05d" % i: "v" * 40 for i in range(1150)}
    p = stream_params(extra=extra)
    size = len(fcgi.encode_params(p))
    check(60000 < size < 65536, "test error: %d bytes of params" % size)
    c = Raw(t, srv.addr, "%d bytes of params" % size)
    check(c.send(request_bytes(p)), "sse-tail closed the connection")
    c.wait_stream_open(1, 2.0)
    t.note("%d bytes of params served" % size)


# ============================================================ malformed ===
def _closes(t, srv, data, what, timeout=3.0):
    """data makes sse-tail close the connection (before the 5 s deadline),
    and the next client is served."""
    c = Raw(t, srv.addr, what)
    c.send(data)
    c.wait_eof(timeout, "%s: the connection to be closed" % what)
    stray = [r for r in c.recs if r.type not in (STDOUT, STDERR, END)]
    check(not stray, "%s: unexpected records before the close: %r" % (what, stray))
    alive(srv, "after " + what)
    served(srv, 1.0, "a request after " + what)


@test
def hostile_fcgi_bad_version_closes_connection(t):
    srv, path = start(t)
    req = request_bytes(stream_params())
    for v in (0, 2, 255):
        _closes(t, srv, bytes([v]) + req[1:], "BEGIN_REQUEST of version %d" % v)
    # a later record of a bad version, once the request is under way
    b = begin(1)
    _closes(t, srv, b + bytes([2]) + req[len(b) + 1:], "PARAMS of version 2")


@test
def hostile_fcgi_begin_request_of_wrong_length_closes(t):
    srv, path = start(t)
    body = struct.pack("!HB5x", RESPONDER, 0)
    for n in (0, 7, 9, 16):
        b = (body + b"\0" * 16)[:n]
        _closes(t, srv, hdr(BEGIN, 1, n, (-n) % 8) + b + b"\0" * ((-n) % 8)
                + rec(PARAMS) + rec(STDIN), "BEGIN_REQUEST of %d bytes" % n)


@test
def hostile_fcgi_truncated_pair_at_end_of_params_closes(t):
    srv, path = start(t)
    good = fcgi.encode_params(stream_params())
    cases = [
        ("a pair cut in its value", b"\x05\x0aHELLOabc"),
        ("a pair cut in its name", b"\x05\x01HE"),
        ("a 4-byte length cut", b"\x80\x00"),
        ("a lone name length", b"\x05"),
        ("a 4-byte value length cut", b"\x04\x80\x00\x01"),
        ("a pair declaring 0x40000000 + 0x40000000 bytes", b"\xc0\0\0\0\xc0\0\0\0abc"),
    ]
    for what, tail in cases:
        _closes(t, srv, begin(1) + rec(PARAMS, good + tail) + rec(PARAMS) + rec(STDIN),
                "PARAMS ending in " + what)


@test
def hostile_fcgi_authorizer_and_filter_roles_refused_unknown_role(t):
    srv, path = start(t, mode="unix")
    for role in (AUTHORIZER, FILTER, 0, 0xffff):
        c = Raw(t, srv.addr, "role %d" % role)
        check(c.send(request_bytes(stream_params(), role=role)), "closed on role %d" % role)
        e = c.wait_end(1, 2.0)
        eq(len(e.content), 8, "END_REQUEST body length")
        eq(e.content[4], UNKNOWN_ROLE, "protocolStatus of END_REQUEST for role %d" % role)
        check(not c.stdout(1), "role %d got STDOUT %r" % (role, c.stdout(1)[:200]))
    alive(srv, "after refused roles")
    served(srv)


@test
def hostile_fcgi_unknown_management_type_gets_unknown_type(t):
    srv, path = start(t, mode="unix")
    c = Raw(t, srv.addr, "type 42")
    for rtype, content in ((42, b"abc"), (255, b""), (12, b"x" * 1000)):
        n0 = len(c.recs)
        check(c.send(rec(rtype, content, rid=0)), "closed on a record of type %d" % rtype)
        r = c.wait(lambda x: len(x.recs) > n0 and x.recs[n0], 2.0,
                   "an answer to a management record of type %d" % rtype)
        eq((r.type, r.id), (UNKNOWN_TYPE, 0), "type and id of the answer to type %d" % rtype)
        eq(len(r.content), 8, "UNKNOWN_TYPE body length")
        eq(r.content[0], rtype, "UNKNOWN_TYPE body's type")
        check(r.padding == b"\0" * len(r.padding), "padding not zero: %r" % r.padding)
    check(c.send(request_bytes(stream_params())), "sse-tail closed the connection")
    c.wait_stream_open(1, 2.0)
    alive(srv, "after unknown types")


@test
def hostile_fcgi_second_begin_request_refused_cant_mpx_first_goes_on(t):
    srv, path = start(t, mode="unix")
    c = Raw(t, srv.addr, "two requests")
    check(c.send(request_bytes(stream_params(), rid=1)), "closed")
    c.wait_stream_open(1, 2.0)
    check(c.send(request_bytes(stream_params(), rid=2)), "closed on a second BEGIN_REQUEST")
    e = c.wait_end(2, 2.0)
    eq(e.content[4], CANT_MPX_CONN, "protocolStatus of END_REQUEST for the second request")
    check(not c.stdout(2), "the second request got STDOUT %r" % c.stdout(2)[:200])
    check(not c.ended(1), "the first stream ended: %r" % c.ended(1))
    # records of the active id that the reader does not use are ignored
    check(c.send(rec(42, b"zz", 1) + rec(STDIN, b"late", 1) + rec(PARAMS, b"\x01\x01ab", 1)),
          "closed on stray records")
    t.append(path, "after the second\n")
    c.wait(lambda x: b"data: after the second\n" in x.stdout(1), 2.0,
           "the first stream to go on")


# ================================================================= fuzz ===
def _fuzz_input(rnd):
    kind = rnd.randrange(5)
    if kind == 0:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 300)))
    if kind == 1:
        out = bytearray()
        for _ in range(rnd.randrange(1, 5)):
            rtype = rnd.choice([rnd.randrange(256), rnd.randrange(1, 12), GET_VALUES])
            rid = rnd.choice([0, 1, 2, rnd.randrange(65536)])
            clen = rnd.choice([0, 8, rnd.randrange(300), rnd.randrange(65536)])
            plen = rnd.randrange(256)
            body = bytes(rnd.getrandbits(8) for _ in range(min(clen + plen, 400)))
            out += hdr(rtype, rid, clen, plen) + body
        return bytes(out)
    if kind == 2:
        # a real BEGIN_REQUEST, then PARAMS of random pairs and lengths
        out = bytearray(begin(rnd.choice([1, 1, 0, 7]), rnd.choice([1, 1, 2, 9]),
                              rnd.randrange(2)))
        body = bytearray()
        for _ in range(rnd.randrange(1, 8)):
            for _ in range(2):
                body += (bytes([rnd.randrange(128)]) if rnd.randrange(2) else
                         struct.pack("!I", rnd.getrandbits(32) | 0x80000000))
            body += bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(64)))
        out += rec(PARAMS, bytes(body))
        if rnd.randrange(2):
            out += rec(PARAMS) + rec(STDIN)
        return bytes(out)
    if kind == 3:
        # GET_VALUES of random names, many times the same
        names = [rnd.choice([b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS",
                             bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(40)))])
                 for _ in range(rnd.randrange(1, 40))]
        body = pairs([(n, b"" if rnd.randrange(4) else b"v" * rnd.randrange(200))
                      for n in names])
        return rec(GET_VALUES, body[:65535], rid=0)
    # a real request with a few bytes changed
    out = bytearray(request_bytes(stream_params()) + rec(ABORT) + request_bytes(
        stream_params(), rid=2))
    for _ in range(rnd.randrange(1, 6)):
        out[rnd.randrange(len(out))] = rnd.getrandbits(8)
    return bytes(out[:rnd.randrange(1, len(out) + 1)])


@test(timeout=90)
def hostile_fcgi_random_records_300_connections_survived(t):
    seed = 9
    rnd = random.Random(seed)
    srv, path = start(t, glob="max-clients = 400")
    pool, inputs = [], []
    t0 = time.monotonic()
    for i in range(300):
        data = _fuzz_input(rnd)
        inputs.append(data)
        try:
            s = fcgi.connect(srv.addr, 2.0)
        except OSError as e:
            raise TestFailure("connection %d (seed %d) refused: %s; sse-tail %s"
                              % (i, seed, e, "alive" if srv.alive() else
                                 "exited with %r" % srv.proc.poll()))
        s.setblocking(False)
        try:
            s.send(data)
        except OSError:
            pass
        pool.append(s)
        if len(pool) > 30:
            pool.pop(0).close()
        if i % 10 == 9 and not srv.alive():
            raise TestFailure("sse-tail died (exit status %r) after fuzz connection %d (seed "
                              "%d); the last inputs: %s" % (
                                  srv.proc.poll(), i, seed,
                                  " | ".join(x[:120].hex() for x in inputs[-10:])))
    for s in pool:
        s.close()
    alive(srv, "after 300 fuzz connections (seed %d)" % seed)
    dt, _ = served(srv, 2.0, "a request after 300 fuzz connections")
    t.note("300 fuzz connections in %.1f s, then served in %.3f s"
           % (time.monotonic() - t0, dt))


# ======================================================= silent, partial ==
@test(timeout=40)
def hostile_fcgi_silent_and_half_record_connections_do_not_block(t):
    srv, path = start(t, glob="max-clients = 100")
    halves = [
        b"\x01",
        hdr(BEGIN, 1, 8)[:5],
        begin(1)[:12],
        begin(1) + hdr(PARAMS, 1, 100),
        begin(1) + hdr(PARAMS, 1, 100) + b"\x04\x04HTTP",
        request_bytes(stream_params())[:-16],     # PARAMS not ended
        rec(GET_VALUES, pairs([(b"FCGI_MAX_CONNS", b"")]), rid=0)[:13],
    ]
    conns = []
    for i in range(20):
        conns.append(Raw(t, srv.addr, "silent %d" % i))
    for i in range(20):
        c = Raw(t, srv.addr, "half %d" % i)
        c.send(halves[i % len(halves)])
        conns.append(c)
    dt, r = served(srv, 1.0, "a stream request while 20 silent and 20 half-record "
                   "connections are open")
    t.note("stream opened in %.3f s beside 40 silent connections" % dt)
    # each is closed by sse-tail about 5 s after it connected
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.s, selectors.EVENT_READ, c)
    deadline = conns[-1].t_connect + 6.0
    try:
        while not all(c.eof for c in conns):
            left = deadline - time.monotonic()
            if left <= 0:
                open_ = [c.what for c in conns if not c.eof]
                raise TestFailure("%d connections still open 6 s after they connected: %s"
                                  % (len(open_), ", ".join(open_[:10])))
            for key, _ in sel.select(min(left, 0.5)):
                c = key.data
                c.read_avail()
                if c.eof:
                    sel.unregister(c.s)
    finally:
        sel.close()
    ages = [c.t_eof - c.t_connect for c in conns]
    late = [(c.what, round(a, 2)) for c, a in zip(conns, ages) if a > 6.0]
    check(not late, "closed more than 6 s after connecting: %r" % late)
    t.note("silent connections closed after %.2f..%.2f s" % (min(ages), max(ages)))
    # the stream is not subject to that deadline
    t.append(path, "still here\n")
    ev = r.wait_event(2.0)
    eq(ev["data"], "still here", "the stream after the silent ones were closed")
    alive(srv, "after the silent connections")


@test(timeout=40)
def hostile_fcgi_1000_silent_connections_do_not_block(t):
    # a cap on connections being read must not become the way to stop the
    # daemon: 1000 connections that send nothing (renewed every 5 s, that
    # is 200 a second) and a normal request is still served at once
    srv, path = start(t, mode="unix", glob="max-clients = 100")
    conns = [fcgi.connect(srv.addr, 2.0) for _ in range(1000)]
    t.cleanups.append(lambda: [x.close() for x in conns])
    dt, _ = served(srv, 1.0, "a stream request behind 1000 silent connections")
    t.note("served in %.3f s behind 1000 silent connections" % dt)


# ================================================ ABORT_REQUEST, keep-conn ==
@test
def hostile_fcgi_abort_request_ends_stream_and_closes(t):
    srv, path = start(t, mode="unix", glob="max-clients = 1")
    c = Raw(t, srv.addr, "abort")
    check(c.send(request_bytes(stream_params())), "closed")
    c.wait_stream_open(1, 2.0)
    n0 = len(c.recs)
    c.send(rec(ABORT, b"", 1))
    e = c.wait_end(1, 1.0)
    tail = c.recs[n0:]
    check(len(tail) >= 2 and tail[-2].type == STDOUT and tail[-2].content == b""
          and tail[-1] is e, "not an empty STDOUT then END_REQUEST: %r" % tail)
    eq(e.content[4], REQUEST_COMPLETE, "protocolStatus after ABORT_REQUEST")
    c.wait_eof(2.0, "the connection to be closed after ABORT_REQUEST (no keep-conn)")
    # the stream's slot (max-clients = 1) is free again
    served(srv, 1.0, "a request after the aborted one (max-clients = 1)")


@test
def hostile_fcgi_abort_request_with_keep_conn_then_next_request(t):
    srv, path = start(t, mode="unix", glob="max-clients = 1")
    c = Raw(t, srv.addr, "abort keep-conn")
    check(c.send(request_bytes(stream_params(), flags=KEEP_CONN)), "closed")
    c.wait_stream_open(1, 2.0)
    c.send(rec(ABORT, b"", 1))
    e = c.wait_end(1, 1.0)
    eq(e.content[4], REQUEST_COMPLETE, "protocolStatus after ABORT_REQUEST")
    # the same id again, for a stream that does not exist
    n0 = len(c.recs)
    check(c.send(request_bytes(stream_params("nope"), rid=1, flags=KEEP_CONN)),
          "closed after the aborted request (keep-conn)")
    c.wait(lambda x: [r for r in x.recs[n0:] if r.type == END], 2.0,
           "an answer to a second request on the keep-conn connection")
    out = b"".join(r.content for r in c.recs[n0:] if r.type == STDOUT)
    check(re.match(rb"(?i)Status:\s*404", out), "second request: not a 404: %r" % out[:200])
    # and a stream once more (the aborted one's slot is free)
    check(c.send(request_bytes(stream_params(), rid=3, flags=KEEP_CONN)), "closed")
    c.wait_stream_open(3, 2.0)
    t.append(path, "third\n")
    c.wait(lambda x: b"data: third\n" in x.stdout(3), 2.0, "a line on the third request")


@test
def hostile_fcgi_abort_before_params_end_answered(t):
    # the web server gives up before the request is complete: a defined
    # answer (END_REQUEST, or the connection closed), and nothing leaks
    srv, path = start(t, mode="unix", glob="max-clients = 1")
    for flags in (0, KEEP_CONN):
        c = Raw(t, srv.addr, "abort in PARAMS, flags %d" % flags)
        check(c.send(begin(1, flags=flags) + rec(PARAMS, b"\x04\x03HTTPabc") + rec(ABORT)),
              "closed")
        c.wait(lambda x: x.ended(1) or x.eof, 2.0, "END_REQUEST or the connection closed")
        check(not c.stdout(1) or c.stdout(1) == b"", "STDOUT for an aborted request: %r"
              % c.stdout(1)[:200])
        if flags == KEEP_CONN and c.ended(1):
            check(c.send(request_bytes(stream_params(), rid=2, flags=KEEP_CONN)), "closed")
            c.wait_stream_open(2, 2.0)
            c.close()
        alive(srv, "after ABORT_REQUEST in PARAMS")
    served(srv, 1.0, "a request after two aborted ones (max-clients = 1)")


@test
def hostile_fcgi_abort_then_rest_of_params_nothing_after_end(t):
    # ABORT_REQUEST, then the rest of the PARAMS, in one write: the aborted
    # request must not be started after its END_REQUEST
    srv, path = start(t, mode="unix")
    allp = fcgi.encode_params(stream_params())
    c = Raw(t, srv.addr, "abort, then the rest")
    check(c.send(begin(1) + rec(PARAMS, allp[:20]) + rec(ABORT) + rec(PARAMS, allp[20:])
                 + rec(PARAMS) + rec(STDIN)), "closed")
    e = c.wait_end(1, 2.0)
    c.wait(lambda x: x.eof or len(x.recs) > x.recs.index(e) + 1, 2.0,
           "the connection to be closed after END_REQUEST")
    after = c.recs[c.recs.index(e) + 1:]
    check(not after, "records after END_REQUEST for the aborted request: %r" % after)
    alive(srv, "after ABORT and the rest of the PARAMS")


def _flood(t, srv, c, unit, what, total=100 * MiB, seconds=3.0):
    """Sends unit again and again without reading the answers, total bytes
    or for seconds; returns (bytes sent, how it ended, RSS growth in KiB).
    sse-tail may stop reading (the send blocks for 1 s) or close: both
    bound it."""
    base = srv.rss_kb()
    blob = unit * (65536 // len(unit))
    sel = selectors.DefaultSelector()
    sel.register(c.s, selectors.EVENT_WRITE)
    sent, how, peak = 0, "all sent", base
    t0 = time.monotonic()
    try:
        while sent < total and time.monotonic() - t0 < seconds:
            try:
                sent += c.s.send(blob)
            except BlockingIOError:
                if not sel.select(1.0):
                    how = "sse-tail stopped reading"
                    break
            except (BrokenPipeError, ConnectionResetError):
                how = "connection closed"
                break
            if sent % (4 * MiB) < len(blob):
                alive(srv, "during %s" % what)
                peak = max(peak, srv.rss_kb())
    finally:
        sel.close()
    alive(srv, "after %s" % what)
    peak = max(peak, srv.rss_kb())
    t.note("%s: %d MiB sent in %.1f s, %s, RSS +%d KiB"
           % (what, sent // MiB, time.monotonic() - t0, how, peak - base))
    return sent, how, peak - base


@test(timeout=60)
def hostile_fcgi_answers_to_a_peer_that_never_reads_are_bounded(t):
    # every 8-byte management record of an unknown type is answered with
    # 16 bytes: a peer that sends them and never reads must not make
    # sse-tail keep the answers without bound, neither while its request
    # is read nor while its stream runs
    srv, path = start(t, mode="unix")
    c = Raw(t, srv.addr, "flood before a request")
    _, how, grew = _flood(t, srv, c, rec(42, b"", rid=0), "UNKNOWN_TYPE flood, no request")
    check(grew < 30 * KiB, "RSS grew by %d KiB while a peer that never reads sent 8-byte "
          "records of an unknown type (%s)" % (grew, how))
    c.close()
    c = Raw(t, srv.addr, "flood beside a stream")
    check(c.send(request_bytes(stream_params())), "closed")
    c.wait_stream_open(1, 2.0)
    _, how, grew = _flood(t, srv, c, rec(GET_VALUES, pairs([(b"FCGI_MAX_CONNS", b"")]), 0)
                          + rec(42, b"", rid=0), "GET_VALUES flood beside a stream")
    check(grew < 30 * KiB, "RSS grew by %d KiB while a peer that never reads sent GET_VALUES "
          "beside its stream (%s)" % (grew, how))
    c.close()
    served(srv)


@test
def hostile_fcgi_post_body_read_before_close(t):
    # sse-tail reads the input to its end before it closes, so that its
    # answer is not lost to a reset (TCP resets a socket closed unread)
    srv, path = start(t)
    for flags in (0, KEEP_CONN):
        c = Raw(t, srv.addr, "POST of 4 MiB, flags %d" % flags)
        body = b"b" * (4 * MiB)
        p = stream_params(method="POST", extra={"CONTENT_LENGTH": str(len(body)),
                                                "CONTENT_TYPE": "text/plain"})
        msg = (begin(1, flags=flags) + stream_recs(PARAMS, fcgi.encode_params(p))
               + rec(PARAMS) + stream_recs(STDIN, body) + rec(STDIN))
        check(c.send(msg, timeout=5.0), "sse-tail closed or reset the connection while the "
              "POST body was sent (%r); got %r" % (c.send_error, c.recs[-3:]))
        c.wait_end(1, 3.0)
        eq(c.status(1), 405, "status of a POST")
        if flags == KEEP_CONN:
            check(c.send(request_bytes(stream_params(), rid=2, flags=KEEP_CONN)), "closed")
            c.wait_stream_open(2, 2.0)
        else:
            c.wait_eof(2.0)
    alive(srv, "after POST bodies")


@test
def hostile_fcgi_keep_conn_second_request_served(t):
    srv, path = start(t, mode="unix")
    c = Raw(t, srv.addr, "keep-conn")
    check(c.send(request_bytes(stream_params("nope"), rid=1, flags=KEEP_CONN)), "closed")
    c.wait_end(1, 2.0)
    eq(c.status(1), 404, "status of the first request")
    check(c.send(request_bytes(stream_params("nope"), rid=2, flags=KEEP_CONN)),
          "sse-tail closed a keep-conn connection after one request")
    c.wait_end(2, 2.0)
    eq(c.status(2), 404, "status of the second request on a keep-conn connection")
    check(c.send(request_bytes(stream_params(), rid=3, flags=KEEP_CONN)), "closed")
    c.wait_stream_open(3, 2.0)
    t.append(path, "line\n")
    c.wait(lambda x: b"data: line\n" in x.stdout(3), 2.0, "a line on the third request")
    check(not c.eof, "connection closed")


@test
def hostile_fcgi_without_keep_conn_closed_after_end_request(t):
    srv, path = start(t, mode="unix")
    c = Raw(t, srv.addr, "no keep-conn")
    check(c.send(request_bytes(stream_params("nope"))), "closed")
    c.wait_end(1, 2.0)
    eq(c.status(1), 404, "status")
    c.wait_eof(2.0, "the connection to be closed after END_REQUEST (no keep-conn)")


# ================================================== never-reading clients ==
def _sse_tail_sockets(pid):
    """Inodes of the sockets sse-tail holds."""
    out = set()
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", link)
        if m:
            out.add(int(m.group(1)))
    return out


def _skmem(line):
    m = re.search(r"skmem:\(([^)]*)\)", line)
    if not m:
        return None
    f = {}
    for part in m.group(1).split(","):
        k = part.rstrip("0123456789")
        f[k] = int(part[len(k):])
    return f


def _unix_skmem(pid, peer_inodes):
    """skmem of sse-tail's unix sockets whose peer is one of peer_inodes:
    {peer inode: fields}."""
    mine = _sse_tail_sockets(pid)
    p = subprocess.run(["ss", "-xmHn"], stdout=subprocess.PIPE, text=True, timeout=10)
    res = {}
    lines = p.stdout.split("\n")
    for i, line in enumerate(lines):
        cols = line.split()
        # Netid State Recv-Q Send-Q Local Port Peer Port; skmem may follow
        # on the same line or the next
        if len(cols) < 8 or cols[0] != "u_str":
            continue
        try:
            lino, pino = int(cols[5]), int(cols[7])
        except ValueError:
            continue
        if lino in mine and pino in peer_inodes:
            f = _skmem(line) or (_skmem(lines[i + 1]) if i + 1 < len(lines) else None)
            if f:
                res[pino] = f
    return res


def _tcp_skmem(port):
    """skmem of every established TCP socket on 127.0.0.1:port, split by
    side: (sse-tail's, the clients')."""
    p = subprocess.run(["ss", "-tmHn", "state", "established"], stdout=subprocess.PIPE,
                       text=True, timeout=10)
    srv, cli = {}, {}
    lines = p.stdout.split("\n")
    for i, line in enumerate(lines):
        cols = line.split()
        if len(cols) < 4 or ":" not in cols[2]:
            continue
        local, peer = cols[2], cols[3]
        f = _skmem(line) or (_skmem(lines[i + 1]) if i + 1 < len(lines) else None)
        if not f:
            continue
        if local == "127.0.0.1:%d" % port:
            srv[peer] = f
        elif peer == "127.0.0.1:%d" % port:
            cli[local] = f
    return srv, cli


WRITER = r"""
import os, sys, time
path, total, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
pad = b"x" * 70
CHUNK = 200           # lines of 100 bytes a write
t0 = time.monotonic()
n = 0
while n < total:
    # pace: write the next chunk when it is due at `rate` bytes/s
    due = t0 + n / rate
    if due > time.monotonic():
        time.sleep(due - time.monotonic())
    stamp = b"T%019d " % time.time_ns()
    line = stamp + pad[:100 - len(stamp) - 1] + b"\n"
    os.write(fd, line * CHUNK)
    n += len(line) * CHUNK
os.close(fd)
"""


SO_TIMESTAMPNS = 35     # asm-generic/socket.h (SO_TIMESTAMPNS_OLD); also SCM_


class Reader:
    """The one reading client: a raw FastCGI connection whose STDOUT lines
    carrying T<CLOCK_REALTIME ns> stamps are timed twice: by the kernel's
    receive timestamp of the data (SO_TIMESTAMPNS: when sse-tail's write
    reached this socket; for a read that spans several writes, the
    kernel gives one of them) and when this process read it (which adds
    its own scheduling). A unix stream socket has no receive timestamps:
    there both are the time of the read."""

    STAMP = re.compile(rb"data: T(\d{19}) ")

    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.text = b""
        self.delays = []        # receipt by the kernel - write, ns
        self.late = []          # read by the test - write, ns
        self.eof = False
        self.opened = False
        self.kernel_ts = False
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def read(self):
        while True:
            try:
                b, anc, _, _ = self.s.recvmsg(1 << 16, 64)
            except BlockingIOError:
                return
            now = time.time_ns()
            kts = now
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    kts = sec * 1000000000 + nsec
                    self.kernel_ts = True
            if not b:
                self.eof = True
                return
            self.buf += b
            out = []
            while len(self.buf) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", self.buf[:8])
                if len(self.buf) < 8 + clen + plen:
                    break
                if rtype == STDOUT:
                    out.append(self.buf[8:8 + clen])
                self.buf = self.buf[8 + clen + plen:]
            self.text += b"".join(out)
            if not self.opened and b"retry:" in self.text:
                self.opened = True
            j = self.text.rfind(b"\n")
            if j >= 0:
                for m in self.STAMP.finditer(self.text, 0, j):
                    w = int(m.group(1))
                    self.delays.append(max(0, kts - w))
                    self.late.append(now - w)
                self.text = self.text[j + 1:]


def _run_delay(pid):
    """ns sse-tail's threads have waited for a CPU (schedstat)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total


def _pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def _burst(t, srv, path, n_idle, total, rate, family):
    """n_idle never-reading clients and one reader on stream log; a burst of
    total bytes written at rate bytes/s; returns (reader delays in ns, the
    never-readers' sockets)."""
    idle = []
    for i in range(n_idle):
        c = Raw(t, srv.addr, "never-reading %d" % i)
        c.send(request_bytes(stream_params()))
        idle.append(c)
    for c in idle:
        c.wait_stream_open(1, 5.0)      # each read once, for its headers
    rs = fcgi.connect(srv.addr, 5.0)
    t.cleanups.append(rs.close)
    rs.sendall(request_bytes(stream_params()))
    rs.setblocking(False)
    reader = Reader(rs)
    wait_until(lambda: reader.read() or reader.opened, 5.0, "the reader's stream to open")
    wp = t.write("writer.py", WRITER)
    rd0 = _run_delay(srv.pid)
    w = subprocess.Popen([sys.executable, wp, path, str(total), str(rate)])
    t.cleanups.append(lambda: w.poll() is None and w.kill())
    nlines = (total + 19999) // 20000 * 200
    sel = selectors.DefaultSelector()
    sel.register(rs, selectors.EVENT_READ)
    deadline = time.monotonic() + total / rate + 20
    try:
        while len(reader.delays) < nlines and not reader.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("the reader got %d of about %d lines of the burst in time"
                                  % (len(reader.delays), nlines))
            sel.select(min(left, 0.2))
            reader.read()
    finally:
        sel.close()
    w.wait(10)
    reader.run_delay = (_run_delay(srv.pid) - rd0) / 1e6
    check(not reader.eof, "the reader's stream was closed")
    alive(srv, "after the burst")
    return reader, idle, rs


def _delay_note(t, label, reader):
    """Notes the reader's delays; returns the worst on sse-tail's side (the
    kernel's receive timestamp), in ms."""
    k = [x / 1e6 for x in reader.delays]
    r = [x / 1e6 for x in reader.late]
    t.note("%s: %d lines; write -> in the reader's socket%s: p50 %.1f ms, p99 %.1f ms, max "
           "%.1f ms; write -> read by the test: p50 %.1f, p99 %.1f, max %.1f ms; sse-tail "
           "waited %.1f ms for a CPU meanwhile"
           % (label, len(k), "" if reader.kernel_ts else
              " (no receive timestamps on this socket: read by the test)", _pct(k, 0.5), _pct(k, 0.99), max(k), _pct(r, 0.5), _pct(r, 0.99),
              max(r), reader.run_delay))
    return max(k)


@test(timeout=120)
def hostile_fcgi_never_reading_clients_bounded_memory_and_delay(t):
    """100 clients over a unix socket that never read, one that reads, 20 MB
    of lines written at 10 MB/s. What is measured: for the reader, each
    line's delay from the writer's write() to the test's recv() of it (both
    CLOCK_MONOTONIC), so the delay includes the test's own scheduling; and
    the kernel memory charged to sse-tail's side of each never-reading
    client's socket (ss -xm skmem t: wmem_alloc, the bytes queued to it).
    sse-tail's CPU run-queue wait during the burst (schedstat) is noted
    beside, to tell a busy machine from sse-tail."""
    N, TOTAL, RATE = 100, 20 * MiB, 10.0 * MiB
    srv, path = start(t, mode="unix", glob="max-clients = 200")
    # a control run first: the same burst with only the reader
    base, _, rs = _burst(t, srv, path, 0, TOTAL // 4, RATE, "unix")
    rs.close()
    _delay_note(t, "control, reader alone (5 MB)", base)
    reader, idle, _ = _burst(t, srv, path, N, TOTAL, RATE, "unix")
    worst = _delay_note(t, "reader beside %d never-reading clients (20 MB)" % N, reader)
    # the kernel memory the never-readers cost on sse-tail's side
    peers = {os.fstat(c.fileno()).st_ino for c in idle}
    sk = _unix_skmem(srv.pid, peers)
    check(len(sk) >= N * 9 // 10, "ss showed only %d of sse-tail's %d never-reading sockets"
          % (len(sk), N))
    per = [f.get("t", 0) for f in sk.values()]
    tb = sorted({f.get("tb", 0) for f in sk.values()})
    t.note("never-reading clients: sse-tail's send side holds %d KiB in all, %.1f KiB each "
           "(max %.1f KiB, sndbuf %s); for 1000 clients: %.1f MiB"
           % (sum(per) // KiB, sum(per) / len(per) / KiB, max(per) / KiB, tb,
              sum(per) / len(per) * 1000 / MiB))
    check(max(per) <= UNIX_SEND_MAX, "a never-reading client holds %d KiB of kernel memory "
          "on sse-tail's side (want <= %d KiB; SO_SNDBUF not set?)"
          % (max(per) // KiB, UNIX_SEND_MAX // KiB))
    check(worst < DELAY_MAX_MS, "the reading client's worst line delay on sse-tail's side "
          "is %.1f ms (want < %.0f ms)" % (worst, DELAY_MAX_MS))


@test(timeout=120)
def hostile_fcgi_never_reading_tcp_clients_bounded_memory(t):
    """The same over TCP (the issue's figure, 3.9 MB a client, was over
    TCP): sse-tail's side (ss -tm skmem w: wmem_queued) and the clients'
    receive side (r: rmem_alloc) are stated; sse-tail's side is bounded.
    The delay here is from the writer's write() to the kernel's receive
    timestamp on the reader's socket: sse-tail's side only."""
    N, TOTAL, RATE = 100, 20 * MiB, 10.0 * MiB
    srv, path = start(t, mode="tcp", glob="max-clients = 200")
    port = int(srv.addr.rsplit(":", 1)[1])
    base, _, rs = _burst(t, srv, path, 0, TOTAL // 4, RATE, "tcp")
    rs.close()
    _delay_note(t, "TCP control, reader alone (5 MB)", base)
    reader, idle, _ = _burst(t, srv, path, N, TOTAL, RATE, "tcp")
    worst = _delay_note(t, "TCP reader beside %d never-reading clients (20 MB)" % N, reader)
    srv_side, cli_side = _tcp_skmem(port)
    idle_ports = {"127.0.0.1:%d" % c.s.getsockname()[1] for c in idle}
    mine = [f for peer, f in srv_side.items() if peer in idle_ports]
    theirs = [f for local, f in cli_side.items() if local in idle_ports]
    check(len(mine) >= N * 9 // 10, "ss showed %d of sse-tail's never-reading sockets"
          % len(mine))
    w = [max(f.get("w", 0), f.get("t", 0)) for f in mine]
    r = [f.get("r", 0) for f in theirs]
    t.note("TCP never-reading clients: sse-tail's side %.1f KiB each (max %.1f KiB, sndbuf %s),"
           " the clients' receive side %.1f KiB each; both for 1000 clients: %.1f MiB"
           % (sum(w) / len(w) / KiB, max(w) / KiB, sorted({f.get("tb", 0) for f in mine}),
              sum(r) / max(1, len(r)) / KiB,
              (sum(w) / len(w) + sum(r) / max(1, len(r))) * 1000 / MiB))
    check(max(w) <= 160 * KiB, "a never-reading TCP client holds %d KiB on sse-tail's side "
          "(want <= 160 KiB)" % (max(w) // KiB))
    check(worst < DELAY_MAX_MS, "the reading client's worst line delay on sse-tail's side "
          "is %.1f ms (want < %.0f ms)" % (worst, DELAY_MAX_MS))


def _catch_up_seconds(t, mode, content, nlines):
    """Seconds a client over mode takes to receive a backlog of nlines."""
    srv, _ = start(t, mode=mode, content=content)
    s = fcgi.connect(srv.addr, 5.0)
    t.cleanups.append(s.close)
    s.sendall(request_bytes(stream_params(query="lines=%d" % nlines)))
    s.settimeout(20.0)
    got = 0
    t0 = time.monotonic()
    while got < len(content):     # framed, the answer is longer than content
        b = s.recv(1 << 16)
        check(b, "%s: the stream ended after %d bytes of its backlog" % (mode, got))
        got += len(b)
    return time.monotonic() - t0


@test(timeout=90)
def tcp_client_catching_up_is_not_held_by_delayed_acks(t):
    """A client 8 MB behind over loopback TCP gets its backlog about as fast
    as one over a unix socket, measured beside it in this test. Loopback's
    segments are 64 KB, the stream's whole send buffer: with one segment in
    flight, the receiving kernel acknowledged it only when its delayed-ACK
    timer fired, 64 KB each 40 ms (3.4 s here against 0.02 s over unix);
    sse-tail limits its TCP segments to a quarter of the buffer."""
    nlines = 80000
    content = b"".join(b"%07d %s\n" % (i, b"y" * 90) for i in range(nlines))
    unix = _catch_up_seconds(t, "unix", content, nlines)
    tcp = _catch_up_seconds(t, "tcp", content, nlines)
    t.note("8 MB backlog: %.3f s over a unix socket, %.3f s over TCP" % (unix, tcp))
    # a floor under the baseline: a busy machine's pause is not a ratio
    check(tcp < 20 * max(unix, 0.05), "8 MB of backlog took %.2f s over TCP against %.3f s "
          "over a unix socket (want under 20 times)" % (tcp, unix))
