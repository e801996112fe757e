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
#include "conn.h"
#include "cursor.h"
#include "follow.h"
#include "front.h"
#include "log.h"
#include "loop.h"
#include "page.h"
#include "pipe.h"
#include "srv.h"
#include "sse.h"

#define REQ_CHUNK	16384	/* bytes read from a web server at once */
#define STOP_GRACE_MS	700	/* SIGTERM: time to flush, within the 1 s */
#define LINGER_MS	2000	/* a finished connection waits for EOF */
#define READING_MAX	512	/* connections whose request is not in yet */
#define REQUEST_MS	5000	/* for a request to arrive in full */
#define ACCEPT_BATCH	64	/* connections accepted per turn */
#define ACCEPT_BACKOFF_MS 100	/* after EMFILE and the like */
#define SNDBUF_BYTES	32768	/* a stream's socket send buffer (the
				 * kernel doubles it): files are re-read
				 * with pread, so a big one buys nothing */
#define NOTICE_MS	1000	/* a peer's protocol errors: a line a second */

struct stream;

struct client {
	struct conn conn;		/* lfd: client_event; task: client_run */
	struct client *hb_prev, *hb_next;	/* stream's, oldest write first;
						 * or the linger list */
	struct client *all_prev, *all_next;	/* every client of the loop */
	TAILQ_ENTRY(client) rd_link;	/* the reading list, oldest first */
	struct stream *st;		/* NULL for a one-shot answer */
	unsigned lingering:1;		/* done; on the linger list */
	unsigned reading:1;		/* waiting for a request: reading list */
	int64_t deadline;		/* reading: ms by which the request
					 * must be in */
	struct fcgi_reader rd;		/* FastCGI: the request reader */
	int64_t last_write;		/* ms: when output was last sent;
					 * lingering: when it began */
	struct cursor cur;		/* where it is in its stream */
};

struct stream {
	struct loop_fd lfd;		/* a pipe's: pipe_readable */
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
	struct loop loop;
	struct loop_fd sig_h, listen_h, inotify_h;
	struct loop_timer hb_timer;	/* heartbeats */
	struct loop_timer linger_timer;	/* expire_lingering */
	struct loop_timer reading_timer;	/* expire_reading */
	struct loop_timer poll_timer;	/* poll_streams: next_poll */
	struct loop_timer accept_timer;	/* accept_resume */
	struct loop_timer stop_timer;	/* stop_deadline: wakes the loop */
	int sig_fd;
	int listen_fd;			/* FastCGI: -1 in CGI mode */
	int listening;			/* listen_fd is in epoll */
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
	struct cursor_bufs bufs;	/* the cursors' scratch space */
	unsigned char *req_in;		/* REQ_CHUNK bytes read from a web server */
	int stopping;			/* SIGTERM seen */
	int64_t stop_deadline;
	int done;			/* once: the request is over */
};

static void client_event(struct loop_fd *h, uint32_t events, void *arg);
static void client_close(struct srv *s, struct client *c);
static void client_linger(struct srv *s, struct client *c);
static void request_reset(struct srv *s, struct client *c);
static void reading_stop(struct srv *s, struct client *c);

#define now_ms loop_now

/* ---- run queue and heartbeat order ---- */

static void
enqueue(struct srv *s, struct client *c)
{
	loop_ready(&s->loop, &c->conn.task);
}

