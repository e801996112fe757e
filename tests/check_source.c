/* check_source.c - unit tests of a stream's source (source.c) and of how
 * change is noticed (watch.c): a file opened for its first subscriber and
 * released after the last, a FIFO whose lines wake the subscribers, and
 * inotify or polling chosen by watch_init; in a temporary directory. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source.h"
#include "watch.h"
#include "check_suites.h"
#include "check_util.h"

static char dir[64], path[128];
static struct loop l;
static struct follow_watch fw;
static struct cfg_stream st;
static struct source *src;
static char buf[4096];
static int wakes;

static void
no_turns(struct loop_task *t, void *arg)
{
	(void)t;
	(void)arg;
}

static void
wake(struct source *s, void *arg)
{
	ck_assert_ptr_eq(s, src);
	ck_assert_ptr_eq(arg, &wakes);	/* the loop's arg */
	wakes++;
}

static void
setup(void)
{
	strcpy(dir, "/tmp/check_source.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	check_stream(&st, path);
	ck_assert_int_eq(loop_init(&l, no_turns, &wakes), 0);
	fw.fd = -1;
	wakes = 0;
	src = source_new(&st, &l, &fw, buf, sizeof(buf), wake);
	ck_assert_ptr_nonnull(src);
}

static void
teardown(void)
{
	source_free(src);
	if (fw.fd >= 0)
		follow_watch_close(&fw);
	loop_free(&l);
	unlink(path);
	rmdir(dir);
}

/* --- File --- */

START_TEST(file_is_not_opened_until_its_first_subscriber)
{
	check_append(path, "one\n");
	ck_assert(!src->active);
	ck_assert(!source_needs_poll(src));
	ck_assert_int_eq(source_open(src), 0);
	ck_assert(src->active);
	ck_assert(!src->is_pipe);
	ck_assert_ptr_nonnull(follow_newest(&src->follow));
	ck_assert(source_needs_poll(src));	/* no inotify here */
	ck_assert(!source_unavailable(src));
}
END_TEST

START_TEST(file_is_followed_until_its_last_subscriber_leaves)
{
	check_append(path, "one\n");
	ck_assert_int_eq(source_open(src), 0);
	src->nclients = 2;
	source_release(src);
	ck_assert(src->active);
	src->nclients = 1;
	source_release(src);
	ck_assert(src->active);
	src->nclients = 0;
	source_release(src);
	ck_assert(!src->active);
	ck_assert_ptr_null(follow_newest(&src->follow));
	ck_assert(!source_needs_poll(src));
	/* And opened again for the next first one. */
	ck_assert_int_eq(source_open(src), 0);
	ck_assert(src->active);
}
END_TEST

START_TEST(file_growth_wakes_the_subscribers_at_a_check)
{
	check_append(path, "one\n");
	ck_assert_int_eq(source_open(src), 0);
	source_check(src, &wakes);
	ck_assert_int_eq(wakes, 0);
	check_append(path, "two\n");
	source_check(src, &wakes);
	ck_assert_int_eq(wakes, 1);
}
END_TEST

START_TEST(file_that_is_a_directory_does_not_open)
{
	snprintf(path, sizeof(path), "%s", dir);
	ck_assert_int_eq(source_open(src), -1);
	ck_assert(!src->active);
	snprintf(path, sizeof(path), "%s/log", dir);
}
END_TEST

/* --- Pipe --- */

START_TEST(fifo_lines_wake_the_subscribers_through_the_loop)
{
	int wfd;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(source_open(src), 0);
	ck_assert(src->is_pipe);
	ck_assert(src->active);
	ck_assert(source_needs_poll(src));	/* its replacement */
	wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(write(wfd, "hello\nworld\n", 12), 12);
	/* The loop has no timer: it waits for the pipe's EPOLLIN. */
	while (wakes == 0)
		ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_int_eq(wakes, 1);
	ck_assert_uint_eq(src->pipe.ring.next - src->pipe.ring.first, 2);
	ck_assert_uint_eq(src->pipe.ring.end_id, 12);
	close(wfd);
}
END_TEST

START_TEST(fifo_stays_open_after_its_last_subscriber)
{
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(source_open(src), 0);
	source_release(src);
	ck_assert(src->active);
	ck_assert_int_ge(src->pipe.fd, 0);
}
END_TEST

/* --- Watch --- */

START_TEST(watch_takes_inotify_by_default)
{
	struct watch w;

	unsetenv("SSE_TAIL_POLL");
	memset(&w, 0, sizeof(w));
	watch_init(&w, &l);
	ck_assert_int_ge(w.fw.fd, 0);
	ck_assert_int_eq(w.poll.at, -1);
	watch_free(&w);
	ck_assert_int_eq(w.fw.fd, -1);
	loop_timer_del(&l, &w.poll);
}
END_TEST

START_TEST(watch_polls_when_sse_tail_poll_is_set)
{
	struct watch w;

	setenv("SSE_TAIL_POLL", "1", 1);
	memset(&w, 0, sizeof(w));
	watch_init(&w, &l);
	unsetenv("SSE_TAIL_POLL");
	ck_assert_int_eq(w.fw.fd, -1);
	watch_free(&w);
	loop_timer_del(&l, &w.poll);
}
END_TEST

/* A followed file with inotify: its append is an event, and the event
 * brings the wake, with no poll due. */
START_TEST(watch_inotify_event_wakes_the_file_source)
{
	struct watch w;
	struct source *streams[1];

	unsetenv("SSE_TAIL_POLL");
	memset(&w, 0, sizeof(w));
	watch_init(&w, &l);
	w.poll.at = -1;
	ck_assert_int_ge(w.fw.fd, 0);
	source_free(src);
	src = source_new(&st, &l, &w.fw, buf, sizeof(buf), wake);
	streams[0] = src;
	w.streams = streams;
	w.nstreams = 1;
	check_append(path, "one\n");
	ck_assert_int_eq(source_open(src), 0);
	ck_assert(!source_needs_poll(src));
	check_append(path, "two\n");
	while (wakes == 0)
		ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_int_eq(wakes, 1);
	ck_assert_int_eq(w.poll.at, -1);
	source_free(src);
	src = NULL;
	watch_free(&w);
	loop_timer_del(&l, &w.poll);
}
END_TEST

/* Polling: a source that needs it makes a poll due FOLLOW_POLL_MS on. */
START_TEST(watch_check_schedules_a_poll_for_a_polled_source)
{
	struct watch w;
	int64_t before = loop_now();

	setenv("SSE_TAIL_POLL", "1", 1);
	memset(&w, 0, sizeof(w));
	watch_init(&w, &l);
	unsetenv("SSE_TAIL_POLL");
	w.poll.at = -1;
	check_append(path, "one\n");
	ck_assert_int_eq(source_open(src), 0);
	watch_check(&w, src, &wakes);
	ck_assert_int_ge(w.poll.at, before + FOLLOW_POLL_MS);
	ck_assert_int_le(w.poll.at, loop_now() + FOLLOW_POLL_MS);
	watch_free(&w);
	loop_timer_del(&l, &w.poll);
}
END_TEST

Suite *
source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc;

	tc = tcase_create("File");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_is_not_opened_until_its_first_subscriber);
	tcase_add_test(tc, file_is_followed_until_its_last_subscriber_leaves);
	tcase_add_test(tc, file_growth_wakes_the_subscribers_at_a_check);
	tcase_add_test(tc, file_that_is_a_directory_does_not_open);
	suite_add_tcase(s, tc);

	tc = tcase_create("Pipe");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fifo_lines_wake_the_subscribers_through_the_loop);
	tcase_add_test(tc, fifo_stays_open_after_its_last_subscriber);
	suite_add_tcase(s, tc);

	tc = tcase_create("Watch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, watch_takes_inotify_by_default);
	tcase_add_test(tc, watch_polls_when_sse_tail_poll_is_set);
	tcase_add_test(tc, watch_inotify_event_wakes_the_file_source);
	tcase_add_test(tc, watch_check_schedules_a_poll_for_a_polled_source);
	suite_add_tcase(s, tc);
	return s;
}
