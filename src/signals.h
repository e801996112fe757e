/* signals.h - the signals sse-tail takes: through signalfd, and acted on
 * between two epoll batches. */
#ifndef SSE_TAIL_SIGNALS_H
#define SSE_TAIL_SIGNALS_H

#include "loop.h"

#define SIGNALS_STOP	1u	/* SIGTERM or SIGINT */
#define SIGNALS_RELOAD	2u	/* SIGHUP */
#define SIGNALS_STATUS	4u	/* SIGUSR1 */

struct signals {
	struct loop_fd h;	/* the signalfd's handler */
	struct loop_timer act_timer;	/* acts on what was taken */
	int fd;			/* the signalfd, -1 before signals_open */
	unsigned pending;	/* SIGNALS_*: taken, not acted on yet */
	void (*act)(unsigned what, void *arg);	/* what: SIGNALS_* bits */
	void *arg;
};

/* Blocks SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 (so that their
 * default actions, and libfcgi's handlers, never run) and takes them on a
 * signalfd watched by l. act is called with what arrived, from a timer:
 * never inside an epoll batch, whose later events may point at what a
 * stop or a reload frees. SIGUSR2 is taken and ignored. 0, or -1 with
 * errno. */
int signals_open(struct signals *g, struct loop *l,
    void (*act)(unsigned what, void *arg), void *arg);
void signals_close(struct signals *g);

#endif
