/* check_sse.c - unit tests of event framing and line splitting (sse.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* The tag the framing tests give every event. */
#define TAG		"5f3a9c2e"
#define TAG_VALUE	0x5f3a9c2eu
#include "check_suites.h"

#define FFFD	"\xef\xbf\xbd"	/* U+FFFD in UTF-8 */
#define CUT	" [\xe2\x80\xa6 "	/* the start of the cut mark, "… " */
#define BIG	65536

static char out[8 * BIG];

/* Frames the len bytes of line (a line of total bytes, total >= len) and
 * returns the result as a string. The line is copied to a buffer where it
 * is followed by its newline, as in a file. Asserts the bound. */
static const char *
frame_total(const char *event, uint64_t id, const char *line, size_t len,
    uint64_t total, size_t max_line)
{
	static char in[BIG];
	size_t n, bound = sse_event_bound(event, total, max_line);

	ck_assert_uint_le(len + 3, sizeof(in));
	memcpy(in, line, len);
	memset(in + len, '\n', 3);
	memset(out, '#', bound + 16);
	n = sse_event(out, event, id, TAG_VALUE, in, total, max_line);
	ck_assert_msg(n <= bound, "wrote %zu bytes, bound %zu", n, bound);
	ck_assert_msg(out[n] == '#', "wrote past the returned length");
	out[n] = '\0';
	ck_assert_uint_eq(strlen(out), n);
	return out;
}

static const char *
frame(const char *event, uint64_t id, const char *line, size_t len,
    size_t max_line)
{
	return frame_total(event, id, line, len, len, max_line);
}

/* frame() of a C string, the id 1, no event, max_line 65536. */
static const char *
data_of(const char *line, size_t len)
{
	return frame(NULL, 1, line, len, 65536);
}

/* --- Core: framing --- */

START_TEST(simple_event_is_id_then_data)
{
	ck_assert_str_eq(frame(NULL, 42, "hello world", 11, 65536),
	    "id: 42." TAG "\ndata: hello world\n\n");
}
END_TEST

START_TEST(event_field_comes_first_when_configured)
{
	ck_assert_str_eq(frame("log", 7, "x", 1, 65536),
	    "event: log\nid: 7." TAG "\ndata: x\n\n");
}
END_TEST

START_TEST(empty_line_is_an_empty_data_field)
{
	ck_assert_str_eq(data_of("", 0), "id: 1." TAG "\ndata: \n\n");
}
END_TEST

START_TEST(cr_inside_a_line_starts_a_second_data_field)
{
	ck_assert_str_eq(data_of("a\rb", 3), "id: 1." TAG "\ndata: a\ndata: b\n\n");
	ck_assert_str_eq(data_of("\r", 1), "id: 1." TAG "\ndata: \ndata: \n\n");
}
END_TEST

START_TEST(nul_becomes_replacement_char)
{
	ck_assert_str_eq(data_of("a\0b", 3), "id: 1." TAG "\ndata: a" FFFD "b\n\n");
	ck_assert_str_eq(data_of("\0\0", 2), "id: 1." TAG "\ndata: " FFFD FFFD "\n\n");
}
END_TEST

START_TEST(lone_continuation_byte_becomes_one_replacement)
{
	ck_assert_str_eq(data_of("a\x80z", 3), "id: 1." TAG "\ndata: a" FFFD "z\n\n");
}
END_TEST

START_TEST(overlong_c0_80_becomes_two_replacements)
{
	ck_assert_str_eq(data_of("\xc0\x80", 2),
	    "id: 1." TAG "\ndata: " FFFD FFFD "\n\n");
	ck_assert_str_eq(data_of("\xe0\x9f\xbf", 3),
	    "id: 1." TAG "\ndata: " FFFD FFFD FFFD "\n\n");
}
END_TEST

START_TEST(surrogate_becomes_three_replacements)
{
	ck_assert_str_eq(data_of("\xed\xa0\x80", 3),
	    "id: 1." TAG "\ndata: " FFFD FFFD FFFD "\n\n");
	ck_assert_str_eq(data_of("\xed\xbf\xbf", 3),
	    "id: 1." TAG "\ndata: " FFFD FFFD FFFD "\n\n");
}
END_TEST

