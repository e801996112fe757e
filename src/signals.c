/* signals.c - the signals sse-tail takes: through signalfd, and acted on
 * between two epoll batches. */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <unistd.h>

#include "signals.h"

static void
taken(struct loop_fd *h, uint32_t events, void *arg)
{
	struct signals *g = LOOP_OWNER(h, struct signals, h);
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	while (read(g->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			g->pending |= SIGNALS_STOP;
			break;
		case SIGHUP:
			g->pending |= SIGNALS_RELOAD;
			break;
		case SIGUSR1:
			g->pending |= SIGNALS_STATUS;
			break;
		}
	}
	if (g->pending)
		loop_timer_soon(&g->act_timer, loop_now());
}

static void
act(struct loop_timer *t, int64_t now, void *arg)
{
	struct signals *g = LOOP_OWNER(t, struct signals, act_timer);
	unsigned what = g->pending;

	(void)now;
	(void)arg;
	t->at = -1;
	g->pending = 0;
	if (what)
		g->act(what, g->arg);
}

int
signals_open(struct signals *g, struct loop *l,
    void (*fn)(unsigned what, void *arg), void *arg)
{
	sigset_t set;

	g->h.fn = taken;
	g->act = fn;
	g->arg = arg;
	g->pending = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((g->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -1;
	loop_timer_add(l, &g->act_timer, act);
	return loop_add(l, g->fd, EPOLLIN, &g->h);
}

void
signals_close(struct signals *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}
