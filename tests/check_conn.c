/* check_conn.c - unit tests of a web-server connection (conn.c): FastCGI
 * framing of the output, what a peer that does not read leaves pending,
 * END_REQUEST, linger and a close that sends FIN, on a socketpair. */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "fcgi.h"
#include "check_suites.h"

static struct loop l;
static struct conn c;
static int peer;		/* the web server's end */
static char scratch[4096];

static void
no_turns(struct loop_task *t, void *arg)
{
	(void)t;
	(void)arg;
}

static void
on_event(struct loop_fd *h, uint32_t events, void *arg)
{
	(void)h;
	(void)events;
	(void)arg;
}

/* A FastCGI (fcgi 1) or CGI-like (0) connection on a socketpair. */
static void
make(int fcgi)
{
	int sv[2];

	signal(SIGPIPE, SIG_IGN);	/* as main does */
	ck_assert_int_eq(loop_init(&l, no_turns, NULL), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(&c, 0, sizeof(c));
	c.lfd.fn = on_event;
	c.request_id = 7;
	ck_assert_int_eq(conn_init(&c, &l, sv[0], sv[0], fcgi), 0);
	ck_assert(c.pollable);
	peer = sv[1];
}

static void
teardown(void)
{
	if (c.fd_in >= 0)
		conn_close(&c, &l, scratch, sizeof(scratch));
	close(peer);
	loop_free(&l);
}

/* Reads exactly n bytes from the peer. */
static void
peer_read(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(peer, (char *)buf + got, n - got);

		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
}

/* --- Output --- */

START_TEST(content_goes_out_as_stdout_records_of_the_request)
{
	unsigned char h[FCGI_HEADER_LEN];
	char body[6];

	make(1);
	ck_assert_int_eq(conn_write1(&c, &l, "hello\n", 6), 0);
	peer_read(h, sizeof(h));
	ck_assert_int_eq(h[0], FCGI_VERSION_1);
	ck_assert_int_eq(h[1], FCGI_STDOUT);
	ck_assert_int_eq(h[2] << 8 | h[3], 7);
	ck_assert_int_eq(h[4] << 8 | h[5], 6);
	peer_read(body, sizeof(body));
	ck_assert(memcmp(body, "hello\n", 6) == 0);
}
END_TEST

START_TEST(content_over_a_record_is_split_into_records)
{
	size_t len = FCGI_MAX_LENGTH + 100, got = 0;
	char *big = malloc(len), *back = malloc(len);
	unsigned char h[FCGI_HEADER_LEN];
	int records = 0;
	pid_t pid;

	make(1);
	memset(big, 'x', len);
	/* More than the socket buffer holds: a child reads meanwhile. */
	if ((pid = fork()) == 0) {
		while (got < len) {
			size_t n;

			peer_read(h, sizeof(h));
			ck_assert_int_eq(h[1], FCGI_STDOUT);
			n = (size_t)(h[4] << 8 | h[5]);
			ck_assert_int_le(n, FCGI_MAX_LENGTH);
			peer_read(back + got, n);
			got += n;
			records++;
		}
		_exit(records == 2 && memcmp(big, back, len) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(conn_write1(&c, &l, big, len), 0);
	while (conn_pending(&c))
		ck_assert_int_eq(conn_flush(&c, &l), 0);
	{
		int status;

		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	free(big);
	free(back);
}
END_TEST

START_TEST(raw_bytes_and_cgi_output_go_out_unframed)
{
	char back[3];

	make(0);
	ck_assert_int_eq(conn_write1(&c, &l, "abc", 3), 0);
	peer_read(back, 3);
	ck_assert(memcmp(back, "abc", 3) == 0);
}
END_TEST

/* A peer that does not read: what the socket does not take is kept, and
 * EPOLLOUT brings the rest once it reads. */
START_TEST(output_a_peer_does_not_take_is_kept_and_flushed_in_order)
{
	char chunk[1000], back[1000];
	size_t total, got = 0;
	int n = 0;

	make(0);
	while (!conn_pending(&c)) {
		memset(chunk, 'a' + n % 26, sizeof(chunk));
		ck_assert_int_eq(conn_write1(&c, &l, chunk, sizeof(chunk)), 0);
		n++;
	}
	ck_assert(c.want_out);
	/* More output while some is pending goes behind it. */
	memset(chunk, 'a' + n % 26, sizeof(chunk));
	ck_assert_int_eq(conn_write1(&c, &l, chunk, sizeof(chunk)), 0);
	n++;
	total = (size_t)n * sizeof(chunk);
	while (got < total) {
		ssize_t r, i;

		ck_assert_int_eq(conn_flush(&c, &l), 0);
		r = read(peer, back, sizeof(back));
		ck_assert_int_gt(r, 0);
		for (i = 0; i < r; i++)
			ck_assert_int_eq(back[i],
			    'a' + (int)((got + (size_t)i) / 1000 % 26));
		got += (size_t)r;
	}
	ck_assert(!conn_pending(&c));
	ck_assert(!c.want_out);
	ck_assert_ptr_null(c.pend);
}
END_TEST

START_TEST(write_to_a_closed_peer_fails)
{
	make(1);
	close(peer);
	peer = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(conn_write1(&c, &l, "x", 1), -1);
}
END_TEST

/* A connection whose EPOLLOUT cannot be armed would stall: it is marked
 * gone and queued, to be closed at its turn. */
START_TEST(failed_epoll_mod_marks_the_connection_gone_and_queued)
{
	char chunk[4096];

	make(0);
	memset(chunk, 'z', sizeof(chunk));
	ck_assert_int_eq(loop_del(&l, c.fd_out), 0);	/* MOD fails: ENOENT */
	while (!conn_pending(&c))
		ck_assert_int_eq(conn_write1(&c, &l, chunk, sizeof(chunk)), 0);
	ck_assert(c.gone);
	ck_assert(loop_is_ready(&c.task));
	ck_assert_int_eq(loop_add(&l, c.fd_out, 0, &c.lfd), 0);
}
END_TEST

/* --- Ending --- */

START_TEST(end_sends_an_empty_stdout_and_end_request)
{
	unsigned char rec[FCGI_END_LEN];

	make(1);
	ck_assert_int_eq(conn_end(&c, &l), 0);
	ck_assert(c.ending);
	peer_read(rec, sizeof(rec));
	ck_assert_int_eq(rec[1], FCGI_STDOUT);
	ck_assert_int_eq(rec[4] << 8 | rec[5], 0);
	ck_assert_int_eq(rec[8 + 1], FCGI_END_REQUEST);
	ck_assert_int_eq(rec[8 + 2] << 8 | rec[8 + 3], 7);
	ck_assert_int_eq(rec[16 + 4], FCGI_REQUEST_COMPLETE);
}
END_TEST

START_TEST(end_of_a_cgi_response_writes_nothing)
{
	char b;

	make(0);
	ck_assert_int_eq(conn_end(&c, &l), 0);
	ck_assert(c.ending);
	ck_assert_int_eq(fcntl(peer, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(read(peer, &b, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

/* Lingering stops the writing half only: the peer sees EOF and may still
 * send (mod_proxy_fcgi's empty STDIN). */
START_TEST(linger_shuts_down_writing_and_keeps_reading)
{
	char b;

	make(1);
	ck_assert_int_eq(conn_linger(&c), 0);
	ck_assert_int_eq(read(peer, &b, 1), 0);
	ck_assert_int_eq(write(peer, "s", 1), 1);
	ck_assert_int_eq(read(c.fd_in, &b, 1), 1);
}
END_TEST

START_TEST(linger_without_a_connection_means_close_now)
{
	int p[2];

	ck_assert_int_eq(loop_init(&l, no_turns, NULL), 0);
	ck_assert_int_eq(pipe(p), 0);
	memset(&c, 0, sizeof(c));
	c.lfd.fn = on_event;
	ck_assert_int_eq(conn_init(&c, &l, -1, p[1], 0), 0);
	ck_assert_int_eq(conn_linger(&c), -1);
	conn_close(&c, &l, scratch, sizeof(scratch));
	close(p[0]);
	close(p[1]);
	peer = -1;
	c.fd_in = -1;
}
END_TEST

/* What the peer sent and nobody read is drained: close sends FIN, and the
 * peer reads the whole response, then EOF, not ECONNRESET. */
START_TEST(close_drains_input_so_the_peer_gets_eof_not_reset)
{
	char b;

	make(0);
	ck_assert_int_eq(write(peer, "unread", 6), 6);
	ck_assert_int_eq(conn_write1(&c, &l, "r", 1), 0);
	conn_close(&c, &l, scratch, sizeof(scratch));
	ck_assert_int_eq(c.fd_in, -1);
	ck_assert_int_eq(read(peer, &b, 1), 1);
	ck_assert_int_eq(read(peer, &b, 1), 0);
}
END_TEST

Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc;

	tc = tcase_create("Output");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, content_goes_out_as_stdout_records_of_the_request);
	tcase_add_test(tc, content_over_a_record_is_split_into_records);
	tcase_add_test(tc, raw_bytes_and_cgi_output_go_out_unframed);
	tcase_add_test(tc, output_a_peer_does_not_take_is_kept_and_flushed_in_order);
	tcase_add_test(tc, write_to_a_closed_peer_fails);
	tcase_add_test(tc, failed_epoll_mod_marks_the_connection_gone_and_queued);
	suite_add_tcase(s, tc);

	tc = tcase_create("Ending");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, end_sends_an_empty_stdout_and_end_request);
	tcase_add_test(tc, end_of_a_cgi_response_writes_nothing);
	tcase_add_test(tc, linger_shuts_down_writing_and_keeps_reading);
	tcase_add_test(tc, linger_without_a_connection_means_close_now);
	tcase_add_test(tc, close_drains_input_so_the_peer_gets_eof_not_reset);
	suite_add_tcase(s, tc);
	return s;
}
