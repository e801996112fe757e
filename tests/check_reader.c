/* check_reader.c - unit tests of the web servers' side of the loop
 * (reader.c): a listening unix socket in a temporary directory and
 * connections made here; a request in pieces, GET_VALUES, the deadline
 * (the loop's timers fired at a later now) and the cap on requests being
 * read. No libfcgi, no web server. */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"
#include "check_suites.h"
#include "check_util.h"

static char dir[64], sock[128];
static struct loop l;
static struct watch w;
static struct cfg cfg;
static struct cfg_stream st;
static struct cursor_bufs bufs;
static struct sessions ses;
static struct reader rdr;
static unsigned char in[READER_CHUNK];
static unsigned char drain[4096];
static int requests;
static void no_poll(struct loop_timer *, int64_t, void *);
static struct req got;

static void
turn(struct loop_task *t, void *arg)
{
	(void)arg;
	session_run(&ses, LOOP_OWNER(t, struct session, conn.task));
}

static void
kept(struct session *c, void *arg)
{
	(void)arg;
	reader_kept(&rdr, c);
}

static void
closing(struct session *c, void *arg)
{
	(void)arg;
	reader_closing(&rdr, c);
}

/* As srv.c's: input to the reader, a failure closes. */
static void
on_event(struct loop_fd *h, uint32_t events, void *arg)
{
	struct session *c = LOOP_OWNER(h, struct session, conn.lfd);

	(void)arg;
	(void)events;
	if (reader_input(&rdr, c) < 0)
		session_close(&ses, c);
}

/* The request is recorded; the connection is then closed. */
static void
request(struct session *c, const struct req *req, void *arg)
{
	(void)arg;
	requests++;
	got = *req;
	c->conn.gone = 1;
}

static void
setup(void)
{
	struct sockaddr_un sa;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/check_reader.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s", dir);
	check_stream(&st, "/nonexistent");
	memset(&cfg, 0, sizeof(cfg));
	cfg.streams = &st;
	cfg.nstreams = 1;
	cfg.defaults.max_clients = 100;
	memset(&bufs, 0, sizeof(bufs));
	ck_assert_int_eq(cursor_bufs_size(&bufs, &cfg), 0);
	ck_assert_int_eq(loop_init(&l, turn, NULL), 0);
	memset(&w, 0, sizeof(w));
	w.fw.fd = -1;
	loop_timer_add(&l, &w.poll, no_poll);
	w.poll.at = -1;
	memset(&ses, 0, sizeof(ses));
	session_init(&ses, &l, &w, &bufs, &cfg);
	ses.drain = drain;
	ses.drain_len = sizeof(drain);
	ses.kept = kept;
	ses.closing = closing;
	reader_init(&rdr, &l, &ses, &cfg, in);
	rdr.on_event = on_event;
	rdr.request = request;
	requests = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1024), 0);
	unsetenv("FCGI_WEB_SERVER_ADDRS");
	ck_assert_int_eq(reader_listen(&rdr, fd), 0);
}

static void
teardown(void)
{
	reader_stop(&rdr);
	session_free_all(&ses);
	close(rdr.fd);
	loop_free(&l);
	cursor_bufs_free(&bufs);
	unlink(sock);
	rmdir(dir);
}

static int
peer_connect(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Turns the loop until cond holds (each turn waits for an event or the
 * deadline timer, at most 5 s). */
#define TURN_UNTIL(cond) do {						\
	int n_ = 0;							\
	while (!(cond)) {						\
		ck_assert_int_lt(n_++, 100);				\
		ck_assert_int_eq(loop_turn(&l), 0);			\
	}								\
} while (0)

/* A record header and body into p; returns its length. */
static size_t
record(unsigned char *p, int type, int id, const void *body, size_t len)
{
	p[0] = 1;
	p[1] = (unsigned char)type;
	p[2] = (unsigned char)(id >> 8);
	p[3] = (unsigned char)id;
	p[4] = (unsigned char)(len >> 8);
	p[5] = (unsigned char)len;
	p[6] = p[7] = 0;
	memcpy(p + 8, body, len);
	return 8 + len;
}

/* A name-value pair (short lengths) into p; returns its length. */
static size_t
pair(unsigned char *p, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	p[0] = (unsigned char)nl;
	p[1] = (unsigned char)vl;
	memcpy(p + 2, name, nl);
	memcpy(p + 2 + nl, value, vl);
	return 2 + nl + vl;
}

/* The newest request being read. */
static struct session *
last_reading(void)
{
	struct session *c, *last = NULL;

	TAILQ_FOREACH(c, &rdr.reading, rd_link)
		last = c;
	return last;
}

static void
no_poll(struct loop_timer *t, int64_t now, void *arg)
{
	(void)now;
	(void)arg;
	t->at = -1;
}

