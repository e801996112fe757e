/* watch.h - noticing change in the streams' files and pipes: the process's
 * one inotify instance, and polling every FOLLOW_POLL_MS where it is
 * missing or cannot see (chosen in one place: watch_init). */
#ifndef SSE_TAIL_WATCH_H
#define SSE_TAIL_WATCH_H

#include <stddef.h>

#include "follow.h"
#include "loop.h"
#include "source.h"

struct watch {
	struct follow_watch fw;		/* fd -1: everything is polled */
	struct loop_fd h;		/* the inotify descriptor's */
	struct loop_timer poll;		/* the next poll; -1: none needed */
	struct source **streams;	/* the owner's, one a stream */
	size_t nstreams;
};

/* Opens the inotify instance and watches it; without one (or when epoll
 * will not take it), every file is polled. */
void watch_init(struct watch *w, struct loop *l);
void watch_free(struct watch *w);

/* A source may need polling now: makes sure a poll is due. */
void watch_poll_soon(struct watch *w);

/* Looks at src again (arg is the loop's, for its wake callback), and
 * keeps polling it when it needs that. */
void watch_check(struct watch *w, struct source *src, void *arg);

#endif
