/* srv.c - the event loop: one thread that owns every client, follower and
 * pipe of the process and writes every response.
 *
 * Why one thread: a stream costs a small struct here (no stack, no libfcgi
 * buffers), so thousands fit in a few MiB, and an idle stream costs nothing
 * until its follower or its heartbeat wakes it. Files are read with pread at
 * each client's own offset (the page cache is shared); a named pipe is read
 * once and framed once into a ring that its clients copy from. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "log.h"
#include "page.h"
#include "pipe.h"
#include "srv.h"
#include "sse.h"

#define BATCH		65536	/* bytes one client is given per turn */
#define IN_CHUNK	65536	/* bytes read from a file at once */
#define STOP_GRACE_MS	700	/* SIGTERM: time to flush, within the 1 s */
#define LINGER_MS	2000	/* a finished connection waits for EOF */
#define MAX_EVENTS	256
#define WIRE_IOV	256

enum kind { K_CLIENT, K_SIGNAL, K_QUEUE, K_INOTIFY, K_PIPE };

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

struct queued {
	struct queued *next;
	struct front_conn conn;
};

struct srv {
	const struct cfg *cfg;
	int ep;
	struct source sig_src, queue_src, inotify_src;
	int sig_fd, queue_fd;
	struct follow_watch watch;
	struct stream *streams;
	size_t nclients;		/* open streams: max-clients */
	size_t nconns;			/* every client */
	struct client *all;		/* every client, to free them at exit */
	struct stream linger;		/* finished clients waiting for EOF */
	struct client *rq_head, *rq_tail;
	size_t rq_len;
	char *out;			/* one turn's framed output */
	size_t out_cap;
	char *in;			/* IN_CHUNK bytes read from a file */
	char *line;			/* the start of a long line */
	size_t line_cap;
	pthread_mutex_t lock;		/* guards q_head, q_tail */
	struct queued *q_head, *q_tail;
	int stopping;			/* atomic: SIGTERM seen */
	int accepting;			/* the acceptor thread runs */
	pthread_t acceptor;
	int64_t stop_deadline;
	int64_t next_poll;		/* -1: nothing is polled */
	int done;			/* once: the request is over */
};

struct wire {
	struct iovec v[WIRE_IOV];
	unsigned char hdr[WIRE_IOV / 2][FCGI_HEADER_LEN];
	int n, nh;
};

