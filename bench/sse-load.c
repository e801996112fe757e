/* sse-load.c - a FastCGI load client for sse-tail benchmarks.
 *
 * One process, one epoll loop, up to ~9000 non-blocking connections (the
 * open-file limit is raised to the hard limit). Each connection sends one
 * FastCGI request (BEGIN_REQUEST role 1, PARAMS, empty PARAMS, empty STDIN),
 * then parses the STDOUT records: the CGI headers, then text/event-stream as
 * the HTML spec says (id/data/event/retry fields, comments, CR/LF/CRLF line
 * ends, dispatch on a blank line).
 *
 * The lines come from bench/writer: "SEQ filler" or, with -L, "TS SEQ filler"
 * (TS: the writer's CLOCK_REALTIME in ns just before its write). Each client
 * must see SEQ = FIRST .. FIRST+EXPECT-1 once each, in order, with ids
 * OFFSET.TAG (or a bare OFFSET, as the broadcaster sends)
 * whose OFFSET rises by exactly the line's length plus one (the offset just
 * past the newline). It counts what is missing, repeated, out of place.
 *
 * With -P it speaks to a web server instead, for the peers sse-tail is
 * compared with: http (an HTTP/1.1 GET, the body plain or chunked, parsed
 * as an event stream), ws (a WebSocket, each text message one line: what
 * websocketd sends) and sio (socket.io 2 / Engine.IO 3 over a WebSocket,
 * "line" events in the namespace given by -N: what frontail sends). -I stops
 * the id checks for peers whose ids are not byte offsets (or absent).
 *
 * Exit 0 only when every client got every expected line, nothing missing,
 * nothing repeated, no bad id, no protocol error, no connection lost.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_STDERR		7

#define RBUF		(256 * 1024)
#define TAG_EMPTY	0x811c9dc5u	/* the TAG of offset 0, a reset's */
#define MAX_EVENTS	512
#define MAX_DIAG	10

enum cstate { C_NEW, C_CONNECTING, C_SENDING, C_OPEN, C_GONE };
enum proto { P_FCGI, P_HTTP, P_WS, P_SIO };
enum chunk_state { CK_SIZE, CK_EXT, CK_DATA, CK_CRLF, CK_END };

struct client {
	int fd;
	uint8_t state;
	uint8_t hdr_len;		/* bytes of the record header so far */
	uint8_t pad_left;
	uint8_t rec_type;
	unsigned opened:1;		/* first comment seen */
	unsigned headers_done:1;
	unsigned cr:1;			/* last byte was CR: skip an LF */
	unsigned first_line:1;		/* the body's first line: strip a BOM */
	unsigned done:1;		/* the last expected SEQ was seen */
	unsigned failed:1;
	unsigned have_id:1;		/* prev_id is a baseline */
	unsigned have_seq:1;		/* prev_seq / prev_id belong together */
	unsigned ev_reset:1;		/* event type is "reset" */
	unsigned ev_rotated:1;		/* event type is "rotated" */
	unsigned id_tagged:1;		/* the id had a .TAG */
	unsigned out_armed:1;		/* EPOLLOUT wanted: request not sent */
	unsigned chunked:1;		/* HTTP body in chunked coding */
	unsigned status_line:1;		/* the HTTP status line was read */
	uint8_t ck_state;		/* enum chunk_state */
	uint8_t wh_len;			/* WebSocket frame header bytes so far */
	unsigned char wh[14];
	uint64_t chunk_left;		/* chunk or WebSocket payload left */
	uint16_t req_off;		/* request bytes written */
	uint16_t content_left;
	unsigned char hdr[8];
	int status;			/* HTTP status from the CGI headers */
	char *line;
	uint32_t line_len, line_cap;
	char *data;
	uint32_t data_len, data_cap;
	uint64_t id;			/* the last event ID buffer's OFFSET */
	uint32_t id_tag;		/* and its TAG, when id_tagged */
	int id_ok;			/* it was OFFSET or OFFSET.TAG */
	uint64_t prev_id, prev_seq;
	uint64_t next_seq;
	uint32_t events, missing, dup, resets, badid, extra, bad, heartbeats;
};

static struct {
	const char *addr;
	int nclients;
	const char *stream;
	uint64_t expect;
	uint64_t first;
	double limit_s;
	double ramp;			/* connects per ms */
	int latency;
	int hold;
	const char *status_file;
	const char *last_event_id;
	int verbose;
	int proto;			/* enum proto */
	const char *target;		/* the request target, -P modes */
	int loose_ids;			/* -I */
	const char *sio_ns;		/* -N */
	const char *hist_file;		/* -O */
	const char *record_file;	/* -R */
	const char *source;		/* -b */
} opt = { NULL, 1, NULL, 1, 1, 60, 5, 0, 0, NULL, NULL, 0, P_FCGI, "/",
    0, NULL, NULL, NULL, NULL };

static struct client *clients;
static int ep;
static struct sockaddr_storage sa;
static socklen_t sa_len;
static struct sockaddr_in source;	/* -b: the clients' own address */
static unsigned char request[4096];
static size_t request_len;
static char *rbuf;
static FILE *records;			/* -R: a line an accepted event */
static volatile sig_atomic_t stop_flag;

/* totals */
static int n_connected, n_opened, n_done, n_failed, n_started, n_dropped;
static int n_connect_err, n_http_err, n_proto_err, n_closed_early;
static uint64_t n_retries, n_stderr_bytes;
static int diag_count;
static int64_t t_start_ns, t_all_open_ns = -1, t_all_done_ns = -1;
static int open_reported, settled_reported;
static int64_t now_rt;			/* CLOCK_REALTIME at the last read */

/* latency histogram, microseconds: exact below 2048, then 1024 steps per
 * power of two (under 0.1 % error) */