START_TEST(byte_f5_and_above_becomes_a_replacement)
{
	ck_assert_str_eq(data_of("\xf5", 1), "id: 1." TAG "\ndata: " FFFD "\n\n");
	ck_assert_str_eq(data_of("\xff\xfe", 2), "id: 1." TAG "\ndata: " FFFD FFFD "\n\n");
	/* Above U+10FFFF. */
	ck_assert_str_eq(data_of("\xf4\x90\x80\x80", 4),
	    "id: 1." TAG "\ndata: " FFFD FFFD FFFD FFFD "\n\n");
}
END_TEST

START_TEST(truncated_sequence_at_the_end_becomes_one_replacement_a_byte)
{
	ck_assert_str_eq(data_of("a\xe2\x82", 3),
	    "id: 1." TAG "\ndata: a" FFFD FFFD "\n\n");
	ck_assert_str_eq(data_of("\xf0\x9f\x98", 3),
	    "id: 1." TAG "\ndata: " FFFD FFFD FFFD "\n\n");
	ck_assert_str_eq(data_of("\xc3", 1), "id: 1." TAG "\ndata: " FFFD "\n\n");
	/* Interrupted by an ASCII byte, not at the end. */
	ck_assert_str_eq(data_of("\xe2\x82z", 3),
	    "id: 1." TAG "\ndata: " FFFD FFFD "z\n\n");
}
END_TEST

START_TEST(valid_multibyte_chars_are_kept)
{
	static const char text[] = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	    "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80"
	    "\xf4\x8f\xbf\xbf\xee\x80\x80";
	char want[256];

	snprintf(want, sizeof(want), "id: 1." TAG "\ndata: %s\n\n", text);
	ck_assert_str_eq(data_of(text, sizeof(text) - 1), want);
}
END_TEST

START_TEST(id_is_written_in_decimal_up_to_64_bits)
{
	ck_assert_str_eq(frame(NULL, UINT64_MAX, "x", 1, 65536),
	    "id: 18446744073709551615." TAG "\ndata: x\n\n");
	ck_assert_str_eq(frame(NULL, 0, "x", 1, 65536), "id: 0." TAG "\ndata: x\n\n");
}
END_TEST

/* The ASCII fast path reads eight bytes at a time: a byte that needs care
 * must be seen wherever it falls in a word, and in the tail after the last
 * whole word. */
START_TEST(special_byte_is_seen_at_every_offset)
{
	static const struct {
		const char *in, *out;
	} special[] = {
		{ "\r", "\ndata: " }, { "\0", FFFD }, { "\x80", FFFD },
		{ "\xe2\x80\xa6", "\xe2\x80\xa6" }, { "\x7f", "\x7f" },
	};
	char line[64], want[256];
	size_t k, len, at;

	for (k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
		size_t sl = special[k].in[0] == '\0' ? 1 : strlen(special[k].in);

		for (len = sl; len <= 40; len++)
			for (at = 0; at + sl <= len; at++) {
				memset(line, 'a', len);
				memcpy(line + at, special[k].in, sl);
				snprintf(want, sizeof(want),
				    "id: 1." TAG "\ndata: %.*s%s%.*s\n\n", (int)at, line,
				    special[k].out, (int)(len - at - sl), line + at + sl);
				ck_assert_str_eq(data_of(line, len), want);
			}
	}
}
END_TEST

START_TEST(reset_event_bytes)
{
	char dst[SSE_NOTE_MAX];
	size_t n;

	n = sse_reset(dst, "truncated", 0, 0x811c9dc5);
	ck_assert_uint_eq(n, strlen("event: reset\nid: 0.811c9dc5\ndata: "
	    "truncated\n\n"));
	ck_assert_mem_eq(dst, "event: reset\nid: 0.811c9dc5\ndata: "
	    "truncated\n\n", n);
	n = sse_reset(dst, "gap", 1043, 0x5f3a9c2e);
	ck_assert_mem_eq(dst, "event: reset\nid: 1043.5f3a9c2e\ndata: gap\n\n",
	    n);
	/* The longest: a pipe's offset past 2^63, a 32-byte reason. */
	n = sse_reset(dst, "0123456789abcdef0123456789abcdefXX", UINT64_MAX,
	    0xffffffffu);
	ck_assert_uint_le(n, SSE_NOTE_MAX);
	ck_assert_mem_eq(dst, "event: reset\nid: 18446744073709551615.ffffffff"
	    "\ndata: 0123456789abcdef0123456789abcdef\n\n", n);
}
END_TEST

