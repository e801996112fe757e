/* check_signals.c - unit tests of the signals sse-tail takes (signals.c): a
 * signal sent to the process is taken on the signalfd inside an epoll batch
 * and acted on only from the timer after it, with its SIGNALS_* bits;
 * SIGUSR2 is taken and ignored. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "check_suites.h"
#include "check_util.h"

static struct loop l;
static struct signals g;
static sigset_t oldmask;
static unsigned acted, acts;	/* the bits of the last act, and how many */
static struct loop_timer tick;	/* a turn never sleeps long */

static void
no_turns(struct loop_task *t, void *arg)
{
	(void)t;
	(void)arg;
}

static void
on_signals(unsigned what, void *arg)
{
	ck_assert_ptr_eq(arg, &g);
	acted = what;
	acts++;
}

static void
setup(void)
{
	sigprocmask(SIG_SETMASK, NULL, &oldmask);
	acted = acts = 0;
	ck_assert_int_eq(loop_init(&l, no_turns, NULL), 0);
	ck_assert_int_eq(signals_open(&g, &l, on_signals, &g), 0);
	loop_timer_add(&l, &tick, check_ticks);
	tick.at = loop_now() + 20;
}

/* Takes whatever is still pending before unblocking the signals again, so
 * that no default action runs (CK_FORK=no runs every test in one
 * process). */
static void
teardown(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	signals_close(&g);
	loop_free(&l);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
}

static const struct {
	int signo;
	unsigned bit;
} signal_bits[] = {
	{ SIGTERM, SIGNALS_STOP },
	{ SIGINT, SIGNALS_STOP },
	{ SIGHUP, SIGNALS_RELOAD },
	{ SIGUSR1, SIGNALS_STATUS },
};

/* The first turn's epoll batch takes the signal; the act is the next
 * turn's timer, never inside the batch. */
START_TEST(signal_is_acted_on_from_the_timer_after_the_batch)
{
	ck_assert_int_eq(kill(getpid(), signal_bits[_i].signo), 0);
	ck_assert_uint_eq(acts, 0);
	ck_assert_uint_eq(g.pending, 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_uint_eq(acts, 0);
	ck_assert_uint_eq(g.pending, signal_bits[_i].bit);
	ck_assert_int_eq(loop_timeout(&l, loop_now()), 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_uint_eq(acts, 1);
	ck_assert_uint_eq(acted, signal_bits[_i].bit);
	ck_assert_uint_eq(g.pending, 0);
	ck_assert_int_eq(g.act_timer.at, -1);
}
END_TEST

/* Signals taken in one batch make one act with all their bits. */
START_TEST(signals_of_one_batch_are_acted_on_together)
{
	ck_assert_int_eq(raise(SIGHUP), 0);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(raise(SIGTERM), 0);
	ck_assert_int_eq(raise(SIGUSR2), 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_uint_eq(acts, 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_uint_eq(acts, 1);
	ck_assert_uint_eq(acted,
	    SIGNALS_STOP | SIGNALS_RELOAD | SIGNALS_STATUS);
}
END_TEST

/* SIGUSR2 is taken (its default action would end the process) and
 * nothing is set to act on it. */
START_TEST(sigusr2_is_taken_and_ignored)
{
	char buf[256];

	ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_uint_eq(g.pending, 0);
	ck_assert_int_eq(g.act_timer.at, -1);
	ck_assert_int_lt(read(g.fd, buf, sizeof(buf)), 0);	/* drained */
	ck_assert_int_eq(loop_turn(&l), 0);
	ck_assert_uint_eq(acts, 0);
}
END_TEST

START_TEST(close_twice_is_harmless)
{
	signals_close(&g);
	ck_assert_int_eq(g.fd, -1);
	signals_close(&g);
	ck_assert_int_eq(g.fd, -1);
}
END_TEST

Suite *
signals_suite(void)
{
	Suite *s = suite_create("signals");
	TCase *tc;

	tc = tcase_create("Act");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc,
	    signal_is_acted_on_from_the_timer_after_the_batch, 0,
	    sizeof(signal_bits) / sizeof(signal_bits[0]));
	tcase_add_test(tc, signals_of_one_batch_are_acted_on_together);
	tcase_add_test(tc, sigusr2_is_taken_and_ignored);
	tcase_add_test(tc, close_twice_is_harmless);
	suite_add_tcase(s, tc);
	return s;
}