static void client_close(struct srv *s, struct client *c);
static void client_linger(struct srv *s, struct client *c);

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
	ev.events = (c->fd_in >= 0 ? EPOLLIN | EPOLLRDHUP : 0) |
	    (on ? EPOLLOUT : 0);
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd_out, &ev) < 0)
		log_msg("epoll_ctl MOD: %s", strerror(errno));
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
				if (chunk > FCGI_RECORD_MAX)
					chunk = FCGI_RECORD_MAX;
				front_record_header(w.hdr[w.nh], c->request_id, chunk);
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
	if (c->ending)
		return;
	c->ending = 1;
	if (c->fcgi) {
		unsigned char end[FRONT_END_LEN];
		struct iovec v;

		v.iov_base = end;
		v.iov_len = front_end_request(end, c->request_id);
		if (client_write(s, c, &v, 1, 1) < 0) {
			c->pend_off = c->pend_len;	/* gone: nothing to flush */
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
		c->pend_off = c->pend_len;
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
		if (st->follow.polled)
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

	if (pending(c))
		return;		/* EPOLLOUT brings it back */
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
	client_detach(s, c);
	if (c->fd_in >= 0) {
		/* Read what is left, so that close sends FIN, not RST, and
		 * the web server gets the whole response. */
		while (read(c->fd_in, s->in, IN_CHUNK) > 0)
			;
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
	struct follow_gen *g = c->st->follow.cur;
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
	struct stream *st = &s->streams[req->stream];
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
	if (!st->active && stream_activate(s, st) < 0) {
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
	if (client_write1(s, c, start, len) < 0) {
		client_close(s, c);
		return;
	}
	enqueue(s, c);
}

static void
client_start(struct srv *s, const struct front_conn *conn)
{
	const struct req *req = &conn->req;
	struct epoll_event ev;
	struct client *c;
	char *body = NULL;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_msg("calloc: %s", strerror(errno));
		if (conn->fd_in >= 0)
			close(conn->fd_in);
		s->done = 1;
		return;
	}
	c->src.kind = K_CLIENT;
	c->fd_in = conn->fd_in;
	c->fd_out = conn->fd_out;
	c->fcgi = conn->fcgi;
	c->request_id = conn->request_id;
	c->all_next = s->all;
	if (s->all)
		s->all->all_prev = c;
	s->all = c;
	s->nconns++;
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
		return;
	}
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

/* ---- the loop's own events ---- */

static void
take_queue(struct srv *s)
{
	struct queued *q, *next;
	uint64_t count;

	(void)!read(s->queue_fd, &count, sizeof(count));
	pthread_mutex_lock(&s->lock);
	q = s->q_head;
	s->q_head = s->q_tail = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; q != NULL; q = next) {
		next = q->next;
		client_start(s, &q->conn);
		free(q);
	}
}

static void
check_stream(struct srv *s, struct stream *st)
{
	if (follow_check(&st->follow, &s->watch))
		wake_stream(s, st);
	if (st->follow.polled)
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
				struct stream *st = &s->streams[i];

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
		if (s->streams[i].dirty) {
			s->streams[i].dirty = 0;
			check_stream(s, &s->streams[i]);
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
		struct stream *st = &s->streams[i];

		if (st->active && !st->is_pipe && st->follow.polled) {
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
		struct stream *st = &s->streams[i];
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
	if (c->fd_in >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		/* The request's input is done with; EOF means the web server
		 * closed the connection: its client went away. */
		for (;;) {
			ssize_t n = read(c->fd_in, s->in, IN_CHUNK);

			if (n > 0)
				continue;
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				client_close(s, c);
				return;
			}
			if (errno == EAGAIN)
				break;
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

	__atomic_store_n(&s->stopping, 1, __ATOMIC_SEQ_CST);
	s->stop_deadline = now_ms() + STOP_GRACE_MS;
	if (s->accepting)
		front_stop_acceptor(s->acceptor);
	s->accepting = 0;
	for (i = 0; i < s->cfg->nstreams; i++) {
		struct client *c, *next;

		/* client_end moves c to the tail of the list; it ends each
		 * client once, so the walk stops at the first one seen again. */
		for (c = s->streams[i].hb_head; c != NULL && !c->ending; c = next) {
			next = c->hb_next;
			client_end(s, c);
		}
	}
}

int
srv_run(struct srv *s, int listen_fd, int once)
{
	struct epoll_event evs[MAX_EVENTS];

	if (listen_fd >= 0) {
		if (front_start_acceptor(listen_fd, s->cfg, s, &s->acceptor) < 0) {
			log_msg("pthread_create: %s", strerror(errno));
			return 1;
		}
		s->accepting = 1;
	}
	for (;;) {
		int64_t now = now_ms(), timeout, hb, linger;
		int n, i;
		size_t turns;

		if (s->stopping && (s->nconns == 0 || now >= s->stop_deadline ||
		    once))
			return 0;
		if (once && s->done)
			return 0;
		hb = heartbeats(s, now);
		poll_streams(s, now);
		timeout = hb;
		if ((linger = expire_lingering(s, now)) >= 0 &&
		    (timeout < 0 || linger < timeout))
			timeout = linger;
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
			case K_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(s->sig_fd, &si, sizeof(si)) > 0)
					;
				if (!s->stopping)
					begin_stop(s);
				break;
			}
			case K_QUEUE:
				take_queue(s);
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

void
srv_submit(struct srv *s, const struct front_conn *conn)
{
	struct queued *q = malloc(sizeof(*q));
	uint64_t one = 1;

	if (q == NULL) {
		log_msg("malloc: %s", strerror(errno));
		close(conn->fd_in);
		return;
	}
	q->conn = *conn;
	q->next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->q_tail)
		s->q_tail->next = q;
	else
		s->q_head = q;
	s->q_tail = q;
	pthread_mutex_unlock(&s->lock);
	(void)!write(s->queue_fd, &one, sizeof(one));
}

int
srv_stopping(struct srv *s)
{
	return __atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST);
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
srv_new(const struct cfg *cfg)
{
	struct srv *s;
	sigset_t set;
	size_t i, max_line = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_msg("calloc: %s", strerror(errno));
		return NULL;
	}
	s->cfg = cfg;
	s->ep = s->sig_fd = s->queue_fd = -1;
	s->watch.fd = -1;
	s->next_poll = -1;
	pthread_mutex_init(&s->lock, NULL);
	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].max_line > max_line)
			max_line = cfg->streams[i].max_line;
	s->out_cap = BATCH + sse_event_bound(NULL, max_line, max_line) +
	    CFG_NAME_MAX + 256;
	s->line_cap = max_line + 3;
	s->out = malloc(s->out_cap);
	s->in = malloc(IN_CHUNK);
	s->line = malloc(s->line_cap);
	s->streams = calloc(cfg->nstreams, sizeof(*s->streams));
	if (s->out == NULL || s->in == NULL || s->line == NULL ||
	    s->streams == NULL) {
		log_msg("malloc: %s", strerror(errno));
		goto err;
	}
	for (i = 0; i < cfg->nstreams; i++) {
		s->streams[i].src.kind = K_PIPE;
		s->streams[i].cfg = &cfg->streams[i];
		s->streams[i].pipe.fd = s->streams[i].pipe.lock_fd = -1;
	}

	/* SIGTERM and SIGINT arrive through signalfd; they are blocked in
	 * every thread, so libfcgi's own handlers never run. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (s->queue_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    watch_fd(s, s->sig_fd, &s->sig_src, K_SIGNAL) < 0 ||
	    watch_fd(s, s->queue_fd, &s->queue_src, K_QUEUE) < 0) {
		log_msg("epoll/signalfd/eventfd: %s", strerror(errno));
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
	for (i = 0; s->streams != NULL && i < s->cfg->nstreams; i++) {
		if (s->streams[i].is_pipe)
			pipe_close(&s->streams[i].pipe);
		else if (s->streams[i].active)
			follow_stop(&s->streams[i].follow, &s->watch);
	}
	follow_watch_close(&s->watch);
	if (s->ep >= 0)
		close(s->ep);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	if (s->queue_fd >= 0)
		close(s->queue_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->streams);
	free(s->out);
	free(s->in);
	free(s->line);
	free(s);
}