#define H_LIN	2048
#define H_SUB	1024
#define H_EXP	44
static uint64_t hist[H_LIN + H_EXP * H_SUB];
static uint64_t lat_n, lat_max, lat_neg;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
diag(const struct client *c, const char *fmt, ...)
{
	va_list ap;

	if (diag_count++ >= MAX_DIAG && !opt.verbose)
		return;
	fprintf(stderr, "sse-load: client %ld: ", (long)(c - clients));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
hist_add(uint64_t us)
{
	size_t idx;

	if (us > lat_max)
		lat_max = us;
	lat_n++;
	if (us < H_LIN)
		idx = us;
	else {
		int e = 63 - __builtin_clzll(us);	/* >= 11 */

		if (e - 11 >= H_EXP)
			e = 11 + H_EXP - 1, us = (2ULL << e) - 1;
		idx = H_LIN + (size_t)(e - 11) * H_SUB +
		    ((us >> (e - 10)) & (H_SUB - 1));
	}
	hist[idx]++;
}

static uint64_t
hist_value(size_t idx)
{
	size_t e, m;

	if (idx < H_LIN)
		return idx;
	e = (idx - H_LIN) / H_SUB + 11;
	m = (idx - H_LIN) % H_SUB;
	/* the middle of the bucket */
	return (1ULL << e) + ((uint64_t)m << (e - 10)) + (1ULL << (e - 11));
}

static uint64_t
hist_pct(double p)
{
	uint64_t want = (uint64_t)(p / 100.0 * (double)lat_n + 0.999999), seen = 0;
	size_t i;

	if (want == 0)
		want = 1;
	for (i = 0; i < sizeof(hist) / sizeof(hist[0]); i++) {
		seen += hist[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return v > lat_max ? lat_max : v;
		}
	}
	return lat_max;
}

/* Non-empty buckets, "VALUE_US COUNT" a line; the maximum goes last as
 * "max VALUE_US". */
static void
write_hist(const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (f == NULL) {
		perror(path);
		return;
	}
	for (i = 0; i < sizeof(hist) / sizeof(hist[0]); i++)
		if (hist[i] != 0)
			fprintf(f, "%llu %llu\n", (unsigned long long)hist_value(i),
			    (unsigned long long)hist[i]);
	fprintf(f, "max %llu\n", (unsigned long long)lat_max);
	if (fclose(f) != 0)
		perror(path);
}

/* ---- the request ---- */

static void
rec_header(unsigned char *h, int type, size_t len)
{
	h[0] = 1;
	h[1] = (unsigned char)type;
	h[2] = 0;
	h[3] = 1;		/* request id 1 */
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0;
	h[7] = 0;
}

static size_t
put_len(unsigned char *p, size_t len)
{
	if (len < 128) {
		p[0] = (unsigned char)len;
		return 1;
	}
	p[0] = (unsigned char)(0x80 | (len >> 24));
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	return 4;
}

static size_t
put_param(unsigned char *p, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), n = 0;

	n += put_len(p + n, nl);
	n += put_len(p + n, vl);
	memcpy(p + n, name, nl);
	n += nl;
	memcpy(p + n, value, vl);
	return n + vl;
}

static void
build_request(void)
{
	unsigned char params[2048], *p = request;
	char path[300];
	size_t n = 0;

	rec_header(p, FCGI_BEGIN_REQUEST, 8);
	p += 8;
	memset(p, 0, 8);
	p[1] = 1;		/* FCGI_RESPONDER; flags 0 */
	p += 8;
	n += put_param(params + n, "REQUEST_METHOD", "GET");
	n += put_param(params + n, "GATEWAY_INTERFACE", "CGI/1.1");
	n += put_param(params + n, "SERVER_PROTOCOL", "HTTP/1.1");
	n += put_param(params + n, "SCRIPT_NAME", "/events");
	n += put_param(params + n, "REQUEST_URI", "/events");
	if (opt.stream != NULL) {
		snprintf(path, sizeof(path), "/%s", opt.stream);
		n += put_param(params + n, "PATH_INFO", path);
	}
	n += put_param(params + n, "QUERY_STRING", "");
	n += put_param(params + n, "HTTP_ACCEPT", "text/event-stream");
	if (opt.last_event_id != NULL)
		n += put_param(params + n, "HTTP_LAST_EVENT_ID",
		    opt.last_event_id);
	rec_header(p, FCGI_PARAMS, n);
	p += 8;
	memcpy(p, params, n);
	p += n;
	rec_header(p, FCGI_PARAMS, 0);
	p += 8;
	rec_header(p, FCGI_STDIN, 0);
	p += 8;
	request_len = (size_t)(p - request);
}

/* The HTTP request of the -P modes. */
static void
build_http_request(void)
{
	int n;

	n = snprintf((char *)request, sizeof(request),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s%s\r\n",
	    opt.target,
	    opt.proto == P_HTTP ? "Accept: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n" :
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n",
	    opt.last_event_id != NULL ? "Last-Event-ID: " : "",
	    opt.last_event_id != NULL ? opt.last_event_id : "",
	    opt.last_event_id != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(request)) {
		fprintf(stderr, "sse-load: request too long\n");
		exit(2);
	}
	request_len = (size_t)n;
}

/* ---- status file, for scripts that wait for a phase ---- */

static void
write_status(const char *phase)
{
	char tmp[4096];
	FILE *f;

	if (opt.status_file == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.status_file);
	if ((f = fopen(tmp, "w")) == NULL) {
		perror(tmp);
		return;
	}
	fprintf(f, "%s opened=%d done=%d failed=%d clients=%d\n", phase,
	    n_opened, n_done, n_failed, opt.nclients);
	fclose(f);
	if (rename(tmp, opt.status_file) < 0)
		perror(opt.status_file);
}

static void
check_phases(void)
{
	if (!open_reported && n_opened + n_failed >= opt.nclients) {
		open_reported = 1;
		t_all_open_ns = mono_ns();
		write_status("open");
	}
	if (!settled_reported && n_done + n_failed >= opt.nclients) {
		settled_reported = 1;
		t_all_done_ns = mono_ns();
		write_status("settled");
	}
}

/* ---- a client's life ---- */

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);	/* also leaves epoll */
	c->fd = -1;
	c->state = C_GONE;
	free(c->line);
	free(c->data);
	c->line = c->data = NULL;
	c->line_cap = c->data_cap = 0;
}

