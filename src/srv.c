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
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "cursor.h"
#include "follow.h"
#include "log.h"
#include "loop.h"
#include "page.h"
#include "reader.h"
#include "session.h"
#include "signals.h"
#include "source.h"
#include "watch.h"
#include "srv.h"

#define STOP_GRACE_MS	700	/* SIGTERM: time to flush, within the 1 s */

struct srv {
	const char *config_path;	/* re-read at SIGHUP */
	struct cfg cfg_owned;
	const struct cfg *cfg;		/* &cfg_owned */
	struct loop loop;
	struct loop_timer stop_timer;	/* stop_deadline: wakes the loop */
	struct signals sig;
	struct reader rdr;		/* the listening socket, requests being
					 * read */
	struct watch watch;		/* inotify, polling */
	struct source **streams;	/* one a configured stream, in order */
	struct sessions ses;		/* every connection */
	struct cursor_bufs bufs;	/* the cursors' scratch space */
	unsigned char *req_in;		/* READER_CHUNK bytes read from a web
					 * server */
	int stopping;			/* SIGTERM seen */
	int64_t stop_deadline;
};

static void client_event(struct loop_fd *h, uint32_t events, void *arg);


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

/* The sessions' upward calls. */
static void
kept(struct session *c, void *arg)
{
	struct srv *s = arg;

	reader_kept(&s->rdr, c);
}

static void
closing(struct session *c, void *arg)
{
	struct srv *s = arg;

	reader_closing(&s->rdr, c);
}

/* The loop's: a session's turn. */
static void
client_run(struct loop_task *t, void *arg)
{
	struct srv *s = arg;

	session_run(&s->ses, LOOP_OWNER(t, struct session, conn.task));
}

/* A request is in, decided: answer it. */
static void
request(struct session *c, const struct req *req, void *arg)
{
	request_start(arg, c, req);
}

static void
client_event(struct loop_fd *h, uint32_t events, void *arg)
{
	struct session *c = LOOP_OWNER(h, struct session, conn.lfd);
	struct srv *s = arg;

	if (c->conn.fd_in >= 0 &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		if (reader_input(&s->rdr, c) < 0) {
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
	s->stop_deadline = loop_now() + STOP_GRACE_MS;
	s->stop_timer.at = s->stop_deadline;
	reader_stop(&s->rdr);
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
	return source_new(cfg, &s->loop, &s->watch.fw, s->bufs.in,
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

/* For reload: a new source for every section of next that is new or
 * changed (NULL in the others, taken over by take_over). NULL when out
 * of memory: nothing is changed then. */
static struct source **
reload_sources(struct srv *s, const struct cfg *next)
{
	struct source **next_streams;
	size_t i, j;

	if ((next_streams = calloc(next->nstreams ? next->nstreams : 1,
	    sizeof(*next_streams))) == NULL)
		return NULL;
	for (j = 0; j < next->nstreams; j++) {
		for (i = 0; i < s->cfg->nstreams; i++)
			if (cfg_stream_equal(s->streams[i]->cfg, &next->streams[j]))
				break;
		if (i < s->cfg->nstreams)
			continue;	/* taken over */
		if ((next_streams[j] = stream_new(s, &next->streams[j])) == NULL) {
			while (j-- > 0)
				free(next_streams[j]);
			free(next_streams);
			return NULL;
		}
	}
	return next_streams;
}

/* For reload: each stream that did not change goes on in next_streams,
 * its settings now those of next; those left in s->streams are freed
 * (their clients ended). */
static void
take_over(struct srv *s, struct source **next_streams, const struct cfg *next)
{
	size_t i, j;

	for (j = 0; j < next->nstreams; j++) {
		const struct cfg_stream *want = &next->streams[j];

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

	if (cfg_load(&next, s->config_path, err, sizeof(err)) < 0) {
		log_msg("SIGHUP: %s; the configuration in force is kept", err);
		return;
	}
	if (cursor_bufs_size(&s->bufs, &next) < 0 ||
	    (next_streams = reload_sources(s, &next)) == NULL) {
		log_msg("SIGHUP: malloc: %s; the configuration in force is kept",
		    strerror(errno));
		cfg_free(&next);
		return;
	}
	take_over(s, next_streams, &next);
	cfg_free(&s->cfg_owned);
	s->cfg_owned = next;
	s->streams = s->ses.streams = s->watch.streams = next_streams;
	s->ses.nstreams = s->watch.nstreams = next.nstreams;
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
	    "open, %zu requests being read", s->ses.nconns, s->ses.nclients, s->rdr.nreading);
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

/* What the signals ask, between two epoll batches (signals.c). */
static void
on_signals(unsigned what, void *arg)
{
	struct srv *s = arg;

	if (what & SIGNALS_STATUS)
		log_status(s);
	if ((what & SIGNALS_STOP) && !s->stopping)
		begin_stop(s);
	if ((what & SIGNALS_RELOAD) && !s->stopping)
		reload(s);
}

/* Runs the loop until SIGTERM, or with once set until the first client
 * is done. */
static int
run(struct srv *s, int once)
{
	for (;;) {
		int64_t now = loop_now();

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
	if (reader_listen(&s->rdr, listen_fd) < 0)
		return 1;
	return run(s, 0);
}

int
srv_run_cgi(struct srv *s, const struct req *req)
{
	struct session *c;
	int size = CONN_SNDBUF;

	/* mod_cgid's stdout is a socket; mod_cgi's a pipe (ENOTSOCK). */
	(void)setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof(size));
	if ((c = session_new(&s->ses, -1, STDOUT_FILENO, 0,
	    client_event)) == NULL)
		return 1;
	request_start(s, c, req);
	return run(s, 1);
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
	s->loop.ep = s->sig.fd = -1;
	s->watch.fw.fd = -1;
	s->req_in = malloc(READER_CHUNK);
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
	/* SIGHUP re-reads the configuration, SIGUSR1 logs a status line,
	 * SIGUSR2 does nothing; SIGPIPE is ignored (main). */
	if (loop_init(&s->loop, client_run, s) < 0 ||
	    signals_open(&s->sig, &s->loop, on_signals, s) < 0) {
		log_msg("epoll/signalfd: %s", strerror(errno));
		goto err;
	}
	session_init(&s->ses, &s->loop, &s->watch, &s->bufs, s->cfg);
	s->ses.streams = s->streams;
	s->ses.nstreams = s->cfg->nstreams;
	s->ses.drain = s->req_in;
	s->ses.drain_len = READER_CHUNK;
	s->ses.kept = kept;
	s->ses.closing = closing;
	s->ses.arg = s;
	reader_init(&s->rdr, &s->loop, &s->ses, s->cfg, s->req_in);
	s->rdr.on_event = client_event;
	s->rdr.request = request;
	s->rdr.arg = s;
	loop_timer_add(&s->loop, &s->stop_timer, stop_wake);
	watch_init(&s->watch, &s->loop);
	s->watch.streams = s->streams;
	s->watch.nstreams = s->cfg->nstreams;
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
	watch_free(&s->watch);
	loop_free(&s->loop);
	signals_close(&s->sig);
	free(s->streams);
	cursor_bufs_free(&s->bufs);
	free(s->req_in);
	cfg_free(&s->cfg_owned);
	free(s);
}
