/* ring.c - a bounded buffer of recent framed events, shared by the clients
 * of a named pipe. */
#include <stdlib.h>
#include <string.h>

#include "ring.h"

int
ring_init(struct ring *r, size_t bytes, size_t entries)
{
	memset(r, 0, sizeof(*r));
	r->data = malloc(bytes);
	r->ents = calloc(entries, sizeof(*r->ents));
	if (r->data == NULL || r->ents == NULL) {
		ring_free(r);
		return -1;
	}
	r->cap = bytes;
	r->ecap = entries;
	return 0;
}

void
ring_free(struct ring *r)
{
	free(r->data);
	free(r->ents);
	r->data = NULL;
	r->ents = NULL;
}

static struct ring_entry *
entry(const struct ring *r, uint64_t seq)
{
	return &r->ents[seq % r->ecap];
}

/* Bytes in use: from the oldest event's start to the newest one's end. */
static size_t
used(const struct ring *r)
{
	const struct ring_entry *last;

	if (r->first == r->next)
		return 0;
	last = entry(r, r->next - 1);
	return (size_t)(last->pos + last->len - entry(r, r->first)->pos);
}

void
ring_push(struct ring *r, uint64_t id_start, uint64_t id_end,
    const char *text, size_t len)
{
	struct ring_entry *e;
	uint64_t pos = 0;
	size_t at, first_part;

	if (r->first != r->next) {
		e = entry(r, r->next - 1);
		pos = e->pos + e->len;
	}
	while (r->first != r->next &&
	    (r->next - r->first == r->ecap || used(r) + len > r->cap))
		r->first++;
	e = entry(r, r->next);
	e->id_start = id_start;
	e->pos = pos;
	e->len = (uint32_t)len;
	at = (size_t)(pos % r->cap);
	first_part = len < r->cap - at ? len : r->cap - at;
	memcpy(r->data + at, text, first_part);
	memcpy(r->data, text + first_part, len - first_part);
	r->next++;
	r->end_id = id_end;
}

uint64_t
ring_find(const struct ring *r, uint64_t id)
{
	uint64_t lo = r->first, hi = r->next;

	if (id == r->end_id)
		return r->next;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		uint64_t mid_id = entry(r, mid)->id_start;

		if (mid_id == id)
			return mid;
		if (mid_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return RING_NONE;
}

int
ring_read(const struct ring *r, uint64_t seq, size_t max,
    struct iovec iov[2], uint64_t *after)
{
	uint64_t end = seq, start_pos, end_pos;
	size_t at, len;

	*after = seq;
	if (seq >= r->next)
		return 0;
	start_pos = entry(r, seq)->pos;
	do {
		end_pos = entry(r, end)->pos + entry(r, end)->len;
		end++;
	} while (end < r->next &&
	    entry(r, end)->pos + entry(r, end)->len - start_pos <= max);
	*after = end;
	at = (size_t)(start_pos % r->cap);
	len = (size_t)(end_pos - start_pos);
	iov[0].iov_base = r->data + at;
	if (at + len <= r->cap) {
		iov[0].iov_len = len;
		return 1;
	}
	iov[0].iov_len = r->cap - at;
	iov[1].iov_base = r->data;
	iov[1].iov_len = len - (r->cap - at);
	return 2;
}
