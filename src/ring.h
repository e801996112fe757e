/* ring.h - a bounded buffer of a named pipe's recent lines, shared by its
 * clients: each line's payload is kept once, and framed for each client
 * as it is sent, so that per-client fields (the id, the event name) are
 * written from the same bytes. */
#ifndef SSE_TAIL_RING_H
#define SSE_TAIL_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define RING_NONE UINT64_MAX

struct ring_entry {
	uint64_t id_start;	/* offset of the line's first byte */
	uint64_t id_end;	/* just past its end: its event's id */
	uint64_t total;		/* the line's length; more than len when cut */
	uint64_t pos;		/* where its payload starts, in bytes ever
				 * pushed; a payload never wraps */
	uint32_t len;		/* bytes of its payload */
};

/* Lines are numbered by sequence; the ring holds [first, next). */
struct ring {
	char *data;
	size_t cap;			/* bytes of data */
	struct ring_entry *ents;
	size_t ecap;			/* slots of ents */
	uint64_t first, next;
	uint64_t end_id;		/* id of the last event: the next line's start */
};

/* Makes an empty ring of bytes for text and entries slots. -1 on ENOMEM. */
int ring_init(struct ring *r, size_t bytes, size_t entries);
void ring_free(struct ring *r);

/* Appends one line: len bytes of payload (len <= cap) of a line of total
 * bytes, evicting the oldest as needed. id_start and id_end are the line's
 * offsets; id_end becomes end_id. */
void ring_push(struct ring *r, uint64_t id_start, uint64_t id_end,
    const char *payload, size_t len, uint64_t total);

/* The sequence of the event whose line starts at id; next when id is
 * end_id (nothing to send yet); RING_NONE when the ring holds no such
 * event. */
uint64_t ring_find(const struct ring *r, uint64_t id);

/* The line of sequence seq, which must be held (first <= seq < next). */
const struct ring_entry *ring_at(const struct ring *r, uint64_t seq);

/* Its payload: e->len contiguous bytes. */
const char *ring_payload(const struct ring *r, const struct ring_entry *e);

#endif
