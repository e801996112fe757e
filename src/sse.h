/* sse.h - event framing: a line of a log in, a text/event-stream event out. */
#ifndef SSE_TAIL_SSE_H
#define SSE_TAIL_SSE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a line of total bytes that sse_event needs at hand: the whole
 * line, but at most max_line + 3 (enough to see the character that
 * straddles a cut). */
size_t sse_need(uint64_t total, size_t max_line);

/* The most bytes sse_event writes for a line of total bytes. */
size_t sse_event_bound(const char *event, uint64_t total, size_t max_line);

/* Frames one line as "[event: E\n]id: OFFSET.TAG\ndata: ...\n\n" into dst, which
 * holds sse_event_bound bytes. line holds the first sse_need(total,
 * max_line) bytes of the line, its end of line excluded. The data is made
 * valid UTF-8 with no NUL (invalid bytes and NUL become U+FFFD), a CR
 * starts a new data: field, and a line over max_line bytes keeps at most
 * max_line bytes, cut on a character boundary, followed by
 * " [… N bytes cut]". Returns the bytes written. */
size_t sse_event(char *dst, const char *event, uint64_t offset, uint32_t tag,
    const char *line, uint64_t total, size_t max_line);

#define SSE_NOTE_MAX	96	/* bytes of a reset, a rotated or an id block */

/* Frames "event: reset\nid: OFFSET.TAG\ndata: WHY\n\n" (WHY at most 32
 * bytes); dst holds SSE_NOTE_MAX bytes. */
size_t sse_reset(char *dst, const char *why, uint64_t offset, uint32_t tag);

/* Frames "event: rotated\ndata: rotated\n\n": the next file begins. */
size_t sse_rotated(char *dst);

/* Frames the id-only block "id: OFFSET.TAG\n\n" (no event: a client takes
 * it as its last event id). */
size_t sse_id_block(char *dst, uint64_t offset, uint32_t tag);

/* Splits a byte stream into lines with bounded memory, for sources that
 * cannot be read twice (named pipes). */
struct sse_splitter {
	char *buf;		/* the start of the line in progress */
	size_t cap;		/* sse_need(anything, max_line) */
	size_t len;		/* bytes of buf in use */
	uint64_t total;		/* bytes of the line so far, kept or not */
	char last;		/* the line's last byte so far */
	size_t max_line;
};

/* A complete line: its first avail bytes at ptr, total bytes long, end of
 * line excluded. ptr points into the input or the splitter's buffer and is
 * valid until the next call. */
struct sse_line {
	const char *ptr;
	size_t avail;
	uint64_t total;
};

int sse_splitter_init(struct sse_splitter *s, size_t max_line);
void sse_splitter_free(struct sse_splitter *s);

/* Consumes input up to and including the first '\n' of [data, data + n),
 * or all of it. Returns the bytes consumed; sets *line and returns with
 * line->ptr != NULL when a line is complete ("\r\n" counts as one end). */
size_t sse_split(struct sse_splitter *s, const char *data, size_t n,
    struct sse_line *line);

/* Ends the line in progress (its writer went away): returns 1 and sets
 * *line when there was one, else 0. */
int sse_split_flush(struct sse_splitter *s, struct sse_line *line);

#endif
