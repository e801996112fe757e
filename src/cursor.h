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
#include "id.h"
#include "req.h"
#include "ring.h"

#define CURSOR_BATCH	65536	/* bytes one subscriber is given per turn */
#define CURSOR_IN_CHUNK	65536	/* bytes read from a file at once */
#define CURSOR_SLACK	256	/* room in out beyond the batch and the
				 * longest event: a reset event
				 * (SSE_NOTE_MAX) and the event line's
				 * name */

/* What a cursor sends before its next line. */
enum cursor_note {
	CURSOR_NOTE_NONE,
	CURSOR_NOTE_ROTATED,	/* event: rotated, the next file begins */
	CURSOR_NOTE_GAP,	/* a reset: the resume point was not found */
	CURSOR_NOTE_TRUNCATED	/* a reset: the file was truncated and what
				 * the client had not read is not found */
};

/* Kept lean: there is one per subscriber. */
struct cursor {
	struct follow_gen *gen;	/* file: the one being read, holding a
				 * reference; NULL: waiting for a file */
	off_t off;		/* file: where the next line starts */
	off_t scan;		/* file: bytes past off known to hold no '\n' */
	uint64_t seq;		/* pipe: the next event in the ring */
	unsigned epoch;		/* file: gen->epoch when off was set */
	uint32_t tag;		/* file: the tag of off in gen */
	unsigned char note;	/* an enum cursor_note, to send first */
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

/* Sets where a new subscriber of a file stream starts: where req's
 * Last-Event-ID resumes (id_choose: the newest file, or a predecessor
 * named by cfg's rotated, read from there through every newer one; none:
 * a "gap" reset first and the newest file from its start), else req's
 * lines or the stream's backlog before the end. *start is the position
 * for the preamble's id: where the stream starts; after a tagged id that
 * is not found, that id itself (a reconnect before the reset arrived
 * gets the reset again). */
void cursor_start_file(struct cursor *c, struct follow *f,
    struct follow_watch *w, const struct cfg_stream *cfg,
    const struct req *req, struct id_pos *start);

/* The same for a pipe stream, in its ring, whose reader's tag is tag: an
 * id resumes only with that tag and while the ring holds its line. */
void cursor_start_pipe(struct cursor *c, const struct ring *r, uint32_t tag,
    const struct cfg_stream *cfg, const struct req *req,
    struct id_pos *start);

/* Frames the file stream's lines from c's position on into b->out at
 * *len, following rotation (the old file read to its end, then a
 * rotated event) and truncation (what the client had not read, from the
 * predecessor that holds it, then a rotated event; when none does, a
 * "truncated" reset), until about CURSOR_BATCH bytes. Returns 1 when there may be more, 0 when c is at
 * the end, -1 on a read error (logged). */
int cursor_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct cursor_bufs *b, size_t *len);

/* Frames the pipe stream's next lines into b->out, about CURSOR_BATCH
 * bytes, each from the ring's one copy of its payload with cfg's event
 * name and the reader's tag, and moves c past them; one behind the ring
 * gets a "gap" reset first (its id: the oldest line's start). Returns the
 * bytes framed; *more says whether the ring holds more. */
size_t cursor_pipe(struct cursor *c, const struct ring *r, uint32_t tag,
    const struct cfg_stream *cfg, struct cursor_bufs *b, int *more);

/* Lets go of the file held; the cursor starts over from nothing. */
void cursor_drop(struct cursor *c, struct follow *f, struct follow_watch *w);

#endif
