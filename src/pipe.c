/* pipe.c - a named pipe: one reader per process, its lines kept once in
 * a ring that every client of the stream reads from. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "id.h"
#include "log.h"
#include "pipe.h"

#define PIPE_MIN_EVENT	16	/* bytes a line is taken to need, for the
				 * ring's slots: shorter ones may be
				 * evicted by count before bytes */

static int
open_fifo(const char *path)
{
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISFIFO(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int
pipe_open(struct pipe_src *p, const struct cfg_stream *cfg)
{
	size_t event_max = sse_event_bound(cfg->event, cfg->max_line, cfg->max_line);
	size_t bytes = cfg->buffer;
	int saved;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->fd = p->lock_fd = -1;
	p->tag = id_random_tag();
	/* A second reader would take some of the lines: one process only.
	 * The lock lives on its own descriptor, so that reopening the reading
	 * end after a writer leaves never lets go of it. */
	if ((p->lock_fd = open_fifo(cfg->path)) < 0)
		return -1;
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB) < 0)
		goto err;
	if ((p->fd = open_fifo(cfg->path)) < 0)
		goto err;
	if (bytes < 2 * event_max)
		bytes = 2 * event_max;
	if (sse_splitter_init(&p->split, cfg->max_line) < 0 ||
	    ring_init(&p->ring, bytes, bytes / PIPE_MIN_EVENT) < 0) {
		errno = ENOMEM;
		goto err;
	}
	return 0;
err:
	saved = errno;
	pipe_close(p);
	errno = saved;
	return -1;
}

/* Keeps one line's payload (what framing it will read: sse_need) in the
 * ring; returns the bytes it takes there. */
static size_t
push_line(struct pipe_src *p, const struct sse_line *line, uint64_t id_start,
    uint64_t id_end)
{
	size_t len = sse_need(line->total, p->cfg->max_line);

	ring_push(&p->ring, id_start, id_end, line->ptr, len, line->total);
	return len;
}

int
pipe_read(struct pipe_src *p, char *buf, size_t bufsize, int *reopened)
{
	struct sse_line line;
	size_t pushed = 0;
	int added = 0;

	/* Read no more than half the ring's worth at a time, so that the
	 * clients get a turn in between: a client that keeps up with the
	 * writer never falls behind the ring. */
	if (bufsize > p->ring.cap / 8)
		bufsize = p->ring.cap / 8;
	*reopened = 0;
	while (pushed < p->ring.cap / 2) {
		ssize_t n = read(p->fd, buf, bufsize);
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_msg("stream %s: read %s: %s", p->cfg->name,
			    p->cfg->path, strerror(errno));
			return -1;
		}
		if (n == 0) {
			/* The last writer closed: its unfinished line is
			 * complete now. Reopen, or poll would say POLLHUP
			 * forever; the ids go on. */
			uint64_t start = p->bytes - p->split.total;

			if (sse_split_flush(&p->split, &line)) {
				pushed += push_line(p, &line, start, p->bytes);
				added = 1;
			}
			if (pipe_reopen(p) < 0) {
				log_msg("stream %s: open %s: %s (retrying)",
				    p->cfg->name, p->cfg->path, strerror(errno));
				return -1;
			}
			*reopened = 1;
			break;
		}
		while (off < (size_t)n) {
			uint64_t start = p->bytes - p->split.total;
			size_t used = sse_split(&p->split, buf + off,
			    (size_t)n - off, &line);

			off += used;
			p->bytes += used;
			if (line.ptr != NULL) {
				pushed += push_line(p, &line, start, p->bytes);
				added = 1;
			}
		}
	}
	return added;
}

int
pipe_reopen(struct pipe_src *p)
{
	struct stat now, locked;
	int fd, lock_fd = -1;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if ((fd = open_fifo(p->cfg->path)) < 0)
		return -1;
	/* Another FIFO at the path: the lock moves to it. */
	if (fstat(fd, &now) == 0 && fstat(p->lock_fd, &locked) == 0 &&
	    (now.st_dev != locked.st_dev || now.st_ino != locked.st_ino)) {
		if ((lock_fd = open_fifo(p->cfg->path)) < 0 ||
		    flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
			int saved = errno;

			if (lock_fd >= 0)
				close(lock_fd);
			close(fd);
			errno = saved;
			return -1;
		}
		close(p->lock_fd);
		p->lock_fd = lock_fd;
	}
	p->fd = fd;
	return 0;
}

int
pipe_replaced(const struct pipe_src *p)
{
	struct stat path, open_sb;

	if (p->fd < 0 || stat(p->cfg->path, &path) < 0 ||
	    fstat(p->fd, &open_sb) < 0)
		return 0;
	return S_ISFIFO(path.st_mode) && (path.st_dev != open_sb.st_dev ||
	    path.st_ino != open_sb.st_ino);
}

void
pipe_end_line(struct pipe_src *p)
{
	struct sse_line line;
	uint64_t start = p->bytes - p->split.total;

	if (sse_split_flush(&p->split, &line))
		push_line(p, &line, start, p->bytes);
}

void
pipe_close(struct pipe_src *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	p->fd = p->lock_fd = -1;
	sse_splitter_free(&p->split);
	ring_free(&p->ring);
}
