"""A small FastCGI client and an incremental CGI-header parser whose body
goes through the one Server-Sent Events parser (sse.py), for the sse-tail
end-to-end tests and anything else that talks to sse-tail's socket.
Python 3 standard library only.

Nothing here blocks without a timeout.
"""

import os
import select
import socket
import struct
import time

from sse import SSEParser

FCGI_VERSION_1 = 1
FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_RESPONDER = 1

REQUEST_ID = 1


class Timeout(Exception):
    """A wait ran out of time."""


class ProtocolError(Exception):
    """The peer sent something that is not FastCGI."""


def parse_addr(addr):
    """'unix:/path' or 'host:port' -> (family, sockaddr)."""
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    host, _, port = addr.rpartition(":")
    return socket.AF_INET, (host, int(port))


def connect(addr, timeout=5.0):
    family, sa = parse_addr(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sa)
    except BaseException:
        s.close()
        raise
    return s


def header(rtype, rid, clen, plen=0, version=FCGI_VERSION_1):
    """A record's 8-byte header, whatever the numbers (the hostile tests
    send wrong ones)."""
    return struct.pack("!BBHHBB", version, rtype, rid, clen, plen, 0)


def record(rtype, content=b"", rid=REQUEST_ID, pad=None):
    """One record, padded to a multiple of 8 unless pad is given."""
    if pad is None:
        pad = (-len(content)) % 8
    return header(rtype, rid, len(content), pad) + content + b"\0" * pad


def records(rtype, content, rid=REQUEST_ID):
    """A stream's content split into records of at most 65535 bytes."""
    out = bytearray()
    for i in range(0, len(content), 65535):
        out += record(rtype, content[i:i + 65535], rid)
    return bytes(out)


def nv_len(n):
    """A name-value pair's length: one byte below 128, else four."""
    if n < 128:
        return bytes([n])
    return struct.pack("!I", n | 0x80000000)


def encode_pairs(items):
    """Name-value pairs [(bytes, bytes)] as a PARAMS or GET_VALUES body."""
    return b"".join(nv_len(len(k)) + nv_len(len(v)) + k + v for k, v in items)


def encode_params(params):
    """A dict of CGI parameters (str or bytes) as a PARAMS stream."""
    return encode_pairs((k.encode() if isinstance(k, str) else k,
                         v.encode() if isinstance(v, str) else v)
                        for k, v in params.items())


def build_request(params, stdin=b""):
    begin = struct.pack("!HB5x", FCGI_RESPONDER, 0)
    msg = record(FCGI_BEGIN_REQUEST, begin)
    msg += records(FCGI_PARAMS, encode_params(params))
    msg += record(FCGI_PARAMS)
    msg += records(FCGI_STDIN, stdin)
    msg += record(FCGI_STDIN)
    return msg


