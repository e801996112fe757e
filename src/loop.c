/* loop.c - the event loop's machinery: epoll with a handler per descriptor,
 * timers, the ready queue and the clock. It knows nothing of what it runs. */
#include <sys/epoll.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

int
loop_init(struct loop *l, void (*run)(struct loop_task *, void *), void *arg)
{
	TAILQ_INIT(&l->ready);
	TAILQ_INIT(&l->timers);
	l->nready = 0;
	l->run = run;
	l->arg = arg;
	return (l->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ? -1 : 0;
}

void
loop_free(struct loop *l)
{
	if (l->ep >= 0)
		close(l->ep);
	l->ep = -1;
}

int64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ctl(struct loop *l, int op, int fd, uint32_t events, struct loop_fd *h)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = h;
	return epoll_ctl(l->ep, op, fd, &ev);
}

int
loop_add(struct loop *l, int fd, uint32_t events, struct loop_fd *h)
{
	return ctl(l, EPOLL_CTL_ADD, fd, events, h);
}

int
loop_mod(struct loop *l, int fd, uint32_t events, struct loop_fd *h)
{
	return ctl(l, EPOLL_CTL_MOD, fd, events, h);
}

int
loop_del(struct loop *l, int fd)
{
	return epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
}

void
loop_ready(struct loop *l, struct loop_task *t)
{
	if (t->link.tqe_prev != NULL)
		return;
	TAILQ_INSERT_TAIL(&l->ready, t, link);
	l->nready++;
}

void
loop_unready(struct loop *l, struct loop_task *t)
{
	if (t->link.tqe_prev == NULL)
		return;
	TAILQ_REMOVE(&l->ready, t, link);
	t->link.tqe_prev = NULL;
	l->nready--;
}

int
loop_is_ready(const struct loop_task *t)
{
	return t->link.tqe_prev != NULL;
}

void
loop_timer_add(struct loop *l, struct loop_timer *t,
    void (*fn)(struct loop_timer *, int64_t, void *))
{
	t->at = -1;
	t->fn = fn;
	TAILQ_INSERT_TAIL(&l->timers, t, link);
}

void
loop_timer_del(struct loop *l, struct loop_timer *t)
{
	TAILQ_REMOVE(&l->timers, t, link);
}

void
loop_timer_soon(struct loop_timer *t, int64_t at)
{
	if (t->at < 0 || at < t->at)
		t->at = at;
}

void
loop_fire(struct loop *l, int64_t now)
{
	struct loop_timer *t;

	/* A timer's fn may set others, never add or remove one. */
	TAILQ_FOREACH(t, &l->timers, link)
		if (t->at >= 0 && t->at <= now)
			t->fn(t, now, l->arg);
}

int
loop_timeout(const struct loop *l, int64_t now)
{
	const struct loop_timer *t;
	int64_t timeout = -1;

	if (!TAILQ_EMPTY(&l->ready))
		return 0;
	TAILQ_FOREACH(t, &l->timers, link) {
		if (t->at < 0)
			continue;
		if (t->at <= now)
			return 0;	/* overdue: no sleep at all */
		if (timeout < 0 || t->at - now < timeout)
			timeout = t->at - now;
	}
	return timeout > LOOP_MAX_SLEEP_MS ? LOOP_MAX_SLEEP_MS : (int)timeout;
}

int
loop_turn(struct loop *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	size_t turns;
	int n, i;

	loop_fire(l, loop_now());
	n = epoll_wait(l->ep, evs, LOOP_MAX_EVENTS,
	    loop_timeout(l, loop_now()));
	if (n < 0 && errno != EINTR) {
		log_msg("epoll_wait: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct loop_fd *h = evs[i].data.ptr;

		h->fn(h, evs[i].events, l->arg);
	}
	/* Each task queued now gets one turn, then epoll again. */
	for (turns = l->nready; turns > 0 && !TAILQ_EMPTY(&l->ready); turns--) {
		struct loop_task *t = TAILQ_FIRST(&l->ready);

		loop_unready(l, t);
		l->run(t, l->arg);
	}
	return 0;
}
