/* check_cursor.c - unit tests of a subscriber's position (cursor.c): where
 * it starts in a file and in a pipe's ring, and what it produces within a
 * turn's budget, through rotation and truncation, on files in a temporary
 * directory (followed by polling) and on rings built here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "sse.h"
#include "check_suites.h"
#include "check_util.h"

static char dir[64], path[128], rotated[128];
static struct follow_watch w;
static struct follow f;
static struct cfg cfg;
static struct cfg_stream st;
static struct cursor c;
static struct cursor_bufs b;
static struct req req;
static char got[1 << 20];	/* what cursor_file produced, joined */

static void
setup(void)
{
	strcpy(dir, "/tmp/check_cursor.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(rotated, sizeof(rotated), "%s/log.1", dir);
	check_stream(&st, path);
	memset(&cfg, 0, sizeof(cfg));
	cfg.streams = &st;
	cfg.nstreams = 1;
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(cursor_bufs_size(&b, &cfg), 0);
	memset(&c, 0, sizeof(c));
	memset(&req, 0, sizeof(req));
	req.last_id = -1;
	req.lines = -1;
	w.fd = -1;		/* polling: follow_check is called by hand */
	memset(&f, 0, sizeof(f));
	got[0] = '\0';
}

static void
teardown(void)
{
	cursor_drop(&c, &f, &w);
	follow_stop(&f, &w);
	cursor_bufs_free(&b);
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

/* Runs cursor_file turns until it is at the end; appends what it made to
 * got. Returns the number of turns that said there was more. */
static int
produce_all(void)
{
	int more = 0, rc;

	do {
		size_t len = 0;

		rc = cursor_file(&c, &f, &w, &st, &b, &len);
		ck_assert_int_ge(rc, 0);
		ck_assert_uint_le(len, b.out_cap);
		ck_assert_uint_lt(strlen(got) + len, sizeof(got));
		strncat(got, b.out, len);
		more += rc;
	} while (rc > 0);
	return more;
}

static void
start_file(void)
{
	ck_assert_int_eq(follow_start(&f, &w, st.name, path), 0);
	cursor_start_file(&c, &f, &st, &req);
}

/* --- File --- */

START_TEST(file_starts_backlog_lines_before_the_end)
{
	check_append(path, "one\ntwo\nthree\nfour\n");
	start_file();
	ck_assert_int_eq(c.off, 8);
	produce_all();
	ck_assert_str_eq(got, "id: 14\ndata: three\n\nid: 19\ndata: four\n\n");
}
END_TEST

START_TEST(file_request_lines_override_the_backlog)
{
	check_append(path, "one\ntwo\nthree\n");
	req.lines = 0;
	start_file();
	produce_all();
	ck_assert_str_eq(got, "");
	check_append(path, "four\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ck_assert_str_eq(got, "id: 19\ndata: four\n\n");
}
END_TEST

START_TEST(file_resumes_at_last_event_id)
{
	check_append(path, "one\ntwo\nthree\n");
	req.last_id = 4;
	start_file();
	produce_all();
	ck_assert_str_eq(got, "id: 8\ndata: two\n\nid: 14\ndata: three\n\n");
}
END_TEST

START_TEST(file_resume_inside_a_line_is_a_gap_from_the_start)
{
	check_append(path, "one\ntwo\n");
	req.last_id = 5;
	start_file();
	produce_all();
	ck_assert_str_eq(got, "event: reset\nid: 0\ndata: gap\n\n"
	    "id: 4\ndata: one\n\nid: 8\ndata: two\n\n");
}
END_TEST

START_TEST(file_line_without_newline_waits)
{
	check_append(path, "one\ntw");
	req.lines = 5;
	start_file();
	produce_all();
	ck_assert_str_eq(got, "id: 4\ndata: one\n\n");
	check_append(path, "o\n");
	follow_check(&f, &w);
	produce_all();
	ck_assert_str_eq(got, "id: 4\ndata: one\n\nid: 8\ndata: two\n\n");
}
END_TEST

START_TEST(file_turn_stops_near_the_batch)
{
	char line[101];
	int i, turns;

	memset(line, 'x', 99);
	line[99] = '\n';
	line[100] = '\0';
	for (i = 0; i < 2000; i++)	/* 200 KB: several turns' worth */
		check_append(path, line);
	req.last_id = 0;
	start_file();
	turns = produce_all();
	ck_assert_int_ge(turns, 2);
	ck_assert_ptr_nonnull(strstr(got, "id: 200000\n"));
}
END_TEST

/* Rotation in one burst (append, rename, new file) before the cursor has
 * read the old file to its end: it reads the old one to its end, its last
 * line without a newline too, and only then the new one. */
START_TEST(file_rotation_reads_the_old_file_to_its_end_first)
{
	check_append(path, "a\n");
	req.lines = 5;
	start_file();
	produce_all();
	check_append(path, "b\nc");
	ck_assert_int_eq(rename(path, rotated), 0);
	check_append(path, "new\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ck_assert_str_eq(got, "id: 2\ndata: a\n\nid: 4\ndata: b\n\n"
	    "id: 5\ndata: c\n\nevent: reset\nid: 0\ndata: rotated\n\n"
	    "id: 4\ndata: new\n\n");
}
END_TEST

START_TEST(file_truncation_restarts_at_zero_with_a_reset)
{
	FILE *fp;

	check_append(path, "aaaa\nbbbb\n");
	req.lines = 5;
	start_file();
	produce_all();
	fp = fopen(path, "w");
	fputs("c\n", fp);
	fclose(fp);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	got[0] = '\0';
	produce_all();
	ck_assert_str_eq(got, "event: reset\nid: 0\ndata: truncated\n\n"
	    "id: 2\ndata: c\n\n");
}
END_TEST

START_TEST(file_missing_waits_and_then_starts_at_its_start)
{
	start_file();
	ck_assert_ptr_null(c.gen);
	produce_all();
	ck_assert_str_eq(got, "");
	check_append(path, "x\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ck_assert_str_eq(got, "id: 2\ndata: x\n\n");
}
END_TEST

/* --- Pipe --- */

static struct ring r;

static void
pipe_setup(void)
{
	uint64_t id = 0;
	int i;

	setup();
	ck_assert_int_eq(ring_init(&r, 4096, 256), 0);
	for (i = 0; i < 5; i++) {	/* lines "e0".."e4", 3 bytes each */
		char text[32];
		int n = snprintf(text, sizeof(text), "e%d", i);

		ring_push(&r, id, id + 3, text, (size_t)n, (uint64_t)n);
		id += 3;
	}
}

static void
pipe_teardown(void)
{
	ring_free(&r);
	teardown();
}

/* One turn of cursor_pipe, its framed output into got. */
static int
pipe_turn(void)
{
	size_t len;
	int more;

	len = cursor_pipe(&c, &r, &st, &b, &more);
	ck_assert_uint_le(len, b.out_cap);
	memcpy(got, b.out, len);
	got[len] = '\0';
	return more;
}

/* Where a new subscriber of a pipe starts: the backlog before the end
 * (no Last-Event-ID), everything held (0), after the event with that id,
 * or a gap from the oldest (an id the ring does not hold). */
#define E0	"id: 3\ndata: e0\n\n"
#define E1	"id: 6\ndata: e1\n\n"
#define E2	"id: 9\ndata: e2\n\n"
#define E3	"id: 12\ndata: e3\n\n"
#define E4	"id: 15\ndata: e4\n\n"
static const struct {
	int64_t last_id;
	const char *want;
} pipe_starts[] = {
	{ -1, E3 E4 },
	{ 0, E0 E1 E2 E3 E4 },
	{ 9, E3 E4 },		/* e2's end: e3 starts there */
	{ 7, "event: reset\nid: 0\ndata: gap\n\n" E0 E1 E2 E3 E4 },
};

START_TEST(pipe_starts_where_its_last_event_id_says)
{
	req.last_id = pipe_starts[_i].last_id;
	cursor_start_pipe(&c, &r, &st, &req);
	ck_assert_int_eq(pipe_turn(), 0);
	ck_assert_str_eq(got, pipe_starts[_i].want);
}
END_TEST

START_TEST(pipe_cursor_behind_the_ring_gets_a_gap)
{
	req.last_id = 0;
	cursor_start_pipe(&c, &r, &st, &req);
	r.first = 2;		/* as if two events were evicted */
	pipe_turn();
	ck_assert_str_eq(got, "event: reset\nid: 0\ndata: gap\n\n"
	    E2 E3 E4);
}
END_TEST

/* The ring keeps each line once; every subscriber's events are framed
 * from it with its stream's settings. */
START_TEST(pipe_events_are_framed_per_subscriber_from_one_copy)
{
	struct cursor c2;

	req.last_id = 9;
	cursor_start_pipe(&c, &r, &st, &req);
	c2 = c;
	st.event = "log";
	pipe_turn();
	ck_assert_str_eq(got, "event: log\n" E3 "event: log\n" E4);
	st.event = NULL;
	c = c2;
	pipe_turn();
	ck_assert_str_eq(got, E3 E4);
}
END_TEST

Suite *
cursor_suite(void)
{
	Suite *s = suite_create("cursor");
	TCase *tc;

	tc = tcase_create("File");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_starts_backlog_lines_before_the_end);
	tcase_add_test(tc, file_request_lines_override_the_backlog);
	tcase_add_test(tc, file_resumes_at_last_event_id);
	tcase_add_test(tc, file_resume_inside_a_line_is_a_gap_from_the_start);
	tcase_add_test(tc, file_line_without_newline_waits);
	tcase_add_test(tc, file_turn_stops_near_the_batch);
	tcase_add_test(tc, file_rotation_reads_the_old_file_to_its_end_first);
	tcase_add_test(tc, file_truncation_restarts_at_zero_with_a_reset);
	tcase_add_test(tc, file_missing_waits_and_then_starts_at_its_start);
	suite_add_tcase(s, tc);

	tc = tcase_create("Pipe");
	tcase_add_checked_fixture(tc, pipe_setup, pipe_teardown);
	tcase_add_loop_test(tc, pipe_starts_where_its_last_event_id_says, 0,
	    sizeof(pipe_starts) / sizeof(pipe_starts[0]));
	tcase_add_test(tc, pipe_cursor_behind_the_ring_gets_a_gap);
	tcase_add_test(tc, pipe_events_are_framed_per_subscriber_from_one_copy);
	suite_add_tcase(s, tc);
	return s;
}
