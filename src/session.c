/* session.c - one response: a web-server connection and, for a stream, its
 * cursor in a source; the preamble, admission (max-clients), heartbeats,
 * the end (END_REQUEST, or the next request on a kept connection) and the
 * linger after it. */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "session.h"
#include "sse.h"


static void session_linger(struct sessions *s, struct session *c);

void
session_ready(struct sessions *s, struct session *c)
{
	loop_ready(s->loop, &c->conn.task);
}

static void
session_unready(struct sessions *s, struct session *c)
{
	loop_unready(s->loop, &c->conn.task);
}

/* Output is going out: the heartbeat can wait. */
static void
touch(struct session *c, int64_t now)
{
	c->last_write = now;
	if (c->st != NULL && TAILQ_LAST(&c->st->subs, source_subs) != c) {
		TAILQ_REMOVE(&c->st->subs, c, hb_link);
		TAILQ_INSERT_TAIL(&c->st->subs, c, hb_link);
	}
}

/* ---- output ---- */

/* Sends content (raw: bytes that are already FastCGI records). Returns 0,
 * or -1 when the client is gone. */
int
session_write(struct sessions *s, struct session *c, const struct iovec *iov,
    int n, int raw)
{
	touch(c, loop_now());
	return conn_write(&c->conn, s->loop, iov, n, raw);
}

static int
session_write1(struct sessions *s, struct session *c, const char *p, size_t len)
{
	touch(c, loop_now());
	return conn_write1(&c->conn, s->loop, p, len);
}

/* Ends the response (END_REQUEST for FastCGI); the client is closed once
 * that is written. */
void
session_end(struct sessions *s, struct session *c)
{
	if (c->conn.ending)
		return;
	if (c->conn.gone) {
		session_ready(s, c);	/* closed at its turn: CGI waits for it */
		return;
	}
	if (c->conn.fcgi)
		touch(c, loop_now());	/* END_REQUEST is output */
	if (conn_end(&c->conn, s->loop) == 0 && c->conn.fcgi &&
	    c->rd.keep_conn && !s->stopping) {
		s->kept(c, s->arg);
		return;
	}
	session_ready(s, c);
}

/* A whole answer that is not a stream: headers (with req's CORS ones),
 * body, end. */
void
session_answer(struct sessions *s, struct session *c, const struct req *req,
    int status, const char *type, const char *extra, const char *body)
{
	char headers[HTTP_HEADERS_MAX], access[HTTP_ACCESS_MAX];
	struct iovec v[2];

	v[0].iov_base = headers;
	v[0].iov_len = http_headers(headers, status, type,
	    http_access_headers(access, req, extra));
	v[1].iov_base = (void *)body;
	v[1].iov_len = req->head || body == NULL ? 0 : strlen(body);
	if (session_write(s, c, v, 2, 0) < 0)
		c->conn.gone = 1;
	session_end(s, c);
}

/* A short text/plain error; a 503 says when to come back: the stream's
 * retry, rounded up to seconds. */
void
session_error(struct sessions *s, struct session *c, const struct req *req,
    int status, const char *message)
{
	const struct cfg_stream *st = req->stream >= 0 ?
	    &s->cfg->streams[req->stream] : &s->cfg->defaults;
	char body[256], extra[HTTP_EXTRA_MAX];

	snprintf(body, sizeof(body), "%s\n", message);
	session_answer(s, c, req, status, "text/plain; charset=utf-8",
	    http_error_headers(extra, status, st->retry), body);
}

/* ---- streams ---- */


void
session_wake(struct sessions *s, struct source *st)
{
	struct session *c;

	TAILQ_FOREACH(c, &st->subs, hb_link)
		if (!conn_pending(&c->conn) && !c->conn.ending)
			session_ready(s, c);
}


/* Opens a stream's file or pipe for its first client. -1: answer 503. */
static int
stream_activate(struct sessions *s, struct source *st)
{
	if (source_open(st) < 0)
		return -1;
	if (source_needs_poll(st))
		watch_poll_soon(s->watch);
	return 0;
}


/* ---- producing a client's events ---- */

/* One turn of a stream client: at most CURSOR_BATCH bytes. Returns 1
 * when there is more to send, 0 when idle, -1 when the client must go. */
