/* check_loop.c - unit tests of the event loop's machinery (loop.c): timers,
 * the timeout given to epoll, the ready queue, handlers per descriptor. */
#include <sys/epoll.h>

#include <unistd.h>

#include "loop.h"
#include "check_suites.h"

static struct loop l;
static int fired, turns, events_seen;
static int64_t fired_at;
static struct loop_task tasks[3];
static int order[8], norder, requeued;

static void
run_task(struct loop_task *t, void *arg)
{
	(void)arg;
	turns++;
	order[norder++] = (int)(t - tasks);
	if (t == &tasks[0] && !requeued) {
		requeued = 1;
		loop_ready(&l, &tasks[0]);	/* again: next turn, not this */
	}
}

static void
setup(void)
{
	ck_assert_int_eq(loop_init(&l, run_task, NULL), 0);
	fired = turns = events_seen = norder = requeued = 0;
	fired_at = -1;
}

static void
teardown(void)
{
	loop_free(&l);
}

static void
on_timer(struct loop_timer *t, int64_t now, void *arg)
{
	(void)arg;
	fired++;
	fired_at = now;
	t->at = -1;
}

/* --- Timers --- */

START_TEST(timer_fires_once_due_and_not_before)
{
	struct loop_timer t;

	loop_timer_add(&l, &t, on_timer);
	t.at = 1000;
	loop_fire(&l, 999);
	ck_assert_int_eq(fired, 0);
	loop_fire(&l, 1000);
	ck_assert_int_eq(fired, 1);
	ck_assert_int_eq(fired_at, 1000);
	loop_fire(&l, 5000);
	ck_assert_int_eq(fired, 1);
	loop_timer_del(&l, &t);
}
END_TEST

START_TEST(timeout_is_time_to_the_nearest_timer)
{
	struct loop_timer a, b;

	loop_timer_add(&l, &a, on_timer);
	loop_timer_add(&l, &b, on_timer);
	ck_assert_int_eq(loop_timeout(&l, 100), -1);
	a.at = 1500;
	b.at = 1200;
	ck_assert_int_eq(loop_timeout(&l, 1000), 200);
	b.at = -1;
	ck_assert_int_eq(loop_timeout(&l, 1000), 500);
	loop_timer_del(&l, &a);
	loop_timer_del(&l, &b);
}
END_TEST

/* The old clamp turned a deadline in the past into a 60 s sleep. */
START_TEST(overdue_timer_means_no_sleep)
{
	struct loop_timer t;

	loop_timer_add(&l, &t, on_timer);
	t.at = 1000;
	ck_assert_int_eq(loop_timeout(&l, 1000), 0);
	ck_assert_int_eq(loop_timeout(&l, 1002), 0);
	ck_assert_int_eq(loop_timeout(&l, 90000), 0);
	loop_timer_del(&l, &t);
}
END_TEST

START_TEST(far_timer_sleeps_at_most_the_cap)
{
	struct loop_timer t;

	loop_timer_add(&l, &t, on_timer);
	t.at = 10 * (int64_t)LOOP_MAX_SLEEP_MS;
	ck_assert_int_eq(loop_timeout(&l, 0), LOOP_MAX_SLEEP_MS);
	loop_timer_del(&l, &t);
}
END_TEST

START_TEST(soon_only_brings_a_timer_forward)
{
	struct loop_timer t;

	loop_timer_add(&l, &t, on_timer);
	loop_timer_soon(&t, 500);
	ck_assert_int_eq(t.at, 500);
	loop_timer_soon(&t, 800);
	ck_assert_int_eq(t.at, 500);
	loop_timer_soon(&t, 300);
	ck_assert_int_eq(t.at, 300);
	loop_timer_del(&l, &t);
}
END_TEST

START_TEST(turn_fires_a_timer_after_its_time_not_before)
{
	struct loop_timer t, stopper;
	int64_t start = loop_now();

	loop_timer_add(&l, &t, on_timer);
	loop_timer_add(&l, &stopper, on_timer);
	t.at = start + 50;
	stopper.at = start + 100;	/* so that the turn that fires t wakes */
	while (fired == 0)
		ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_int_ge(fired_at, start + 50);
	ck_assert_int_lt(fired_at, start + 50 + 40);
	loop_timer_del(&l, &t);
	loop_timer_del(&l, &stopper);
}
END_TEST

/* --- Ready queue and handlers --- */

START_TEST(ready_tasks_get_one_turn_each_in_order)
{
	loop_ready(&l, &tasks[1]);
	loop_ready(&l, &tasks[0]);
	loop_ready(&l, &tasks[1]);	/* queued already: stays second */
	ck_assert(loop_is_ready(&tasks[1]));
	ck_assert_int_eq(loop_timeout(&l, 0), 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	/* tasks[0] queued itself again: that is the next turn's. */
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 0);
	ck_assert(loop_is_ready(&tasks[0]));
	ck_assert(!loop_is_ready(&tasks[1]));
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_int_eq(norder, 3);
	ck_assert(!loop_is_ready(&tasks[0]));
}
END_TEST

START_TEST(unready_takes_a_task_off)
{
	loop_ready(&l, &tasks[2]);
	loop_unready(&l, &tasks[2]);
	loop_unready(&l, &tasks[2]);
	ck_assert(!loop_is_ready(&tasks[2]));
	ck_assert_int_eq(loop_timeout(&l, 0), -1);
}
END_TEST

struct watched {
	struct loop_fd h;
	int fd;
};

static void
on_readable(struct loop_fd *h, uint32_t events, void *arg)
{
	struct watched *w = LOOP_OWNER(h, struct watched, h);
	char c;

	(void)arg;
	ck_assert(events & EPOLLIN);
	ck_assert_int_eq(read(w->fd, &c, 1), 1);
	events_seen++;
}

START_TEST(readable_descriptor_calls_its_handler)
{
	struct watched w;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	w.h.fn = on_readable;
	w.fd = p[0];
	ck_assert_int_eq(loop_add(&l, p[0], EPOLLIN, &w.h), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_int_eq(events_seen, 1);
	ck_assert_int_eq(loop_del(&l, p[0]), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *
loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc;

	tc = tcase_create("Timers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, timer_fires_once_due_and_not_before);
	tcase_add_test(tc, timeout_is_time_to_the_nearest_timer);
	tcase_add_test(tc, overdue_timer_means_no_sleep);
	tcase_add_test(tc, far_timer_sleeps_at_most_the_cap);
	tcase_add_test(tc, soon_only_brings_a_timer_forward);
	tcase_add_test(tc, turn_fires_a_timer_after_its_time_not_before);
	suite_add_tcase(s, tc);

	tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ready_tasks_get_one_turn_each_in_order);
	tcase_add_test(tc, unready_takes_a_task_off);
	tcase_add_test(tc, readable_descriptor_calls_its_handler);
	suite_add_tcase(s, tc);
	return s;
}
