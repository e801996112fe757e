/* conn.h - one web-server connection (or CGI's stdout): output that the
 * socket has not taken, writev with FastCGI framing, END_REQUEST, linger and
 * hang-up. */
#ifndef SSE_TAIL_CONN_H
#define SSE_TAIL_CONN_H

#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define CONN_WIRE_IOV	256	/* spans of one writev */
#define CONN_DRAIN_READS 4	/* reads of a connection's input per turn */
#define CONN_SNDBUF	32768	/* a stream's socket send buffer (the
				 * kernel doubles it): files are re-read
				 * with pread, so a big one buys nothing */
#define CONN_TCP_MSS	(CONN_SNDBUF / 2) /* a TCP segment's most: a
				 * quarter of that buffer, so that several
				 * are in flight (reader_listen) */

/* The owner embeds it, sets lfd.fn (its epoll handler) and runs task's
 * turns: a connection queues its task when it must be closed. */
struct conn {
	struct loop_fd lfd;
	struct loop_task task;
	int fd_in;		/* the connection, watched for input and
				 * hang-up; -1 for none (CGI) */
	int fd_out;		/* the connection again, or CGI's stdout */
	uint16_t request_id;	/* FastCGI: of the response being written */
	unsigned fcgi:1;	/* frame output as FastCGI records */
	unsigned want_out:1;	/* EPOLLOUT armed */
	unsigned pollable:1;	/* fd_out is in epoll */
	unsigned ending:1;	/* the response is over: close once pend is
				 * written */
	unsigned gone:1;	/* close at its next turn */
	unsigned lingering:1;	/* the owner's: over, waiting for the peer's
				 * close */
	unsigned reading:1;	/* the owner's: a request is awaited */
	char *pend;		/* output the socket has not taken */
	size_t pend_len, pend_off;
};

/* Sets c up on fd_in and fd_out (fd_in may be -1), makes fd_out
 * non-blocking and watches it. Returns 0, or -1 (logged) when it cannot
 * be watched; the descriptors are then still the caller's. */
int conn_init(struct conn *c, struct loop *l, int fd_in, int fd_out,
    int fcgi);

/* True while output waits for the socket: input and turns wait too. */
int conn_pending(const struct conn *c);

/* Sends n spans of content (raw: bytes that are already FastCGI records,
 * else each is framed as FCGI_STDOUT of request_id). What the socket does
 * not take is kept, and EPOLLOUT armed. Returns 0, or -1 when the peer is
 * gone. */
int conn_write(struct conn *c, struct loop *l, const struct iovec *iov,
    int n, int raw);
int conn_write1(struct conn *c, struct loop *l, const char *p, size_t len);

/* EPOLLOUT: writes what is pending. Returns -1 when the peer is gone. */
int conn_flush(struct conn *c, struct loop *l);

/* Marks the response ended and, for FastCGI, sends END_REQUEST. Returns
 * 0, or -1 when the peer is gone (c->gone is then set). */
int conn_end(struct conn *c, struct loop *l);

/* The response is all written: stops writing (shutdown), so that the
 * peer's own close ends the connection. -1 when there is nothing to wait
 * for (CGI, or a failed shutdown): close it now. */
int conn_linger(struct conn *c);

/* Closes the connection: reads what the peer sent (at most
 * CONN_DRAIN_READS times bufsize bytes into buf), so that close sends FIN,
 * not RST, and frees the pending output. */
void conn_close(struct conn *c, struct loop *l, void *buf, size_t bufsize);

#endif
