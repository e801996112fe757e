"""A small HTTP/1.1 client for event streams, on a raw socket.

It sends one GET (Accept: text/event-stream, optionally Last-Event-ID),
parses the status line and headers, decodes a chunked, length-delimited
or close-delimited body incrementally, and runs the tests' one Server-Sent
Events parser (tests/sse.py) over it. Every comment and event carries the
monotonic time its last byte arrived.
"""

import errno
import select
import socket
import time

from sse import SSEParser


class Timeout(Exception):
    pass


class ProtocolError(Exception):
    pass


class Response:
    """One GET on its own connection. Construction connects and sends the
    request; read_head() waits for the status and headers; next_item() and
    wait_for() return parsed stream items as they arrive."""

    def __init__(self, port, path, host="127.0.0.1", last_event_id=None,
                 accept="text/event-stream", extra_headers=(), timeout=5.0):
        self.t_start = time.monotonic()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.t_connected = time.monotonic()
        req = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port),
               "Accept: %s" % accept, "Cache-Control: no-cache",
               "User-Agent: sse-tail-servers-test"]
        if last_event_id is not None:
            req.append("Last-Event-ID: %s" % last_event_id)
        req.extend(extra_headers)
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
        self.raw = b""            # received, not yet decoded
        self.status = None
        self.reason = ""
        self.headers = {}         # lower-case name -> value (last wins)
        self.header_list = []
        self.t_head = None
        self.body = b""           # the decoded body so far
        self.eof = False          # the body ended (or the connection did)
        self.clean_end = False    # ... as its framing says it should
        self.t_eof = None
        self.parser = SSEParser()
        self.taken = 0            # items already returned by next_item()
        self._mode = None         # "chunked", "length", "close"
        self._left = 0            # length mode: bytes still to come
        self._chunk_left = None   # chunked: bytes left in this chunk

    # ---- receiving ----

    def _recv(self, deadline):
        """Waits for bytes until deadline; returns them, b"" at EOF. Raises
        Timeout."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EINTR):
                    continue
                raise
            return data

    def read_head(self, timeout=5.0):
        """Reads the status line and headers; returns the status code."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            try:
                data = self._recv(deadline)
            except Timeout:
                raise Timeout("no response headers within %.1f s (got %r)"
                              % (timeout, self.raw[:200]))
            if not data:
                raise ProtocolError("connection closed before headers "
                                    "(got %r)" % self.raw[:200])
            self.raw += data
        self.t_head = time.monotonic()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError("bad status line %r" % lines[0])
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.header_list.append((name.strip(), value.strip()))
            self.headers[name.strip().lower()] = value.strip()
        te = self.headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            self._mode = "chunked"
        elif "content-length" in self.headers:
            self._mode = "length"
            self._left = int(self.headers["content-length"])
        else:
            self._mode = "close"
        self._decode(self.t_head)
        return self.status

    def _decode(self, t):
        """Moves what self.raw holds into the body and the SSE parser."""
        out = b""
        if self._mode == "close":
            out, self.raw = self.raw, b""
        elif self._mode == "length":
            out, self.raw = self.raw[:self._left], self.raw[self._left:]
            self._left -= len(out)
            if self._left == 0:
                self._end(t, True)
        else:
            while self.raw and not self.eof:
                if self._chunk_left is None:
                    i = self.raw.find(b"\r\n")
                    if i < 0:
                        break
                    size = self.raw[:i].split(b";")[0].strip()
                    try:
                        n = int(size, 16)
                    except ValueError:
                        raise ProtocolError("bad chunk size %r" % size)
                    self.raw = self.raw[i + 2:]
                    if n == 0:
                        self._end(t, True)   # trailers are not read
                        break
                    self._chunk_left = n
                take = self.raw[:self._chunk_left]
                out += take
                self.raw = self.raw[len(take):]
                self._chunk_left -= len(take)
                if self._chunk_left == 0:
                    if len(self.raw) < 2:
                        self._chunk_left = 0
                        break
                    if self.raw[:2] != b"\r\n":
                        raise ProtocolError("chunk not followed by CRLF")
                    self.raw = self.raw[2:]
                    self._chunk_left = None
        if out:
            self.body += out
            self.parser.feed(out, t)

    def _end(self, t, clean):
        if not self.eof:
            self.eof = True
            self.clean_end = clean
            self.t_eof = t

    def pump(self, timeout):
        """Waits up to timeout for more of the body; returns False once
        the body or the connection has ended."""
        if self.eof:
            return False
        if self.status is None:
            self.read_head(timeout)
            return True
        try:
            data = self._recv(time.monotonic() + timeout)
        except Timeout:
            return True
        t = time.monotonic()
        if not data:
            self._end(t, self._mode == "close")
            return False
        self.raw += data
        self._decode(t)
        return True

    @property
    def items(self):
        return self.parser.items

    def next_item(self, timeout):
        """The next comment or event not yet returned; None if the stream
        ended first. Raises Timeout."""
        deadline = time.monotonic() + timeout
        while self.taken >= len(self.parser.items):
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            self.pump(left)
        self.taken += 1
        return self.parser.items[self.taken - 1]

    def wait_for(self, pred, timeout, what):
        """Returns the first item from now on for which pred holds; raises
        Timeout naming what was awaited, or ProtocolError at end of
        stream."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                item = self.next_item(max(left, 0))
            except Timeout:
                raise Timeout("no %s within %.1f s (got %s)"
                              % (what, timeout, self.describe()))
            if item is None:
                raise ProtocolError("stream ended before %s (got %s)"
                                    % (what, self.describe()))
            if pred(item):
                return item

    def events(self):
        return [i for i in self.parser.items if i.kind == "event"]

    def comments(self):
        return [i for i in self.parser.items if i.kind == "comment"]

    def read_body(self, timeout=5.0):
        """Reads a whole non-stream answer; returns the body."""
        deadline = time.monotonic() + timeout
        if self.status is None:
            self.read_head(timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("body not complete within %.1f s (got %r)"
                              % (timeout, self.body[:200]))
            self.pump(left)
        return self.body

    def describe(self, n=300):
        b = self.body[-n:]
        return "status %s, body %s%r" % (self.status,
                                         "..." if len(self.body) > n else "",
                                         b)

    def close(self):
        """Closes as a browser does: a FIN. Bytes already received are
        read first, as unread data would turn the close into a reset."""
        if self.sock is None:
            return
        try:
            self.sock.setblocking(False)
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
        except OSError:
            pass
        self.sock.close()
        self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
