/* check_id.c - unit tests of event ids (id.c): the FNV-1a tags, the
 * OFFSET.TAG format and its parsing, and checking an id against a file at
 * a cost that does not grow with the file. */
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "check_suites.h"

/* A file in memory, read through id_read_fn with the bytes counted. */
struct mem {
	const char *data;
	size_t size;
	size_t reads, bytes;
};

static ssize_t
mem_read(void *ctx, void *buf, size_t n, off_t off)
{
	struct mem *m = ctx;

	m->reads++;
	if ((size_t)off >= m->size)
		return 0;
	if (n > m->size - (size_t)off)
		n = m->size - (size_t)off;
	memcpy(buf, m->data + off, n);
	m->bytes += n;
	return (ssize_t)n;
}

START_TEST(fnv1a_matches_the_reference_values)
{
	ck_assert_uint_eq(id_fnv1a(ID_TAG_EMPTY, "", 0), 0x811c9dc5u);
	ck_assert_uint_eq(id_fnv1a(ID_TAG_EMPTY, "a", 1), 0xe40c292cu);
	ck_assert_uint_eq(id_fnv1a(ID_TAG_EMPTY, "foobar", 6), 0xbf9cf968u);
	/* In pieces, the same. */
	ck_assert_uint_eq(id_fnv1a(id_fnv1a(ID_TAG_EMPTY, "foo", 3), "bar", 3),
	    0xbf9cf968u);
}
END_TEST

START_TEST(format_is_offset_dot_eight_lowercase_hex)
{
	char buf[ID_TEXT_MAX];

	ck_assert_uint_eq(id_format(buf, 0, ID_TAG_EMPTY), 10);
	ck_assert_str_eq(buf, "0.811c9dc5");
	id_format(buf, 1043, 0x5f3a9c2e);
	ck_assert_str_eq(buf, "1043.5f3a9c2e");
	id_format(buf, 7, 0xa);
	ck_assert_str_eq(buf, "7.0000000a");
	ck_assert_uint_lt(id_format(buf, ID_OFFSET_MAX, 0xffffffffu), ID_TEXT_MAX);
}
END_TEST

static const struct {
	const char *text;
	enum id_kind kind;
	uint64_t offset;
	uint32_t tag;
} parses[] = {
	{ "1043.5f3a9c2e", ID_TAGGED, 1043, 0x5f3a9c2e },
	{ "0.811c9dc5", ID_TAGGED, 0, ID_TAG_EMPTY },
	{ "12", ID_BARE, 12, 0 },
	{ "0", ID_BARE, 0, 0 },
	{ "4611686018427387903", ID_BARE, ID_OFFSET_MAX, 0 },
	{ "4611686018427387904", ID_NONE, 0, 0 },	/* over the max */
	{ "99999999999999999999999", ID_NONE, 0, 0 },	/* overflow */
	{ "", ID_NONE, 0, 0 },
	{ "-1", ID_NONE, 0, 0 },
	{ "+1", ID_NONE, 0, 0 },
	{ " 1", ID_NONE, 0, 0 },
	{ "01", ID_NONE, 0, 0 },
	{ "1.", ID_NONE, 0, 0 },
	{ "1.5f3a9c2", ID_NONE, 0, 0 },		/* 7 digits */
	{ "1.5f3a9c2e0", ID_NONE, 0, 0 },	/* 9 digits */
	{ "1.5F3A9C2E", ID_NONE, 0, 0 },	/* upper case */
	{ "1.5f3a9c2g", ID_NONE, 0, 0 },	/* not hex */
	{ "1.5f3a9c2e ", ID_NONE, 0, 0 },
	{ ".5f3a9c2e", ID_NONE, 0, 0 },
	{ "1:5f3a9c2e", ID_NONE, 0, 0 },
	{ "abc", ID_NONE, 0, 0 },
};