static int
produce(struct sessions *s, struct session *c)
{
	struct source *st = c->st;
	size_t len = 0;
	int rc;

	if (st->is_pipe) {
		len = cursor_pipe(&c->cur, &st->pipe.ring, st->pipe.tag, st->cfg,
		    s->bufs, &rc);
		if (len > 0 && session_write1(s, c, s->bufs->out, len) < 0)
			return -1;
		return rc;
	}
	rc = cursor_file(&c->cur, &st->follow, &s->watch->fw, st->cfg, s->bufs,
	    &len);
	if (len > 0 && session_write1(s, c, s->bufs->out, len) < 0)
		return -1;
	return rc;
}

void
session_run(struct sessions *s, struct session *c)
{
	int rc;

	if (c->conn.gone) {
		session_close(s, c);
		return;
	}
	if (c->conn.reading || conn_pending(&c->conn))
		return;		/* input, or EPOLLOUT, brings it back */
	if (c->conn.ending || c->st == NULL) {
		session_linger(s, c);
		return;
	}
	if ((rc = produce(s, c)) < 0) {
		session_close(s, c);
		return;
	}
	if (rc > 0 && !conn_pending(&c->conn))
		session_ready(s, c);
}

/* ---- clients coming and going ---- */

/* Takes c off the run queue and out of its stream or the linger list. */
void
session_detach(struct sessions *s, struct session *c)
{
	session_unready(s, c);
	if (c->conn.lingering) {
		TAILQ_REMOVE(&s->linger, c, hb_link);
		c->conn.lingering = 0;
	} else if (c->st != NULL) {
		struct source *st = c->st;

		cursor_drop(&c->cur, &st->follow, &s->watch->fw);
		TAILQ_REMOVE(&st->subs, c, hb_link);
		st->nclients--;
		s->nclients--;
		c->st = NULL;
		source_release(st);
	}
}

/* The response is all written: close when the web server does (conn.c
 * says why), or after SESSION_LINGER_MS. */
static void
session_linger(struct sessions *s, struct session *c)
{
	session_detach(s, c);
	if (conn_linger(&c->conn) < 0) {
		session_close(s, c);
		return;
	}
	c->conn.lingering = 1;
	c->last_write = loop_now();
	TAILQ_INSERT_TAIL(&s->linger, c, hb_link);
	loop_timer_soon(&s->linger_timer, c->last_write + SESSION_LINGER_MS);
}

void
session_close(struct sessions *s, struct session *c)
{
	session_detach(s, c);
	s->closing(c, s->arg);
	fcgi_reader_free(&c->rd);
	conn_close(&c->conn, s->loop, s->drain, s->drain_len);
	LIST_REMOVE(c, all_link);
	free(c);
	s->nconns--;
	s->done = 1;
}

void
session_stream(struct sessions *s, struct session *c, const struct req *req,
    struct source *st)
{
	char start[HTTP_HEADERS_MAX + 64 + SSE_NOTE_MAX];
	char access[HTTP_ACCESS_MAX];
	struct id_pos at;
	size_t len;

	if (req->head) {
		session_answer(s, c, req, 200, "text/event-stream", NULL, NULL);
		return;
	}
	if (s->nclients >= (size_t)s->cfg->defaults.max_clients ||
	    st->nclients >= (size_t)st->cfg->max_clients) {
		session_error(s, c, req, 503, "too many clients, try again later");
		return;
	}
	/* A file that exists but cannot be opened is a 503, unless an older
	 * one is still open: then that one is served meanwhile. */
	if ((!st->active && stream_activate(s, st) < 0) ||
	    source_unavailable(st)) {
		session_error(s, c, req, 503, "stream unavailable, see the server log");
		return;
	}
	/* A resume is decided on the files as they are now, not as the
	 * last event or poll saw them (polling may be a second behind). */
	if (!st->is_pipe) {
		if (follow_check(&st->follow, &s->watch->fw))
			session_wake(s, st);
		if (source_needs_poll(st))
			watch_poll_soon(s->watch);
	}
	c->st = st;
	st->nclients++;
	s->nclients++;
	TAILQ_INSERT_TAIL(&st->subs, c, hb_link);
	loop_timer_soon(&s->hb_timer, loop_now() + (int64_t)st->cfg->heartbeat *
	    1000);
	if (st->is_pipe)
		cursor_start_pipe(&c->cur, &st->pipe.ring, st->pipe.tag, st->cfg,
		    req, &at);
	else
		cursor_start_file(&c->cur, &st->follow, &s->watch->fw, st->cfg,
		    req, &at);
	/* The body starts at once, so that the client's open event fires;
	 * its id-only block is where the stream starts, so that a client
	 * that reconnects before any line resumes there. */
	len = http_headers(start, 200, "text/event-stream",
	    http_access_headers(access, req, NULL));
	len += (size_t)sprintf(start + len, "retry: %d\n: sse-tail\n\n",
	    st->cfg->retry);
	len += sse_id_block(start + len, at.offset, at.tag);
	if (session_write1(s, c, start, len) < 0)
		c->conn.gone = 1;
	session_ready(s, c);
}

