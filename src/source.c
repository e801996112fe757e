/* source.c - a stream's source: its followed file or its named pipe, opened
 * for its first subscriber, and the list of its subscribers. */
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "source.h"

static void readable(struct loop_fd *h, uint32_t events, void *arg);

struct source *
source_new(const struct cfg_stream *cfg, struct loop *l,
    struct follow_watch *w, char *buf, size_t bufsize,
    void (*wake)(struct source *, void *))
{
	struct source *src = calloc(1, sizeof(*src));

	if (src == NULL)
		return NULL;
	src->lfd.fn = readable;
	TAILQ_INIT(&src->subs);
	src->cfg = cfg;
	src->loop = l;
	src->watch = w;
	src->buf = buf;
	src->bufsize = bufsize;
	src->wake = wake;
	src->pipe.fd = src->pipe.lock_fd = -1;
	return src;
}

void
source_free(struct source *src)
{
	if (src == NULL)
		return;
	if (src->is_pipe) {
		if (src->pipe.fd >= 0)
			loop_del(src->loop, src->pipe.fd);
		pipe_close(&src->pipe);
	} else if (src->active)
		follow_stop(&src->follow, src->watch);
	free(src);
}

int
source_open(struct source *src)
{
	const struct cfg_stream *cfg = src->cfg;
	struct stat sb;

	if (stat(cfg->path, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
		if (pipe_open(&src->pipe, cfg) < 0) {
			if (errno == EWOULDBLOCK)
				log_msg("stream %s: %s is read by another "
				    "process (flock): serve pipe streams from "
				    "one process", cfg->name, cfg->path);
			else
				log_msg("stream %s: open %s: %s", cfg->name,
				    cfg->path, strerror(errno));
			return -1;
		}
		if (loop_add(src->loop, src->pipe.fd, EPOLLIN, &src->lfd) < 0) {
			log_msg("stream %s: epoll_ctl %s: %s", cfg->name,
			    cfg->path, strerror(errno));
			pipe_close(&src->pipe);
			return -1;
		}
		src->is_pipe = 1;
	} else {
		if (follow_start(&src->follow, src->watch, cfg->name,
		    cfg->path) < 0) {
			log_msg("stream %s: open %s: %s", cfg->name, cfg->path,
			    errno == EINVAL ? "not a regular file or named pipe"
			    : strerror(errno));
			return -1;
		}
		src->is_pipe = 0;
	}
	src->active = 1;
	return 0;
}

void
source_release(struct source *src)
{
	if (src->nclients > 0 || src->is_pipe || !src->active)
		return;
	follow_stop(&src->follow, src->watch);
	src->active = 0;
}

int
source_unavailable(const struct source *src)
{
	return !src->is_pipe && follow_newest(&src->follow) == NULL &&
	    src->follow.error != 0 && src->follow.error != ENOENT;
}

int
source_needs_poll(const struct source *src)
{
	return src->active && (src->is_pipe ||
	    follow_needs_poll(&src->follow));
}

int
source_wants(const struct source *src, uint32_t mask, int wd,
    const char *name)
{
	if (!src->active || src->is_pipe)
		return 0;
	return (mask & IN_Q_OVERFLOW) || follow_wants(&src->follow, wd, name);
}

/* Watches a pipe's newly opened descriptor. */
static void
pipe_watch(struct source *src)
{
	if (loop_add(src->loop, src->pipe.fd, EPOLLIN, &src->lfd) < 0)
		log_msg("stream %s: epoll_ctl %s: %s", src->cfg->name,
		    src->cfg->path, strerror(errno));
}

static void
readable(struct loop_fd *h, uint32_t events, void *arg)
{
	struct source *src = LOOP_OWNER(h, struct source, lfd);
	int reopened, rc;

	(void)events;
	rc = pipe_read(&src->pipe, src->buf, src->bufsize, &reopened);
	if (reopened)
		pipe_watch(src);
	/* Also after a read error or a failed reopen: the lines read before
	 * it (the writer's last, with no newline) are in the ring. */
	if (rc != 0 || reopened)
		src->wake(src, arg);
}

/* A pipe whose reopening failed is tried again (its subscribers wait
 * meanwhile, with their heartbeats); one replaced at its path by another
 * FIFO is left for the new one. Each is logged. */
static void
pipe_check(struct source *src, void *arg)
{
	const struct cfg_stream *cfg = src->cfg;

	if (src->pipe.fd >= 0) {
		if (!pipe_replaced(&src->pipe))
			return;
		pipe_end_line(&src->pipe);
		if (pipe_reopen(&src->pipe) < 0) {
			log_msg("stream %s: open %s: %s (retrying)", cfg->name,
			    cfg->path, strerror(errno));
			src->wake(src, arg);
			return;
		}
		log_msg("stream %s: %s was replaced: reading the new one",
		    cfg->name, cfg->path);
	} else if (pipe_reopen(&src->pipe) < 0)
		return;
	else
		log_msg("stream %s: open %s: succeeded, no longer retrying",
		    cfg->name, cfg->path);
	pipe_watch(src);
	src->wake(src, arg);
}

void
source_check(struct source *src, void *arg)
{
	if (src->is_pipe)
		pipe_check(src, arg);
	else if (follow_check(&src->follow, src->watch))
		src->wake(src, arg);
}

void
source_set_cfg(struct source *src, const struct cfg_stream *cfg)
{
	src->cfg = cfg;
	src->follow.name = cfg->name;
	src->follow.path = cfg->path;
	src->pipe.cfg = cfg;
}
