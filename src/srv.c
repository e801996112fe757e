/* srv.c - the event loop: one thread that owns every client, follower and
 * pipe of the process and writes every response.
 *
 * Why one thread: a stream costs a small struct here (no stack, no libfcgi
 * buffers), so thousands fit in a few MiB, and an idle stream costs nothing
 * until its follower or its heartbeat wakes it. Files are read with pread at
 * each client's own offset (the page cache is shared); a named pipe is read
 * once and framed once into a ring that its clients copy from. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "follow.h"
#include "front.h"
#include "log.h"
#include "page.h"
#include "pipe.h"
#include "srv.h"
#include "sse.h"

#define BATCH		65536	/* bytes one client is given per turn */
#define IN_CHUNK	65536	/* bytes read from a file at once */
#define REQ_CHUNK	16384	/* bytes read from a web server at once */
#define STOP_GRACE_MS	700	/* SIGTERM: time to flush, within the 1 s */
#define LINGER_MS	2000	/* a finished connection waits for EOF */
#define MAX_EVENTS	256
#define WIRE_IOV	256
#define READING_MAX	512	/* connections whose request is not in yet */
#define REQUEST_MS	5000	/* for a request to arrive in full */
#define ACCEPT_BATCH	64	/* connections accepted per turn */
#define ACCEPT_BACKOFF_MS 100	/* after EMFILE and the like */
#define SNDBUF_BYTES	32768	/* a stream's socket send buffer (the
				 * kernel doubles it): files are re-read
				 * with pread, so a big one buys nothing */
#define DRAIN_READS	4	/* reads of a connection's input per turn */
#define NOTICE_MS	1000	/* a peer's protocol errors: a line a second */

enum kind { K_CLIENT, K_SIGNAL, K_LISTEN, K_INOTIFY, K_PIPE };

/* What an epoll event points at: the first member of each watched object. */
struct source {
	enum kind kind;
};

struct stream;

struct client {
	struct source src;		/* K_CLIENT */
	struct client *hb_prev, *hb_next;	/* stream's, oldest write first;
						 * or the linger list */
	struct client *rq_prev, *rq_next;	/* the run queue */
	struct client *all_prev, *all_next;	/* every client of the loop */
	TAILQ_ENTRY(client) rd_link;	/* the reading list, oldest first */
	struct stream *st;		/* NULL for a one-shot answer */
	int fd_in;			/* watched for hang-up; -1 for none */
	int fd_out;
	uint16_t request_id;
	unsigned fcgi:1;		/* frame output as FastCGI records */
	unsigned queued:1;		/* on the run queue */
	unsigned ending:1;		/* close once pend is written */
	unsigned want_out:1;		/* EPOLLOUT armed */
	unsigned pollable:1;		/* fd_out is in epoll */
	unsigned lingering:1;		/* done; on the linger list */
	unsigned reading:1;		/* waiting for a request: reading list */
	unsigned gone:1;		/* close at its next turn */
	int64_t deadline;		/* reading: ms by which the request
					 * must be in */
	struct fcgi_reader rd;		/* FastCGI: the request reader */
	int64_t last_write;		/* ms: when output was last sent;
					 * lingering: when it began */
	char *pend;			/* output the socket has not taken */
	size_t pend_len, pend_off;
	const char *reset;		/* reason of a reset to send first */
	/* file streams */
	struct follow_gen *gen;		/* NULL: waiting for the file */
	off_t off;			/* where the next line starts */
	off_t scan;			/* bytes past off known to hold no '\n' */
	unsigned epoch;			/* gen->epoch when off was set */
	/* pipe streams */
	uint64_t seq;			/* the next event in the ring */
};

struct stream {
	struct source src;		/* K_PIPE */
	const struct cfg_stream *cfg;
	int active;			/* followed: it has or had clients */
	int dirty;			/* an inotify event concerns it */
	int is_pipe;
	struct follow follow;
	struct pipe_src pipe;
	struct client *hb_head, *hb_tail;
	size_t nclients;
};

struct srv {
	const char *config_path;	/* re-read at SIGHUP */
	struct cfg cfg_owned;
	const struct cfg *cfg;		/* &cfg_owned */
	int ep;
	struct source sig_src, listen_src, inotify_src;
	int sig_fd;
	int listen_fd;			/* FastCGI: -1 in CGI mode */
	int listening;			/* listen_fd is in epoll */
	int64_t accept_resume;		/* ms: listen again (EMFILE); -1 */
	TAILQ_HEAD(, client) reading;	/* requests still being read */
	size_t nreading;
	struct front_addrs peers;	/* FCGI_WEB_SERVER_ADDRS */
	int64_t notice_at;		/* protocol errors: last logged */
	unsigned notices_dropped;	/* not logged since */
	struct follow_watch watch;
	struct stream **streams;	/* one a configured stream, in order */
	size_t nclients;		/* open streams: max-clients */
	size_t nconns;			/* every client */
	struct client *all;		/* every client, to free them at exit */
	struct stream linger;		/* finished clients waiting for EOF */
	struct client *rq_head, *rq_tail;
	size_t rq_len;
	char *out;			/* one turn's framed output */
	size_t out_cap;
	char *in;			/* IN_CHUNK bytes read from a file */
	unsigned char *req_in;		/* REQ_CHUNK bytes read from a web server */
	char *line;			/* the start of a long line */
	size_t line_cap;
	int stopping;			/* SIGTERM seen */
	int64_t stop_deadline;
	int64_t next_poll;		/* -1: nothing is polled */
	int done;			/* once: the request is over */
};

struct wire {
	struct iovec v[WIRE_IOV];
	unsigned char hdr[WIRE_IOV / 2][FCGI_HEADER_LEN];	/* STDOUT */
	int n, nh;
};

static void client_close(struct srv *s, struct client *c);
static void client_linger(struct srv *s, struct client *c);
static void request_reset(struct srv *s, struct client *c);
static void reading_stop(struct srv *s, struct client *c);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- run queue and heartbeat order ---- */

static void
enqueue(struct srv *s, struct client *c)
{
	if (c->queued)
		return;
	c->queued = 1;
	c->rq_next = NULL;
	c->rq_prev = s->rq_tail;
	if (s->rq_tail)
		s->rq_tail->rq_next = c;
	else
		s->rq_head = c;
	s->rq_tail = c;
	s->rq_len++;
}

static void
dequeue(struct srv *s, struct client *c)
{
	if (!c->queued)
		return;
	if (c->rq_prev)
		c->rq_prev->rq_next = c->rq_next;
	else
		s->rq_head = c->rq_next;
	if (c->rq_next)
		c->rq_next->rq_prev = c->rq_prev;
	else
		s->rq_tail = c->rq_prev;
	c->queued = 0;
	s->rq_len--;
}