static void
client_fail(struct client *c)
{
	if (c->failed)
		return;
	c->failed = 1;
	if (c->done) {
		/* it had everything, then lost the connection */
		n_dropped++;
	}
	n_failed++;
	if (c->done)
		n_done--;
	client_close(c);
	check_phases();
}

static int
grow(char **buf, uint32_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 128;
	char *p;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return 0;
	if ((p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = (uint32_t)n;
	return 0;
}

static uint64_t
last_seq(void)
{
	return opt.first + opt.expect - 1;
}

static int
parse_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		x = x * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*p = s;
	*v = x;
	return 0;
}

/* Parses an id, "OFFSET" or "OFFSET.TAG" (TAG 8 lowercase hex digits),
 * into c; id_ok says whether it was one. */
static void
parse_id(struct client *c, const char *v, size_t vl)
{
	const char *p = v, *end = v + vl;
	uint64_t off;
	uint32_t tag = 0;
	int i;

	c->id_ok = 0;
	c->id = 0;
	c->id_tagged = 0;
	if (parse_u64(&p, end, &off) < 0)
		return;
	if (p < end) {
		if (*p++ != '.' || end - p != 8)
			return;
		for (i = 0; i < 8; i++, p++) {
			if (*p >= '0' && *p <= '9')
				tag = tag << 4 | (uint32_t)(*p - '0');
			else if (*p >= 'a' && *p <= 'f')
				tag = tag << 4 | (uint32_t)(*p - 'a' + 10);
			else
				return;
		}
		c->id_tagged = 1;
		c->id_tag = tag;
	}
	c->id_ok = 1;
	c->id = off;
}

static void
mark_opened(struct client *c)
{
	if (!c->opened) {
		c->opened = 1;
		n_opened++;
		check_phases();
	}
}

/* A data event: check id, sequence, latency. */
static void
data_event(struct client *c, const char *d, size_t len)
{
	const char *p = d, *end = d + len;
	uint64_t ts = 0, seq;

	if (opt.latency) {
		if (parse_u64(&p, end, &ts) < 0 || p >= end || *p != ' ') {
			c->bad++;
			diag(c, "malformed data (no timestamp): %.*s", (int)len, d);
			return;
		}
		p++;
	}
	if (parse_u64(&p, end, &seq) < 0 || (p < end && *p != ' ')) {
		c->bad++;
		diag(c, "malformed data: %.*s", (int)len, d);
		return;
	}
	/* ids: strictly rising; and for consecutive lines, exactly the
	 * previous id plus this line and its newline */
	if (opt.loose_ids) {
		/* a peer whose ids are not offsets: SEQ alone is checked */
	} else if (!c->id_ok) {
		c->badid++;
		diag(c, "seq %llu: id missing or not a number",
		    (unsigned long long)seq);
	} else if (c->have_id && c->id <= c->prev_id) {
		c->badid++;
		diag(c, "seq %llu: id %llu not above %llu",
		    (unsigned long long)seq, (unsigned long long)c->id,
		    (unsigned long long)c->prev_id);
	} else if (c->have_seq && seq == c->prev_seq + 1 &&
	    c->id != c->prev_id + len + 1) {
		c->badid++;
		diag(c, "seq %llu: id %llu, expected %llu",
		    (unsigned long long)seq, (unsigned long long)c->id,
		    (unsigned long long)(c->prev_id + len + 1));
	}
	if (c->id_ok && !opt.loose_ids) {
		c->prev_id = c->id;
		c->have_id = 1;
		c->prev_seq = seq;
		c->have_seq = 1;
	}
	if (seq > last_seq() || seq < opt.first) {
		c->extra++;
		diag(c, "seq %llu outside %llu..%llu", (unsigned long long)seq,
		    (unsigned long long)opt.first,
		    (unsigned long long)last_seq());
		return;
	}
	if (seq < c->next_seq) {
		c->dup++;
		diag(c, "seq %llu again (expected %llu)",
		    (unsigned long long)seq, (unsigned long long)c->next_seq);
		return;
	}
	if (seq > c->next_seq) {
		c->missing += (uint32_t)(seq - c->next_seq);
		diag(c, "seq %llu..%llu missing", (unsigned long long)c->next_seq,
		    (unsigned long long)(seq - 1));
	}
	/* an accepted line: its latency and its record count */
	if (opt.latency) {
		int64_t lat = now_rt - (int64_t)ts;

		if (lat < 0) {
			lat_neg++;
			lat = 0;
		}
		hist_add((uint64_t)lat / 1000);
	}
	if (records != NULL)
		fprintf(records, "%ld %llu %llu %lld\n", (long)(c - clients),
		    (unsigned long long)seq, (unsigned long long)c->id,
		    (long long)now_rt);
	c->events++;
	c->next_seq = seq + 1;
	if (seq == last_seq() && !c->done) {
		c->done = 1;
		n_done++;
		check_phases();
		if (!opt.hold)
			client_close(c);
	}
}

static void
dispatch(struct client *c)
{
	if (c->data_len == 0) {
		c->ev_reset = 0;
		c->ev_rotated = 0;
		return;
	}
	c->data_len--;		/* the last LF */
	if (c->ev_reset) {
		c->resets++;
		diag(c, "event: reset, id %llu, data: %.*s",
		    (unsigned long long)c->id, (int)c->data_len, c->data);
		if (!c->id_ok || c->id != 0 ||
		    (c->id_tagged && c->id_tag != TAG_EMPTY)) {
			c->badid++;
			diag(c, "reset with id other than 0.811c9dc5");
		}
		/* the stream starts over at offset 0 */
		c->prev_id = 0;
		c->have_id = 1;
		c->have_seq = 0;
	} else if (c->ev_rotated) {
		/* the next file, from its start: nothing lost (no id field:
		 * the last event ID stays the old file's) */
		c->prev_id = 0;
		c->have_id = 1;
		c->have_seq = 0;
	} else
		data_event(c, c->data, c->data_len);
	c->data_len = 0;
	c->ev_reset = 0;
	c->ev_rotated = 0;
}

static int
field_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(name, want, n) == 0;
}

