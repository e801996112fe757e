/* check_session.c - unit tests of one response (session.c) on a socketpair
 * with no web server: the preamble and the backlog, admission by
 * max-clients, heartbeats at their interval, END_REQUEST, a kept connection
 * back to reading, and the linger after a response, with the loop's own
 * timers on a file stream that is polled. */
#include <sys/socket.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"
#include "check_suites.h"
#include "check_util.h"

#define SLACK_MS	500	/* how late a timer may be on a busy machine */

static char dir[64], path[128];
static struct loop l;
static struct watch w;
static struct cursor_bufs bufs;
static struct cfg cfg;
static struct cfg_stream st_cfg;
static struct source *st;
static struct sessions ses;
static struct session *c;
static int peer;		/* the web server's end of c */
static char scratch[4096];
static struct req req;
static int kepts, closings;
static char got[65536];		/* the STDOUT content the peer read */
static size_t got_len;
static int ended, eof;		/* END_REQUEST read; EOF read */
static struct loop_timer tick;	/* a turn never sleeps long */

static void
run(struct loop_task *t, void *arg)
{
	(void)arg;
	session_run(&ses, LOOP_OWNER(t, struct session, conn.task));
}

static void
on_event(struct loop_fd *h, uint32_t events, void *arg)
{
	(void)h;
	(void)events;
	(void)arg;
}

static void
wake(struct source *src, void *arg)
{
	(void)arg;
	session_wake(&ses, src);
}

/* As the reader does: the next request is awaited on the connection. */
static void
kept(struct session *k, void *arg)
{
	(void)arg;
	kepts++;
	session_detach(&ses, k);
	k->conn.ending = 0;
	memset(&k->cur, 0, sizeof(k->cur));
	k->conn.reading = 1;
}

static void
closing(struct session *k, void *arg)
{
	(void)k;
	(void)arg;
	closings++;
}

/* A FastCGI session on a socketpair, request 1. */
static struct session *
connect_one(int *peer_fd)
{
	struct session *k;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	k = session_new(&ses, sv[0], sv[0], 1, on_event);
	ck_assert_ptr_nonnull(k);
	k->conn.request_id = 1;
	*peer_fd = sv[1];
	return k;
}

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);	/* as main does */
	strcpy(dir, "/tmp/check_session.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	check_append(path, "one\ntwo\n");
	memset(&st_cfg, 0, sizeof(st_cfg));
	strcpy(st_cfg.name, "t");
	st_cfg.path = path;
	st_cfg.heartbeat = 1;
	st_cfg.retry = 3000;
	st_cfg.backlog = 2;
	st_cfg.max_clients = 5;
	st_cfg.max_line = 1024;
	st_cfg.buffer = 4096;
	memset(&cfg, 0, sizeof(cfg));
	cfg.defaults = st_cfg;
	cfg.defaults.path = NULL;
	cfg.streams = &st_cfg;
	cfg.nstreams = 1;
	memset(&req, 0, sizeof(req));
	req.kind = REQ_STREAM;
	req.id_kind = ID_NONE;
	req.lines = -1;
	kepts = closings = 0;
	got_len = 0;
	got[0] = '\0';
	ended = eof = 0;

	ck_assert_int_eq(loop_init(&l, run, NULL), 0);
	loop_timer_add(&l, &tick, check_ticks);
	tick.at = loop_now() + 20;
	memset(&w, 0, sizeof(w));
	w.fw.fd = -1;		/* polled: source_check is called by hand */
	w.poll.at = -1;
	memset(&bufs, 0, sizeof(bufs));
	ck_assert_int_eq(cursor_bufs_size(&bufs, &cfg), 0);
	st = source_new(&st_cfg, &l, &w.fw, bufs.in, CURSOR_IN_CHUNK, wake);
	ck_assert_ptr_nonnull(st);
	memset(&ses, 0, sizeof(ses));
	session_init(&ses, &l, &w, &bufs, &cfg);
	ses.streams = &st;
	ses.nstreams = 1;
	ses.drain = (unsigned char *)scratch;
	ses.drain_len = sizeof(scratch);
	ses.kept = kept;
	ses.closing = closing;
	c = connect_one(&peer);
}

static void
teardown(void)
{
	session_free_all(&ses);
	source_free(st);
	cursor_bufs_free(&bufs);
	loop_free(&l);
	close(peer);
	unlink(path);
	rmdir(dir);
}

static int
readable(int fd)
{
	struct pollfd p;

	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) == 1;
}

static void
read_n(int fd, void *buf, size_t n)
{
	size_t have = 0;

	while (have < n) {
		ssize_t r = read(fd, (char *)buf + have, n - have);

		ck_assert_int_gt(r, 0);
		have += (size_t)r;
	}
}

/* Reads the whole records fd has for us now: STDOUT content appended to
 * got, END_REQUEST and EOF noted.
 * The session writes whole records at once, so none is ever half in. */