static void
hb_unlink(struct stream *st, struct client *c)
{
	if (c->hb_prev)
		c->hb_prev->hb_next = c->hb_next;
	else
		st->hb_head = c->hb_next;
	if (c->hb_next)
		c->hb_next->hb_prev = c->hb_prev;
	else
		st->hb_tail = c->hb_prev;
	c->hb_prev = c->hb_next = NULL;
}

static void
hb_append(struct stream *st, struct client *c)
{
	c->hb_next = NULL;
	c->hb_prev = st->hb_tail;
	if (st->hb_tail)
		st->hb_tail->hb_next = c;
	else
		st->hb_head = c;
	st->hb_tail = c;
}

/* Output is going out: the heartbeat can wait. */
static void
touch(struct client *c, int64_t now)
{
	c->last_write = now;
	if (c->st != NULL && c->st->hb_tail != c) {
		hb_unlink(c->st, c);
		hb_append(c->st, c);
	}
}

/* ---- output ---- */

static void
want_out(struct srv *s, struct client *c, int on)
{
	struct epoll_event ev;

	if (!c->pollable || c->want_out == (unsigned)on)
		return;
	c->want_out = on;
	ev.data.ptr = c;
	/* While the web server has not taken what was written, its input
	 * waits too: a peer that sends without reading cannot make answers
	 * pile up here. A gone peer still shows as EPOLLOUT or EPOLLERR. */
	ev.events = on ? EPOLLOUT : c->fd_in >= 0 ? EPOLLIN | EPOLLRDHUP : 0;
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd_out, &ev) < 0) {
		log_msg("epoll_ctl MOD: %s", strerror(errno));
		c->gone = 1;		/* it would stall: close it */
		enqueue(s, c);
	}
}

static int
pending(const struct client *c)
{
	return c->pend_off < c->pend_len;
}

/* Keeps bytes the socket did not take. -1 on ENOMEM. */
static int
keep(struct client *c, const char *p, size_t len)
{
	char *grown;

	if (c->pend_off > 0) {
		memmove(c->pend, c->pend + c->pend_off, c->pend_len - c->pend_off);
		c->pend_len -= c->pend_off;
		c->pend_off = 0;
	}
	if ((grown = realloc(c->pend, c->pend_len + len)) == NULL)
		return -1;
	c->pend = grown;
	memcpy(c->pend + c->pend_len, p, len);
	c->pend_len += len;
	return 0;
}

/* Writes the spans gathered in w; what the socket does not take is kept in
 * pend, and EPOLLOUT says when to go on. Returns -1 when the client is
 * gone. */
static int
wire_flush(struct srv *s, struct client *c, struct wire *w)
{
	ssize_t n = 0;
	int i;

	if (w->n == 0)
		return 0;
	if (!pending(c)) {
		do
			n = writev(c->fd_out, w->v, w->n);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n < 0)
			n = 0;
	}
	for (i = 0; i < w->n; i++) {
		size_t len = w->v[i].iov_len;
		const char *base = w->v[i].iov_base;

		if ((size_t)n >= len) {
			n -= (ssize_t)len;
			continue;
		}
		if (keep(c, base + n, len - (size_t)n) < 0)
			return -1;
		n = 0;
	}
	w->n = w->nh = 0;
	if (pending(c))
		want_out(s, c, 1);
	return 0;
}

/* Sends content (raw: bytes that are already FastCGI records). Returns 0,
 * or -1 when the client is gone. */
static int
client_write(struct srv *s, struct client *c, const struct iovec *iov, int n,
    int raw)
{
	struct wire w;
	int i;

	w.n = w.nh = 0;
	touch(c, now_ms());
	for (i = 0; i < n; i++) {
		const char *base = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		while (len > 0) {
			size_t chunk = len;

			if (w.n + 2 > WIRE_IOV && wire_flush(s, c, &w) < 0)
				return -1;
			if (c->fcgi && !raw) {
				if (chunk > FCGI_MAX_LENGTH)
					chunk = FCGI_MAX_LENGTH;
				fcgi_header(w.hdr[w.nh], FCGI_STDOUT,
				    c->request_id, chunk);
				w.v[w.n].iov_base = w.hdr[w.nh++];
				w.v[w.n++].iov_len = FCGI_HEADER_LEN;
			}
			w.v[w.n].iov_base = (void *)base;
			w.v[w.n++].iov_len = chunk;
			base += chunk;
			len -= chunk;
		}
	}
	return wire_flush(s, c, &w);
}

static int
client_write1(struct srv *s, struct client *c, const char *p, size_t len)
{
	struct iovec v;

	v.iov_base = (void *)p;
	v.iov_len = len;
	return client_write(s, c, &v, 1, 0);
}