static void
sse_line(struct client *c, const char *s, size_t n)
{
	const char *colon, *v;
	size_t nl, vl;

	if (c->first_line) {
		c->first_line = 0;
		if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3, n -= 3;
	}
	if (n == 0) {
		dispatch(c);
		return;
	}
	if (s[0] == ':') {
		mark_opened(c);
		if (n == 11 && memcmp(s, ": heartbeat", 11) == 0)
			c->heartbeats++;
		return;
	}
	if ((colon = memchr(s, ':', n)) != NULL) {
		nl = (size_t)(colon - s);
		v = colon + 1;
		vl = n - nl - 1;
		if (vl > 0 && *v == ' ')
			v++, vl--;
	} else {
		nl = n;
		v = s + n;
		vl = 0;
	}
	if (field_is(s, nl, "data")) {
		if (grow(&c->data, &c->data_cap, c->data_len + vl + 1) < 0) {
			perror("realloc");
			exit(2);
		}
		memcpy(c->data + c->data_len, v, vl);
		c->data_len += (uint32_t)vl;
		c->data[c->data_len++] = '\n';
	} else if (field_is(s, nl, "event")) {
		/* other event types (a stream's event = NAME) count as data */
		c->ev_reset = field_is(v, vl, "reset") != 0;
		c->ev_rotated = field_is(v, vl, "rotated") != 0;
	} else if (field_is(s, nl, "id")) {
		if (memchr(v, '\0', vl) == NULL)
			parse_id(c, v, vl);
	}
	/* retry and unknown fields: ignored, as a browser does */
}

static void
sse_feed(struct client *c, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end && c->state != C_GONE) {
		const char *q = p;

		if (c->cr) {
			c->cr = 0;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		while (q < end && *q != '\n' && *q != '\r')
			q++;
		if (q == end) {
			if (grow(&c->line, &c->line_cap,
			    c->line_len + (size_t)(q - p)) < 0) {
				perror("realloc");
				exit(2);
			}
			memcpy(c->line + c->line_len, p, (size_t)(q - p));
			c->line_len += (uint32_t)(q - p);
			return;
		}
		if (*q == '\r')
			c->cr = 1;
		if (c->line_len == 0)
			sse_line(c, p, (size_t)(q - p));
		else {
			if (grow(&c->line, &c->line_cap,
			    c->line_len + (size_t)(q - p)) < 0) {
				perror("realloc");
				exit(2);
			}
			size_t total = c->line_len + (size_t)(q - p);

			memcpy(c->line + c->line_len, p, (size_t)(q - p));
			c->line_len = 0;
			sse_line(c, c->line, total);
		}
		p = q + 1;
	}
}

/* A short frame or request to the peer; the socket has room for it. */
static void
send_small(struct client *c, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(c->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		diag(c, "write %zu bytes: %s", len,
		    n < 0 ? strerror(errno) : "short write");
		client_fail(c);
	}
}

/* A client's WebSocket text frame: masked, with a zero mask. */
static void
ws_send_text(struct client *c, const char *text)
{
	unsigned char f[136];
	size_t len = strlen(text);

	if (len > 125)
		return;
	f[0] = 0x81;
	f[1] = (unsigned char)(0x80 | len);
	memset(f + 2, 0, 4);
	memcpy(f + 6, text, len);
	send_small(c, f, 6 + len);
}

/* A JSON string at *p (just past its opening quote), unescaped into
 * c->data; returns its length or -1. Only what frontail's lines need:
 * \uXXXX becomes '?'. */
static long
json_string(struct client *c, const char *p, const char *end)
{
	size_t n = 0;

	if (grow(&c->data, &c->data_cap, (size_t)(end - p) + 1) < 0) {
		perror("realloc");
		exit(2);
	}
	while (p < end && *p != '"') {
		char ch = *p++;

		if (ch == '\\') {
			if (p >= end)
				return -1;
			ch = *p++;
			switch (ch) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'u':
				if (end - p < 4)
					return -1;
				p += 4;
				ch = '?';
				break;
			default: break;		/* \" \\ \/ */
			}
		}
		c->data[n++] = ch;
	}
	return p < end ? (long)n : -1;
}

/* An Engine.IO 3 packet carrying a socket.io 2 packet. */
static void
sio_message(struct client *c, const char *m, size_t n)
{
	char pkt[160];
	const char *p, *end = m + n;
	long len;

	if (n == 0)
		return;
	switch (m[0]) {
	case '0':		/* open: join the namespace */
		snprintf(pkt, sizeof(pkt), "40%s%s", opt.sio_ns ? opt.sio_ns : "",
		    opt.sio_ns ? "," : "");
		ws_send_text(c, pkt);
		return;
	case '2':		/* ping */
		ws_send_text(c, "3");
		return;
	case '4':		/* message */
		if (n >= 2 && m[1] == '0') {
			/* socket.io 2 joins "/" by itself first: open once
			 * the namespace asked for is joined */
			size_t nl = opt.sio_ns ? strlen(opt.sio_ns) : 0;

			if (n == 2 + nl || (n > 2 + nl && m[2 + nl] == ',')) {
				if (nl == 0 || memcmp(m + 2, opt.sio_ns, nl) == 0)
					mark_opened(c);
			}
			return;
		}
		if (n >= 2 && m[1] == '4') {
			n_proto_err++;
			diag(c, "socket.io refused: %.*s", (int)n, m);
			client_fail(c);
			return;
		}
		break;
	default:		/* pong, noop, ... */
		return;
	}
	if (n < 2 || m[1] != '2')	/* only EVENT packets carry lines */
		return;
	p = memchr(m, '[', n);
	if (p == NULL || end - p < 9 || memcmp(p, "[\"line\",\"", 9) != 0)
		return;		/* options:..., other events */
	if ((len = json_string(c, p + 9, end)) < 0) {
		c->bad++;
		diag(c, "malformed socket.io event: %.*s", (int)n, m);
		return;
	}
	data_event(c, c->data, (size_t)len);
}

