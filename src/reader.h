/* reader.h - the web servers' side of the loop: the listening socket
 * (accept, its back-off, FCGI_WEB_SERVER_ADDRS) and the requests being
 * read (the deadline, the cap with eviction of the oldest, the FastCGI
 * reader fed and its answers, ABORT_REQUEST); a request that is in is
 * decided and handed up. */
#ifndef SSE_TAIL_READER_H
#define SSE_TAIL_READER_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "front.h"
#include "loop.h"
#include "req.h"
#include "session.h"

#define READER_CHUNK	16384	/* bytes read from a web server at once */
#define READING_MAX	512	/* connections whose request is not in yet */
#define REQUEST_MS	5000	/* for a request to arrive in full */
#define ACCEPT_BATCH	64	/* connections accepted per turn */
#define ACCEPT_BACKOFF_MS 100	/* after EMFILE and the like */
#define NOTICE_MS	1000	/* a peer's protocol errors: a line a second */

struct reader {
	struct loop_fd listen_h;	/* the listening socket's */
	struct loop *loop;
	struct sessions *ses;
	const struct cfg *cfg;		/* the configuration in force */
	int fd;				/* listening: -1 in CGI mode */
	int listening;			/* fd is in epoll */
	int stopping;			/* SIGTERM: no more accepting */
	TAILQ_HEAD(, session) reading;	/* requests not in yet, oldest first */
	size_t nreading;
	struct front_addrs peers;	/* FCGI_WEB_SERVER_ADDRS */
	int64_t notice_at;		/* protocol errors: last logged */
	unsigned notices_dropped;	/* not logged since */
	struct loop_timer reading_timer;	/* the oldest request's deadline */
	struct loop_timer accept_timer;	/* the end of accept's back-off */
	unsigned char *in;		/* READER_CHUNK bytes: the owner's */
	/* Set by the owner: the sessions' epoll handler, and the upward
	 * call with a decided request (arg is the owner's). */
	void (*on_event)(struct loop_fd *, uint32_t, void *);
	void (*request)(struct session *c, const struct req *req, void *arg);
	void *arg;
};

/* Sets r up, not listening; in is READER_CHUNK bytes of scratch. */
void reader_init(struct reader *r, struct loop *l, struct sessions *ses,
    const struct cfg *cfg, unsigned char *in);

/* Serves the listening socket fd (FCGI_WEB_SERVER_ADDRS read now).
 * Returns 0, or -1 (logged). */
int reader_listen(struct reader *r, int fd);

/* SIGTERM: stops accepting and closes the requests not in yet. */
void reader_stop(struct reader *r);

/* Reads what the web server sent on c, CONN_DRAIN_READS reads at most a
 * turn, and acts on it. Returns -1 when the connection must be closed. */
int reader_input(struct reader *r, struct session *c);

/* The sessions' upward calls, forwarded by the owner: a kept
 * connection's response ended (wait for the next request); c is about
 * to be freed. */
void reader_kept(struct reader *r, struct session *c);
void reader_closing(struct reader *r, struct session *c);

#endif