/* Writes what is pending. Returns -1 when the client is gone. */
static int
flush_pend(struct srv *s, struct client *c)
{
	while (pending(c)) {
		ssize_t n = write(c->fd_out, c->pend + c->pend_off,
		    c->pend_len - c->pend_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		c->pend_off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = 0;
	want_out(s, c, 0);
	return 0;
}

/* Ends the response (END_REQUEST for FastCGI); the client is closed once
 * that is written. */
static void
client_end(struct srv *s, struct client *c)
{
	if (c->ending || c->gone)
		return;
	c->ending = 1;
	if (c->fcgi) {
		unsigned char end[FCGI_END_LEN];
		struct iovec v;

		v.iov_base = end;
		v.iov_len = fcgi_end_request(end, c->request_id);
		if (client_write(s, c, &v, 1, 1) < 0)
			c->gone = 1;
		else if (c->rd.keep_conn && !s->stopping) {
			request_reset(s, c);
			return;
		}
	}
	enqueue(s, c);
}

/* A whole answer that is not a stream: headers (with req's CORS ones),
 * body, end. */
static void
answer(struct srv *s, struct client *c, const struct req *req, int status,
    const char *type, const char *extra, const char *body)
{
	char headers[FRONT_HEADERS_MAX], access[FRONT_ACCESS_MAX];
	struct iovec v[2];

	v[0].iov_base = headers;
	v[0].iov_len = front_headers(headers, status, type,
	    front_access_headers(access, req, extra));
	v[1].iov_base = (void *)body;
	v[1].iov_len = req->head || body == NULL ? 0 : strlen(body);
	if (client_write(s, c, v, 2, 0) < 0)
		c->gone = 1;
	client_end(s, c);
}

/* A short text/plain error; a 503 says when to come back: the stream's
 * retry, rounded up to seconds. */
static void
answer_error(struct srv *s, struct client *c, const struct req *req,
    int status, const char *message)
{
	const struct cfg_stream *st = req->stream >= 0 ?
	    &s->cfg->streams[req->stream] : &s->cfg->defaults;
	char body[256], extra[64] = "";

	if (status == 405)
		snprintf(extra, sizeof(extra), "Allow: GET, HEAD\r\n");
	if (status == 503) {
		int retry = (st->retry + 999) / 1000;
		snprintf(extra, sizeof(extra), "Retry-After: %d\r\n",
		    retry > 0 ? retry : 1);
	}
	snprintf(body, sizeof(body), "%s\n", message);
	answer(s, c, req, status, "text/plain; charset=utf-8", extra, body);
}

/* ---- streams ---- */

static void
wake_stream(struct srv *s, struct stream *st)
{
	struct client *c;

	for (c = st->hb_head; c != NULL; c = c->hb_next)
		if (!pending(c) && !c->ending)
			enqueue(s, c);
}

static void
schedule_poll(struct srv *s)
{
	if (s->next_poll < 0)
		s->next_poll = now_ms() + FOLLOW_POLL_MS;
}

/* Opens a stream's file or pipe for its first client. -1: answer 503. */
static int
stream_activate(struct srv *s, struct stream *st)
{
	const struct cfg_stream *cfg = st->cfg;
	struct epoll_event ev;
	struct stat sb;

	if (stat(cfg->path, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
		if (pipe_open(&st->pipe, cfg) < 0) {
			if (errno == EWOULDBLOCK)
				log_msg("stream %s: %s is read by another "
				    "process (flock): serve pipe streams from "
				    "one process", cfg->name, cfg->path);
			else
				log_msg("stream %s: open %s: %s", cfg->name,
				    cfg->path, strerror(errno));
			return -1;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = &st->src;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, st->pipe.fd, &ev) < 0) {
			log_msg("stream %s: epoll_ctl %s: %s", cfg->name,
			    cfg->path, strerror(errno));
			pipe_close(&st->pipe);
			return -1;
		}
		st->is_pipe = 1;
	} else {
		if (follow_start(&st->follow, &s->watch, cfg->name,
		    cfg->path) < 0) {
			log_msg("stream %s: open %s: %s", cfg->name, cfg->path,
			    errno == EINVAL ? "not a regular file or named pipe"
			    : strerror(errno));
			return -1;
		}
		st->is_pipe = 0;
		if (follow_needs_poll(&st->follow))
			schedule_poll(s);
	}
	st->active = 1;
	return 0;
}

/* A file stream whose last client left stops following; a pipe stays open
 * for the life of the process, so that its ids keep rising. */
static void
stream_release(struct srv *s, struct stream *st)
{
	if (st->nclients > 0 || st->is_pipe || !st->active)
		return;
	follow_stop(&st->follow, &s->watch);
	st->active = 0;
}

static void
pipe_readable(struct srv *s, struct stream *st)
{
	int reopened, rc;

	rc = pipe_read(&st->pipe, s->in, IN_CHUNK, &reopened);
	if (reopened && st->pipe.fd >= 0) {
		struct epoll_event ev;

		ev.events = EPOLLIN;
		ev.data.ptr = &st->src;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, st->pipe.fd, &ev) < 0)
			log_msg("stream %s: epoll_ctl %s: %s", st->cfg->name,
			    st->cfg->path, strerror(errno));
	}
	if (rc > 0 || reopened)
		wake_stream(s, st);
}

/* ---- producing a client's events ---- */

static void
put_gen(struct srv *s, struct client *c)
{
	if (c->gen != NULL)
		follow_gen_put(&c->st->follow, &s->watch, c->gen);
	c->gen = NULL;
}

static void
set_gen(struct client *c, struct follow_gen *g)
{
	follow_gen_get(g);
	c->gen = g;
	c->off = c->scan = 0;
	c->epoch = g->epoch;
}

/* Frames the line [c->off, c->off + total) into s->out at *len, reading
 * its start again when it did not fit in one chunk; id is its end. */
static int
frame_from_file(struct srv *s, struct client *c, uint64_t total, off_t id,
    size_t *len)
{
	const struct cfg_stream *cfg = c->st->cfg;
	size_t need = sse_need(total, cfg->max_line);

	if (pread(c->gen->fd, s->line, need, c->off) != (ssize_t)need) {
		log_msg("stream %s: pread %s: %s", cfg->name, cfg->path,
		    strerror(errno));
		return -1;
	}
	*len += sse_event(s->out + *len, cfg->event, (uint64_t)id, s->line,
	    total, cfg->max_line);
	return 0;
}

/* Frames lines of a file stream into s->out from c's offset on. Returns 1
 * when there may be more, 0 when the client is at the end of the file, -1
 * on a read error. */
static int
produce_file(struct srv *s, struct client *c, size_t *len)
{
	struct stream *st = c->st;
	const struct cfg_stream *cfg = st->cfg;
	struct follow *f = &st->follow;

	for (;;) {
		off_t pos;
		ssize_t n;
		char *p, *end, *nl;

		if (c->gen == NULL) {
			if (f->cur == NULL)
				return 0;
			set_gen(c, f->cur);
		}
		if (c->epoch != c->gen->epoch) {
			c->epoch = c->gen->epoch;
			if (c->off > 0 || c->scan > 0)
				c->reset = "truncated";
			c->off = c->scan = 0;
		}
		if (c->reset != NULL) {
			*len += sse_reset(s->out + *len, c->reset);
			c->reset = NULL;
		}
		if (*len >= BATCH)
			return 1;
		pos = c->off + c->scan;
		if ((n = pread(c->gen->fd, s->in, IN_CHUNK, pos)) < 0) {
			log_msg("stream %s: pread %s: %s", cfg->name, cfg->path,
			    strerror(errno));
			return -1;
		}
		if (n == 0) {
			struct follow_gen *succ = c->gen->succ;

			if (succ == NULL)
				return 0;
			/* Rotated: this file is read to its end; its last
			 * line needs no newline now. Then the next file. */
			if (c->scan > 0) {
				uint64_t total = (uint64_t)c->scan;

				if (*len + sse_event_bound(cfg->event, total,
				    cfg->max_line) > s->out_cap)
					return 1;
				if (frame_from_file(s, c, total, c->off + c->scan,
				    len) < 0)
					return -1;
			}
			follow_gen_get(succ);
			put_gen(s, c);
			set_gen(c, succ);
			follow_gen_put(f, &s->watch, succ);
			c->reset = "rotated";
			continue;
		}
		p = s->in;
		end = s->in + n;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			off_t nl_at = pos + (nl - s->in);
			uint64_t total = (uint64_t)(nl_at - c->off);
			int started_before = p == s->in && c->scan > 0;
			char last;

			if (total > 0) {
				if (nl > s->in)
					last = nl[-1];
				else if (pread(c->gen->fd, &last, 1, nl_at - 1) != 1)
					last = 0;
				if (last == '\r')
					total--;
			}
			if (*len + sse_event_bound(cfg->event, total,
			    cfg->max_line) > s->out_cap) {
				c->scan = nl_at - c->off;
				return 1;
			}
			if (started_before) {
				if (frame_from_file(s, c, total, nl_at + 1, len) < 0)
					return -1;
			} else
				*len += sse_event(s->out + *len, cfg->event,
				    (uint64_t)nl_at + 1, p, total, cfg->max_line);
			c->off = nl_at + 1;
			c->scan = 0;
			p = nl + 1;
			if (*len >= BATCH)
				return 1;
		}
		c->scan = pos + n - c->off;
	}
}