/* Makes the client of a web server connection (FastCGI: fd_in is
 * fd_out) or of CGI's stdout (fd_in -1). NULL when that fails: fd_in is
 * then closed. */
struct session *
session_new(struct sessions *s, int fd_in, int fd_out, int fcgi,
    void (*on_event)(struct loop_fd *, uint32_t, void *))
{
	struct session *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_msg("calloc: %s", strerror(errno));
		if (fd_in >= 0)
			close(fd_in);
		s->done = 1;
		return NULL;
	}
	c->conn.lfd.fn = on_event;
	LIST_INSERT_HEAD(&s->all, c, all_link);
	s->nconns++;
	fcgi_reader_init(&c->rd, (unsigned)s->cfg->defaults.max_clients,
	    (unsigned)s->cfg->defaults.max_clients);
	if (conn_init(&c->conn, s->loop, fd_in, fd_out, fcgi) < 0) {
		session_close(s, c);
		return NULL;
	}
	return c;
}


/* Closes the lingering connections whose time is up; the timer is set to
 * when the next one's is. */
static void
expire_lingering(struct loop_timer *t, int64_t now, void *arg)
{
	struct sessions *s = LOOP_OWNER(t, struct sessions, linger_timer);
	struct session *c;

	(void)arg;
	while ((c = TAILQ_FIRST(&s->linger)) != NULL &&
	    c->last_write + SESSION_LINGER_MS <= now)
		session_close(s, c);
	t->at = c != NULL ? c->last_write + SESSION_LINGER_MS : -1;
}

/* Sends the heartbeats that are due; the timer is set to the next. */
static void
heartbeats(struct loop_timer *t, int64_t now, void *arg)
{
	static const char beat[] = ": heartbeat\n\n";
	struct sessions *s = LOOP_OWNER(t, struct sessions, hb_timer);
	int64_t next = -1;
	size_t i;

	(void)arg;
	for (i = 0; i < s->nstreams; i++) {
		struct source *st = s->streams[i];
		int64_t every = (int64_t)st->cfg->heartbeat * 1000;
		struct session *c;

		while ((c = TAILQ_FIRST(&st->subs)) != NULL &&
		    c->last_write + every <= now) {
			if (conn_pending(&c->conn) || c->conn.ending)
				touch(c, now);	/* busy, not idle */
			else if (session_write1(s, c, beat, sizeof(beat) - 1) < 0)
				session_close(s, c);
		}
		if (c != NULL && (next < 0 || c->last_write + every < next))
			next = c->last_write + every;
	}
	t->at = next;
}


void
session_init(struct sessions *s, struct loop *l, struct watch *w,
    struct cursor_bufs *bufs, const struct cfg *cfg)
{
	s->loop = l;
	s->watch = w;
	s->bufs = bufs;
	s->cfg = cfg;
	LIST_INIT(&s->all);
	TAILQ_INIT(&s->linger);
	loop_timer_add(l, &s->hb_timer, heartbeats);
	loop_timer_add(l, &s->linger_timer, expire_lingering);
}

void
session_end_all(struct sessions *s, struct source *st)
{
	struct session *c, *next, *last = TAILQ_LAST(&st->subs, source_subs);

	/* session_end may move c to the tail of the list (or off it): walk
	 * to the tail as it was, passing those already ending. */
	for (c = TAILQ_FIRST(&st->subs); c != NULL; c = next) {
		next = c == last ? NULL : TAILQ_NEXT(c, hb_link);
		if (!c->conn.ending)
			session_end(s, c);
	}
}

void
session_end_source(struct sessions *s, struct source *st)
{
	struct session *c;

	while ((c = TAILQ_FIRST(&st->subs)) != NULL) {
		session_end(s, c);
		session_detach(s, c);	/* its pending output still goes */
		session_ready(s, c);
	}
}

void
session_free_all(struct sessions *s)
{
	while (!LIST_EMPTY(&s->all))
		session_close(s, LIST_FIRST(&s->all));
}