static void
collect_from(int fd)
{
	while (!eof && readable(fd)) {
		unsigned char h[FCGI_HEADER_LEN];
		char body[FCGI_MAX_LENGTH + 255];
		ssize_t r;
		size_t n;

		if ((r = read(fd, h, 1)) == 0) {
			eof = 1;
			break;
		}
		ck_assert_int_eq(r, 1);
		read_n(fd, h + 1, sizeof(h) - 1);
		ck_assert_int_eq(h[0], FCGI_VERSION_1);
		ck_assert_int_eq(h[2] << 8 | h[3], 1);
		n = (size_t)(h[4] << 8 | h[5]) + h[6];
		read_n(fd, body, n);
		n -= h[6];
		if (h[1] == FCGI_END_REQUEST)
			ended = 1;
		else if (h[1] == FCGI_STDOUT) {
			ck_assert(!ended);
			ck_assert_uint_lt(got_len + n, sizeof(got));
			memcpy(got + got_len, body, n);
			got_len += n;
			got[got_len] = '\0';
		}
	}
}

static void
collect(void)
{
	collect_from(peer);
}

/* Turns the loop until got holds what, for at most limit ms; returns
 * when it came (ms of loop_now), or fails. */
static int64_t
turn_until_got(const char *what, int64_t limit)
{
	int64_t until = loop_now() + limit;

	for (;;) {
		collect();
		if (strstr(got, what) != NULL)
			return loop_now();
		ck_assert_msg(loop_now() < until, "no \"%s\" in %lld ms: %s",
		    what, (long long)limit, got);
		ck_assert_int_eq(loop_turn(&l), 0);
	}
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* --- Response --- */

/* The headers and the retry go out at once, before any event, so that
 * the client's open event fires; the backlog is the session's next turn. */
START_TEST(preamble_at_once_then_the_backlog)
{
	session_stream(&ses, c, &req, st);
	collect();
	ck_assert_msg(strncmp(got, "Status: 200 OK\r\n", 16) == 0, "%s", got);
	ck_assert_ptr_nonnull(strstr(got,
	    "Content-Type: text/event-stream\r\n"));
	ck_assert(ends_with(got, "\r\n\r\nretry: 3000\n: sse-tail\n\n"
	    "id: 0.811c9dc5\n\n"));
	ck_assert_uint_eq(ses.nclients, 1);
	ck_assert_uint_eq(st->nclients, 1);
	ck_assert(loop_is_ready(&c->conn.task));
	ck_assert_int_eq(loop_turn(&l), 0);
	collect();
	ck_assert(ends_with(got, ": sse-tail\n\nid: 0.811c9dc5\n\n"
	    "id: 4.f08dc37f\ndata: one\n\nid: 8.295989f7\ndata: two\n\n"));
	ck_assert(!ended);
}
END_TEST

/* New data in the file: the idle subscriber's turn brings it. */
START_TEST(new_lines_are_sent_when_the_source_wakes)
{
	session_stream(&ses, c, &req, st);
	turn_until_got("data: two\n\n", 1000);
	check_append(path, "three\n");
	source_check(st, NULL);
	turn_until_got("id: 14.f844632d\ndata: three\n\n", 1000);
}
END_TEST

/* max-clients of the stream, and of the process (the global one): the
 * client over it gets a 503 and END_REQUEST, and its connection lingers. */
static const struct {
	int stream_max, process_max;
} limits[] = {
	{ 1, 5 },
	{ 5, 1 },
};

START_TEST(admission_over_max_clients_is_a_503)
{
	struct session *c2;
	int peer2;

	st_cfg.max_clients = limits[_i].stream_max;
	cfg.defaults.max_clients = limits[_i].process_max;
	session_stream(&ses, c, &req, st);
	c2 = connect_one(&peer2);
	session_stream(&ses, c2, &req, st);
	ck_assert_uint_eq(ses.nclients, 1);
	ck_assert_uint_eq(st->nclients, 1);
	ck_assert_ptr_null(c2->st);
	ck_assert(c2->conn.ending);
	collect_from(peer2);
	ck_assert_msg(strncmp(got, "Status: 503 ", 12) == 0, "%s", got);
	ck_assert_ptr_nonnull(strstr(got, "Retry-After: 3\r\n"));
	ck_assert(ends_with(got, "too many clients, try again later\n"));
	ck_assert(ended);
	ck_assert_int_eq(loop_turn(&l), 0);	/* c2 lingers, c streams */
	ck_assert(c2->conn.lingering);
	collect_from(peer2);
	ck_assert(eof);
	ck_assert_uint_eq(ses.nclients, 1);
	close(peer2);
}
END_TEST

/* A heartbeat when nothing was written for heartbeat seconds: not
 * sooner, not much later; output postpones it. */
START_TEST(heartbeats_at_their_interval)
{
	int64_t t0, t1, prev;

	req.lines = 0;
	t0 = loop_now();
	session_stream(&ses, c, &req, st);
	ck_assert_int_le(ses.hb_timer.at, loop_now() + 1000);
	ck_assert_int_ge(ses.hb_timer.at, t0 + 1000);
	prev = c->last_write;
	t1 = turn_until_got(": heartbeat\n\n", 1000 + SLACK_MS + 1000);
	ck_assert_int_ge(t1 - prev, 1000);
	ck_assert_int_ge(c->last_write - prev, 1000);	/* when it was sent */
	ck_assert_int_le(c->last_write - prev, 1000 + SLACK_MS);
	ck_assert(ends_with(got, ": sse-tail\n\nid: 8.295989f7\n\n: heartbeat\n\n"));
	ck_assert_int_eq(ses.hb_timer.at, c->last_write + 1000);

	/* An event written meanwhile: the next beat is 1 s after it. */
	check_append(path, "x\n");
	source_check(st, NULL);
	turn_until_got("data: x\n\n", 1000);
	prev = c->last_write;
	got_len = 0;
	got[0] = '\0';
	t1 = turn_until_got(": heartbeat\n\n", 1000 + SLACK_MS + 1000);
	ck_assert_int_ge(t1 - prev, 1000);
	ck_assert_int_ge(c->last_write - prev, 1000);
	ck_assert_int_le(c->last_write - prev, 1000 + SLACK_MS);
	ck_assert_str_eq(got, ": heartbeat\n\n");
}
END_TEST

/* The end of a stream: END_REQUEST after what was sent, the client out of
 * its source, the connection shut for writing (the peer reads EOF) and
 * closed when the linger is over. */
START_TEST(end_request_then_linger_then_close)
{
	int64_t began, closed;

	session_stream(&ses, c, &req, st);
	turn_until_got("data: two\n\n", 1000);
	session_end(&ses, c);
	collect();
	ck_assert(ended);
	ck_assert(!eof);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert(c->conn.lingering);
	ck_assert_ptr_null(c->st);
	ck_assert_uint_eq(ses.nclients, 0);
	ck_assert_uint_eq(st->nclients, 0);
	collect();
	ck_assert(eof);
	began = c->last_write;
	ck_assert_int_eq(ses.linger_timer.at, began + SESSION_LINGER_MS);
	while (closings == 0) {
		ck_assert_int_lt(loop_now(), began + SESSION_LINGER_MS +
		    SLACK_MS + 1000);
		ck_assert_int_eq(loop_turn(&l), 0);
	}
	closed = loop_now();
	ck_assert_int_ge(closed - began, SESSION_LINGER_MS);
	ck_assert_int_le(closed - began, SESSION_LINGER_MS + SLACK_MS);
	ck_assert_uint_eq(ses.nconns, 0);
	ck_assert(ses.done);
	ck_assert_int_eq(ses.linger_timer.at, -1);
}
END_TEST

/* FCGI_KEEP_CONN: END_REQUEST, and the connection goes back to reading
 * the next request (the kept callback), not to the linger; the next
 * response on it starts afresh. */
START_TEST(keep_conn_goes_back_to_reading)
{
	c->rd.keep_conn = 1;
	session_stream(&ses, c, &req, st);
	turn_until_got("data: two\n\n", 1000);
	session_end(&ses, c);
	collect();
	ck_assert(ended);
	ck_assert_int_eq(kepts, 1);
	ck_assert(c->conn.reading);
	ck_assert(!c->conn.lingering);
	ck_assert(!loop_is_ready(&c->conn.task));
	ck_assert_uint_eq(ses.nclients, 0);
	ck_assert_uint_eq(ses.nconns, 1);
	ck_assert(!eof);

	c->conn.reading = 0;		/* the next request is in */
	c->conn.request_id = 1;
	ended = 0;
	got_len = 0;
	got[0] = '\0';
	session_stream(&ses, c, &req, st);
	turn_until_got("id: 8.295989f7\ndata: two\n\n", 1000);
	ck_assert(strncmp(got, "Status: 200 OK\r\n", 16) == 0);
	ck_assert_uint_eq(ses.nclients, 1);
	ck_assert_int_eq(closings, 0);
}
END_TEST

/* SIGTERM (stopping): a kept connection is not kept, it lingers. */
START_TEST(keep_conn_while_stopping_lingers)
{
	c->rd.keep_conn = 1;
	ses.stopping = 1;
	session_stream(&ses, c, &req, st);
	session_end(&ses, c);
	ck_assert_int_eq(kepts, 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert(c->conn.lingering);
	collect();
	ck_assert(ended);
	ck_assert(eof);
}
END_TEST

Suite *
session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc;

	tc = tcase_create("Response");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, preamble_at_once_then_the_backlog);
	tcase_add_test(tc, new_lines_are_sent_when_the_source_wakes);
	tcase_add_loop_test(tc, admission_over_max_clients_is_a_503, 0,
	    sizeof(limits) / sizeof(limits[0]));
	tcase_add_test(tc, heartbeats_at_their_interval);
	tcase_add_test(tc, end_request_then_linger_then_close);
	tcase_add_test(tc, keep_conn_goes_back_to_reading);
	tcase_add_test(tc, keep_conn_while_stopping_lingers);
	suite_add_tcase(s, tc);
	return s;
}
