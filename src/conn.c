/* conn.c - one web-server connection (or CGI's stdout): output that the
 * socket has not taken, writev with FastCGI framing, END_REQUEST, linger and
 * hang-up. */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "fcgi.h"
#include "log.h"

struct wire {
	struct iovec v[CONN_WIRE_IOV];
	unsigned char hdr[CONN_WIRE_IOV / 2][FCGI_HEADER_LEN];	/* STDOUT */
	int n, nh;
};

int
conn_init(struct conn *c, struct loop *l, int fd_in, int fd_out, int fcgi)
{
	c->fd_in = fd_in;
	c->fd_out = fd_out;
	c->fcgi = fcgi;
	fcntl(c->fd_out, F_SETFL, fcntl(c->fd_out, F_GETFL) | O_NONBLOCK);
	/* CGI: stdout alone, for EPOLLERR/EPOLLHUP (no RDHUP: the server
	 * may shut down its own writing half and still read). */
	if (loop_add(l, c->fd_out, c->fd_in >= 0 ? EPOLLIN | EPOLLRDHUP : 0,
	    &c->lfd) == 0)
		c->pollable = 1;
	else if (errno != EPERM) {	/* EPERM: a regular file, always ready */
		log_msg("epoll_ctl ADD: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
want_out(struct conn *c, struct loop *l, int on)
{
	if (!c->pollable || c->want_out == (unsigned)on)
		return;
	c->want_out = on;
	/* While the web server has not taken what was written, its input
	 * waits too: a peer that sends without reading cannot make answers
	 * pile up here. A gone peer still shows as EPOLLOUT or EPOLLERR. */
	if (loop_mod(l, c->fd_out, on ? EPOLLOUT : c->fd_in >= 0 ?
	    EPOLLIN | EPOLLRDHUP : 0, &c->lfd) < 0) {
		log_msg("epoll_ctl MOD: %s", strerror(errno));
		c->gone = 1;		/* it would stall: close it */
		loop_ready(l, &c->task);
	}
}

int
conn_pending(const struct conn *c)
{
	return c->pend_off < c->pend_len;
}

/* Keeps bytes the socket did not take. -1 on ENOMEM. */
static int
keep(struct conn *c, const char *p, size_t len)
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
 * pend, and EPOLLOUT says when to go on. Returns -1 when the peer is
 * gone. */
static int
wire_flush(struct conn *c, struct loop *l, struct wire *w)
{
	ssize_t n = 0;
	int i;

	if (w->n == 0)
		return 0;
	if (!conn_pending(c)) {
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
	if (conn_pending(c))
		want_out(c, l, 1);
	return 0;
}

int
conn_write(struct conn *c, struct loop *l, const struct iovec *iov, int n,
    int raw)
{
	struct wire w;
	int i;

	w.n = w.nh = 0;
	for (i = 0; i < n; i++) {
		const char *base = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		while (len > 0) {
			size_t chunk = len;

			if (w.n + 2 > CONN_WIRE_IOV && wire_flush(c, l, &w) < 0)
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
	return wire_flush(c, l, &w);
}

int
conn_write1(struct conn *c, struct loop *l, const char *p, size_t len)
{
	struct iovec v;

	v.iov_base = (void *)p;
	v.iov_len = len;
	return conn_write(c, l, &v, 1, 0);
}

int
conn_flush(struct conn *c, struct loop *l)
{
	while (conn_pending(c)) {
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
	want_out(c, l, 0);
	return 0;
}

int
conn_end(struct conn *c, struct loop *l)
{
	unsigned char end[FCGI_END_LEN];
	struct iovec v;

	c->ending = 1;
	if (!c->fcgi)
		return 0;
	v.iov_base = end;
	v.iov_len = fcgi_end_request(end, c->request_id);
	if (conn_write(c, l, &v, 1, 1) < 0) {
		c->gone = 1;
		return -1;
	}
	return 0;
}

/* mod_proxy_fcgi sends the empty STDIN record after the parameters, and
 * when that write meets a closed socket it throws the whole response away
 * and answers 503 itself: so stop writing, and close when the web server
 * does (the owner gives up after a while). */
int
conn_linger(struct conn *c)
{
	return c->fd_in < 0 || shutdown(c->fd_in, SHUT_WR) < 0 ? -1 : 0;
}

void
conn_close(struct conn *c, struct loop *l, void *buf, size_t bufsize)
{
	int i;

	if (c->fd_in >= 0) {
		/* Read what is left, so that close sends FIN, not RST, and
		 * the web server gets the whole response; a peer that keeps
		 * sending gets its RST. */
		for (i = 0; i < CONN_DRAIN_READS; i++)
			if (read(c->fd_in, buf, bufsize) <= 0)
				break;
		close(c->fd_in);
	} else if (c->pollable)
		loop_del(l, c->fd_out);
	c->fd_in = -1;
	c->pollable = 0;
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = 0;
}