START_TEST(parse_takes_tagged_and_bare_ids_and_nothing_else)
{
	uint64_t offset = 77;
	uint32_t tag = 77;
	enum id_kind kind = id_parse(parses[_i].text, &offset, &tag);

	ck_assert_msg(kind == parses[_i].kind, "\"%s\": kind %d, want %d",
	    parses[_i].text, kind, parses[_i].kind);
	if (kind != ID_NONE)
		ck_assert_uint_eq(offset, parses[_i].offset);
	if (kind == ID_TAGGED)
		ck_assert_uint_eq(tag, parses[_i].tag);
	ck_assert_int_eq(id_parse(NULL, &offset, &tag), ID_NONE);
}
END_TEST

START_TEST(tag_covers_at_most_4096_bytes)
{
	static char data[8192];
	struct mem m = { data, sizeof(data), 0, 0 };
	uint32_t tag;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	ck_assert_int_eq(id_tag(mem_read, &m, 10, &tag), 0);
	ck_assert_uint_eq(tag, id_fnv1a(ID_TAG_EMPTY, data, 10));
	ck_assert_int_eq(id_tag(mem_read, &m, 5000, &tag), 0);
	ck_assert_uint_eq(tag, id_fnv1a(ID_TAG_EMPTY, data, 4096));
	ck_assert_int_eq(id_tag(mem_read, &m, 0, &tag), 0);
	ck_assert_uint_eq(tag, ID_TAG_EMPTY);
}
END_TEST

START_TEST(resumes_only_just_past_a_newline_with_the_right_tag)
{
	const char *data = "aaaa\nbbbb\ncccc\n";
	struct mem m = { data, strlen(data), 0, 0 };
	uint32_t t10 = id_fnv1a(ID_TAG_EMPTY, data, 10);

	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 10, t10, 1), 1);
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 10, t10 ^ 1, 1), 0);
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 10, 0, 0), 1);	/* bare */
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 9, 0, 0), 0);	/* mid-line */
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 16, 0, 0), 0);	/* past the end */
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 0, ID_TAG_EMPTY, 1), 1);
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 0, t10, 1), 0);
	/* The same bytes renamed or copied resume the same: the tag names the
	 * content, not the file. */
	m.data = "aaaa\nbbbb\nother\n";
	m.size = strlen(m.data);
	ck_assert_int_eq(id_resumes(mem_read, &m, 16, 10, t10, 1), 1);
	/* Truncated and regrown past the offset: the tag tells. */
	m.data = "xxxx\nyyyy\nzzzz\n";
	ck_assert_int_eq(id_resumes(mem_read, &m, 15, 10, t10, 1), 0);
}
END_TEST

START_TEST(a_resume_reads_the_same_whatever_the_file_size)
{
	size_t sizes[] = { 8192, 1 << 20, 64 << 20 }, i;
	size_t reads = 0, bytes = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *data = malloc(sizes[i]);
		struct mem m;
		uint64_t off = sizes[i] - 100;
		uint32_t tag;

		ck_assert_ptr_nonnull(data);
		memset(data, 'x', sizes[i]);
		data[off - 1] = '\n';
		m.data = data;
		m.size = sizes[i];
		tag = id_fnv1a(ID_TAG_EMPTY, data, ID_TAG_SPAN);
		m.reads = m.bytes = 0;
		ck_assert_int_eq(id_resumes(mem_read, &m, (off_t)sizes[i], off,
		    tag, 1), 1);
		ck_assert_uint_le(m.bytes, ID_TAG_SPAN + 1);
		if (i > 0) {
			ck_assert_uint_eq(m.reads, reads);
			ck_assert_uint_eq(m.bytes, bytes);
		}
		reads = m.reads;
		bytes = m.bytes;
		free(data);
	}
}
END_TEST

/* A generated file of size bytes, 'x' but for a '\n' every 100 bytes:
 * as large as wanted without memory, its reads counted. */
struct gen_file {
	uint64_t size;
	size_t reads, bytes;
};

static ssize_t
gen_read(void *ctx, void *buf, size_t n, off_t off)
{
	struct gen_file *g = ctx;
	char *b = buf;
	size_t i;

	g->reads++;
	if ((uint64_t)off >= g->size)
		return 0;
	if (n > g->size - (uint64_t)off)
		n = (size_t)(g->size - (uint64_t)off);
	for (i = 0; i < n; i++)
		b[i] = ((uint64_t)off + i) % 100 == 99 ? '\n' : 'x';
	g->bytes += n;
	return (ssize_t)n;
}