static void
ws_message(struct client *c, const char *m, size_t n)
{
	if (opt.proto == P_SIO) {
		sio_message(c, m, n);
		return;
	}
	if (n > 0 && m[n - 1] == '\n')
		n--;
	data_event(c, m, n);
}

/* WebSocket frames from the server: unmasked; a message may span frames.
 * The message is gathered in c->line. */
static void
ws_feed(struct client *c, const char *p, size_t n)
{
	while (n > 0 && c->state != C_GONE) {
		size_t need;

		if (c->ck_state != CK_DATA) {	/* reading a frame header */
			c->wh[c->wh_len++] = (unsigned char)*p++;
			n--;
			need = 2;
			if (c->wh_len >= 2) {
				unsigned l7 = c->wh[1] & 0x7f;

				if (c->wh[1] & 0x80) {
					n_proto_err++;
					diag(c, "masked frame from the server");
					client_fail(c);
					return;
				}
				need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
			}
			if (c->wh_len < need)
				continue;
			if (need == 2)
				c->chunk_left = c->wh[1] & 0x7f;
			else {
				size_t i;

				c->chunk_left = 0;
				for (i = 2; i < need; i++)
					c->chunk_left = c->chunk_left << 8 | c->wh[i];
			}
			c->ck_state = CK_DATA;
			if ((c->wh[0] & 0x0f) >= 8 && c->chunk_left > 125) {
				n_proto_err++;
				diag(c, "control frame of %llu bytes",
				    (unsigned long long)c->chunk_left);
				client_fail(c);
				return;
			}
			if ((c->wh[0] & 0x0f) >= 8) {
				/* control frames may come inside a message: they
				 * are short and dropped, but a close ends it */
				if ((c->wh[0] & 0x0f) == 8) {
					n_closed_early += !c->done;
					diag(c, "close frame after %u events",
					    c->events);
					client_fail(c);
					return;
				}
			}
		}
		need = c->chunk_left < n ? (size_t)c->chunk_left : n;
		if ((c->wh[0] & 0x0f) < 8) {
			if (grow(&c->line, &c->line_cap, c->line_len + need) < 0) {
				perror("realloc");
				exit(2);
			}
			memcpy(c->line + c->line_len, p, need);
			c->line_len += (uint32_t)need;
		}
		p += need;
		n -= need;
		c->chunk_left -= need;
		if (c->chunk_left > 0)
			return;
		c->ck_state = CK_SIZE;
		c->wh_len = 0;
		if ((c->wh[0] & 0x0f) < 8 && (c->wh[0] & 0x80)) {
			uint32_t len = c->line_len;

			c->line_len = 0;
			ws_message(c, c->line, len);
		}
	}
}

/* An HTTP body in chunked coding. */
static void
chunk_feed(struct client *c, const char *p, size_t n)
{
	while (n > 0 && c->state != C_GONE) {
		char ch = *p;
		size_t take;

		switch (c->ck_state) {
		case CK_SIZE:
		case CK_EXT:
			p++, n--;
			if (ch == '\n') {
				if (c->chunk_left == 0) {
					c->ck_state = CK_END;
					n_closed_early += !c->done;
					diag(c, "last chunk after %u events",
					    c->events);
					client_fail(c);
					return;
				}
				c->ck_state = CK_DATA;
			} else if (c->ck_state == CK_SIZE && ch != '\r') {
				int v = ch >= '0' && ch <= '9' ? ch - '0' :
				    ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
				    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

				if (v < 0)
					c->ck_state = CK_EXT;
				else
					c->chunk_left = c->chunk_left * 16 +
					    (uint64_t)v;
			}
			break;
		case CK_DATA:
			take = c->chunk_left < n ? (size_t)c->chunk_left : n;
			sse_feed(c, p, take);
			p += take, n -= take;
			if ((c->chunk_left -= take) == 0)
				c->ck_state = CK_CRLF;
			break;
		case CK_CRLF:
			p++, n--;
			if (ch == '\n')
				c->ck_state = CK_SIZE;
			break;
		default:
			return;
		}
	}
}

static void
body_feed(struct client *c, const char *p, size_t n)
{
	if (opt.proto == P_WS || opt.proto == P_SIO)
		ws_feed(c, p, n);
	else if (c->chunked)
		chunk_feed(c, p, n);
	else
		sse_feed(c, p, n);
}

/* The response headers (CGI's, or HTTP's with its status line), one line
 * at a time, then the body. */
static void
stdout_feed(struct client *c, const char *p, size_t n)
{
	while (n > 0 && !c->headers_done && c->state != C_GONE) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		char *l;
		size_t ll;

		if (grow(&c->line, &c->line_cap, c->line_len + take + 1) < 0) {
			perror("realloc");
			exit(2);
		}
		memcpy(c->line + c->line_len, p, take);
		c->line_len += (uint32_t)take;
		p += take;
		n -= take;
		if (nl == NULL)
			return;
		l = c->line;
		ll = c->line_len - 1;
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		l[ll] = '\0';
		c->line_len = 0;
		if (opt.proto != P_FCGI && !c->status_line) {
			c->status_line = 1;
			if (strncmp(l, "HTTP/1.", 7) == 0 && ll > 9)
				c->status = atoi(l + 9);
		} else if (ll == 0) {
			int want = opt.proto == P_WS || opt.proto == P_SIO ?
			    101 : 200;

			c->headers_done = 1;
			c->first_line = 1;
			c->ck_state = CK_SIZE;
			c->chunk_left = 0;
			if (c->status != want) {
				n_http_err++;
				diag(c, "HTTP status %d", c->status);
				client_fail(c);
				return;
			}
			/* sio: open once the namespace is joined */
			if (opt.proto == P_HTTP || opt.proto == P_WS)
				mark_opened(c);
		} else if (strncasecmp(l, "Status:", 7) == 0)
			c->status = atoi(l + 7);
		else if (strncasecmp(l, "Transfer-Encoding:", 18) == 0 &&
		    strcasestr(l + 18, "chunked") != NULL)
			c->chunked = 1;
		else if (strncasecmp(l, "Content-Type:", 13) == 0 &&
		    strstr(l + 13, "text/event-stream") == NULL && c->status == 200) {
			n_proto_err++;
			diag(c, "%s", l);
			client_fail(c);
			return;
		}
	}
	if (n > 0 && c->state != C_GONE)
		body_feed(c, p, n);
}