static void
read_eof(int fd)
{
	char b[256];
	ssize_t n;

	while ((n = read(fd, b, sizeof(b))) > 0)
		;
	ck_assert_int_eq(n, 0);
}

/* --- Requests --- */

START_TEST(request_in_pieces_reaches_the_callback_once)
{
	static const unsigned char begin[8] = { 0, 1, 0 };
	unsigned char msg[512], params[256];
	size_t len = 0, plen = 0, i;
	int fd = peer_connect();

	plen += pair(params + plen, "REQUEST_METHOD", "GET");
	plen += pair(params + plen, "PATH_INFO", "/t");
	plen += pair(params + plen, "HTTP_LAST_EVENT_ID", "5");
	len += record(msg + len, 1, 1, begin, sizeof(begin));
	len += record(msg + len, 4, 1, params, plen);
	len += record(msg + len, 4, 1, "", 0);
	TURN_UNTIL(rdr.nreading == 1);
	/* Three bytes at a time, a turn each. */
	for (i = 0; i < len; i += 3) {
		size_t n = len - i < 3 ? len - i : 3;

		ck_assert_int_eq(write(fd, msg + i, n), (ssize_t)n);
		ck_assert_int_eq(loop_turn(&l), 0);
		if (i + n < len)
			ck_assert_int_eq(requests, 0);
	}
	TURN_UNTIL(requests > 0);
	ck_assert_int_eq(requests, 1);
	ck_assert_int_eq(got.kind, REQ_STREAM);
	ck_assert_int_eq(got.stream, 0);
	ck_assert_int_eq(got.id_kind, ID_BARE);
	ck_assert_uint_eq(got.last_id.offset, 5);
	ck_assert_uint_eq(rdr.nreading, 0);
	TURN_UNTIL(ses.nconns == 0);
	read_eof(fd);
	ck_assert_int_eq(requests, 1);
	close(fd);
}
END_TEST

START_TEST(get_values_is_answered)
{
	unsigned char msg[128], body[64], back[128];
	size_t len, blen = 0;
	ssize_t n;
	int fd = peer_connect();

	blen += pair(body, "FCGI_MPXS_CONNS", "");
	len = record(msg, 9, 0, body, blen);
	ck_assert_int_eq(write(fd, msg, len), (ssize_t)len);
	TURN_UNTIL(rdr.nreading == 1);
	ck_assert_int_eq(loop_turn(&l), 0);
	n = read(fd, back, sizeof(back));
	ck_assert_int_ge(n, 8);
	ck_assert_int_eq(back[1], 10);		/* GET_VALUES_RESULT */
	ck_assert_int_eq(back[2] << 8 | back[3], 0);
	ck_assert(memmem(back + 8, (size_t)n - 8, "FCGI_MPXS_CONNS", 15) != NULL);
	ck_assert_int_eq(requests, 0);
	ck_assert_uint_eq(rdr.nreading, 1);	/* still waiting for one */
	close(fd);
}
END_TEST

/* --- Deadline --- */

START_TEST(request_not_in_within_the_deadline_is_closed)
{
	int fd = peer_connect(), fd2;
	int64_t t0;
	unsigned char msg[16];
	static const unsigned char begin[8] = { 0, 1, 0 };

	t0 = loop_now();
	TURN_UNTIL(rdr.nreading == 1);
	ck_assert_int_ge(rdr.reading_timer.at, t0 + REQUEST_MS);
	ck_assert_int_le(rdr.reading_timer.at, loop_now() + REQUEST_MS);
	/* A second, later: its deadline is behind the first's. */
	fd2 = peer_connect();
	ck_assert_int_eq(write(fd2, msg, record(msg, 1, 1, begin, 8)), 16);
	TURN_UNTIL(rdr.nreading == 2);
	ck_assert_int_le(TAILQ_FIRST(&rdr.reading)->deadline,
	    last_reading()->deadline);
	loop_fire(&l, rdr.reading_timer.at - 1);
	ck_assert_uint_eq(rdr.nreading, 2);
	loop_fire(&l, last_reading()->deadline);
	ck_assert_uint_eq(rdr.nreading, 0);
	ck_assert_int_eq(rdr.reading_timer.at, -1);
	read_eof(fd);
	read_eof(fd2);
	ck_assert_int_eq(requests, 0);
	close(fd);
	close(fd2);
}
END_TEST

Suite *
reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc;

	tc = tcase_create("Requests");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_in_pieces_reaches_the_callback_once);
	tcase_add_test(tc, get_values_is_answered);
	tcase_add_test(tc, request_not_in_within_the_deadline_is_closed);
	suite_add_tcase(s, tc);
	return s;
}