static uint32_t
gen_tag(uint64_t off)
{
	char head[ID_TAG_SPAN];
	struct gen_file g = { ID_TAG_SPAN, 0, 0 };

	gen_read(&g, head, sizeof(head), 0);
	return id_fnv1a(ID_TAG_EMPTY, head, off < ID_TAG_SPAN ? (size_t)off :
	    ID_TAG_SPAN);
}

static struct id_file
mem_file(struct mem *m)
{
	struct id_file f = { mem_read, m, (off_t)m->size };

	return f;
}

START_TEST(choose_takes_the_first_file_that_resumes)
{
	const char *p2 = "aaaa\nbbbb\ncccc\n", *p1 = "dddd\n", *cur = "e\n";
	struct mem m0 = { cur, 2, 0, 0 }, m1 = { p1, 5, 0, 0 },
	    m2 = { p2, 15, 0, 0 };
	struct id_file files[3];
	uint32_t t10 = id_fnv1a(ID_TAG_EMPTY, p2, 10);

	files[0] = mem_file(&m0);
	files[1] = mem_file(&m1);
	files[2] = mem_file(&m2);
	ck_assert_int_eq(id_choose(files, 3, ID_TAGGED, 10, t10), 2);
	ck_assert_int_eq(id_choose(files, 3, ID_TAGGED, 5,
	    id_fnv1a(ID_TAG_EMPTY, p1, 5)), 1);
	ck_assert_int_eq(id_choose(files, 3, ID_TAGGED, 2,
	    id_fnv1a(ID_TAG_EMPTY, cur, 2)), 0);
	/* The same content in two files: the newer one. */
	m1.data = p2;
	m1.size = 15;
	files[1] = mem_file(&m1);
	ck_assert_int_eq(id_choose(files, 3, ID_TAGGED, 10, t10), 1);
	/* Found nowhere: a reset. */
	ck_assert_int_eq(id_choose(files, 3, ID_TAGGED, 10, t10 ^ 1), -1);
	ck_assert_int_eq(id_choose(files, 3, ID_NONE, 10, t10), -1);
	/* No current file: the predecessors still count. */
	files[0].read_at = NULL;
	ck_assert_int_eq(id_choose(files, 3, ID_TAGGED, 10, t10), 1);
}
END_TEST

START_TEST(choose_takes_a_bare_offset_in_the_current_file_only)
{
	const char *p1 = "aaaa\nbbbb\n", *cur = "cc\n";
	struct mem m0 = { cur, 3, 0, 0 }, m1 = { p1, 10, 0, 0 };
	struct id_file files[2];

	files[0] = mem_file(&m0);
	files[1] = mem_file(&m1);
	ck_assert_int_eq(id_choose(files, 2, ID_BARE, 3, 0), 0);
	ck_assert_int_eq(id_choose(files, 2, ID_BARE, 5, 0), -1);
	ck_assert_int_eq(m1.reads, 0);
}
END_TEST

/* OFFSET 0 names no content: the start of the current file, there or
 * not, never a predecessor; and only with the tag of zero bytes. */
START_TEST(choose_takes_offset_0_in_the_current_file_only)
{
	struct mem m1 = { "old\n", 4, 0, 0 };
	struct id_file files[2];

	memset(&files[0], 0, sizeof(files[0]));
	files[1] = mem_file(&m1);
	ck_assert_int_eq(id_choose(files, 2, ID_TAGGED, 0, ID_TAG_EMPTY), 0);
	ck_assert_int_eq(id_choose(files, 2, ID_BARE, 0, 0), 0);
	ck_assert_int_eq(id_choose(files, 2, ID_TAGGED, 0, 0x12345678), -1);
	ck_assert_int_eq(m1.reads, 0);
}
END_TEST

/* The cost: trying a 1 GB file reads at most 4096 bytes and the
 * one before OFFSET, in as many reads and bytes as a 1 MB one. */