START_TEST(rotated_event_has_no_id)
{
	char dst[SSE_NOTE_MAX];
	size_t n = sse_rotated(dst);

	ck_assert_mem_eq(dst, "event: rotated\ndata: rotated\n\n", n);
	ck_assert_uint_eq(n, strlen("event: rotated\ndata: rotated\n\n"));
}
END_TEST

START_TEST(id_block_has_no_data)
{
	char dst[SSE_NOTE_MAX];
	size_t n = sse_id_block(dst, 0, 0x811c9dc5);

	ck_assert_mem_eq(dst, "id: 0.811c9dc5\n\n", n);
	ck_assert_uint_eq(n, 16);
}
END_TEST

/* --- Limits: cutting long lines, the bound --- */

START_TEST(long_line_is_cut_at_max_line_with_the_count)
{
	char line[40], want[128];

	memset(line, 'a', sizeof(line));
	snprintf(want, sizeof(want), "id: 1." TAG "\ndata: %.*s" CUT "24 bytes cut]\n\n",
	    16, line);
	ck_assert_str_eq(frame(NULL, 1, line, 40, 16), want);
}
END_TEST

START_TEST(line_of_exactly_max_line_is_not_cut)
{
	char line[16], want[64];

	memset(line, 'a', sizeof(line));
	snprintf(want, sizeof(want), "id: 1." TAG "\ndata: %.*s\n\n", 16, line);
	ck_assert_str_eq(frame(NULL, 1, line, 16, 16), want);
}
END_TEST

START_TEST(cut_does_not_split_a_three_byte_char)
{
	/* 15 bytes, then a euro sign at 15..17: it straddles the cut at 16. */
	const char line[] = "aaaaaaaaaaaaaaa\xe2\x82\xac" "bb";

	ck_assert_str_eq(frame(NULL, 1, line, 20, 16),
	    "id: 1." TAG "\ndata: aaaaaaaaaaaaaaa" CUT "5 bytes cut]\n\n");
}
END_TEST

START_TEST(cut_does_not_split_a_four_byte_char)
{
	/* 14 bytes, then U+1F600 at 14..17. */
	const char line[] = "aaaaaaaaaaaaaa\xf0\x9f\x98\x80";

	ck_assert_str_eq(frame(NULL, 1, line, 18, 16),
	    "id: 1." TAG "\ndata: aaaaaaaaaaaaaa" CUT "4 bytes cut]\n\n");
	/* A two-byte char at 15..16. */
	ck_assert_str_eq(frame(NULL, 1, "aaaaaaaaaaaaaaa\xc3\xa9", 17, 16),
	    "id: 1." TAG "\ndata: aaaaaaaaaaaaaaa" CUT "2 bytes cut]\n\n");
}
END_TEST

START_TEST(char_ending_at_max_line_is_kept)
{
	/* 13 bytes, then a euro sign at 13..15, then more. */
	const char line[] = "aaaaaaaaaaaaa\xe2\x82\xac" "bbbb";

	ck_assert_str_eq(frame(NULL, 1, line, 20, 16),
	    "id: 1." TAG "\ndata: aaaaaaaaaaaaa\xe2\x82\xac" CUT "4 bytes cut]\n\n");
}
END_TEST

START_TEST(cut_counts_every_dropped_byte_of_a_huge_line)
{
	char line[19];

	/* Only sse_need bytes are at hand; the total says the rest. */
	ck_assert_uint_eq(sse_need(5000000000ULL, 16), 19);
	memset(line, 'a', sizeof(line));
	ck_assert_str_eq(frame_total(NULL, 9, line, 19, 5000000000ULL, 16),
	    "id: 9." TAG "\ndata: aaaaaaaaaaaaaaaa" CUT "4999999984 bytes cut]\n\n");
}
END_TEST

/* The eight-byte scan stops at max_line: a CR or NUL just past the cut is
 * cut, not framed. */
START_TEST(special_byte_just_past_the_cut_is_cut)
{
	char line[40];
	size_t max_line;

	for (max_line = 16; max_line <= 24; max_line++) {
		char want[128];

		memset(line, 'a', sizeof(line));
		line[max_line] = '\r';
		line[max_line + 1] = '\0';
		snprintf(want, sizeof(want), "id: 1." TAG "\ndata: %.*s" CUT
		    "%zu bytes cut]\n\n", (int)max_line, line,
		    sizeof(line) - max_line);
		ck_assert_str_eq(frame(NULL, 1, line, sizeof(line), max_line),
		    want);
	}
}
END_TEST

