/* check_ring.c - unit tests of the bounded line ring of a pipe (ring.c). */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "check_suites.h"

static struct ring r;
static uint64_t next_id;	/* the offset where the next pushed line starts */

static void
teardown(void)
{
	ring_free(&r);
}

static void
make(size_t bytes, size_t entries)
{
	ck_assert_int_eq(ring_init(&r, bytes, entries), 0);
	next_id = 0;
}

/* Pushes text as the payload of a line as long as text plus its newline;
 * returns the line's start id. */
static uint64_t
push(const char *text)
{
	uint64_t start = next_id;

	next_id += strlen(text) + 1;
	ring_push(&r, start, next_id, text, strlen(text), strlen(text));
	return start;
}

/* Joins the payloads of the lines from seq on, at least one and then as
 * many as fit in max bytes, into buf (NUL-terminated); checks that each
 * lies whole inside the ring's data. Returns the number of lines. */
static int
read_joined(uint64_t seq, size_t max, char *buf, uint64_t *after)
{
	size_t len = 0;
	int n = 0;

	for (*after = seq; *after < r.next; (*after)++, n++) {
		const struct ring_entry *e = ring_at(&r, *after);
		const char *p = ring_payload(&r, e);

		if (n > 0 && len + e->len > max)
			break;
		ck_assert(p >= r.data && p + e->len <= r.data + r.cap);
		memcpy(buf + len, p, e->len);
		len += e->len;
	}
	buf[len] = '\0';
	return n;
}

/* --- Core --- */

START_TEST(pushed_events_read_back_in_order)
{
	char buf[256];
	uint64_t after;

	make(1024, 16);
	push("one");
	push("two");
	push("three");
	ck_assert_uint_eq(r.first, 0);
	ck_assert_uint_eq(r.next, 3);
	ck_assert_int_eq(read_joined(ring_find(&r, 0), 1024, buf, &after), 3);
	ck_assert_str_eq(buf, "onetwothree");
	ck_assert_uint_eq(after, 3);
}
END_TEST

START_TEST(find_returns_the_sequence_of_each_held_id)
{
	uint64_t ids[5];
	size_t i;

	make(1024, 16);
	ids[0] = push("a");
	ids[1] = push("bb");
	ids[2] = push("");
	ids[3] = push("dddd");
	ids[4] = push("e");
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(ring_find(&r, ids[i]), i);
}
END_TEST

START_TEST(find_of_end_id_returns_next)
{
	make(1024, 16);
	ck_assert_uint_eq(ring_find(&r, 0), 0);	/* empty: end_id is 0 */
	push("a");
	push("bb");
	ck_assert_uint_eq(r.end_id, 5);
	ck_assert_uint_eq(ring_find(&r, 5), r.next);
	ck_assert_uint_eq(ring_find(&r, 5), 2);
}
END_TEST

START_TEST(find_of_unknown_id_is_none)
{
	make(1024, 16);
	push("abc");		/* 0..4 */
	push("de");		/* 4..7 */
	ck_assert_uint_eq(ring_find(&r, 1), RING_NONE);	/* mid-line */
	ck_assert_uint_eq(ring_find(&r, 3), RING_NONE);
	ck_assert_uint_eq(ring_find(&r, 6), RING_NONE);
	ck_assert_uint_eq(ring_find(&r, 8), RING_NONE);	/* beyond the end */
	ck_assert_uint_eq(ring_find(&r, 1000), RING_NONE);
}
END_TEST

START_TEST(each_line_keeps_its_ids_and_length)
{
	const struct ring_entry *e;

	make(64, 4);
	push("abc");		/* 0..4 */
	ring_push(&r, 4, 104, "cut", 3, 99);	/* 99 bytes, 3 kept */
	e = ring_at(&r, 0);
	ck_assert_uint_eq(e->id_start, 0);
	ck_assert_uint_eq(e->id_end, 4);
	ck_assert_uint_eq(e->total, 3);
	e = ring_at(&r, 1);
	ck_assert_uint_eq(e->id_end, 104);
	ck_assert_uint_eq(e->total, 99);
	ck_assert_uint_eq(e->len, 3);
	ck_assert_mem_eq(ring_payload(&r, e), "cut", 3);
	ck_assert_uint_eq(r.end_id, 104);
}
END_TEST

START_TEST(eviction_by_bytes_drops_the_oldest)
{
	char buf[64];
	uint64_t after, ids[4];

	make(16, 100);
	ids[0] = push("AAAAA");
	ids[1] = push("BBBBB");
	ids[2] = push("CCCCC");
	ck_assert_uint_eq(r.first, 0);
	ids[3] = push("DDDDD");		/* 20 bytes > 16: A goes */
	ck_assert_uint_eq(r.first, 1);
	ck_assert_uint_eq(r.next, 4);
	ck_assert_uint_eq(ring_find(&r, ids[0]), RING_NONE);
	ck_assert_uint_eq(ring_find(&r, ids[1]), 1);
	ck_assert_uint_eq(ring_find(&r, ids[3]), 3);
	read_joined(r.first, 64, buf, &after);
	ck_assert_str_eq(buf, "BBBBBCCCCCDDDDD");
	ck_assert_uint_eq(after, 4);
}
END_TEST

