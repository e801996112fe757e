/* pipe.h - a named pipe: one reader per process, its lines kept once in
 * a ring that every client of the stream reads from. */
#ifndef SSE_TAIL_PIPE_H
#define SSE_TAIL_PIPE_H

#include <stdint.h>

#include "cfg.h"
#include "ring.h"
#include "sse.h"

struct pipe_src {
	const struct cfg_stream *cfg;
	int fd;			/* the reading end, -1 when closed */
	int lock_fd;		/* holds the flock that keeps other processes out */
	uint64_t bytes;		/* read since this process opened the pipe: ids */
	uint32_t tag;		/* the ids' tag: random, this reader's */
	struct sse_splitter split;
	struct ring ring;
};

/* Opens the pipe at cfg->path without blocking and locks it. Returns 0, or
 * -1 with errno: EWOULDBLOCK when another process reads it, EINVAL when the
 * path is not a named pipe, ENOMEM, or open's. */
int pipe_open(struct pipe_src *p, const struct cfg_stream *cfg);

/* Reads what the pipe holds into the ring, at most half the ring's worth
 * of events, so that clients get a turn before more is read.
 * Returns 1 when events were added, 0 when not, -1 on a read error (logged).
 * When the last writer has gone, the line in progress is sent and the pipe
 * reopened: *reopened is set and the caller watches the new fd. When the
 * reopening fails, -1 with p->fd -1: pipe_reopen is for trying again. */
int pipe_read(struct pipe_src *p, char *buf, size_t bufsize, int *reopened);

/* Opens the pipe at the path again, after its last writer left or when
 * it failed to: when another FIFO is at the path now, the lock moves to
 * it. Returns 0, or -1 with errno (p->fd is then -1: call again later). */
int pipe_reopen(struct pipe_src *p);

/* True when the FIFO at the path is not the one open (it was replaced):
 * end the line in progress and reopen. */
int pipe_replaced(const struct pipe_src *p);

/* Ends the line in progress (its writer went away). */
void pipe_end_line(struct pipe_src *p);

void pipe_close(struct pipe_src *p);

#endif