/* The line ends after its 17th byte: the E2 82 there is a truncated
 * sequence, so E2 becomes U+FFFD and one byte is cut. What lies in memory
 * after the line (here: continuation bytes, as a splitter buffer may hold
 * from an earlier line) must not change that. */
START_TEST(cut_reads_nothing_past_the_line_end)
{
	char line[32];
	size_t n;

	memset(line, 'a', 15);
	memcpy(line + 15, "\xe2\x82\x82\x82\x82", 5);
	n = sse_event(out, NULL, 1, TAG_VALUE, line, 17, 16);
	out[n] = '\0';
	ck_assert_str_eq(out,
	    "id: 1." TAG "\ndata: aaaaaaaaaaaaaaa" FFFD CUT "1 bytes cut]\n\n");
}
END_TEST

START_TEST(invalid_bytes_before_the_cut_count_as_one_byte_each)
{
	char line[24];

	memset(line, '\x80', sizeof(line));
	ck_assert_str_eq(frame(NULL, 1, line, 24, 16),
	    "id: 1." TAG "\ndata: " FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD
	    FFFD FFFD FFFD FFFD FFFD CUT "8 bytes cut]\n\n");
}
END_TEST

/* The worst cases for each max_line: all CR (7 bytes each), all invalid
 * (3 each), all NUL, a long event name, the largest id, a cut mark with
 * the largest count. */
START_TEST(output_never_exceeds_the_bound)
{
	static const size_t maxes[] = { 16, 17, 100, 4096 };
	static const char fills[] = { '\r', '\x80', '\0', 'a', '\xe2', '\xf0' };
	static char line[4096 + 3];
	char event[65];
	size_t m, f;

	memset(event, 'e', 64);
	event[64] = '\0';
	for (m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
		for (f = 0; f < sizeof(fills); f++) {
			size_t max = maxes[m], n;
			uint64_t totals[3];
			size_t t;

			totals[0] = max;
			totals[1] = max + 1;
			totals[2] = UINT64_MAX;
			memset(line, fills[f], sizeof(line));
			for (t = 0; t < 3; t++) {
				n = sse_event(out, event, UINT64_MAX, 0xffffffffu, line,
				    totals[t], max);
				ck_assert_msg(n <= sse_event_bound(event, totals[t],
				    max), "fill 0x%02x, max %zu, total %llu: %zu "
				    "bytes over the bound %zu",
				    (unsigned char)fills[f], max,
				    (unsigned long long)totals[t], n,
				    sse_event_bound(event, totals[t], max));
			}
		}
}
END_TEST

START_TEST(need_is_the_line_or_max_line_plus_3)
{
	ck_assert_uint_eq(sse_need(0, 16), 0);
	ck_assert_uint_eq(sse_need(16, 16), 16);
	ck_assert_uint_eq(sse_need(100, 16), 19);
}
END_TEST

/* --- Splitter --- */

static struct sse_splitter sp;

static void
split_setup(void)
{
	ck_assert_int_eq(sse_splitter_init(&sp, 16), 0);
}

static void
split_teardown(void)
{
	sse_splitter_free(&sp);
}

/* Feeds the string s, asserting that it is consumed whole, no line ending
 * in it. */
static void
feed_partial(const char *s)
{
	struct sse_line line;

	ck_assert_uint_eq(sse_split(&sp, s, strlen(s), &line), strlen(s));
	ck_assert_ptr_null(line.ptr);
}

static void
assert_line(const struct sse_line *line, const char *want)
{
	ck_assert_ptr_nonnull(line->ptr);
	ck_assert_uint_eq(line->total, strlen(want));
	ck_assert_uint_eq(line->avail, strlen(want));
	ck_assert_mem_eq(line->ptr, want, strlen(want));
}

START_TEST(line_split_across_several_inputs_is_joined)
{
	static const char last[] = "rld\nnext";
	struct sse_line line;

	feed_partial("hel");
	feed_partial("lo wo");
	ck_assert_uint_eq(sse_split(&sp, last, strlen(last), &line), 4);
	assert_line(&line, "hello world");
	ck_assert_uint_eq(sse_split(&sp, last + 4, 4, &line), 4);
	ck_assert_ptr_null(line.ptr);
	ck_assert_int_eq(sse_split_flush(&sp, &line), 1);
	assert_line(&line, "next");
}
END_TEST

START_TEST(each_call_consumes_up_to_one_newline)
{
	static const char in[] = "one\n\ntwo\n";
	struct sse_line line;
	size_t off = 0, n;

	n = sse_split(&sp, in + off, strlen(in) - off, &line);
	ck_assert_uint_eq(n, 4);
	assert_line(&line, "one");
	off += n;
	n = sse_split(&sp, in + off, strlen(in) - off, &line);
	ck_assert_uint_eq(n, 1);
	assert_line(&line, "");
	off += n;
	n = sse_split(&sp, in + off, strlen(in) - off, &line);
	ck_assert_uint_eq(n, 4);
	assert_line(&line, "two");
	ck_assert_int_eq(sse_split_flush(&sp, &line), 0);
}
END_TEST

START_TEST(crlf_is_one_line_end)
{
	static const char in[] = "abc\r\n";
	struct sse_line line;

	ck_assert_uint_eq(sse_split(&sp, in, 5, &line), 5);
	assert_line(&line, "abc");
	feed_partial("de");
	ck_assert_uint_eq(sse_split(&sp, "f\r\n", 3, &line), 3);
	assert_line(&line, "def");
}
END_TEST

START_TEST(crlf_split_between_calls_is_one_line_end)
{
	struct sse_line line;

	feed_partial("abc\r");
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	assert_line(&line, "abc");
	feed_partial("\r");
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	assert_line(&line, "");
}
END_TEST

START_TEST(lone_cr_stays_inside_the_line)
{
	struct sse_line line;

	ck_assert_uint_eq(sse_split(&sp, "a\rb\n", 4, &line), 4);
	assert_line(&line, "a\rb");
	feed_partial("c\r");
	feed_partial("d");
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	assert_line(&line, "c\rd");
}
END_TEST

START_TEST(long_line_keeps_max_line_plus_3_bytes_and_counts_all)
{
	char in[100];
	struct sse_line line;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)('a' + i % 26);
	for (i = 0; i < sizeof(in); i += 10) {
		ck_assert_uint_eq(sse_split(&sp, in + i, 10, &line), 10);
		ck_assert_ptr_null(line.ptr);
	}
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	ck_assert_ptr_nonnull(line.ptr);
	ck_assert_uint_eq(line.total, 100);
	ck_assert_uint_eq(line.avail, 19);
	ck_assert_mem_eq(line.ptr, in, 19);
	ck_assert_uint_eq(sp.len, 0);
}
END_TEST