/* FastCGI records. */
static void
fcgi_feed(struct client *c, const char *p, size_t n)
{
	while (n > 0 && c->state != C_GONE) {
		if (c->hdr_len < 8) {
			size_t take = 8 - c->hdr_len;

			if (take > n)
				take = n;
			memcpy(c->hdr + c->hdr_len, p, take);
			c->hdr_len += (uint8_t)take;
			p += take;
			n -= take;
			if (c->hdr_len < 8)
				return;
			if (c->hdr[0] != 1 || c->hdr[2] != 0 || c->hdr[3] != 1) {
				n_proto_err++;
				diag(c, "bad record header %02x %02x %02x%02x",
				    c->hdr[0], c->hdr[1], c->hdr[2], c->hdr[3]);
				client_fail(c);
				return;
			}
			c->rec_type = c->hdr[1];
			c->content_left = (uint16_t)(c->hdr[4] << 8 | c->hdr[5]);
			c->pad_left = c->hdr[6];
			if (c->rec_type == FCGI_END_REQUEST) {
				/* the server ended the stream */
				if (!c->done) {
					n_closed_early++;
					diag(c, "END_REQUEST after %u events",
					    c->events);
				} else
					diag(c, "END_REQUEST after completion");
				client_fail(c);
				return;
			}
		}
		if (c->content_left > 0) {
			size_t take = c->content_left;

			if (take > n)
				take = n;
			if (c->rec_type == FCGI_STDOUT)
				stdout_feed(c, p, take);
			else if (c->rec_type == FCGI_STDERR) {
				n_stderr_bytes += take;
				diag(c, "stderr: %.*s", (int)take, p);
			}
			if (c->state == C_GONE)
				return;
			c->content_left -= (uint16_t)take;
			p += take;
			n -= take;
		}
		if (c->content_left == 0 && c->pad_left > 0) {
			size_t take = c->pad_left;

			if (take > n)
				take = n;
			c->pad_left -= (uint8_t)take;
			p += take;
			n -= take;
		}
		if (c->content_left == 0 && c->pad_left == 0)
			c->hdr_len = 0;
	}
}

static void
client_readable(struct client *c)
{
	int reads;

	/* at most 16 full buffers a turn: the loop's timers (pings, the
	 * deadline) must not starve under a flood; epoll comes back */
	for (reads = 0; reads < 16; reads++) {
		ssize_t n = read(c->fd, rbuf, RBUF);

		if (n > 0) {
			if (opt.latency || records != NULL)
				now_rt = real_ns();
			if (opt.proto == P_FCGI)
				fcgi_feed(c, rbuf, (size_t)n);
			else
				stdout_feed(c, rbuf, (size_t)n);
			if (c->state == C_GONE || n < RBUF)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (!c->done) {
			n_closed_early++;
			diag(c, "connection closed (%s) after %u events",
			    n == 0 ? "EOF" : strerror(errno), c->events);
		} else
			diag(c, "connection closed after completion");
		client_fail(c);
		return;
	}
}

static void
set_events(struct client *c, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		perror("epoll_ctl MOD");
		exit(2);
	}
}

static void
client_send(struct client *c)
{
	while (c->req_off < request_len) {
		ssize_t n = write(c->fd, request + c->req_off,
		    request_len - c->req_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->out_armed) {
				c->out_armed = 1;
				set_events(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
			}
			return;
		}
		if (n < 0) {
			n_connect_err++;
			diag(c, "write request: %s", strerror(errno));
			client_fail(c);
			return;
		}
		c->req_off += (uint16_t)n;
	}
	if (c->out_armed) {
		c->out_armed = 0;
		set_events(c, EPOLLIN | EPOLLRDHUP);
	}
	c->state = C_OPEN;
}

static void
client_connected(struct client *c)
{
	n_connected++;
	c->state = C_SENDING;
	client_send(c);
}

/* Returns 0 when started (or failed for good), -1 to retry later. */
static int
client_start(struct client *c)
{
	struct epoll_event ev;
	int fd, rc;

	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		n_connect_err++;
		diag(c, "socket: %s", strerror(errno));
		client_fail(c);
		return 0;
	}
	if (opt.source != NULL) {
		int one = 1;

		/* the port is picked at connect, for the whole 4-tuple */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(fd, (struct sockaddr *)&source, sizeof(source)) < 0) {
			n_connect_err++;
			diag(c, "bind %s: %s", opt.source, strerror(errno));
			close(fd);
			client_fail(c);
			return 0;
		}
	}
	rc = connect(fd, (struct sockaddr *)&sa, sa_len);
	if (rc < 0 && errno != EINPROGRESS) {
		if (errno == EAGAIN) {	/* a unix socket's backlog is full */
			close(fd);
			n_retries++;
			return -1;
		}
		n_connect_err++;
		diag(c, "connect %s: %s", opt.addr, strerror(errno));
		close(fd);
		client_fail(c);
		return 0;
	} else if (rc < 0) {	/* EINPROGRESS */
		c->fd = fd;
		c->state = C_CONNECTING;
		ev.events = EPOLLOUT;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			perror("epoll_ctl ADD");
			exit(2);
		}
		return 0;
	}
	c->fd = fd;
	c->state = C_NEW;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("epoll_ctl ADD");
		exit(2);
	}
	client_connected(c);
	return 0;
}

static void
client_event(struct client *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			n_connect_err++;
			diag(c, "connect %s: %s", opt.addr, strerror(err));
			client_fail(c);
			return;
		}
		set_events(c, EPOLLIN | EPOLLRDHUP);
		client_connected(c);
		return;
	}
	if (c->state == C_SENDING && (events & EPOLLOUT))
		client_send(c);
	if (c->state != C_GONE &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		client_readable(c);
}

