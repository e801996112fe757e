/* source.h - a stream's source: its followed file or its named pipe, opened
 * for its first subscriber, and the list of its subscribers. */
#ifndef SSE_TAIL_SOURCE_H
#define SSE_TAIL_SOURCE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "follow.h"
#include "loop.h"
#include "pipe.h"

struct session;			/* a subscriber: the owner's */
TAILQ_HEAD(source_subs, session);

struct source {
	struct loop_fd lfd;		/* a pipe's: its reading end */
	const struct cfg_stream *cfg;
	struct loop *loop;
	struct follow_watch *watch;
	char *buf;			/* where a pipe is read into */
	size_t bufsize;
	/* New data, or the source came back: its subscribers' turn. arg is
	 * the loop's. */
	void (*wake)(struct source *src, void *arg);
	int active;			/* opened: it has or had subscribers */
	int dirty;			/* an inotify event concerns it */
	int is_pipe;
	struct follow follow;
	struct pipe_src pipe;
	struct source_subs subs;	/* oldest write first: the owner's */
	size_t nclients;
};

/* A source for cfg, not opened yet; buf (bufsize bytes, the owner's) is
 * where its pipe is read into. NULL when out of memory. */
struct source *source_new(const struct cfg_stream *cfg, struct loop *l,
    struct follow_watch *w, char *buf, size_t bufsize,
    void (*wake)(struct source *, void *));

/* Closes the file or pipe and frees src, which has no subscribers left. */
void source_free(struct source *src);

/* Opens the file or the pipe at cfg->path for the first subscriber.
 * Returns 0, or -1 (logged): answer 503. */
int source_open(struct source *src);

/* The last subscriber left: a file stops being followed; a pipe stays
 * open for the life of the process, so that its ids keep rising. */
void source_release(struct source *src);

/* True when the stream cannot be served now: a file that exists but does
 * not open, and no older one is open to serve meanwhile. */
int source_unavailable(const struct source *src);

/* True when source_check must be called every FOLLOW_POLL_MS: a file
 * without inotify or whose new file failed to open; every pipe (whose
 * replacement no event reports). */
int source_needs_poll(const struct source *src);

/* True when the inotify event (mask, wd, name) concerns src. */
int source_wants(const struct source *src, uint32_t mask, int wd,
    const char *name);

/* Looks at the file or pipe again (an event, or the poll) and wakes the
 * subscribers when anything changed. A pipe whose reopening failed is
 * tried again, and one replaced at its path by another FIFO (a new inode)
 * is left for the new one. */
void source_check(struct source *src, void *arg);

/* SIGHUP kept the stream: its settings now live in cfg. */
void source_set_cfg(struct source *src, const struct cfg_stream *cfg);

#endif
