/* srv.c - the process's one loop wired together: the listening socket and
 * the requests being read (their deadline and cap), the streams' sources,
 * inotify and polling, signals (SIGHUP's reload, SIGUSR1, SIGTERM's stop).
 * Responses are session.c's.
 *
 * Why one thread: a stream costs a small struct (no stack, no libfcgi
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
#include "session.h"
#include "source.h"
#include "srv.h"

#define REQ_CHUNK	16384	/* bytes read from a web server at once */
#define STOP_GRACE_MS	700	/* SIGTERM: time to flush, within the 1 s */
#define READING_MAX	512	/* connections whose request is not in yet */
#define REQUEST_MS	5000	/* for a request to arrive in full */
#define ACCEPT_BATCH	64	/* connections accepted per turn */
#define ACCEPT_BACKOFF_MS 100	/* after EMFILE and the like */
#define SNDBUF_BYTES	32768	/* a stream's socket send buffer (the
				 * kernel doubles it): files are re-read
				 * with pread, so a big one buys nothing */
#define NOTICE_MS	1000	/* a peer's protocol errors: a line a second */

struct srv {
	const char *config_path;	/* re-read at SIGHUP */
	struct cfg cfg_owned;
	const struct cfg *cfg;		/* &cfg_owned */
	struct loop loop;
	struct loop_fd sig_h, listen_h, inotify_h;
	struct loop_timer reading_timer;	/* expire_reading */
	struct loop_timer poll_timer;	/* poll_streams: next_poll */
	struct loop_timer accept_timer;	/* accept_resume */
	struct loop_timer stop_timer;	/* stop_deadline: wakes the loop */
	int sig_fd;
	int listen_fd;			/* FastCGI: -1 in CGI mode */
	int listening;			/* listen_fd is in epoll */
	TAILQ_HEAD(, session) reading;	/* requests still being read */
	size_t nreading;
	struct front_addrs peers;	/* FCGI_WEB_SERVER_ADDRS */
	int64_t notice_at;		/* protocol errors: last logged */
	unsigned notices_dropped;	/* not logged since */
	struct follow_watch watch;
	struct source **streams;	/* one a configured stream, in order */
	struct sessions ses;		/* every connection */
	struct cursor_bufs bufs;	/* the cursors' scratch space */
	unsigned char *req_in;		/* REQ_CHUNK bytes read from a web server */
	int stopping;			/* SIGTERM seen */
	int64_t stop_deadline;
};

static void client_event(struct loop_fd *h, uint32_t events, void *arg);
static void request_reset(struct srv *s, struct session *c);
static void reading_stop(struct srv *s, struct session *c);

#define now_ms loop_now

static void
schedule_poll(struct srv *s)
{
	if (s->poll_timer.at < 0)
		s->poll_timer.at = now_ms() + FOLLOW_POLL_MS;
}