/* ---- options and main ---- */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sse-load -a ADDR [-b IP] [-n CLIENTS] [-s STREAM] [-e EXPECT] [-f FIRST]\n"
	    "                [-t SECONDS] [-r RAMP] [-L] [-H] [-S FILE] [-i LAST_EVENT_ID] [-v]\n"
	    "                [-P fcgi|http|ws|sio] [-u TARGET] [-N NAMESPACE] [-I]\n"
	    "                [-O FILE] [-R FILE]\n"
	    "  -a ADDR   unix:/path or 127.0.0.1:PORT\n"
	    "  -b IP     connect from this address (another of 127.0.0.0/8:\n"
	    "            a fresh set of ports, none of them in TIME_WAIT)\n"
	    "  -P PROTO  fcgi (default): FastCGI straight to the app; http: an\n"
	    "            HTTP/1.1 GET, an event stream; ws: a WebSocket, a line a\n"
	    "            message; sio: socket.io 2 \"line\" events (frontail)\n"
	    "  -u TARGET the request target of -P modes (default /)\n"
	    "  -N NS     the socket.io namespace to join, e.g. /abc\n"
	    "  -I        do not check ids (peers whose ids are not offsets)\n"
	    "  -O FILE   with -L, write the latency histogram to FILE, a line\n"
	    "            \"MICROSECONDS COUNT\" a bucket, to merge several runs\n"
	    "  -R FILE   record every accepted event in FILE, a line each:\n"
	    "            \"CLIENT SEQ ID RECEIVED\" (RECEIVED: CLOCK_REALTIME, ns)\n"
	    "  -n N      clients (default 1)\n"
	    "  -s NAME   stream, sent as PATH_INFO=/NAME\n"
	    "  -e N      lines each client must receive (default 1)\n"
	    "  -f SEQ    the first expected SEQ (default 1)\n"
	    "  -t S      overall time limit in seconds (default 60)\n"
	    "  -r R      connects per millisecond (default 5)\n"
	    "  -L        latency: lines are \"TS SEQ ...\", TS the writer's\n"
	    "            CLOCK_REALTIME in ns; prints p50/p99/max in us\n"
	    "  -H        hold: keep every connection open after its last line,\n"
	    "            until SIGUSR1/SIGTERM/SIGINT or the time limit\n"
	    "  -S FILE   write the phase (open, settled) to FILE as it is reached\n"
	    "  -i ID     send Last-Event-ID: ID, as given (OFFSET.TAG or OFFSET)\n"
	    "  -v        print every diagnostic, not just the first %d\n",
	    MAX_DIAG);
	exit(2);
}

