"""An HTTP/2 client for event streams: curl --http2 over TLS, its output
read as it comes.

curl (-i: the head, then the body as received, -N: unbuffered) runs for
one GET; the status line proves the protocol ("HTTP/2 200"), the body goes
through the tests' Server-Sent Events parser with the monotonic time each
piece arrived, as sseclient.Response does for HTTP/1.1 (whose interface
this one keeps: read_head, wait_for, events, read_body, close).
"""

import os
import select
import subprocess
import time

import sseclient
from sseclient import ProtocolError, Timeout


class Response(sseclient.Response):
    """One GET by curl --http2 -k to https://host:port/path."""

    def __init__(self, port, path, host="127.0.0.1", last_event_id=None,
                 accept="text/event-stream", extra_headers=(), timeout=5.0):
        self.t_start = time.monotonic()
        argv = ["curl", "--http2", "-sS", "-N", "-i", "-k",
                "--connect-timeout", str(int(timeout)),
                "-H", "Accept: %s" % accept, "-H", "Cache-Control: no-cache",
                "-A", "sse-tail-servers-test"]
        if last_event_id is not None:
            argv += ["-H", "Last-Event-ID: %s" % last_event_id]
        for hdr in extra_headers:
            argv += ["-H", hdr]
        argv.append("https://%s:%d%s" % (host, port, path))
        self.curl = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        self.sock = None
        self.version = None       # "2" for HTTP/2, from the status line
        self.raw = b""
        self.status = None
        self.reason = ""
        self.headers = {}
        self.header_list = []
        self.t_head = None
        self.body = b""
        self.eof = False
        self.clean_end = False
        self.t_eof = None
        self.parser = sseclient.SSEParser()
        self.taken = 0
        self._mode = "close"      # curl hands over the body unframed
        self._left = 0
        self._chunk_left = None

    def _recv(self, deadline):
        """Bytes curl wrote until deadline; b"" once it exits. Raises
        Timeout."""
        fd = self.curl.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            r, _, _ = select.select([fd], [], [], left)
            if r:
                return os.read(fd, 65536)

    def read_head(self, timeout=5.0):
        """Reads the status line and headers; returns the status code.
        Raises ProtocolError unless the answer came over HTTP/2."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            try:
                data = self._recv(deadline)
            except Timeout:
                raise Timeout("no response headers within %.1f s (got %r)"
                              % (timeout, self.raw[:200]))
            if not data:
                raise ProtocolError("curl ended before headers (got %r): %s"
                                    % (self.raw[:200], self.curl_error()))
            self.raw += data
        self.t_head = time.monotonic()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ProtocolError("bad status line %r" % lines[0])
        self.version = parts[0][5:]
        if self.version != "2":
            raise ProtocolError("answered over %s, not HTTP/2" % parts[0])
        self.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.header_list.append((name.strip(), value.strip()))
            self.headers[name.strip().lower()] = value.strip()
        self._decode(self.t_head)
        return self.status

    def curl_error(self):
        """What curl said on stderr, once it has exited."""
        if self.curl.poll() is None:
            return "curl still running"
        return "curl exit %d: %s" % (self.curl.returncode,
                                     self.curl.stderr.read().decode(
                                         errors="replace").strip())

    def close(self):
        """Ends curl, which closes its connection (its stream with it)."""
        if self.curl.poll() is None:
            self.curl.terminate()
            try:
                self.curl.wait(5)
            except subprocess.TimeoutExpired:
                self.curl.kill()
                self.curl.wait(5)
        self.curl.stdout.close()
        self.curl.stderr.close()