/* One turn of a stream client: at most BATCH bytes. Returns 1 when there
 * is more to send, 0 when idle, -1 when the client must go. */
static int
run_stream(struct srv *s, struct client *c)
{
	struct stream *st = c->st;
	size_t len = 0;
	int rc;

	if (st->is_pipe) {
		struct ring *r = &st->pipe.ring;
		struct iovec v[3];
		uint64_t after;
		int n = 0;

		if (c->seq < r->first) {
			c->reset = "gap";	/* fell behind the buffer */
			c->seq = r->first;
		}
		if (c->reset != NULL) {
			v[0].iov_base = s->out;
			v[0].iov_len = sse_reset(s->out, c->reset);
			c->reset = NULL;
			n = 1;
		}
		n += ring_read(r, c->seq, BATCH, v + n, &after);
		c->seq = after;
		if (n > 0 && client_write(s, c, v, n, 0) < 0)
			return -1;
		return c->seq < r->next;
	}
	rc = produce_file(s, c, &len);
	if (len > 0 && client_write1(s, c, s->out, len) < 0)
		return -1;
	return rc;
}

static void
client_run(struct srv *s, struct client *c)
{
	int rc;

	if (c->gone) {
		client_close(s, c);
		return;
	}
	if (c->reading || pending(c))
		return;		/* input, or EPOLLOUT, brings it back */
	if (c->ending || c->st == NULL) {
		client_linger(s, c);
		return;
	}
	if ((rc = run_stream(s, c)) < 0) {
		client_close(s, c);
		return;
	}
	if (rc > 0 && !pending(c))
		enqueue(s, c);
}

/* ---- clients coming and going ---- */

/* Takes c off the run queue and out of its stream or the linger list. */
static void
client_detach(struct srv *s, struct client *c)
{
	dequeue(s, c);
	if (c->lingering) {
		hb_unlink(&s->linger, c);
		c->lingering = 0;
	} else if (c->st != NULL) {
		struct stream *st = c->st;

		put_gen(s, c);
		hb_unlink(st, c);
		st->nclients--;
		s->nclients--;
		c->st = NULL;
		stream_release(s, st);
	}
}

/* The response is all written. mod_proxy_fcgi sends the empty STDIN record
 * after the parameters, and when that write meets a closed socket it
 * throws the whole response away and answers 503 itself: so stop writing,
 * and close when the web server does, or after LINGER_MS. */
static void
client_linger(struct srv *s, struct client *c)
{
	client_detach(s, c);
	if (c->fd_in < 0 || shutdown(c->fd_in, SHUT_WR) < 0) {
		client_close(s, c);
		return;
	}
	c->lingering = 1;
	c->last_write = now_ms();
	hb_append(&s->linger, c);
}

static void
client_close(struct srv *s, struct client *c)
{
	int i;

	client_detach(s, c);
	reading_stop(s, c);
	fcgi_reader_free(&c->rd);
	if (c->fd_in >= 0) {
		/* Read what is left, so that close sends FIN, not RST, and
		 * the web server gets the whole response; a peer that keeps
		 * sending gets its RST. */
		for (i = 0; i < DRAIN_READS; i++)
			if (read(c->fd_in, s->req_in, REQ_CHUNK) <= 0)
				break;
		close(c->fd_in);
	} else if (c->pollable)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd_out, NULL);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		s->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	free(c->pend);
	free(c);
	s->nconns--;
	s->done = 1;
}

/* Sets where a new client of a file stream starts. */
static void
position_file(struct client *c, const struct req *req)
{
	struct follow_gen *g = follow_newest(&c->st->follow);
	off_t off;

	if (g == NULL) {
		if (req->last_id > 0)
			c->reset = "gap";
		return;
	}
	set_gen(c, g);
	if (req->last_id >= 0) {
		if (follow_resume_ok(g, req->last_id))
			c->off = req->last_id;
		else
			c->reset = "gap";
		return;
	}
	off = follow_backlog_start(g, req->lines >= 0 ? req->lines :
	    c->st->cfg->backlog);
	if (off < 0) {
		log_msg("stream %s: pread %s: %s", c->st->cfg->name,
		    c->st->cfg->path, strerror(errno));
		off = 0;
	}
	c->off = off;
}

/* Sets where a new client of a pipe stream starts. */
static void
position_pipe(struct client *c, const struct req *req)
{
	struct ring *r = &c->st->pipe.ring;
	uint64_t lines;

	if (req->last_id > 0) {
		if ((c->seq = ring_find(r, (uint64_t)req->last_id)) == RING_NONE) {
			c->reset = "gap";
			c->seq = r->first;
		}
	} else if (req->last_id == 0)
		c->seq = r->first;	/* everything the buffer holds */
	else {
		lines = (uint64_t)(req->lines >= 0 ? req->lines :
		    c->st->cfg->backlog);
		c->seq = r->next - r->first < lines ? r->first : r->next - lines;
	}
}