START_TEST(flush_ends_a_partial_line)
{
	struct sse_line line;

	feed_partial("parti");
	feed_partial("al");
	ck_assert_int_eq(sse_split_flush(&sp, &line), 1);
	assert_line(&line, "partial");
	ck_assert_int_eq(sse_split_flush(&sp, &line), 0);
	ck_assert_ptr_null(line.ptr);
}
END_TEST

START_TEST(flush_with_nothing_pending_returns_0)
{
	struct sse_line line;

	ck_assert_int_eq(sse_split_flush(&sp, &line), 0);
	ck_assert_ptr_null(line.ptr);
	ck_assert_uint_eq(sse_split(&sp, "x\n", 2, &line), 2);
	ck_assert_int_eq(sse_split_flush(&sp, &line), 0);
	ck_assert_ptr_null(line.ptr);
}
END_TEST

START_TEST(whole_line_in_the_input_is_not_copied)
{
	static const char in[] = "xyz\nabc";
	struct sse_line line;

	ck_assert_uint_eq(sse_split(&sp, in, 7, &line), 4);
	ck_assert_ptr_eq(line.ptr, in);
	ck_assert_uint_eq(line.total, 3);
	feed_partial("abc");
	ck_assert_uint_eq(sse_split(&sp, in, 7, &line), 4);
	ck_assert_ptr_eq(line.ptr, sp.buf);
	assert_line(&line, "abcxyz");
}
END_TEST

/* A line of max_line + 1 bytes: avail counts bytes of the line, never the
 * line end or what follows it in the input. */
START_TEST(avail_never_exceeds_the_line)
{
	static const char in[] = "aaaaaaaaaaaaaaaaa\n";	/* 17 + 1 */
	struct sse_line line;

	ck_assert_uint_eq(sse_split(&sp, in, 18, &line), 18);
	ck_assert_uint_eq(line.total, 17);
	ck_assert_msg(line.avail <= line.total,
	    "avail %zu bytes of a 17-byte line with 18 bytes of input",
	    line.avail);
	feed_partial("aaaaaaaaaaaaaaaaa\r");
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	ck_assert_uint_eq(line.total, 17);
	ck_assert_msg(line.avail <= line.total,
	    "avail %zu bytes of a 17-byte line (CR included)", line.avail);
}
END_TEST

