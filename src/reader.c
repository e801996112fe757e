/* reader.c - the web servers' side of the loop: the listening socket
 * (accept, its back-off, FCGI_WEB_SERVER_ADDRS) and the requests being
 * read (the deadline, the cap with eviction of the oldest, the FastCGI
 * reader fed and its answers, ABORT_REQUEST); a request that is in is
 * decided and handed up. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reader.h"

#define REPLIES_MAX	4096	/* management answers written at once */

/* A peer's protocol errors are logged, but at most a line a second: a
 * hostile local user must not fill the error log. */
static void __attribute__((format(printf, 2, 3)))
notice(struct reader *s, const char *fmt, ...)
{
	int64_t now = loop_now();
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
listen_set(struct reader *s, int on)
{
	if (s->fd < 0 || s->listening == on)
		return;
	if ((on ? loop_add(s->loop, s->fd, EPOLLIN | EPOLLEXCLUSIVE,
	    &s->listen_h) : loop_del(s->loop, s->fd)) < 0) {
		log_msg("epoll_ctl listening socket: %s", strerror(errno));
		return;
	}
	s->listening = on;
}

/* c waits for a request: it must be in within REQUEST_MS. */
static void
reading_start(struct reader *s, struct session *c)
{
	c->conn.reading = 1;
	c->deadline = loop_now() + REQUEST_MS;
	loop_timer_soon(&s->reading_timer, c->deadline);
	TAILQ_INSERT_TAIL(&s->reading, c, rd_link);
	s->nreading++;
}

void
reader_closing(struct reader *s, struct session *c)
{
	if (!c->conn.reading)
		return;
	TAILQ_REMOVE(&s->reading, c, rd_link);
	c->conn.reading = 0;
	s->nreading--;
}

/* A kept connection (FCGI_KEEP_CONN) whose response has ended waits for
 * the web server's next request. */
void
reader_kept(struct reader *s, struct session *c)
{
	session_detach(s->ses, c);
	c->conn.ending = 0;
	memset(&c->cur, 0, sizeof(c->cur));
	fcgi_request_done(&c->rd);
	reading_start(s, c);
}

/* The request's parameters are in: decide it and answer. */
static void
request_in(struct reader *s, struct session *c)
{
	struct req req;

	reader_closing(s, c);
	c->conn.request_id = c->rd.request_id;
	front_fcgi_request(s->cfg, &c->rd, &req);
	fcgi_reader_free(&c->rd);	/* the decision keeps nothing of it */
	s->request(c, &req, s->arg);
}

/* FCGI_ABORT_REQUEST: the web server gave up on the request. */
static void
request_abort(struct reader *s, struct session *c)
{
	if (c->conn.reading) {	/* before its parameters were in */
		reader_closing(s, c);
		c->conn.request_id = c->rd.request_id;
	}
	session_end(s->ses, c);
}

/* Writes the management answers gathered by conn_feed; sets gone when
 * the peer has gone. */
static void
send_replies(struct reader *s, struct session *c, unsigned char *buf,
    size_t *len)
{
	struct iovec v;

	if (*len == 0 || c->conn.gone)
		return;
	v.iov_base = buf;
	v.iov_len = *len;
	if (session_write(s->ses, c, &v, 1, 1) < 0)
		c->conn.gone = 1;
	*len = 0;
}

/* Feeds what the web server sent to c's reader and acts on each event.
 * Management answers go out a batch at a time, in order with the rest
 * (one write a record let a flood of them grow the pending output a
 * record at a time). Returns -1 when the connection must be closed. */
static int
conn_feed(struct reader *s, struct session *c, const unsigned char *p, size_t n)
{
	unsigned char replies[REPLIES_MAX];
	size_t rlen = 0;

	/* Once END_REQUEST is on its way (and the connection is not kept),
	 * nothing more of the peer's counts: not an aborted request's late
	 * PARAMS. */
	while (n > 0 && !c->conn.gone && !c->conn.ending) {
		enum fcgi_event ev;
		size_t used = fcgi_read(&c->rd, p, n, &ev);

		p += used;
		n -= used;
		switch (ev) {
		case FCGI_EV_NONE:
			break;
		case FCGI_EV_REQUEST:
			send_replies(s, c, replies, &rlen);
			request_in(s, c);
			break;
		case FCGI_EV_ABORT:
			send_replies(s, c, replies, &rlen);
			request_abort(s, c);
			break;
		case FCGI_EV_REPLY:
			if (rlen + FCGI_REPLY_MAX > sizeof(replies))
				send_replies(s, c, replies, &rlen);
			rlen += fcgi_reply(&c->rd, replies + rlen);
			break;
		case FCGI_EV_ERROR:
			send_replies(s, c, replies, &rlen);
			notice(s, "FastCGI connection closed: %s", c->rd.error);
			return -1;
		}
	}
	send_replies(s, c, replies, &rlen);
	return c->conn.gone ? -1 : 0;
}

/* Reads what the web server sent, CONN_DRAIN_READS reads at most a turn,
 * so that one peer cannot hold the loop. Until the response is over it goes
 * through the reader; then it is only drained. EOF means the web server
 * closed the connection: its client went away. Returns -1 when the
 * connection must be closed. */
int
reader_input(struct reader *s, struct session *c)
{
	int i;

	for (i = 0; i < CONN_DRAIN_READS; i++) {
		ssize_t n = read(c->conn.fd_in, s->in, READER_CHUNK);

		if (n > 0) {
			if (!c->conn.lingering && conn_feed(s, c, s->in,
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
	struct reader *s = LOOP_OWNER(h, struct reader, listen_h);
	int i;

	(void)events;
	(void)arg;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		int fd, size = CONN_SNDBUF, one = 1;
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		struct session *c;

		if (s->nreading >= READING_MAX) {
			/* Full of requests not in yet: a web server's arrive in
			 * full within a turn, so the oldest is a silent peer's.
			 * Make room rather than stop accepting. */
			struct session *oldest = TAILQ_FIRST(&s->reading);

			notice(s, "FastCGI connection closed: %d requests being "
			    "read, this one the oldest", READING_MAX);
			/* Closed at its turn, not now: an event of this epoll
			 * batch may still point at it. */
			reader_closing(s, oldest);
			oldest->conn.gone = 1;
			session_ready(s->ses, oldest);
		}
		fd = accept4(s->fd, (struct sockaddr *)&peer, &peer_len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and the like: wait, and keep serving. */
			notice(s, "accept: %s", strerror(errno));
			listen_set(s, 0);
			s->accept_timer.at = loop_now() + ACCEPT_BACKOFF_MS;
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
		if ((c = session_new(s->ses, fd, fd, 1, s->on_event)) != NULL)
			reading_start(s, c);
	}
}

/* Closes the connections whose request did not arrive in time; the timer
 * is set to the next deadline. A kept connection that is idle between
 * requests goes quietly. */
static void
expire_reading(struct loop_timer *t, int64_t now, void *arg)
{
	struct reader *s = LOOP_OWNER(t, struct reader, reading_timer);
	struct session *c;

	(void)arg;
	while ((c = TAILQ_FIRST(&s->reading)) != NULL && c->deadline <= now) {
		if (c->conn.request_id == 0 || c->rd.state != FCGI_IDLE ||
		    c->rd.hdr_got > 0)
			notice(s, "FastCGI connection closed: no complete "
			    "request within %d s", REQUEST_MS / 1000);
		session_close(s->ses, c);
	}
	t->at = c != NULL ? c->deadline : -1;
}

/* The back-off after a failed accept is over: listen again. */
static void
accept_resume(struct loop_timer *t, int64_t now, void *arg)
{
	struct reader *s = LOOP_OWNER(t, struct reader, accept_timer);

	(void)now;
	(void)arg;
	t->at = -1;
	if (!s->stopping)
		listen_set(s, 1);
}


void
reader_init(struct reader *s, struct loop *l, struct sessions *ses,
    const struct cfg *cfg, unsigned char *in)
{
	memset(s, 0, sizeof(*s));
	s->listen_h.fn = accept_ready;
	s->loop = l;
	s->ses = ses;
	s->cfg = cfg;
	s->fd = -1;
	s->in = in;
	TAILQ_INIT(&s->reading);
	loop_timer_add(l, &s->reading_timer, expire_reading);
	loop_timer_add(l, &s->accept_timer, accept_resume);
}

/* Over loopback a TCP segment may be 64 KB, a stream's whole send buffer
 * (CONN_SNDBUF doubled): one segment in flight, which the web server's
 * kernel acknowledges only when its delayed-ACK timer fires (40 ms), so a
 * client catching up got 64 KB each 40 ms. Smaller segments keep several
 * in flight, and a receiver acknowledges every second one at once. The
 * listening socket's limit is its connections'; links other than loopback
 * have smaller segments anyway. */
static void
limit_segments(int fd)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	int mss = CONN_TCP_MSS;

	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 ||
	    (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) < 0)
		log_msg("setsockopt TCP_MAXSEG: %s", strerror(errno));
}

int
reader_listen(struct reader *s, int fd)
{
	int flags = fcntl(fd, F_GETFL);
	char err[128];

	/* Another process sharing the socket may take the connection that
	 * woke this one: accept must not block then. */
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		log_msg("fcntl listening socket: %s", strerror(errno));
		return -1;
	}
	if (front_addrs_parse(&s->peers, getenv("FCGI_WEB_SERVER_ADDRS"), err,
	    sizeof(err)) < 0) {
		log_msg("%s", err);
		return -1;
	}
	limit_segments(fd);
	s->fd = fd;
	listen_set(s, 1);
	return s->listening ? 0 : -1;
}

void
reader_stop(struct reader *s)
{
	s->stopping = 1;
	listen_set(s, 0);
	s->accept_timer.at = -1;
	/* Requests not in yet are not started. */
	while (!TAILQ_EMPTY(&s->reading))
		session_close(s->ses, TAILQ_FIRST(&s->reading));
}