static void
start_stream(struct srv *s, struct client *c, const struct req *req)
{
	struct stream *st = s->streams[req->stream];
	char start[FRONT_HEADERS_MAX + 64], access[FRONT_ACCESS_MAX];
	size_t len;

	if (req->head) {
		answer(s, c, req, 200, "text/event-stream", NULL, NULL);
		return;
	}
	if (s->nclients >= (size_t)s->cfg->defaults.max_clients ||
	    st->nclients >= (size_t)st->cfg->max_clients) {
		answer_error(s, c, req, 503, "too many clients, try again later");
		return;
	}
	/* A file that exists but cannot be opened is a 503, unless an older
	 * one is still open: then that one is served meanwhile. */
	if ((!st->active && stream_activate(s, st) < 0) || (!st->is_pipe &&
	    follow_newest(&st->follow) == NULL && st->follow.error != 0 &&
	    st->follow.error != ENOENT)) {
		answer_error(s, c, req, 503, "stream unavailable, see the server log");
		return;
	}
	c->st = st;
	st->nclients++;
	s->nclients++;
	hb_append(st, c);
	if (st->is_pipe)
		position_pipe(c, req);
	else
		position_file(c, req);
	/* The body starts at once, so that the client's open event fires. */
	len = front_headers(start, 200, "text/event-stream",
	    front_access_headers(access, req, NULL));
	len += (size_t)sprintf(start + len, "retry: %d\n: sse-tail\n\n",
	    st->cfg->retry);
	if (client_write1(s, c, start, len) < 0)
		c->gone = 1;
	enqueue(s, c);
}

/* Makes the client of a web server connection (FastCGI: fd_in is
 * fd_out) or of CGI's stdout (fd_in -1). NULL when that fails: fd_in is
 * then closed. */
static struct client *
client_new(struct srv *s, int fd_in, int fd_out, int fcgi)
{
	struct epoll_event ev;
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_msg("calloc: %s", strerror(errno));
		if (fd_in >= 0)
			close(fd_in);
		s->done = 1;
		return NULL;
	}
	c->src.kind = K_CLIENT;
	c->fd_in = fd_in;
	c->fd_out = fd_out;
	c->fcgi = fcgi;
	c->all_next = s->all;
	if (s->all)
		s->all->all_prev = c;
	s->all = c;
	s->nconns++;
	fcgi_reader_init(&c->rd, (unsigned)s->cfg->defaults.max_clients,
	    (unsigned)s->cfg->defaults.max_clients);
	fcntl(c->fd_out, F_SETFL, fcntl(c->fd_out, F_GETFL) | O_NONBLOCK);
	ev.data.ptr = c;
	/* CGI: stdout alone, for EPOLLERR/EPOLLHUP (no RDHUP: the server
	 * may shut down its own writing half and still read). */
	ev.events = c->fd_in >= 0 ? EPOLLIN | EPOLLRDHUP : 0;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd_out, &ev) == 0)
		c->pollable = 1;
	else if (errno != EPERM) {	/* EPERM: a regular file, always ready */
		log_msg("epoll_ctl ADD: %s", strerror(errno));
		client_close(s, c);
		return NULL;
	}
	return c;
}

/* Answers a decided request on c. */
static void
request_start(struct srv *s, struct client *c, const struct req *req)
{
	char *body = NULL;

	if (s->stopping) {
		answer_error(s, c, req, 503, "shutting down");
		return;
	}
	switch (req->kind) {
	case REQ_ERROR:
		answer_error(s, c, req, req->status, req->message);
		return;
	case REQ_INDEX_JSON:
		body = page_index_json(s->cfg, req);
		answer(s, c, req, 200, "application/json", NULL, body);
		break;
	case REQ_INDEX_HTML:
		body = page_index_html(s->cfg, req);
		answer(s, c, req, 200, "text/html; charset=utf-8", NULL, body);
		break;
	case REQ_VIEWER:
		body = page_viewer(&s->cfg->streams[req->stream]);
		answer(s, c, req, 200, "text/html; charset=utf-8", NULL, body);
		break;
	case REQ_PREFLIGHT:
		answer(s, c, req, 204, NULL, NULL, NULL);
		break;
	case REQ_STREAM:
		start_stream(s, c, req);
		break;
	}
	free(body);
}

/* ---- reading FastCGI requests ---- */

/* A peer's protocol errors are logged, but at most a line a second: a
 * hostile local user must not fill the error log. */
static void __attribute__((format(printf, 2, 3)))
notice(struct srv *s, const char *fmt, ...)
{
	int64_t now = now_ms();
	char what[256];
	va_list ap;

	if (s->notice_at != 0 && now - s->notice_at < NOTICE_MS) {
		s->notices_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s->notices_dropped > 0)
		log_msg("%s (and %u more such since the last)", what,
		    s->notices_dropped);
	else
		log_msg("%s", what);
	s->notice_at = now;
	s->notices_dropped = 0;
}

/* Watches the listening socket, or stops. EPOLLEXCLUSIVE: processes that
 * share it (spawn-fcgi -F, lighttpd's max-procs) are woken one at a
 * time. */
static void
listen_set(struct srv *s, int on)
{
	struct epoll_event ev;

	if (s->listen_fd < 0 || s->listening == on)
		return;
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = &s->listen_src;
	if (epoll_ctl(s->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->listen_fd,
	    &ev) < 0) {
		log_msg("epoll_ctl listening socket: %s", strerror(errno));
		return;
	}
	s->listening = on;
}

/* c waits for a request: it must be in within REQUEST_MS. */
static void
reading_start(struct srv *s, struct client *c)
{
	c->reading = 1;
	c->deadline = now_ms() + REQUEST_MS;
	TAILQ_INSERT_TAIL(&s->reading, c, rd_link);
	s->nreading++;
}

static void
reading_stop(struct srv *s, struct client *c)
{
	if (!c->reading)
		return;
	TAILQ_REMOVE(&s->reading, c, rd_link);
	c->reading = 0;
	s->nreading--;
}

/* A kept connection (FCGI_KEEP_CONN) whose response has ended waits for
 * the web server's next request. */
static void
request_reset(struct srv *s, struct client *c)
{
	client_detach(s, c);
	c->ending = 0;
	c->reset = NULL;
	c->off = c->scan = 0;
	c->seq = 0;
	fcgi_request_done(&c->rd);
	reading_start(s, c);
}

/* The request's parameters are in: decide it and answer. */
static void
request_in(struct srv *s, struct client *c)
{
	struct req req;

	reading_stop(s, c);
	c->request_id = c->rd.request_id;
	front_fcgi_request(s->cfg, &c->rd, &req);
	fcgi_reader_free(&c->rd);	/* the decision keeps nothing of it */
	request_start(s, c, &req);
}

/* FCGI_ABORT_REQUEST: the web server gave up on the request. */
static void
request_abort(struct srv *s, struct client *c)
{
	if (c->reading) {	/* before its parameters were in */
		reading_stop(s, c);
		c->request_id = c->rd.request_id;
	}
	client_end(s, c);
}

/* Feeds what the web server sent to c's reader and acts on each event.
 * Returns -1 when the connection must be closed. */