static void
parse_addr(const char *a)
{
	memset(&sa, 0, sizeof(sa));
	if (strncmp(a, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&sa;

		if (strlen(a + 5) >= sizeof(un->sun_path)) {
			fprintf(stderr, "sse-load: socket path too long\n");
			exit(2);
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, a + 5);
		sa_len = sizeof(*un);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		const char *colon = strrchr(a, ':');
		char host[64];

		if (colon == NULL || (size_t)(colon - a) >= sizeof(host)) {
			fprintf(stderr, "sse-load: bad address %s\n", a);
			exit(2);
		}
		memcpy(host, a, (size_t)(colon - a));
		host[colon - a] = '\0';
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
			fprintf(stderr, "sse-load: bad address %s\n", a);
			exit(2);
		}
		sa_len = sizeof(*in);
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[MAX_EVENTS];
	struct rlimit rl;
	struct sigaction sact;
	int ch, i, next = 0, *retry = NULL, nretry = 0, ok;
	uint64_t started = 0;
	uint64_t events = 0, missing = 0, dup = 0, resets = 0, badid = 0,
	    extra = 0, bad = 0, heartbeats = 0;
	int complete = 0;
	int64_t deadline, next_ping;
	double elapsed;

	while ((ch = getopt(argc, argv, "a:b:n:s:e:f:t:r:LHS:i:vP:u:N:IO:R:")) != -1) {
		switch (ch) {
		case 'a': opt.addr = optarg; break;
		case 'b': opt.source = optarg; break;
		case 'n': opt.nclients = atoi(optarg); break;
		case 's': opt.stream = optarg; break;
		case 'e': opt.expect = strtoull(optarg, NULL, 10); break;
		case 'f': opt.first = strtoull(optarg, NULL, 10); break;
		case 't': opt.limit_s = atof(optarg); break;
		case 'r': opt.ramp = atof(optarg); break;
		case 'L': opt.latency = 1; break;
		case 'H': opt.hold = 1; break;
		case 'S': opt.status_file = optarg; break;
		case 'i': opt.last_event_id = optarg; break;
		case 'v': opt.verbose = 1; break;
		case 'u': opt.target = optarg; break;
		case 'N': opt.sio_ns = optarg; break;
		case 'I': opt.loose_ids = 1; break;
		case 'O': opt.hist_file = optarg; break;
		case 'R': opt.record_file = optarg; break;
		case 'P':
			if (strcmp(optarg, "fcgi") == 0)
				opt.proto = P_FCGI;
			else if (strcmp(optarg, "http") == 0)
				opt.proto = P_HTTP;
			else if (strcmp(optarg, "ws") == 0)
				opt.proto = P_WS;
			else if (strcmp(optarg, "sio") == 0)
				opt.proto = P_SIO;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (opt.addr == NULL || opt.nclients < 1 || opt.expect < 1 ||
	    opt.ramp <= 0 || opt.limit_s <= 0 || optind != argc)
		usage();
	if ((opt.stream != NULL && strlen(opt.stream) > 200) ||
	    (opt.last_event_id != NULL && strlen(opt.last_event_id) > 200))
		usage();
	if (opt.record_file != NULL &&
	    (records = fopen(opt.record_file, "w")) == NULL) {
		fprintf(stderr, "sse-load: fopen %s: %s\n", opt.record_file,
		    strerror(errno));
		return 2;
	}

	/* one fd a client, plus a few */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    (rlim_t)opt.nclients + 16 > rl.rlim_cur) {
		fprintf(stderr, "sse-load: %d clients need more than the %llu "
		    "open files allowed: run several processes\n",
		    opt.nclients, (unsigned long long)rl.rlim_cur);
		return 2;
	}
	memset(&sact, 0, sizeof(sact));
	sact.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns */
	sigaction(SIGUSR1, &sact, NULL);
	sigaction(SIGTERM, &sact, NULL);
	sigaction(SIGINT, &sact, NULL);
	signal(SIGPIPE, SIG_IGN);

	parse_addr(opt.addr);
	if (opt.source != NULL) {
		if (sa.ss_family != AF_INET ||
		    inet_pton(AF_INET, opt.source, &source.sin_addr) != 1)
			usage();
		source.sin_family = AF_INET;
	}
	if (opt.proto == P_FCGI)
		build_request();
	else
		build_http_request();
	clients = calloc((size_t)opt.nclients, sizeof(*clients));
	retry = calloc((size_t)opt.nclients, sizeof(*retry));
	rbuf = malloc(RBUF);
	if (clients == NULL || retry == NULL || rbuf == NULL) {
		perror("calloc");
		return 2;
	}
	for (i = 0; i < opt.nclients; i++) {
		clients[i].fd = -1;
		clients[i].next_seq = opt.first;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("epoll_create1");
		return 2;
	}
	t_start_ns = mono_ns();
	deadline = t_start_ns + (int64_t)(opt.limit_s * 1e9);
	next_ping = t_start_ns + 20 * (int64_t)1000000000;

	while (!stop_flag) {
		int64_t now = mono_ns();
		int n, timeout;

		if (now >= deadline)
			break;
		if (opt.proto == P_SIO && now >= next_ping) {
			/* Engine.IO 3: the client pings (25 s by default) */
			next_ping = now + 20 * (int64_t)1000000000;
			for (i = 0; i < opt.nclients; i++)
				if (clients[i].state == C_OPEN &&
				    clients[i].headers_done)
					ws_send_text(&clients[i], "2");
		}
		if (settled_reported && !opt.hold)
			break;
		/* the ramp: R connects a millisecond, retries first */
		if (next < opt.nclients || nretry > 0) {
			double allowed = ((double)(now - t_start_ns) / 1e6 + 1) *
			    opt.ramp;

			while (started < (uint64_t)allowed &&
			    (nretry > 0 || next < opt.nclients)) {
				int idx = nretry > 0 ? retry[--nretry] : next++;

				started++;
				if (client_start(&clients[idx]) < 0)
					retry[nretry++] = idx;
				else
					n_started++;
			}
		}
		if (settled_reported && !opt.hold)
			break;
		timeout = (next < opt.nclients || nretry > 0) ? 1 :
		    (int)((deadline - now) / 1000000 + 1);
		if (timeout > 1000)
			timeout = 1000;
		n = epoll_wait(ep, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			return 2;
		}
		for (i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c->state != C_GONE)
				client_event(c, evs[i].events);
		}
	}
	elapsed = (double)(mono_ns() - t_start_ns) / 1e9;

	for (i = 0; i < opt.nclients; i++) {
		struct client *c = &clients[i];

		/* lines never received count as missing */
		if (c->next_seq <= last_seq())
			c->missing += (uint32_t)(last_seq() - c->next_seq + 1);
		events += c->events;
		missing += c->missing;
		dup += c->dup;
		resets += c->resets;
		badid += c->badid;
		extra += c->extra;
		bad += c->bad;
		heartbeats += c->heartbeats;
		if (c->done && !c->failed && c->events == opt.expect &&
		    c->missing == 0 && c->dup == 0 && c->badid == 0 &&
		    c->bad == 0 && c->extra == 0 && c->resets == 0)
			complete++;
		else if (c->state != C_GONE && !c->done && diag_count < MAX_DIAG)
			diag(c, "incomplete: %u of %llu lines, next seq %llu",
			    c->events, (unsigned long long)opt.expect,
			    (unsigned long long)c->next_seq);
		if (c->state != C_GONE)
			client_close(c);
	}
	printf("clients=%d connected=%d opened=%d complete=%d events=%llu "
	    "missing=%llu dup=%llu resets=%llu badid=%llu extra=%llu "
	    "malformed=%llu heartbeats=%llu connect_err=%d http_err=%d "
	    "proto_err=%d closed_early=%d dropped=%d retries=%llu "
	    "open_ms=%.2f settle_ms=%.2f elapsed_s=%.1f\n",
	    opt.nclients, n_connected, n_opened, complete,
	    (unsigned long long)events, (unsigned long long)missing,
	    (unsigned long long)dup, (unsigned long long)resets,
	    (unsigned long long)badid, (unsigned long long)extra,
	    (unsigned long long)bad, (unsigned long long)heartbeats,
	    n_connect_err, n_http_err, n_proto_err, n_closed_early, n_dropped,
	    (unsigned long long)n_retries,
	    t_all_open_ns < 0 ? -1.0 : (double)(t_all_open_ns - t_start_ns) / 1e6,
	    t_all_done_ns < 0 ? -1.0 : (double)(t_all_done_ns - t_start_ns) / 1e6,
	    elapsed);
	if (opt.latency)
		printf("latency_us n=%llu p50=%llu p99=%llu p999=%llu max=%llu "
		    "negative=%llu\n", (unsigned long long)lat_n,
		    (unsigned long long)(lat_n ? hist_pct(50) : 0),
		    (unsigned long long)(lat_n ? hist_pct(99) : 0),
		    (unsigned long long)(lat_n ? hist_pct(99.9) : 0),
		    (unsigned long long)lat_max, (unsigned long long)lat_neg);
	fflush(stdout);
	if (opt.latency && opt.hist_file != NULL)
		write_hist(opt.hist_file);
	ok = complete == opt.nclients && events == opt.expect *
	    (uint64_t)opt.nclients && missing == 0 && dup == 0;
	if (records != NULL) {
		/* fclose reports only its own flush: an earlier failed write
		 * shows in ferror */
		int failed = ferror(records);

		if (fclose(records) != 0 || failed) {
			fprintf(stderr, "sse-load: writing %s: %s\n",
			    opt.record_file, strerror(errno));
			ok = 0;
		}
	}
	free(retry);
	free(clients);
	free(rbuf);
	return ok ? 0 : 1;
}
