"""The one Server-Sent Events parser of the tests: the end-to-end tests feed
it a FastCGI or CGI body (fcgi.py), the web-server tests an HTTP body
(servers/sseclient.py).  Python 3 standard library only."""

import time


class Comment:
    """A comment line, in arrival order among the events (SSEParser.items)."""
    kind = "comment"

    def __init__(self, text, t):
        self.text = text      # what follows the ':', as sent
        self.t = t            # monotonic time of the feed() that ended it

    def __repr__(self):
        return "Comment(%r)" % self.text


class Event(dict):
    """A dispatched event: a dict (keys below, as the end-to-end tests read
    it) that also answers .kind, .type, .id, .data and .t (as the web-server
    tests read it)."""
    kind = "event"

    @property
    def type(self):
        return self["type"]

    @property
    def id(self):
        return self["id"]

    @property
    def data(self):
        return self["data"]


class SSEParser:
    """Incremental parser of the text/event-stream format (HTML Living
    Standard, 9.2.6).  Works on bytes: line ends are CRLF, LF or CR; each line
    is decoded as UTF-8 (with replacement, as a browser does).  Each
    dispatched event is an Event, a dict:
      type   'message' unless an event field said otherwise
      event  the event field's value, or None
      data   data lines joined by '\\n'
      id     the last event ID (as the standard keeps it across events)
      own_id this event's own id field, or None
      fields list of (name, value) of this event's fields, in order
      raw    list of the raw byte lines of this event
    and its .t is the monotonic time of the feed() that completed it.
    Events go to .events, comments (without the ':') to .comments, both in
    arrival order to .items (Event and Comment objects); the retry value to
    .retry (every one to .retries).
    """

    def __init__(self):
        self.buf = b""
        self.skip_lf = False
        self.first = True
        self.events = []
        self.comments = []
        self.items = []
        self.retry = None
        self.retries = []
        self.last_id = ""
        self.lines_seen = 0
        self.t = None
        self._reset_event()

    def _reset_event(self):
        self.data = []
        self.etype = None
        self.fields = []
        self.raw = []
        self.ev_id = None

    def feed(self, b, t=None):
        """Parses bytes b, received at monotonic time t (now by default)."""
        if not b:
            return
        self.t = time.monotonic() if t is None else t
        if self.skip_lf:
            self.skip_lf = False
            if b[:1] == b"\n":
                b = b[1:]
        buf = self.buf + b
        if b"\r" not in buf:
            parts = buf.split(b"\n")
            self.buf = parts.pop()
            for line in parts:
                self._line(line)
            return
        start = 0
        n = len(buf)
        i_lf = buf.find(b"\n")
        i_cr = buf.find(b"\r")
        while True:
            if 0 <= i_lf < start:
                i_lf = buf.find(b"\n", start)
            if 0 <= i_cr < start:
                i_cr = buf.find(b"\r", start)
            if i_lf < 0 and i_cr < 0:
                break
            if i_cr < 0 or (0 <= i_lf < i_cr):
                line = buf[start:i_lf]
                start = i_lf + 1
            else:
                line = buf[start:i_cr]
                if i_cr + 1 < n:
                    start = i_cr + 2 if buf[i_cr + 1] == 0x0A else i_cr + 1
                else:
                    start = i_cr + 1
                    self.skip_lf = True
            self._line(line)
        self.buf = buf[start:]

    def _line(self, raw):
        self.lines_seen += 1
        if self.first:
            self.first = False
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        if raw == b"":
            self._dispatch()
            return
        line = raw.decode("utf-8", "replace")
        if line.startswith(":"):
            self.comments.append(line[1:])
            self.items.append(Comment(line[1:], self.t))
            return
        if ":" in line:
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        self.fields.append((name, value))
        self.raw.append(raw)
        if name == "event":
            self.etype = value
        elif name == "data":
            self.data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
                self.ev_id = value
        elif name == "retry":
            if value != "" and all(c in "0123456789" for c in value):
                self.retry = int(value)
                self.retries.append(int(value))

    def _dispatch(self):
        if not self.data:
            # the standard drops an event without data (but keeps its id)
            self._reset_event()
            return
        ev = Event(type=self.etype if self.etype else "message",
                   event=self.etype,
                   data="\n".join(self.data),
                   id=self.last_id,
                   own_id=self.ev_id,
                   fields=self.fields,
                   raw=self.raw)
        ev.t = self.t
        self.events.append(ev)
        self.items.append(ev)
        self._reset_event()