START_TEST(choose_reads_no_more_of_1_gb_than_of_1_mb)
{
	struct gen_file small = { 1 << 20, 0, 0 }, big = { 1ull << 30, 0, 0 };
	struct id_file files[2] = {
		{ gen_read, &small, (off_t)(1 << 20) },
		{ gen_read, &big, (off_t)(1ull << 30) },
	};
	/* Just past a '\n' (every 100th byte), near each one's end. */
	uint64_t at_small = (small.size / 100 - 1) * 100;
	uint64_t at_big = (big.size / 100 - 1) * 100;

	ck_assert_int_eq(id_choose(files, 1, ID_TAGGED, at_small,
	    gen_tag(at_small)), 0);
	ck_assert_int_eq(id_choose(files + 1, 1, ID_TAGGED, at_big,
	    gen_tag(at_big)), 0);
	ck_assert_uint_le(small.bytes, ID_TAG_SPAN + 1);
	ck_assert_uint_eq(big.bytes, small.bytes);
	ck_assert_uint_eq(big.reads, small.reads);
	/* Tried first and too short for the offset: not read at all. */
	small.reads = small.bytes = big.reads = big.bytes = 0;
	ck_assert_int_eq(id_choose(files, 2, ID_TAGGED, at_big,
	    gen_tag(at_big)), 1);
	ck_assert_uint_eq(small.reads, 0);
	ck_assert_uint_le(big.bytes, ID_TAG_SPAN + 1);
}
END_TEST

START_TEST(tag_advance_stops_working_past_4096_bytes)
{
	static unsigned char head[ID_TAG_SPAN];
	uint32_t t;
	size_t i;

	for (i = 0; i < sizeof(head); i++)
		head[i] = (unsigned char)(i * 7);
	t = id_tag_advance(ID_TAG_EMPTY, 0, 100, head, sizeof(head));
	ck_assert_uint_eq(t, id_fnv1a(ID_TAG_EMPTY, head, 100));
	t = id_tag_advance(t, 100, 9000, head, sizeof(head));
	ck_assert_uint_eq(t, id_fnv1a(ID_TAG_EMPTY, head, ID_TAG_SPAN));
	/* From past the span: the tag as it is, whatever head says. */
	ck_assert_uint_eq(id_tag_advance(t, 5000, 6000, NULL, 0), t);
	/* A head shorter than asked (the file shrank): what there is. */
	ck_assert_uint_eq(id_tag_advance(ID_TAG_EMPTY, 0, 50, head, 20),
	    id_fnv1a(ID_TAG_EMPTY, head, 20));
}
END_TEST

START_TEST(random_tags_differ)
{
	uint32_t a = id_random_tag(), b = id_random_tag(), c = id_random_tag();

	ck_assert(a != b || b != c);
}
END_TEST

Suite *
id_suite(void)
{
	Suite *s = suite_create("id");
	TCase *tc = tcase_create("Core");

	tcase_add_test(tc, fnv1a_matches_the_reference_values);
	tcase_add_test(tc, format_is_offset_dot_eight_lowercase_hex);
	tcase_add_loop_test(tc, parse_takes_tagged_and_bare_ids_and_nothing_else,
	    0, sizeof(parses) / sizeof(parses[0]));
	tcase_add_test(tc, tag_covers_at_most_4096_bytes);
	tcase_add_test(tc, resumes_only_just_past_a_newline_with_the_right_tag);
	tcase_add_test(tc, a_resume_reads_the_same_whatever_the_file_size);
	tcase_add_test(tc, choose_takes_the_first_file_that_resumes);
	tcase_add_test(tc, choose_takes_a_bare_offset_in_the_current_file_only);
	tcase_add_test(tc, choose_takes_offset_0_in_the_current_file_only);
	tcase_add_test(tc, choose_reads_no_more_of_1_gb_than_of_1_mb);
	tcase_add_test(tc, tag_advance_stops_working_past_4096_bytes);
	tcase_add_test(tc, random_tags_differ);
	suite_add_tcase(s, tc);
	return s;
}
