/* ring.c - a bounded buffer of a named pipe's recent lines, shared by its
 * clients: each line's payload once. */
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

void
ring_push(struct ring *r, uint64_t id_start, uint64_t id_end,
    const char *payload, size_t len, uint64_t total)
{
	struct ring_entry *e;
	uint64_t pos = 0;
	size_t at;

	if (r->first != r->next) {
		e = entry(r, r->next - 1);
		pos = e->pos + e->len;
	}
	/* A payload does not wrap: one that would is put at the start. */
	at = (size_t)(pos % r->cap);
	if (len > r->cap - at)
		pos += r->cap - at;
	while (r->first != r->next && (r->next - r->first == r->ecap ||
	    pos + len - entry(r, r->first)->pos > r->cap))
		r->first++;
	e = entry(r, r->next);
	e->id_start = id_start;
	e->id_end = id_end;
	e->total = total;
	e->pos = pos;
	e->len = (uint32_t)len;
	memcpy(r->data + pos % r->cap, payload, len);
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

const struct ring_entry *
ring_at(const struct ring *r, uint64_t seq)
{
	return entry(r, seq);
}

const char *
ring_payload(const struct ring *r, const struct ring_entry *e)
{
	return r->data + e->pos % r->cap;
}