static int
conn_feed(struct srv *s, struct client *c, const unsigned char *p, size_t n)
{
	/* Once END_REQUEST is on its way (and the connection is not kept),
	 * nothing more of the peer's counts: not an aborted request's late
	 * PARAMS. */
	while (n > 0 && !c->gone && !c->ending) {
		enum fcgi_event ev;
		size_t used = fcgi_read(&c->rd, p, n, &ev);
		unsigned char reply[FCGI_REPLY_MAX];
		struct iovec v;

		p += used;
		n -= used;
		switch (ev) {
		case FCGI_EV_NONE:
			break;
		case FCGI_EV_REQUEST:
			request_in(s, c);
			break;
		case FCGI_EV_ABORT:
			request_abort(s, c);
			break;
		case FCGI_EV_REPLY:
			v.iov_base = reply;
			v.iov_len = fcgi_reply(&c->rd, reply);
			if (client_write(s, c, &v, 1, 1) < 0)
				c->gone = 1;
			break;
		case FCGI_EV_ERROR:
			notice(s, "FastCGI connection closed: %s", c->rd.error);
			return -1;
		}
	}
	return c->gone ? -1 : 0;
}

/* Reads what the web server sent, DRAIN_READS reads at most a turn so that
 * one peer cannot hold the loop. Until the response is over it goes
 * through the reader; then it is only drained. EOF means the web server
 * closed the connection: its client went away. Returns -1 when the
 * connection must be closed. */
static int
client_input(struct srv *s, struct client *c)
{
	int i;

	for (i = 0; i < DRAIN_READS; i++) {
		ssize_t n = read(c->fd_in, s->req_in, REQ_CHUNK);

		if (n > 0) {
			if (!c->lingering && conn_feed(s, c, s->req_in,
			    (size_t)n) < 0)
				return -1;
			if (pending(c))
				break;	/* want_out paused the input */
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (errno == EAGAIN)
			break;
	}
	return 0;
}

/* The listening socket is readable: takes what connections there are,
 * ACCEPT_BATCH at most a turn; at most READING_MAX are being read at
 * once, the oldest making room for the newest. */
static void
accept_ready(struct srv *s)
{
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		int fd, size = SNDBUF_BYTES, one = 1;
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		struct client *c;

		if (s->nreading >= READING_MAX) {
			/* Full of requests not in yet: a web server's arrive in
			 * full within a turn, so the oldest is a silent peer's.
			 * Make room rather than stop accepting. */
			notice(s, "FastCGI connection closed: %d requests being "
			    "read, this one the oldest", READING_MAX);
			client_close(s, TAILQ_FIRST(&s->reading));
		}
		fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &peer_len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and the like: wait, and keep serving. */
			notice(s, "accept: %s", strerror(errno));
			listen_set(s, 0);
			s->accept_resume = now_ms() + ACCEPT_BACKOFF_MS;
			return;
		}
		if (!front_addr_allowed(&s->peers, &peer)) {
			notice(s, "FastCGI connection refused: its address is "
			    "not in FCGI_WEB_SERVER_ADDRS");
			close(fd);
			continue;
		}
		/* Kernel memory per stream stays small whoever does not
		 * read: a file is re-read with pread, a pipe's ring holds
		 * what a slow client has not taken. */
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
			log_msg("setsockopt SO_SNDBUF: %s", strerror(errno));
		/* Each write is whole events: Nagle would only hold them. */
		if (peer.ss_family != AF_UNIX && setsockopt(fd, IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one)) < 0)
			log_msg("setsockopt TCP_NODELAY: %s", strerror(errno));
		if ((c = client_new(s, fd, fd, 1)) != NULL)
			reading_start(s, c);
	}
}

/* Closes the connections whose request did not arrive in time; returns
 * ms until the next deadline, or -1. A kept connection that is idle
 * between requests goes quietly. */
static int64_t
expire_reading(struct srv *s, int64_t now)
{
	struct client *c;

	while ((c = TAILQ_FIRST(&s->reading)) != NULL && c->deadline <= now) {
		if (c->request_id == 0 || c->rd.state != FCGI_IDLE ||
		    c->rd.hdr_got > 0)
			notice(s, "FastCGI connection closed: no complete "
			    "request within %d s", REQUEST_MS / 1000);
		client_close(s, c);
	}
	return c != NULL ? c->deadline - now : -1;
}

/* ---- the loop's own events ---- */

static void
check_stream(struct srv *s, struct stream *st)
{
	if (follow_check(&st->follow, &s->watch))
		wake_stream(s, st);
	if (follow_needs_poll(&st->follow))
		schedule_poll(s);
}

