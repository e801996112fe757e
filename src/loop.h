/* loop.h - the event loop's machinery: epoll with a handler per descriptor,
 * timers, the ready queue and the clock. It knows nothing of what it runs. */
#ifndef SSE_TAIL_LOOP_H
#define SSE_TAIL_LOOP_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#define LOOP_MAX_SLEEP_MS	60000	/* the longest epoll_wait */
/* The container of member m at p, a struct type. */
#define LOOP_OWNER(p, type, m) \
	((type *)(void *)((char *)(p) - offsetof(type, m)))

#define LOOP_MAX_EVENTS		256	/* epoll events taken per turn */

/* What an epoll event points at: the first member of each watched object,
 * whose handler is called with the events. */
struct loop_fd {
	void (*fn)(struct loop_fd *h, uint32_t events, void *arg);
};

/* An object that wants a turn on the ready queue: embedded in it. */
struct loop_task {
	TAILQ_ENTRY(loop_task) link;	/* tqe_prev NULL: not queued */
};

/* A deadline. The loop calls fn once at is due (at <= now); fn sets at
 * again, or -1 to stop. Firing early is harmless to a timer whose fn
 * looks at what is due itself. */
struct loop_timer {
	int64_t at;			/* ms of loop_now(); -1: off */
	void (*fn)(struct loop_timer *t, int64_t now, void *arg);
	TAILQ_ENTRY(loop_timer) link;
};

struct loop {
	int ep;				/* -1 until loop_init */
	TAILQ_HEAD(, loop_task) ready;	/* oldest first */
	size_t nready;
	TAILQ_HEAD(, loop_timer) timers;
	void (*run)(struct loop_task *task, void *arg);	/* a task's turn */
	void *arg;			/* given to every handler, timer, turn */
};

/* Makes the loop; run is what a ready task's turn does. -1 with errno when
 * epoll cannot be had. */
int loop_init(struct loop *l, void (*run)(struct loop_task *, void *),
    void *arg);
/* Closes the epoll descriptor; the watched descriptors are their owners'. */
void loop_free(struct loop *l);

/* Milliseconds of the monotonic clock. */
int64_t loop_now(void);

/* epoll_ctl: watch fd for events, calling h; change them; stop. 0, or -1
 * with errno. */
int loop_add(struct loop *l, int fd, uint32_t events, struct loop_fd *h);
int loop_mod(struct loop *l, int fd, uint32_t events, struct loop_fd *h);
int loop_del(struct loop *l, int fd);

/* Queues t for a turn (once: a queued task stays where it is); takes it
 * off; tells whether it is queued. */
void loop_ready(struct loop *l, struct loop_task *t);
void loop_unready(struct loop *l, struct loop_task *t);
int loop_is_ready(const struct loop_task *t);

/* Registers a timer (off until set), forgets one. */
void loop_timer_add(struct loop *l, struct loop_timer *t,
    void (*fn)(struct loop_timer *, int64_t, void *));
void loop_timer_del(struct loop *l, struct loop_timer *t);
/* Makes t due at `at` at the latest: sets it when it is off or later. */
void loop_timer_soon(struct loop_timer *t, int64_t at);

/* Calls the timers that are due at now. */
void loop_fire(struct loop *l, int64_t now);

/* How long epoll may sleep at now: 0 when a task is ready or a timer is
 * due or overdue, -1 (for ever) with no timer, else until the nearest
 * timer, at most LOOP_MAX_SLEEP_MS. */
int loop_timeout(const struct loop *l, int64_t now);

/* One turn: the due timers, epoll (each event to its handler), then each
 * task queued by then gets one turn. Returns 0, or -1 when epoll_wait
 * failed (logged). */
int loop_turn(struct loop *l);

#endif
