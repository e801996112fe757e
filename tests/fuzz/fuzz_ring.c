/* fuzz_ring.c - libFuzzer harness of the ring of a pipe's recent lines
 * (ring.c): pushes, finds and looks-ups drawn from the input, checked
 * against a list of every line pushed and a model of where each payload
 * goes (contiguous, never wrapping).
 *
 * Input: bytes of payload (2 bytes), entry slots (1), then operations: a
 * byte whose low two bits pick push (0, 1), find (2) or look at one held
 * line (3), and the operation's own bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "fuzz.h"

#define MAX_EVENTS 512

/* Everything pushed, in order: the model. */
struct model {
	uint64_t id_start[MAX_EVENTS], id_end[MAX_EVENTS], total[MAX_EVENTS];
	uint64_t pos[MAX_EVENTS];	/* where the payload must go */
	size_t len[MAX_EVENTS];
	char *text[MAX_EVENTS];
	size_t n;
};

/* Line seq as the ring holds it, against the model. */
static void
check_line(const struct ring *r, const struct model *m, uint64_t seq)
{
	const struct ring_entry *e = ring_at(r, seq);
	const char *p = ring_payload(r, e);

	FUZZ_CHECK(e->id_start == m->id_start[seq] && e->id_end == m->id_end[seq]
	    && e->total == m->total[seq] && e->len == m->len[seq],
	    "line %llu's fields", (unsigned long long)seq);
	FUZZ_CHECK(e->pos == m->pos[seq], "line %llu at %llu, want %llu",
	    (unsigned long long)seq, (unsigned long long)e->pos,
	    (unsigned long long)m->pos[seq]);
	FUZZ_CHECK(p >= r->data && p + e->len <= r->data + r->cap,
	    "a payload outside the ring");
	FUZZ_CHECK(memcmp(p, m->text[seq], m->len[seq]) == 0,
	    "line %llu's payload", (unsigned long long)seq);
}

/* What must hold after every push: the ring holds the longest run of the
 * newest lines that fits, each payload whole and as pushed. */
static void
check_held(const struct ring *r, const struct model *m)
{
	uint64_t seq, last_end;

	FUZZ_CHECK(r->next == m->n && r->first < r->next, "first %llu next %llu",
	    (unsigned long long)r->first, (unsigned long long)r->next);
	FUZZ_CHECK(r->next - r->first <= r->ecap, "more lines than slots");
	last_end = m->pos[m->n - 1] + m->len[m->n - 1];
	FUZZ_CHECK(last_end - m->pos[r->first] <= r->cap, "more bytes than cap");
	if (r->first > 0)
		FUZZ_CHECK(r->next - r->first == r->ecap ||
		    last_end - m->pos[r->first - 1] > r->cap,
		    "evicted %llu, which fits", (unsigned long long)r->first - 1);
	FUZZ_CHECK(r->end_id == m->id_end[m->n - 1], "end_id");
	for (seq = r->first; seq < r->next; seq++)
		check_line(r, m, seq);
}

static void
check_find(const struct ring *r, const struct model *m, uint64_t id)
{
	uint64_t want = RING_NONE, seq, got;

	if (id == r->end_id)
		want = r->next;
	else
		for (seq = r->first; seq < r->next; seq++)
			if (m->id_start[seq] == id)
				want = seq;
	got = ring_find(r, id);
	FUZZ_CHECK(got == want, "find %llu: %llu, want %llu",
	    (unsigned long long)id, (unsigned long long)got,
	    (unsigned long long)want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	static struct model m;
	struct ring r;
	size_t cap, ecap, i;
	uint64_t end_id = 0;

	cap = 1 + fuzz_u16(&in) % 2048;
	ecap = 1 + fuzz_byte(&in) % 64;
	FUZZ_CHECK(ring_init(&r, cap, ecap) == 0, "ring_init");
	m.n = 0;
	FUZZ_CHECK(ring_find(&r, 0) == 0 && ring_find(&r, 1) == RING_NONE,
	    "find in an empty ring");
	while (in.len > 0 && m.n < MAX_EVENTS) {
		unsigned op = fuzz_byte(&in);

		if ((op & 3) < 2) {
			/* A line: ids go up, by its length and newline; its
			 * total may be more than the payload kept (a cut). */
			size_t len = fuzz_u16(&in) % (cap + 1), at;
			char *text = malloc(len + 1);
			uint64_t id_start = end_id + (op >> 2 & 3), pos = 0;

			FUZZ_CHECK(text != NULL, "malloc");
			for (i = 0; i < len; i++)
				text[i] = (char)(i < in.len ? in.p[i] :
				    (uint8_t)(m.n * 31 + i));
			end_id = id_start + 1 + (op >> 4);
			if (m.n > 0)
				pos = m.pos[m.n - 1] + m.len[m.n - 1];
			at = (size_t)(pos % cap);
			if (len > cap - at)
				pos += cap - at;
			m.id_start[m.n] = id_start;
			m.id_end[m.n] = end_id;
			m.total[m.n] = len + (op >> 5);
			m.pos[m.n] = pos;
			m.len[m.n] = len;
			m.text[m.n++] = text;
			ring_push(&r, id_start, end_id, text, len, len + (op >> 5));
			check_held(&r, &m);
		} else if ((op & 3) == 2) {
			/* An id held, the end, or any. */
			unsigned pick = fuzz_byte(&in);
			uint64_t id = pick;

			if (m.n > 0 && (op & 4))
				id = m.id_start[pick % m.n] + (op >> 6);
			else if (op & 8)
				id = end_id;
			check_find(&r, &m, id);
		} else if (r.first < r.next) {
			uint64_t seq = r.first + fuzz_byte(&in) %
			    (r.next - r.first);

			check_line(&r, &m, seq);
		}
	}
	for (i = 0; i < m.n; i++)
		free(m.text[i]);
	ring_free(&r);
	return 0;
}