static void
read_inotify(struct srv *s)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t i;

	while ((n = read(s->watch.fd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;

			for (i = 0; i < s->cfg->nstreams; i++) {
				struct stream *st = s->streams[i];

				if (!st->active || st->is_pipe)
					continue;
				if ((ev->mask & IN_Q_OVERFLOW) ||
				    follow_wants(&st->follow, ev->wd,
				    ev->len ? ev->name : NULL))
					st->dirty = 1;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	/* A burst of events costs one look per stream. */
	for (i = 0; i < s->cfg->nstreams; i++)
		if (s->streams[i]->dirty) {
			s->streams[i]->dirty = 0;
			check_stream(s, s->streams[i]);
		}
}

static void
poll_streams(struct srv *s, int64_t now)
{
	size_t i;
	int any = 0;

	if (s->next_poll < 0 || now < s->next_poll)
		return;
	for (i = 0; i < s->cfg->nstreams; i++) {
		struct stream *st = s->streams[i];

		if (st->active && !st->is_pipe &&
		    follow_needs_poll(&st->follow)) {
			check_stream(s, st);
			any = 1;
		}
	}
	s->next_poll = any ? now + FOLLOW_POLL_MS : -1;
}

/* Closes the lingering connections whose time is up; returns ms until the
 * next is, or -1. */
static int64_t
expire_lingering(struct srv *s, int64_t now)
{
	struct client *c;

	while ((c = s->linger.hb_head) != NULL && c->last_write + LINGER_MS <= now)
		client_close(s, c);
	return c != NULL ? c->last_write + LINGER_MS - now : -1;
}

/* Sends the heartbeats that are due; returns ms until the next, or -1. */
static int64_t
heartbeats(struct srv *s, int64_t now)
{
	static const char beat[] = ": heartbeat\n\n";
	int64_t next = -1;
	size_t i;

	for (i = 0; i < s->cfg->nstreams; i++) {
		struct stream *st = s->streams[i];
		int64_t every = (int64_t)st->cfg->heartbeat * 1000;
		struct client *c;

		while ((c = st->hb_head) != NULL && c->last_write + every <= now) {
			if (pending(c) || c->ending)
				touch(c, now);	/* busy, not idle */
			else if (client_write1(s, c, beat, sizeof(beat) - 1) < 0)
				client_close(s, c);
		}
		if (c != NULL && (next < 0 || c->last_write + every - now < next))
			next = c->last_write + every - now;
	}
	return next;
}

static void
client_event(struct srv *s, struct client *c, uint32_t events)
{
	if (c->fd_in >= 0 &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		if (client_input(s, c) < 0) {
			client_close(s, c);
			return;
		}
	} else if (c->fd_in < 0 && (events & (EPOLLERR | EPOLLHUP))) {
		client_close(s, c);
		return;
	}
	if (events & EPOLLOUT) {
		if (flush_pend(s, c) < 0) {
			client_close(s, c);
			return;
		}
		if (!pending(c))
			enqueue(s, c);
	}
}

static void
begin_stop(struct srv *s)
{
	size_t i;

	s->stopping = 1;
	s->stop_deadline = now_ms() + STOP_GRACE_MS;
	listen_set(s, 0);
	s->accept_resume = -1;
	/* Requests not in yet are not started. */
	while (!TAILQ_EMPTY(&s->reading))
		client_close(s, TAILQ_FIRST(&s->reading));
	for (i = 0; i < s->cfg->nstreams; i++) {
		struct client *c, *next;

		/* client_end moves c to the tail of the list; it ends each
		 * client once, so the walk stops at the first one seen again. */
		for (c = s->streams[i]->hb_head; c != NULL && !c->ending; c = next) {
			next = c->hb_next;
			client_end(s, c);
		}
	}
}

/* A stream's state, not followed yet. NULL when out of memory. */
static struct stream *
stream_new(const struct cfg_stream *cfg)
{
	struct stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->src.kind = K_PIPE;
	st->cfg = cfg;
	st->pipe.fd = st->pipe.lock_fd = -1;
	return st;
}

/* Ends every client of st (END_REQUEST), stops following and frees it. */
static void
stream_free(struct srv *s, struct stream *st)
{
	struct client *c;

	if (st == NULL)
		return;
	while ((c = st->hb_head) != NULL) {
		client_end(s, c);
		client_detach(s, c);	/* its pending output still goes */
		enqueue(s, c);
	}
	if (st->is_pipe) {
		if (st->pipe.fd >= 0)
			epoll_ctl(s->ep, EPOLL_CTL_DEL, st->pipe.fd, NULL);
		pipe_close(&st->pipe);
	} else if (st->active)
		follow_stop(&st->follow, &s->watch);
	free(st);
}

/* Sizes the buffers that framing needs for the longest max-line. */
static int
size_buffers(struct srv *s, const struct cfg *cfg)
{
	size_t i, max_line = 0, out_cap, line_cap;
	char *grown;

	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].max_line > max_line)
			max_line = cfg->streams[i].max_line;
	out_cap = BATCH + sse_event_bound(NULL, max_line, max_line) +
	    CFG_NAME_MAX + 256;
	line_cap = max_line + 3;
	if (out_cap > s->out_cap) {
		if ((grown = realloc(s->out, out_cap)) == NULL)
			return -1;
		s->out = grown;
		s->out_cap = out_cap;
	}
	if (line_cap > s->line_cap) {
		if ((grown = realloc(s->line, line_cap)) == NULL)
			return -1;
		s->line = grown;
		s->line_cap = line_cap;
	}
	return 0;
}

/* SIGHUP: reads the configuration again. A bad one is refused, logged
 * with its line, and the one in force kept. A stream whose settings did
 * not change goes on with its clients; one that changed or went away
 * ends its clients with END_REQUEST (they reconnect, with their
 * Last-Event-ID, to what is configured now). */
static void
reload(struct srv *s)
{
	struct stream **next_streams;
	struct cfg next;
	char err[512];
	size_t i, j;

	if (cfg_load(&next, s->config_path, err, sizeof(err)) < 0) {
		log_msg("SIGHUP: %s; the configuration in force is kept", err);
		return;
	}
	if ((next_streams = calloc(next.nstreams ? next.nstreams : 1,
	    sizeof(*next_streams))) == NULL || size_buffers(s, &next) < 0) {
		log_msg("SIGHUP: malloc: %s; the configuration in force is kept",
		    strerror(errno));
		free(next_streams);
		cfg_free(&next);
		return;
	}
	/* First what can fail: a stream for every new or changed section. */
	for (j = 0; j < next.nstreams; j++) {
		for (i = 0; i < s->cfg->nstreams; i++)
			if (cfg_stream_equal(s->streams[i]->cfg, &next.streams[j]))
				break;
		if (i < s->cfg->nstreams)
			continue;	/* taken over below */
		if ((next_streams[j] = stream_new(&next.streams[j])) == NULL) {
			log_msg("SIGHUP: calloc: %s; the configuration in "
			    "force is kept", strerror(errno));
			while (j-- > 0)
				free(next_streams[j]);
			free(next_streams);
			cfg_free(&next);
			return;
		}
	}
	/* Then the streams that did not change go on, their settings now
	 * in the new configuration. */
	for (j = 0; j < next.nstreams; j++) {
		const struct cfg_stream *want = &next.streams[j];

		for (i = 0; next_streams[j] == NULL && i < s->cfg->nstreams; i++) {
			struct stream *st = s->streams[i];

			if (st == NULL || !cfg_stream_equal(st->cfg, want))
				continue;
			st->cfg = want;
			st->follow.name = want->name;
			st->follow.path = want->path;
			st->pipe.cfg = want;
			next_streams[j] = st;
			s->streams[i] = NULL;
		}
	}
	for (i = 0; i < s->cfg->nstreams; i++)
		stream_free(s, s->streams[i]);
	free(s->streams);
	cfg_free(&s->cfg_owned);
	s->cfg_owned = next;
	s->streams = next_streams;
	log_msg("SIGHUP: %s read again: %zu streams", s->config_path,
	    next.nstreams);
}

/* SIGUSR1: one line on what the process serves. */
static void
log_status(struct srv *s)
{
	char line[1024];
	size_t i, len;
	int n;

	n = snprintf(line, sizeof(line), "status: %zu connections, %zu streams "
	    "open, %zu requests being read", s->nconns, s->nclients, s->nreading);
	len = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	for (i = 0; i < s->cfg->nstreams && len < sizeof(line) - 1; i++) {
		const struct stream *st = s->streams[i];

		if (st == NULL || !st->active)
			continue;
		n = snprintf(line + len, sizeof(line) - len, "; %s: %zu", st->cfg->name,
		    st->nclients);
		len = n > 0 && (size_t)n < sizeof(line) - len ? len + (size_t)n :
		    sizeof(line) - 1;
	}
	log_msg("%s", line);
}

static void
signal_ready(struct srv *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!s->stopping)
				begin_stop(s);
			break;
		case SIGHUP:
			if (!s->stopping)
				reload(s);
			break;
		case SIGUSR1:
			log_status(s);
			break;
		}
	}
}

