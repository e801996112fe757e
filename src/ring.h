/* ring.h - a bounded buffer of recent framed events, shared by the clients
 * of a named pipe. */
#ifndef SSE_TAIL_RING_H
#define SSE_TAIL_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define RING_NONE UINT64_MAX

struct ring_entry {
	uint64_t id_start;	/* offset of the line's first byte */
	uint64_t pos;		/* where its text starts, in bytes ever pushed */
	uint32_t len;		/* bytes of its text */
};

/* Events are numbered by sequence; the ring holds [first, next). */
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

/* Appends one event (len <= cap), evicting the oldest as needed. id_start
 * and id_end are the line's offsets; id_end becomes end_id. */
void ring_push(struct ring *r, uint64_t id_start, uint64_t id_end,
    const char *text, size_t len);

/* The sequence of the event whose line starts at id; next when id is
 * end_id (nothing to send yet); RING_NONE when the ring holds no such
 * event. */
uint64_t ring_find(const struct ring *r, uint64_t id);

/* Describes whole events from seq on, at most max bytes but at least one
 * event, as up to two spans. Returns the number of spans (0 when seq is
 * next) and sets *after to the sequence following them. seq must be held. */
int ring_read(const struct ring *r, uint64_t seq, size_t max,
    struct iovec iov[2], uint64_t *after);

#endif