static void
dequeue(struct srv *s, struct client *c)
{
	loop_unready(&s->loop, &c->conn.task);
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

/* Sends content (raw: bytes that are already FastCGI records). Returns 0,
 * or -1 when the client is gone. */
static int
client_write(struct srv *s, struct client *c, const struct iovec *iov, int n,
    int raw)
{
	touch(c, now_ms());
	return conn_write(&c->conn, &s->loop, iov, n, raw);
}

static int
client_write1(struct srv *s, struct client *c, const char *p, size_t len)
{
	struct iovec v;

	v.iov_base = (void *)p;
	v.iov_len = len;
	return client_write(s, c, &v, 1, 0);
}

/* Ends the response (END_REQUEST for FastCGI); the client is closed once
 * that is written. */
static void
client_end(struct srv *s, struct client *c)
{
	if (c->conn.ending || c->conn.gone)
		return;
	if (c->conn.fcgi)
		touch(c, now_ms());	/* END_REQUEST is output */
	if (conn_end(&c->conn, &s->loop) == 0 && c->conn.fcgi &&
	    c->rd.keep_conn && !s->stopping) {
		request_reset(s, c);
		return;
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
		c->conn.gone = 1;
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
		if (!conn_pending(&c->conn) && !c->conn.ending)
			enqueue(s, c);
}

static void
schedule_poll(struct srv *s)
{
	if (s->poll_timer.at < 0)
		s->poll_timer.at = now_ms() + FOLLOW_POLL_MS;
}

/* Opens a stream's file or pipe for its first client. -1: answer 503. */
static int
stream_activate(struct srv *s, struct stream *st)
{
	const struct cfg_stream *cfg = st->cfg;
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
		if (loop_add(&s->loop, st->pipe.fd, EPOLLIN, &st->lfd) < 0) {
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
pipe_readable(struct loop_fd *h, uint32_t events, void *arg)
{
	struct stream *st = LOOP_OWNER(h, struct stream, lfd);
	struct srv *s = arg;
	int reopened, rc;

	(void)events;
	rc = pipe_read(&st->pipe, s->bufs.in, CURSOR_IN_CHUNK, &reopened);
	if (reopened && st->pipe.fd >= 0) {
		if (loop_add(&s->loop, st->pipe.fd, EPOLLIN, &st->lfd) < 0)
			log_msg("stream %s: epoll_ctl %s: %s", st->cfg->name,
			    st->cfg->path, strerror(errno));
	}
	if (rc > 0 || reopened)
		wake_stream(s, st);
}

/* ---- producing a client's events ---- */

/* One turn of a stream client: at most CURSOR_BATCH bytes. Returns 1
 * when there is more to send, 0 when idle, -1 when the client must go. */
static int
run_stream(struct srv *s, struct client *c)
{
	struct stream *st = c->st;
	size_t len = 0;
	int rc;

	if (st->is_pipe) {
		struct iovec v[3];
		int n = cursor_pipe(&c->cur, &st->pipe.ring, &s->bufs, v, &rc);

		if (n > 0 && client_write(s, c, v, n, 0) < 0)
			return -1;
		return rc;
	}
	rc = cursor_file(&c->cur, &st->follow, &s->watch, st->cfg, &s->bufs,
	    &len);
	if (len > 0 && client_write1(s, c, s->bufs.out, len) < 0)
		return -1;
	return rc;
}

static void
client_run(struct loop_task *t, void *arg)
{
	struct client *c = LOOP_OWNER(t, struct client, conn.task);
	struct srv *s = arg;
	int rc;

	if (c->conn.gone) {
		client_close(s, c);
		return;
	}
	if (c->reading || conn_pending(&c->conn))
		return;		/* input, or EPOLLOUT, brings it back */
	if (c->conn.ending || c->st == NULL) {
		client_linger(s, c);
		return;
	}
	if ((rc = run_stream(s, c)) < 0) {
		client_close(s, c);
		return;
	}
	if (rc > 0 && !conn_pending(&c->conn))
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

		cursor_drop(&c->cur, &st->follow, &s->watch);
		hb_unlink(st, c);
		st->nclients--;
		s->nclients--;
		c->st = NULL;
		stream_release(s, st);
	}
}

/* The response is all written: close when the web server does (conn.c
 * says why), or after LINGER_MS. */
static void
client_linger(struct srv *s, struct client *c)
{
	client_detach(s, c);
	if (conn_linger(&c->conn) < 0) {
		client_close(s, c);
		return;
	}
	c->lingering = 1;
	c->last_write = now_ms();
	hb_append(&s->linger, c);
	loop_timer_soon(&s->linger_timer, c->last_write + LINGER_MS);
}

static void
client_close(struct srv *s, struct client *c)
{
	client_detach(s, c);
	reading_stop(s, c);
	fcgi_reader_free(&c->rd);
	conn_close(&c->conn, &s->loop, s->req_in, REQ_CHUNK);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		s->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	free(c);
	s->nconns--;
	s->done = 1;
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
	loop_timer_soon(&s->hb_timer, now_ms() + (int64_t)st->cfg->heartbeat *
	    1000);
	if (st->is_pipe)
		cursor_start_pipe(&c->cur, &st->pipe.ring, st->cfg, req);
	else
		cursor_start_file(&c->cur, &st->follow, st->cfg, req);
	/* The body starts at once, so that the client's open event fires. */
	len = front_headers(start, 200, "text/event-stream",
	    front_access_headers(access, req, NULL));
	len += (size_t)sprintf(start + len, "retry: %d\n: sse-tail\n\n",
	    st->cfg->retry);
	if (client_write1(s, c, start, len) < 0)
		c->conn.gone = 1;
	enqueue(s, c);
}

/* Makes the client of a web server connection (FastCGI: fd_in is
 * fd_out) or of CGI's stdout (fd_in -1). NULL when that fails: fd_in is
 * then closed. */
static struct client *
client_new(struct srv *s, int fd_in, int fd_out, int fcgi)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_msg("calloc: %s", strerror(errno));
		if (fd_in >= 0)
			close(fd_in);
		s->done = 1;
		return NULL;
	}
	c->conn.lfd.fn = client_event;
	c->all_next = s->all;
	if (s->all)
		s->all->all_prev = c;
	s->all = c;
	s->nconns++;
	fcgi_reader_init(&c->rd, (unsigned)s->cfg->defaults.max_clients,
	    (unsigned)s->cfg->defaults.max_clients);
	if (conn_init(&c->conn, &s->loop, fd_in, fd_out, fcgi) < 0) {
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
	if (s->listen_fd < 0 || s->listening == on)
		return;
	if ((on ? loop_add(&s->loop, s->listen_fd, EPOLLIN | EPOLLEXCLUSIVE,
	    &s->listen_h) : loop_del(&s->loop, s->listen_fd)) < 0) {
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
	loop_timer_soon(&s->reading_timer, c->deadline);
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
	c->conn.ending = 0;
	memset(&c->cur, 0, sizeof(c->cur));
	fcgi_request_done(&c->rd);
	reading_start(s, c);
}

/* The request's parameters are in: decide it and answer. */
static void
request_in(struct srv *s, struct client *c)
{
	struct req req;

	reading_stop(s, c);
	c->conn.request_id = c->rd.request_id;
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
		c->conn.request_id = c->rd.request_id;
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
	while (n > 0 && !c->conn.gone && !c->conn.ending) {
		enum fcgi_event ev;
		size_t used = fcgi_read(&c->rd, p, n, &ev);
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
			v.iov_base = c->rd.reply;
			v.iov_len = c->rd.reply_len;
			if (client_write(s, c, &v, 1, 1) < 0)
				c->conn.gone = 1;
			break;
		case FCGI_EV_ERROR:
			notice(s, "FastCGI connection closed: %s", c->rd.error);
			return -1;
		}
	}
	return c->conn.gone ? -1 : 0;
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

	for (i = 0; i < CONN_DRAIN_READS; i++) {
		ssize_t n = read(c->conn.fd_in, s->req_in, REQ_CHUNK);

		if (n > 0) {
			if (!c->lingering && conn_feed(s, c, s->req_in,
			    (size_t)n) < 0)
				return -1;
			if (conn_pending(&c->conn))
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
accept_ready(struct loop_fd *h, uint32_t events, void *arg)
{
	struct srv *s = arg;
	int i;

	(void)h;
	(void)events;
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
			s->accept_timer.at = now_ms() + ACCEPT_BACKOFF_MS;
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

/* Closes the connections whose request did not arrive in time; the timer
 * is set to the next deadline. A kept connection that is idle between
 * requests goes quietly. */
static void
expire_reading(struct loop_timer *t, int64_t now, void *arg)
{
	struct srv *s = arg;
	struct client *c;

	while ((c = TAILQ_FIRST(&s->reading)) != NULL && c->deadline <= now) {
		if (c->conn.request_id == 0 || c->rd.state != FCGI_IDLE ||
		    c->rd.hdr_got > 0)
			notice(s, "FastCGI connection closed: no complete "
			    "request within %d s", REQUEST_MS / 1000);
		client_close(s, c);
	}
	t->at = c != NULL ? c->deadline : -1;
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
read_inotify(struct loop_fd *h, uint32_t events, void *arg)
{
	struct srv *s = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t i;

	(void)h;
	(void)events;
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
poll_streams(struct loop_timer *t, int64_t now, void *arg)
{
	struct srv *s = arg;
	size_t i;
	int any = 0;

	t->at = -1;	/* check_stream may set it again */
	for (i = 0; i < s->cfg->nstreams; i++) {
		struct stream *st = s->streams[i];

		if (st->active && !st->is_pipe &&
		    follow_needs_poll(&st->follow)) {
			check_stream(s, st);
			any = 1;
		}
	}
	t->at = any ? now + FOLLOW_POLL_MS : -1;
}

/* Closes the lingering connections whose time is up; the timer is set to
 * when the next one's is. */
static void
expire_lingering(struct loop_timer *t, int64_t now, void *arg)
{
	struct srv *s = arg;
	struct client *c;

	while ((c = s->linger.hb_head) != NULL && c->last_write + LINGER_MS <= now)
		client_close(s, c);
	t->at = c != NULL ? c->last_write + LINGER_MS : -1;
}

/* Sends the heartbeats that are due; the timer is set to the next. */
static void
heartbeats(struct loop_timer *t, int64_t now, void *arg)
{
	static const char beat[] = ": heartbeat\n\n";
	struct srv *s = arg;
	int64_t next = -1;
	size_t i;

	for (i = 0; i < s->cfg->nstreams; i++) {
		struct stream *st = s->streams[i];
		int64_t every = (int64_t)st->cfg->heartbeat * 1000;
		struct client *c;

		while ((c = st->hb_head) != NULL && c->last_write + every <= now) {
			if (conn_pending(&c->conn) || c->conn.ending)
				touch(c, now);	/* busy, not idle */
			else if (client_write1(s, c, beat, sizeof(beat) - 1) < 0)
				client_close(s, c);
		}
		if (c != NULL && (next < 0 || c->last_write + every < next))
			next = c->last_write + every;
	}
	t->at = next;
}

static void
client_event(struct loop_fd *h, uint32_t events, void *arg)
{
	struct client *c = LOOP_OWNER(h, struct client, conn.lfd);
	struct srv *s = arg;

	if (c->conn.fd_in >= 0 &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		if (client_input(s, c) < 0) {
			client_close(s, c);
			return;
		}
	} else if (c->conn.fd_in < 0 && (events & (EPOLLERR | EPOLLHUP))) {
		client_close(s, c);
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_flush(&c->conn, &s->loop) < 0) {
			client_close(s, c);
			return;
		}
		if (!conn_pending(&c->conn))
			enqueue(s, c);
	}
}

/* The back-off after a failed accept is over: listen again. */
static void
accept_resume(struct loop_timer *t, int64_t now, void *arg)
{
	struct srv *s = arg;

	(void)now;
	t->at = -1;
	if (!s->stopping)
		listen_set(s, 1);
}

/* SIGTERM's grace is over: run() sees it once the loop wakes. */
static void
stop_wake(struct loop_timer *t, int64_t now, void *arg)
{
	(void)now;
	(void)arg;
	t->at = -1;
}

static void
begin_stop(struct srv *s)
{
	size_t i;

	s->stopping = 1;
	s->stop_deadline = now_ms() + STOP_GRACE_MS;
	s->stop_timer.at = s->stop_deadline;
	listen_set(s, 0);
	s->accept_timer.at = -1;
	/* Requests not in yet are not started. */
	while (!TAILQ_EMPTY(&s->reading))
		client_close(s, TAILQ_FIRST(&s->reading));
	for (i = 0; i < s->cfg->nstreams; i++) {
		struct client *c, *next;

		/* client_end moves c to the tail of the list; it ends each
		 * client once, so the walk stops at the first one seen again. */
		for (c = s->streams[i]->hb_head; c != NULL && !c->conn.ending; c = next) {
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
	st->lfd.fn = pipe_readable;
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
			loop_del(&s->loop, st->pipe.fd);
		pipe_close(&st->pipe);
	} else if (st->active)
		follow_stop(&st->follow, &s->watch);
	free(st);
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
	    sizeof(*next_streams))) == NULL ||
	    cursor_bufs_size(&s->bufs, &next) < 0) {
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
signal_ready(struct loop_fd *h, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	struct srv *s = arg;

	(void)h;
	(void)events;
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
	for (;;) {
		int64_t now = now_ms();

		if (s->stopping && (s->nconns == 0 || now >= s->stop_deadline ||
		    once))
			return 0;
		if (once && s->done)
			return 0;
		if (loop_turn(&s->loop) < 0)
			return 1;
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
	s->loop.ep = s->sig_fd = s->listen_fd = -1;
	s->watch.fd = -1;
	s->sig_h.fn = signal_ready;
	s->listen_h.fn = accept_ready;
	s->inotify_h.fn = read_inotify;
	TAILQ_INIT(&s->reading);
	s->req_in = malloc(REQ_CHUNK);
	s->streams = calloc(s->cfg->nstreams ? s->cfg->nstreams : 1,
	    sizeof(*s->streams));
	if (s->req_in == NULL || s->streams == NULL ||
	    cursor_bufs_size(&s->bufs, s->cfg) < 0) {
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
	if (loop_init(&s->loop, client_run, s) < 0 ||
	    (s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    loop_add(&s->loop, s->sig_fd, EPOLLIN, &s->sig_h) < 0) {
		log_msg("epoll/signalfd: %s", strerror(errno));
		goto err;
	}
	loop_timer_add(&s->loop, &s->hb_timer, heartbeats);
	loop_timer_add(&s->loop, &s->linger_timer, expire_lingering);
	loop_timer_add(&s->loop, &s->reading_timer, expire_reading);
	loop_timer_add(&s->loop, &s->poll_timer, poll_streams);
	loop_timer_add(&s->loop, &s->accept_timer, accept_resume);
	loop_timer_add(&s->loop, &s->stop_timer, stop_wake);
	follow_watch_init(&s->watch);
	if (s->watch.fd >= 0 &&
	    loop_add(&s->loop, s->watch.fd, EPOLLIN, &s->inotify_h) < 0) {
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
	loop_free(&s->loop);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	free(s->streams);
	cursor_bufs_free(&s->bufs);
	free(s->req_in);
	cfg_free(&s->cfg_owned);
	free(s);
}