/* Answers a decided request on c. */
static void
request_start(struct srv *s, struct session *c, const struct req *req)
{
	char *body = NULL;

	if (s->stopping) {
		session_error(&s->ses, c, req, 503, "shutting down");
		return;
	}
	switch (req->kind) {
	case REQ_ERROR:
		session_error(&s->ses, c, req, req->status, req->message);
		return;
	case REQ_INDEX_JSON:
		body = page_index_json(s->cfg, req);
		session_answer(&s->ses, c, req, 200, "application/json", NULL, body);
		break;
	case REQ_INDEX_HTML:
		body = page_index_html(s->cfg, req);
		session_answer(&s->ses, c, req, 200, "text/html; charset=utf-8", NULL, body);
		break;
	case REQ_VIEWER:
		body = page_viewer(&s->cfg->streams[req->stream]);
		session_answer(&s->ses, c, req, 200, "text/html; charset=utf-8", NULL, body);
		break;
	case REQ_PREFLIGHT:
		session_answer(&s->ses, c, req, 204, NULL, NULL, NULL);
		break;
	case REQ_STREAM:
		session_stream(&s->ses, c, req, s->streams[req->stream]);
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
reading_start(struct srv *s, struct session *c)
{
	c->reading = 1;
	c->deadline = now_ms() + REQUEST_MS;
	loop_timer_soon(&s->reading_timer, c->deadline);
	TAILQ_INSERT_TAIL(&s->reading, c, rd_link);
	s->nreading++;
}

static void
reading_stop(struct srv *s, struct session *c)
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
request_reset(struct srv *s, struct session *c)
{
	session_detach(&s->ses, c);
	c->conn.ending = 0;
	memset(&c->cur, 0, sizeof(c->cur));
	fcgi_request_done(&c->rd);
	reading_start(s, c);
}

/* The sessions' upward calls. */
static void
kept(struct session *c, void *arg)
{
	request_reset(arg, c);
}

static void
closing(struct session *c, void *arg)
{
	reading_stop(arg, c);
}

/* The loop's: a session's turn. */
static void
client_run(struct loop_task *t, void *arg)
{
	struct srv *s = arg;

	session_run(&s->ses, LOOP_OWNER(t, struct session, conn.task));
}

/* The request's parameters are in: decide it and answer. */
static void
request_in(struct srv *s, struct session *c)
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
request_abort(struct srv *s, struct session *c)
{
	if (c->reading) {	/* before its parameters were in */
		reading_stop(s, c);
		c->conn.request_id = c->rd.request_id;
	}
	session_end(&s->ses, c);
}

/* Feeds what the web server sent to c's reader and acts on each event.
 * Returns -1 when the connection must be closed. */
static int
conn_feed(struct srv *s, struct session *c, const unsigned char *p, size_t n)
{
	/* Once END_REQUEST is on its way (and the connection is not kept),
	 * nothing more of the peer's counts: not an aborted request's late
	 * PARAMS. */
	while (n > 0 && !c->conn.gone && !c->conn.ending) {
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
			if (session_write(&s->ses, c, &v, 1, 1) < 0)
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
client_input(struct srv *s, struct session *c)
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
		struct session *c;

		if (s->nreading >= READING_MAX) {
			/* Full of requests not in yet: a web server's arrive in
			 * full within a turn, so the oldest is a silent peer's.
			 * Make room rather than stop accepting. */
			notice(s, "FastCGI connection closed: %d requests being "
			    "read, this one the oldest", READING_MAX);
			session_close(&s->ses, TAILQ_FIRST(&s->reading));
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
		if ((c = session_new(&s->ses, fd, fd, 1, client_event)) != NULL)
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
	struct session *c;

	while ((c = TAILQ_FIRST(&s->reading)) != NULL && c->deadline <= now) {
		if (c->conn.request_id == 0 || c->rd.state != FCGI_IDLE ||
		    c->rd.hdr_got > 0)
			notice(s, "FastCGI connection closed: no complete "
			    "request within %d s", REQUEST_MS / 1000);
		session_close(&s->ses, c);
	}
	t->at = c != NULL ? c->deadline : -1;
}

/* ---- the loop's own events ---- */

static void
check_stream(struct srv *s, struct source *st)
{
	source_check(st, s);
	if (source_needs_poll(st))
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
				struct source *st = s->streams[i];

				if (source_wants(st, ev->mask, ev->wd,
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
		struct source *st = s->streams[i];

		if (source_needs_poll(st)) {
			check_stream(s, st);
			any = 1;
		}
	}
	t->at = any ? now + FOLLOW_POLL_MS : -1;
}

static void
client_event(struct loop_fd *h, uint32_t events, void *arg)
{
	struct session *c = LOOP_OWNER(h, struct session, conn.lfd);
	struct srv *s = arg;

	if (c->conn.fd_in >= 0 &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		if (client_input(s, c) < 0) {
			session_close(&s->ses, c);
			return;
		}
	} else if (c->conn.fd_in < 0 && (events & (EPOLLERR | EPOLLHUP))) {
		session_close(&s->ses, c);
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_flush(&c->conn, &s->loop) < 0) {
			session_close(&s->ses, c);
			return;
		}
		if (!conn_pending(&c->conn))
			session_ready(&s->ses, c);
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

	s->stopping = s->ses.stopping = 1;
	s->stop_deadline = now_ms() + STOP_GRACE_MS;
	s->stop_timer.at = s->stop_deadline;
	listen_set(s, 0);
	s->accept_timer.at = -1;
	/* Requests not in yet are not started. */
	while (!TAILQ_EMPTY(&s->reading))
		session_close(&s->ses, TAILQ_FIRST(&s->reading));
	for (i = 0; i < s->cfg->nstreams; i++)
		session_end_all(&s->ses, s->streams[i]);
}

/* A source's callback: new data, its clients' turn. */
static void
wake_stream(struct source *st, void *arg)
{
	struct srv *s = arg;

	session_wake(&s->ses, st);
}

/* A stream's state, not followed yet. NULL when out of memory. */
static struct source *
stream_new(struct srv *s, const struct cfg_stream *cfg)
{
	return source_new(cfg, &s->loop, &s->watch, s->bufs.in,
	    CURSOR_IN_CHUNK, wake_stream);
}

/* Ends every client of st (END_REQUEST), stops following and frees it. */
static void
stream_free(struct srv *s, struct source *st)
{
	if (st == NULL)
		return;
	session_end_source(&s->ses, st);
	source_free(st);
}

/* SIGHUP: reads the configuration again. A bad one is refused, logged
 * with its line, and the one in force kept. A stream whose settings did
 * not change goes on with its clients; one that changed or went away
 * ends its clients with END_REQUEST (they reconnect, with their
 * Last-Event-ID, to what is configured now). */
static void
reload(struct srv *s)
{
	struct source **next_streams;
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
		if ((next_streams[j] = stream_new(s, &next.streams[j])) == NULL) {
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
			struct source *st = s->streams[i];

			if (st == NULL || !cfg_stream_equal(st->cfg, want))
				continue;
			source_set_cfg(st, want);
			next_streams[j] = st;
			s->streams[i] = NULL;
		}
	}
	for (i = 0; i < s->cfg->nstreams; i++)
		stream_free(s, s->streams[i]);
	free(s->streams);
	cfg_free(&s->cfg_owned);
	s->cfg_owned = next;
	s->streams = s->ses.streams = next_streams;
	s->ses.nstreams = next.nstreams;
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
	    "open, %zu requests being read", s->ses.nconns, s->ses.nclients, s->nreading);
	len = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	for (i = 0; i < s->cfg->nstreams && len < sizeof(line) - 1; i++) {
		const struct source *st = s->streams[i];

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

		if (s->stopping && (s->ses.nconns == 0 || now >= s->stop_deadline ||
		    once))
			return 0;
		if (once && s->ses.done)
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
	struct session *c;
	int size = SNDBUF_BYTES;

	/* mod_cgid's stdout is a socket; mod_cgi's a pipe (ENOTSOCK). */
	(void)setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof(size));
	if ((c = session_new(&s->ses, -1, STDOUT_FILENO, 0,
	    client_event)) == NULL)
		return 1;
	request_start(s, c, req);
	return run(s, 1);
}

/* Signals arrive through signalfd, blocked otherwise: libfcgi's handlers
 * (FCGX_IsCGI installs them) never run. SIGHUP re-reads the
 * configuration, SIGUSR1 logs a status line, SIGUSR2 does nothing;
 * SIGPIPE is ignored (main). -1 with errno. */
static int
signals_open(struct srv *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -1;
	return loop_add(&s->loop, s->sig_fd, EPOLLIN, &s->sig_h);
}

struct srv *
srv_new(const char *config_path, struct cfg *cfg)
{
	struct srv *s;
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
		if ((s->streams[i] = stream_new(s, &s->cfg->streams[i])) == NULL) {
			log_msg("calloc: %s", strerror(errno));
			goto err;
		}
	if (loop_init(&s->loop, client_run, s) < 0 || signals_open(s) < 0) {
		log_msg("epoll/signalfd: %s", strerror(errno));
		goto err;
	}
	session_init(&s->ses, &s->loop, &s->watch, &s->bufs, s->cfg,
	    &s->poll_timer);
	s->ses.streams = s->streams;
	s->ses.nstreams = s->cfg->nstreams;
	s->ses.drain = s->req_in;
	s->ses.drain_len = REQ_CHUNK;
	s->ses.kept = kept;
	s->ses.closing = closing;
	s->ses.arg = s;
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
	session_free_all(&s->ses);
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
