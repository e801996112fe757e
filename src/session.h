/* session.h - one response: a web-server connection and, for a stream, its
 * cursor in a source; the preamble, admission (max-clients), heartbeats,
 * the end (END_REQUEST, or the next request on a kept connection) and the
 * linger after it. */
#ifndef SSE_TAIL_SESSION_H
#define SSE_TAIL_SESSION_H

#include <sys/queue.h>
#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "conn.h"
#include "cursor.h"
#include "fcgi.h"
#include "loop.h"
#include "req.h"
#include "source.h"
#include "watch.h"

#define SESSION_LINGER_MS	2000	/* a finished connection waits for EOF */

/* Kept lean: there is one per connection, thousands of them. */
struct session {
	struct conn conn;		/* lfd: the owner's handler; task: its
					 * turn (session_run); lingering: on
					 * the linger list; reading */
	TAILQ_ENTRY(session) hb_link;	/* its source's subscribers, oldest
					 * write first; or the linger list */
	LIST_ENTRY(session) all_link;	/* every session */
	TAILQ_ENTRY(session) rd_link;	/* the owner's: requests being read */
	struct source *st;		/* NULL for a one-shot answer */
	int64_t deadline;		/* reading: ms by which it must be in */
	struct fcgi_reader rd;		/* FastCGI: the request reader */
	int64_t last_write;		/* ms: when output was last sent;
					 * lingering: when it began */
	struct cursor cur;		/* where it is in its stream */
};

/* Every session of a loop, and what they share. */
struct sessions {
	struct loop *loop;
	struct watch *watch;
	struct cursor_bufs *bufs;
	const struct cfg *cfg;		/* the configuration in force */
	struct source **streams;	/* one a configured stream */
	size_t nstreams;
	LIST_HEAD(, session) all;
	struct source_subs linger;	/* finished, waiting for EOF */
	struct loop_timer hb_timer;	/* heartbeats */
	struct loop_timer linger_timer;
	size_t nclients;		/* stream sessions: max-clients */
	size_t nconns;			/* every session */
	int stopping;			/* SIGTERM: no next request */
	int done;			/* a session was closed */
	unsigned char *drain;		/* what a close reads into */
	size_t drain_len;
	/* Upward calls, to the owner (arg): a kept connection's response
	 * ended (read the next request); a session is about to be freed. */
	void (*kept)(struct session *c, void *arg);
	void (*closing)(struct session *c, void *arg);
	void *arg;
};

/* Sets up the shared part and its timers; the owner sets streams,
 * nstreams, drain, the callbacks and arg. */
void session_init(struct sessions *s, struct loop *l, struct watch *w,
    struct cursor_bufs *bufs, const struct cfg *cfg);

/* A session on a web-server connection (FastCGI: fd_in is fd_out) or on
 * CGI's stdout (fd_in -1), on_event its epoll handler. NULL when that
 * fails (logged; fd_in is closed then, and done set). */
struct session *session_new(struct sessions *s, int fd_in, int fd_out,
    int fcgi, void (*on_event)(struct loop_fd *, uint32_t, void *));

/* Frees c, closing its connection (the closing callback first). */
void session_close(struct sessions *s, struct session *c);
void session_free_all(struct sessions *s);

/* Queues c for a turn; c's turn: produces its next events within a
 * budget, lingers once it ended, closes it when gone. */
void session_ready(struct sessions *s, struct session *c);
void session_run(struct sessions *s, struct session *c);

/* Sends content (raw: already FastCGI records). 0, or -1 when gone. */
int session_write(struct sessions *s, struct session *c,
    const struct iovec *iov, int n, int raw);

/* Ends the response: END_REQUEST (FastCGI), then the next request on a
 * kept connection (the kept callback), or linger and close. */
void session_end(struct sessions *s, struct session *c);

/* A whole answer that is not a stream: headers (with req's CORS ones),
 * body (NULL for none), end. */
void session_answer(struct sessions *s, struct session *c,
    const struct req *req, int status, const char *type, const char *extra,
    const char *body);

/* A short text/plain error; a 503 says when to come back. */
void session_error(struct sessions *s, struct session *c,
    const struct req *req, int status, const char *message);

/* Starts the stream req asks for on c, from st: admission (max-clients:
 * 503), the source opened for its first client (503 when it cannot be),
 * the preamble at once (so the client's open event fires), the cursor
 * set. */
void session_stream(struct sessions *s, struct session *c,
    const struct req *req, struct source *st);

/* Takes c off the ready queue and out of its source or the linger list. */
void session_detach(struct sessions *s, struct session *c);

/* New data in st: its idle subscribers' turn. */
void session_wake(struct sessions *s, struct source *st);

/* Ends every subscriber of st (SIGTERM); ends and detaches them, their
 * pending output still going (st goes away: SIGHUP). */
void session_end_all(struct sessions *s, struct source *st);
void session_end_source(struct sessions *s, struct source *st);

#endif