class Response:
    """One response being received, from a FastCGI connection (framed=True)
    or from a CGI process's stdout (framed=False)."""

    def __init__(self, fd_owner, framed=True, what=""):
        self.src = fd_owner          # socket (framed) or file object / fd (raw)
        self.framed = framed
        self.what = what
        self.rbuf = b""
        self.stdout = bytearray()    # all STDOUT bytes as received
        self.stderr = bytearray()
        self.head_done = False
        self.head_bytes = b""
        self.status = None
        self.status_line = None
        self.headers = []            # [(name, value)] in order
        self.body = bytearray()      # bytes after the blank line
        self.sse = SSEParser()
        self.next_event = 0
        self.ended = False           # END_REQUEST seen
        self.app_status = None
        self.protocol_status = None
        self.eof = False             # the connection / pipe was closed
        self.closed = False
        self.t_start = time.monotonic()
        self.t_first_body = None
        self.t_headers = None
        self.bytes_in = 0
        if framed:
            self.src.setblocking(False)
        else:
            os.set_blocking(self.fileno(), False)

    # ---- low level -------------------------------------------------------
    def fileno(self):
        if self.framed:
            return self.src.fileno()
        if isinstance(self.src, int):
            return self.src
        return self.src.fileno()

    def _read_avail(self):
        """Reads what is there without blocking.  Returns True if anything
        happened (bytes or EOF)."""
        if self.closed or self.eof:
            return False
        got = False
        for _ in range(64):
            try:
                if self.framed:
                    b = self.src.recv(262144)
                else:
                    b = os.read(self.fileno(), 262144)
            except (BlockingIOError, InterruptedError):
                break
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            if not b:
                self.eof = True
                got = True
                break
            got = True
            self.bytes_in += len(b)
            if self.framed:
                self._feed_records(b)
            else:
                self._feed_stdout(b)
            if len(b) < 262144:
                break
        return got

    def _feed_records(self, b):
        self.rbuf += b
        while len(self.rbuf) >= 8:
            ver, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", self.rbuf[:8])
            if ver != FCGI_VERSION_1:
                raise ProtocolError("bad FastCGI version %d in %r" % (ver, self.rbuf[:16]))
            total = 8 + clen + plen
            if len(self.rbuf) < total:
                break
            content = self.rbuf[8:8 + clen]
            self.rbuf = self.rbuf[total:]
            if rid != REQUEST_ID:
                raise ProtocolError("record for request id %d" % rid)
            if rtype == FCGI_STDOUT:
                self._feed_stdout(content)
            elif rtype == FCGI_STDERR:
                self.stderr += content
            elif rtype == FCGI_END_REQUEST:
                if clen < 8:
                    raise ProtocolError("short END_REQUEST")
                self.app_status, self.protocol_status = struct.unpack("!IB3x", content[:8])
                self.ended = True
            else:
                raise ProtocolError("unexpected record type %d" % rtype)

    def _feed_stdout(self, b):
        if self.ended:
            raise ProtocolError("STDOUT after END_REQUEST")
        self.stdout += b
        if not self.head_done:
            self.head_bytes += b
            hb = self.head_bytes
            idx = None
            for sep in (b"\r\n\r\n", b"\n\n", b"\r\n\n", b"\n\r\n"):
                j = hb.find(sep)
                if j >= 0 and (idx is None or j < idx[0]):
                    idx = (j, len(sep))
            if idx is None:
                if len(hb) > 65536:
                    raise ProtocolError("no end of headers in 64 KiB")
                return
            j, sl = idx
            self._parse_headers(hb[:j])
            self.head_done = True
            self.t_headers = time.monotonic()
            rest = hb[j + sl:]
            self.head_bytes = hb[:j + sl]
            if rest:
                self._feed_body(rest)
        else:
            self._feed_body(b)

    def _parse_headers(self, block):
        text = block.decode("latin-1")
        for line in text.replace("\r\n", "\n").split("\n"):
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError("header line without colon: %r" % line)
            self.headers.append((name.strip(), value.strip()))
        st = self.header("Status")
        if st is None:
            # CGI: no Status means 200 (or 302 with Location)
            self.status = 302 if self.header("Location") else 200
            self.status_line = None
        else:
            self.status_line = st
            try:
                self.status = int(st.split()[0])
            except (ValueError, IndexError):
                raise ProtocolError("bad Status header %r" % st)

    def _feed_body(self, b):
        if self.t_first_body is None:
            self.t_first_body = time.monotonic()
        self.body += b
        self.sse.feed(b)

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    # ---- waiting -----------------------------------------------------------
    def pump(self, timeout):
        """Waits up to timeout for input and processes it.  Returns True if
        something arrived."""
        if self.closed or self.eof:
            return False
        if self._read_avail():
            return True
        p = select.poll()
        p.register(self.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            r = p.poll(max(0.0, timeout) * 1000.0)
        except InterruptedError:
            return False
        if r:
            return self._read_avail()
        return False

    def wait_until(self, pred, timeout, what=None):
        deadline = time.monotonic() + timeout
        while True:
            if pred(self):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("%s: timed out after %.1fs waiting for %s; got %s"
                              % (self.what or "response", timeout,
                                 what or getattr(pred, "__name__", "condition"),
                                 self.summary()))
            if self.eof or self.closed:
                if pred(self):
                    return True
                raise Timeout("%s: connection closed while waiting for %s; got %s"
                              % (self.what or "response", what or "condition", self.summary()))
            self.pump(min(left, 0.5))

    def wait_headers(self, timeout=5.0):
        self.wait_until(lambda r: r.head_done, timeout, "headers")
        return self

    def wait_end(self, timeout=5.0):
        self.wait_until(lambda r: r.ended or (not r.framed and r.eof), timeout, "end of response")
        return self

    def wait_eof(self, timeout=5.0):
        self.wait_until(lambda r: r.eof, timeout, "connection close")
        return self

    @property
    def events(self):
        return self.sse.events

    @property
    def comments(self):
        return self.sse.comments

    @property
    def retry(self):
        return self.sse.retry

    def wait_event(self, timeout=5.0):
        """Returns the next event not yet returned by wait_event."""
        i = self.next_event
        self.wait_until(lambda r: len(r.sse.events) > i, timeout, "event #%d" % i)
        self.next_event += 1
        return self.sse.events[i]

    def wait_events(self, n, timeout=5.0):
        """Returns the next n events not yet returned."""
        i = self.next_event
        self.wait_until(lambda r: len(r.sse.events) >= i + n, timeout,
                        "%d events after #%d" % (n, i))
        self.next_event += n
        return self.sse.events[i:i + n]

    def pending_events(self):
        """Events received but not yet returned by wait_event; marks them
        returned."""
        evs = self.sse.events[self.next_event:]
        self.next_event = len(self.sse.events)
        return evs

    def read_for(self, seconds):
        """Reads whatever arrives during `seconds` (used only to check that
        something does NOT arrive)."""
        deadline = time.monotonic() + seconds
        while not (self.eof or self.closed):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.pump(min(left, 0.2))

    def close(self):
        """Goes away like a client that closes its connection."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.framed:
                try:
                    self.src.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.src.close()
            elif isinstance(self.src, int):
                os.close(self.src)
            else:
                self.src.close()
        except OSError:
            pass

    def summary(self):
        body = bytes(self.body)
        if len(body) > 600:
            body = body[:300] + b" ... " + body[-300:]
        return ("status=%r headers=%r events=%d comments=%d ended=%r eof=%r body=%r"
                % (self.status, self.headers, len(self.sse.events), len(self.sse.comments),
                   (self.app_status, self.protocol_status) if self.ended else False,
                   self.eof, body))

    def __repr__(self):
        return "<Response %s %s>" % (self.what, self.summary())


def request(addr, params, stdin=b"", timeout=5.0, what=""):
    """Connects, sends one request, returns a Response (not yet read)."""
    s = connect(addr, timeout)
    try:
        s.settimeout(timeout)
        s.sendall(build_request(params, stdin))
    except BaseException:
        s.close()
        raise
    return Response(s, framed=True, what=what)
