/* fuzz_ring.c - libFuzzer harness of the ring of recent events (ring.c):
 * pushes, finds and reads drawn from the input, checked against a list of
 * every event pushed.
 *
 * Input: bytes of text (2 bytes), entry slots (1), then operations: a
 * byte whose low two bits pick push (0, 1), find (2) or read (3), and the
 * operation's own bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "ring.h"
#include "fuzz.h"

#define MAX_EVENTS 512

/* Everything pushed, in order: the model. */
struct model {
	uint64_t id_start[MAX_EVENTS], id_end[MAX_EVENTS];
	size_t len[MAX_EVENTS];
	char *text[MAX_EVENTS];
	size_t n;
};

/* Bytes of the held events [seq, end). */
static size_t
bytes(const struct model *m, uint64_t seq, uint64_t end)
{
	size_t sum = 0;

	for (; seq < end; seq++)
		sum += m->len[seq];
	return sum;
}

/* Reads from seq with max, checks the spans against the model and returns
 * the sequence after them. */
static uint64_t
check_read(const struct ring *r, const struct model *m, uint64_t seq,
    size_t max)
{
	struct iovec iov[2];
	uint64_t after, s;
	size_t want, off = 0, got;
	int n, i;

	n = ring_read(r, seq, max, iov, &after);
	if (seq == r->next) {
		FUZZ_CHECK(n == 0 && after == seq, "read at next: %d", n);
		return after;
	}
	FUZZ_CHECK(n == 1 || n == 2, "%d spans", n);
	FUZZ_CHECK(after > seq && after <= r->next, "after %llu",
	    (unsigned long long)after);
	want = bytes(m, seq, after);
	FUZZ_CHECK(after == seq + 1 || want <= max, "%zu bytes over max %zu",
	    want, max);
	FUZZ_CHECK(after == r->next || want + m->len[after] > max,
	    "stopped short at %llu", (unsigned long long)after);
	got = iov[0].iov_len + (n == 2 ? iov[1].iov_len : 0);
	FUZZ_CHECK(got == want, "spans of %zu bytes, want %zu", got, want);
	for (i = 0; i < n; i++) {
		const char *b = iov[i].iov_base;
		FUZZ_CHECK(b >= r->data && b + iov[i].iov_len <= r->data + r->cap,
		    "a span outside the ring");
	}
	/* The text, event by event, across the two spans. */
	for (s = seq; s < after; s++) {
		size_t k;

		for (k = 0; k < m->len[s]; k++, off++) {
			char c = off < iov[0].iov_len ?
			    ((char *)iov[0].iov_base)[off] :
			    ((char *)iov[1].iov_base)[off - iov[0].iov_len];
			FUZZ_CHECK(c == m->text[s][k], "byte %zu of event %llu",
			    k, (unsigned long long)s);
		}
	}
	return after;
}

/* What must hold after every push: the ring holds the longest run of the
 * newest events that fits, and their text. */
static void
check_held(const struct ring *r, const struct model *m)
{
	uint64_t seq;

	FUZZ_CHECK(r->next == m->n && r->first < r->next, "first %llu next %llu",
	    (unsigned long long)r->first, (unsigned long long)r->next);
	FUZZ_CHECK(r->next - r->first <= r->ecap, "more events than slots");
	FUZZ_CHECK(bytes(m, r->first, r->next) <= r->cap, "more bytes than cap");
	if (r->first > 0)
		FUZZ_CHECK(r->next - r->first == r->ecap ||
		    bytes(m, r->first - 1, r->next) > r->cap,
		    "evicted %llu, which fits", (unsigned long long)r->first - 1);
	FUZZ_CHECK(r->end_id == m->id_end[m->n - 1], "end_id");
	for (seq = r->first; seq < r->next;)
		seq = check_read(r, m, seq, SIZE_MAX);
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
			/* A line: ids go up, by its length and newline. */
			size_t len = 1 + fuzz_u16(&in) % cap;
			char *text = malloc(len);
			uint64_t id_start = end_id + (op >> 2 & 3);

			FUZZ_CHECK(text != NULL, "malloc");
			for (i = 0; i < len; i++)
				text[i] = (char)(i < in.len ? in.p[i] :
				    (uint8_t)(m.n * 31 + i));
			end_id = id_start + 1 + (op >> 4);
			m.id_start[m.n] = id_start;
			m.id_end[m.n] = end_id;
			m.len[m.n] = len;
			m.text[m.n++] = text;
			ring_push(&r, id_start, end_id, text, len);
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
		} else {
			uint64_t seq = r.first + fuzz_byte(&in) %
			    (r.next - r.first + 1);

			check_read(&r, &m, seq, fuzz_u16(&in));
		}
	}
	for (i = 0; i < m.n; i++)
		free(m.text[i]);
	ring_free(&r);
	return 0;
}