/* Runs the loop until SIGTERM, or with once set until the first client
 * is done. */
static int
run(struct srv *s, int once)
{
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		int64_t now = now_ms(), timeout, next;
		int n, i;
		size_t turns;

		if (s->stopping && (s->nconns == 0 || now >= s->stop_deadline ||
		    once))
			return 0;
		if (once && s->done)
			return 0;
		timeout = heartbeats(s, now);
		poll_streams(s, now);
		if ((next = expire_lingering(s, now)) >= 0 &&
		    (timeout < 0 || next < timeout))
			timeout = next;
		if ((next = expire_reading(s, now)) >= 0 &&
		    (timeout < 0 || next < timeout))
			timeout = next;
		if (s->accept_resume >= 0 && s->accept_resume <= now) {
			s->accept_resume = -1;
			if (!s->stopping)
				listen_set(s, 1);
		}
		if (s->accept_resume >= 0 &&
		    (timeout < 0 || s->accept_resume - now < timeout))
			timeout = s->accept_resume - now;
		if (s->next_poll >= 0 && (timeout < 0 || s->next_poll - now < timeout))
			timeout = s->next_poll - now < 0 ? 0 : s->next_poll - now;
		if (s->stopping && (timeout < 0 || s->stop_deadline - now < timeout))
			timeout = s->stop_deadline - now;
		if (s->rq_head != NULL)
			timeout = 0;
		if (timeout > 60000 || timeout < -1)
			timeout = 60000;

		n = epoll_wait(s->ep, evs, MAX_EVENTS, (int)timeout);
		if (n < 0 && errno != EINTR) {
			log_msg("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct source *src = evs[i].data.ptr;

			switch (src->kind) {
			case K_CLIENT:
				client_event(s, (struct client *)(void *)src,
				    evs[i].events);
				break;
			case K_SIGNAL:
				signal_ready(s);
				break;
			case K_LISTEN:
				accept_ready(s);
				break;
			case K_INOTIFY:
				read_inotify(s);
				break;
			case K_PIPE:
				pipe_readable(s, (struct stream *)(void *)src);
				break;
			}
		}
		/* Each client queued now gets one turn, then epoll again. */
		for (turns = s->rq_len; turns > 0 && s->rq_head != NULL; turns--) {
			struct client *c = s->rq_head;

			dequeue(s, c);
			client_run(s, c);
		}
	}
}

int
srv_run(struct srv *s, int listen_fd)
{
	int flags = fcntl(listen_fd, F_GETFL);
	char err[128];

	/* Another process sharing the socket may take the connection that
	 * woke this one: accept must not block then. */
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		log_msg("fcntl listening socket: %s", strerror(errno));
		return 1;
	}
	if (front_addrs_parse(&s->peers, getenv("FCGI_WEB_SERVER_ADDRS"), err,
	    sizeof(err)) < 0) {
		log_msg("%s", err);
		return 1;
	}
	s->listen_fd = listen_fd;
	s->listen_src.kind = K_LISTEN;
	listen_set(s, 1);
	if (!s->listening)
		return 1;
	return run(s, 0);
}

int
srv_run_cgi(struct srv *s, const struct req *req)
{
	struct client *c;
	int size = SNDBUF_BYTES;

	/* mod_cgid's stdout is a socket; mod_cgi's a pipe (ENOTSOCK). */
	(void)setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof(size));
	if ((c = client_new(s, -1, STDOUT_FILENO, 0)) == NULL)
		return 1;
	request_start(s, c, req);
	return run(s, 1);
}

static int
watch_fd(struct srv *s, int fd, struct source *src, enum kind kind)
{
	struct epoll_event ev;

	src->kind = kind;
	ev.events = EPOLLIN;
	ev.data.ptr = src;
	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

struct srv *
srv_new(const char *config_path, struct cfg *cfg)
{
	struct srv *s;
	sigset_t set;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_msg("calloc: %s", strerror(errno));
		cfg_free(cfg);
		return NULL;
	}
	s->config_path = config_path;
	s->cfg_owned = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	s->cfg = &s->cfg_owned;
	s->ep = s->sig_fd = s->listen_fd = -1;
	s->watch.fd = -1;
	s->next_poll = -1;
	s->accept_resume = -1;
	TAILQ_INIT(&s->reading);
	s->in = malloc(IN_CHUNK);
	s->req_in = malloc(REQ_CHUNK);
	s->streams = calloc(s->cfg->nstreams ? s->cfg->nstreams : 1,
	    sizeof(*s->streams));
	if (s->in == NULL || s->req_in == NULL || s->streams == NULL ||
	    size_buffers(s, s->cfg) < 0) {
		log_msg("malloc: %s", strerror(errno));
		goto err;
	}
	for (i = 0; i < s->cfg->nstreams; i++)
		if ((s->streams[i] = stream_new(&s->cfg->streams[i])) == NULL) {
			log_msg("calloc: %s", strerror(errno));
			goto err;
		}

	/* Signals arrive through signalfd, blocked otherwise: libfcgi's
	 * handlers (FCGX_IsCGI installs them) never run. SIGHUP re-reads
	 * the configuration, SIGUSR1 logs a status line, SIGUSR2 does
	 * nothing; SIGPIPE is ignored (main). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    watch_fd(s, s->sig_fd, &s->sig_src, K_SIGNAL) < 0) {
		log_msg("epoll/signalfd: %s", strerror(errno));
		goto err;
	}
	follow_watch_init(&s->watch);
	if (s->watch.fd >= 0 &&
	    watch_fd(s, s->watch.fd, &s->inotify_src, K_INOTIFY) < 0) {
		log_msg("epoll_ctl inotify: %s; polling instead", strerror(errno));
		follow_watch_close(&s->watch);
	}
	return s;
err:
	srv_free(s);
	return NULL;
}

void
srv_free(struct srv *s)
{
	size_t i;

	if (s == NULL)
		return;
	while (s->all != NULL)
		client_close(s, s->all);
	for (i = 0; s->streams != NULL && i < s->cfg->nstreams; i++)
		stream_free(s, s->streams[i]);
	follow_watch_close(&s->watch);
	if (s->ep >= 0)
		close(s->ep);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	free(s->streams);
	free(s->out);
	free(s->in);
	free(s->req_in);
	free(s->line);
	cfg_free(&s->cfg_owned);
	free(s);
}
