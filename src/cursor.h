/* cursor.h - one subscriber's position in a stream: where it starts (its
 * backlog, or its Last-Event-ID), and its next events produced within a
 * budget, from a followed file (pread at its own offset) or a pipe's ring. */
#ifndef SSE_TAIL_CURSOR_H
#define SSE_TAIL_CURSOR_H

#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>

#include "cfg.h"
#include "follow.h"
#include "req.h"
#include "ring.h"

#define CURSOR_BATCH	65536	/* bytes one subscriber is given per turn */
#define CURSOR_IN_CHUNK	65536	/* bytes read from a file at once */
#define CURSOR_SLACK	256	/* room in out beyond the batch and the
				 * longest event: a reset event (64) and
				 * the event line's name */

/* Kept lean: there is one per subscriber. */
struct cursor {
	struct follow_gen *gen;	/* file: the one being read, holding a
				 * reference; NULL: waiting for a file */
	off_t off;		/* file: where the next line starts */
	off_t scan;		/* file: bytes past off known to hold no '\n' */
	unsigned epoch;		/* file: gen->epoch when off was set */
	uint64_t seq;		/* pipe: the next event in the ring */
	const char *reset;	/* a reset event's reason, to send first;
				 * NULL: none */
};

/* Scratch space that every cursor of a loop shares, one at a time. */
struct cursor_bufs {
	char *in;		/* CURSOR_IN_CHUNK bytes read from a file */
	char *out;		/* one turn's framed output */
	size_t out_cap;
	char *line;		/* the start of a long line */
	size_t line_cap;
};

/* Sizes the buffers for the longest max-line of cfg; they only grow.
 * -1 on ENOMEM (the old ones stay). */
int cursor_bufs_size(struct cursor_bufs *b, const struct cfg *cfg);
void cursor_bufs_free(struct cursor_bufs *b);

/* Sets where a new subscriber of a file stream starts: at req's
 * Last-Event-ID when the newest file can resume there (else a "gap"
 * reset first), else req's lines or the stream's backlog before the
 * end. */
void cursor_start_file(struct cursor *c, const struct follow *f,
    const struct cfg_stream *cfg, const struct req *req);

/* The same for a pipe stream, in its ring. */
void cursor_start_pipe(struct cursor *c, const struct ring *r,
    const struct cfg_stream *cfg, const struct req *req);

/* Frames the file stream's lines from c's position on into b->out at
 * *len, following rotation (the old file read to its end, then a
 * "rotated" reset) and truncation (a "truncated" reset), until about
 * CURSOR_BATCH bytes. Returns 1 when there may be more, 0 when c is at
 * the end, -1 on a read error (logged). */
int cursor_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct cursor_bufs *b, size_t *len);

/* Frames the pipe stream's next lines into b->out, about CURSOR_BATCH
 * bytes, each from the ring's one copy of its payload with cfg's event
 * name, and moves c past them; one behind the ring gets a "gap" reset
 * first. Returns the bytes framed; *more says whether the ring holds
 * more. */
size_t cursor_pipe(struct cursor *c, const struct ring *r,
    const struct cfg_stream *cfg, struct cursor_bufs *b, int *more);

/* Lets go of the file held; the cursor starts over from nothing. */
void cursor_drop(struct cursor *c, struct follow *f, struct follow_watch *w);

#endif