/* How a named pipe frames its lines: split, then sse_event(ptr, total). A
 * longer line before must not change how the next one is cut. */
START_TEST(split_line_frames_the_same_whatever_came_before)
{
	static const char first[] = "bbbbbbbbbbbbbbbbb\x82\x82\x82";
	static const char second[] = "aaaaaaaaaaaaaaa\xe2\x82";
	struct sse_line line;
	size_t n;

	feed_partial(first);
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	feed_partial(second);
	ck_assert_uint_eq(sse_split(&sp, "\n", 1, &line), 1);
	ck_assert_uint_eq(line.total, 17);
	n = sse_event(out, NULL, 1, TAG_VALUE, line.ptr, line.total, 16);
	out[n] = '\0';
	ck_assert_str_eq(out,
	    "id: 1." TAG "\ndata: aaaaaaaaaaaaaaa" FFFD CUT "1 bytes cut]\n\n");
}
END_TEST

Suite *
sse_suite(void)
{
	Suite *s = suite_create("sse");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_add_test(tc, simple_event_is_id_then_data);
	tcase_add_test(tc, special_byte_is_seen_at_every_offset);
	tcase_add_test(tc, special_byte_just_past_the_cut_is_cut);
	tcase_add_test(tc, event_field_comes_first_when_configured);
	tcase_add_test(tc, empty_line_is_an_empty_data_field);
	tcase_add_test(tc, cr_inside_a_line_starts_a_second_data_field);
	tcase_add_test(tc, nul_becomes_replacement_char);
	tcase_add_test(tc, lone_continuation_byte_becomes_one_replacement);
	tcase_add_test(tc, overlong_c0_80_becomes_two_replacements);
	tcase_add_test(tc, surrogate_becomes_three_replacements);
	tcase_add_test(tc, byte_f5_and_above_becomes_a_replacement);
	tcase_add_test(tc,
	    truncated_sequence_at_the_end_becomes_one_replacement_a_byte);
	tcase_add_test(tc, valid_multibyte_chars_are_kept);
	tcase_add_test(tc, id_is_written_in_decimal_up_to_64_bits);
	tcase_add_test(tc, reset_event_bytes);
	tcase_add_test(tc, rotated_event_has_no_id);
	tcase_add_test(tc, id_block_has_no_data);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_add_test(tc, long_line_is_cut_at_max_line_with_the_count);
	tcase_add_test(tc, line_of_exactly_max_line_is_not_cut);
	tcase_add_test(tc, cut_does_not_split_a_three_byte_char);
	tcase_add_test(tc, cut_does_not_split_a_four_byte_char);
	tcase_add_test(tc, char_ending_at_max_line_is_kept);
	tcase_add_test(tc, cut_counts_every_dropped_byte_of_a_huge_line);
	tcase_add_test(tc, cut_reads_nothing_past_the_line_end);
	tcase_add_test(tc, invalid_bytes_before_the_cut_count_as_one_byte_each);
	tcase_add_test(tc, output_never_exceeds_the_bound);
	tcase_add_test(tc, need_is_the_line_or_max_line_plus_3);
	suite_add_tcase(s, tc);

	tc = tcase_create("Splitter");
	tcase_add_checked_fixture(tc, split_setup, split_teardown);
	tcase_add_test(tc, line_split_across_several_inputs_is_joined);
	tcase_add_test(tc, each_call_consumes_up_to_one_newline);
	tcase_add_test(tc, crlf_is_one_line_end);
	tcase_add_test(tc, crlf_split_between_calls_is_one_line_end);
	tcase_add_test(tc, lone_cr_stays_inside_the_line);
	tcase_add_test(tc, long_line_keeps_max_line_plus_3_bytes_and_counts_all);
	tcase_add_test(tc, flush_ends_a_partial_line);
	tcase_add_test(tc, flush_with_nothing_pending_returns_0);
	tcase_add_test(tc, whole_line_in_the_input_is_not_copied);
	tcase_add_test(tc, avail_never_exceeds_the_line);
	tcase_add_test(tc, split_line_frames_the_same_whatever_came_before);
	suite_add_tcase(s, tc);
	return s;
}
