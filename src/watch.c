/* watch.c - noticing change in the streams' files and pipes: the process's
 * one inotify instance, and polling every FOLLOW_POLL_MS where it is
 * missing or cannot see (chosen in one place: watch_init). */
#include <sys/epoll.h>
#include <sys/inotify.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

void
watch_poll_soon(struct watch *w)
{
	if (w->poll.at < 0)
		w->poll.at = loop_now() + FOLLOW_POLL_MS;
}

void
watch_check(struct watch *w, struct source *src, void *arg)
{
	source_check(src, arg);
	if (source_needs_poll(src))
		watch_poll_soon(w);
}

/* The inotify descriptor is readable: every source an event concerns is
 * looked at once, however many events a burst holds. */
static void
readable(struct loop_fd *h, uint32_t events, void *arg)
{
	struct watch *w = LOOP_OWNER(h, struct watch, h);
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t i;

	(void)events;
	while ((n = read(w->fw.fd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;

			for (i = 0; i < w->nstreams; i++) {
				struct source *st = w->streams[i];

				if (source_wants(st, ev->mask, ev->wd,
				    ev->len ? ev->name : NULL))
					st->dirty = 1;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	for (i = 0; i < w->nstreams; i++)
		if (w->streams[i]->dirty) {
			w->streams[i]->dirty = 0;
			watch_check(w, w->streams[i], arg);
		}
}

static void
poll_due(struct loop_timer *t, int64_t now, void *arg)
{
	struct watch *w = LOOP_OWNER(t, struct watch, poll);
	size_t i;
	int any = 0;

	t->at = -1;	/* watch_check may set it again */
	for (i = 0; i < w->nstreams; i++) {
		struct source *st = w->streams[i];

		if (source_needs_poll(st)) {
			watch_check(w, st, arg);
			any = 1;
		}
	}
	t->at = any ? now + FOLLOW_POLL_MS : -1;
}

void
watch_init(struct watch *w, struct loop *l)
{
	w->h.fn = readable;
	loop_timer_add(l, &w->poll, poll_due);
	follow_watch_init(&w->fw);
	if (w->fw.fd >= 0 && loop_add(l, w->fw.fd, EPOLLIN, &w->h) < 0) {
		log_msg("epoll_ctl inotify: %s; polling instead", strerror(errno));
		follow_watch_close(&w->fw);
	}
}

void
watch_free(struct watch *w)
{
	follow_watch_close(&w->fw);
}