START_TEST(eviction_by_slots_drops_the_oldest)
{
	char buf[64];
	uint64_t after, ids[3];

	make(1024, 2);
	ids[0] = push("a");
	ids[1] = push("b");
	ids[2] = push("c");
	ck_assert_uint_eq(r.first, 1);
	ck_assert_uint_eq(r.next, 3);
	ck_assert_uint_eq(ring_find(&r, ids[0]), RING_NONE);
	ck_assert_uint_eq(ring_find(&r, ids[1]), 1);
	ck_assert_uint_eq(ring_find(&r, ids[2]), 2);
	read_joined(r.first, 64, buf, &after);
	ck_assert_str_eq(buf, "bc");
}
END_TEST

START_TEST(find_of_evicted_id_is_none)
{
	uint64_t old;
	int i;

	make(32, 4);
	old = push("first");
	for (i = 0; i < 10; i++)
		push("later");
	ck_assert_uint_gt(r.first, 0);
	ck_assert_uint_eq(ring_find(&r, old), RING_NONE);
	ck_assert_uint_eq(ring_find(&r, 6), RING_NONE);	/* 2nd, evicted too */
}
END_TEST

/* --- Limits --- */

START_TEST(a_payload_that_would_wrap_starts_at_the_beginning)
{
	char buf[64];
	uint64_t after;

	make(10, 8);
	push("abcd");		/* data 0..4 */
	push("efgh");		/* 4..8 */
	push("ijkl");		/* would be 8..12: at 0..4 instead, abcd goes */
	ck_assert_uint_eq(r.first, 1);
	ck_assert_ptr_eq(ring_payload(&r, ring_at(&r, 2)), r.data);
	read_joined(1, 100, buf, &after);
	ck_assert_str_eq(buf, "efghijkl");
	ck_assert_uint_eq(after, 3);
	push("mn");		/* 4..6: efgh goes */
	ck_assert_uint_eq(r.first, 2);
	read_joined(2, 100, buf, &after);
	ck_assert_str_eq(buf, "ijklmn");
}
END_TEST

START_TEST(event_as_big_as_the_ring_evicts_all_others)
{
	char buf[64];
	uint64_t after, id;

	make(8, 8);
	push("abc");
	id = push("01234567");
	ck_assert_uint_eq(r.first, 1);
	ck_assert_uint_eq(ring_find(&r, id), 1);
	read_joined(1, 100, buf, &after);
	ck_assert_str_eq(buf, "01234567");
	push("x");
	ck_assert_uint_eq(r.first, 2);
	read_joined(2, 100, buf, &after);
	ck_assert_str_eq(buf, "x");
}
END_TEST

/* Random pushes into a small ring, checked against a plain copy of every
 * event: what is held always reads back exactly, by any read size. */
START_TEST(random_pushes_read_back_exactly)
{
	static char texts[2000][40];
	static uint64_t starts[2000];
	char want[2048], got[2048];
	unsigned seed = 12345;
	size_t i;

	make(97, 7);
	for (i = 0; i < 2000; i++) {
		size_t len = (size_t)(rand_r(&seed) % 39), k, wlen = 0;
		uint64_t seq, after, s;

		for (k = 0; k < len; k++)
			texts[i][k] = (char)('A' + rand_r(&seed) % 26);
		texts[i][len] = '\0';
		starts[i] = push(texts[i]);
		ck_assert_uint_eq(r.next, i + 1);
		ck_assert_uint_le(r.next - r.first, 7);
		for (s = r.first; s < r.next; s++) {
			ck_assert_uint_eq(ring_find(&r, starts[s]), s);
			memcpy(want + wlen, texts[s], strlen(texts[s]));
			wlen += strlen(texts[s]);
		}
		want[wlen] = '\0';
		ck_assert_uint_le(wlen, 97);
		if (r.first > 0)
			ck_assert_uint_eq(ring_find(&r, starts[r.first - 1]),
			    RING_NONE);
		ck_assert_uint_eq(ring_find(&r, next_id), r.next);
		/* Read everything in steps of at most 20 bytes. */
		got[0] = '\0';
		for (seq = r.first; seq < r.next; seq = after) {
			char part[128];

			read_joined(seq, 20, part, &after);
			ck_assert_uint_gt(after, seq);
			strcat(got, part);
		}
		ck_assert_str_eq(got, want);
	}
}
END_TEST

Suite *
ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, pushed_events_read_back_in_order);
	tcase_add_test(tc, find_returns_the_sequence_of_each_held_id);
	tcase_add_test(tc, find_of_end_id_returns_next);
	tcase_add_test(tc, find_of_unknown_id_is_none);
	tcase_add_test(tc, each_line_keeps_its_ids_and_length);
	tcase_add_test(tc, eviction_by_bytes_drops_the_oldest);
	tcase_add_test(tc, eviction_by_slots_drops_the_oldest);
	tcase_add_test(tc, find_of_evicted_id_is_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, a_payload_that_would_wrap_starts_at_the_beginning);
	tcase_add_test(tc, event_as_big_as_the_ring_evicts_all_others);
	tcase_add_test(tc, random_pushes_read_back_exactly);
	suite_add_tcase(s, tc);
	return s;
}
