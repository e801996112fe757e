/* check_fcgi.c - unit tests of the FastCGI request reader (fcgi.c). */
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "check_suites.h"

static struct fcgi_reader r;
static unsigned char wire[1 << 20];
static size_t wire_len;
static unsigned char reply[FCGI_REPLY_MAX];	/* the last FCGI_EV_REPLY's */
static size_t reply_len;

static void
setup(void)
{
	fcgi_reader_init(&r, 1000, 1000);
	wire_len = 0;
}

static void
teardown(void)
{
	fcgi_reader_free(&r);
}

static void
put(const void *p, size_t n)
{
	ck_assert_uint_le(wire_len + n, sizeof(wire));
	memcpy(wire + wire_len, p, n);
	wire_len += n;
}

/* A record with content and padding bytes of value pad_byte. */
static void
record(int type, uint16_t id, const void *content, size_t len, size_t pad)
{
	unsigned char h[FCGI_HEADER_LEN], zeros[255] = { 0 };

	fcgi_header(h, type, id, len);
	h[6] = (unsigned char)pad;
	put(h, sizeof(h));
	put(content, len);
	put(zeros, pad);
}

static void
begin(uint16_t id, int role, int flags)
{
	unsigned char b[8] = { 0 };

	b[0] = (unsigned char)(role >> 8);
	b[1] = (unsigned char)role;
	b[2] = (unsigned char)flags;
	record(FCGI_BEGIN_REQUEST, id, b, 8, 0);
}

/* Appends a name-value pair to buf at *len, with 4-byte lengths when
 * long is set. */
static void
pair(unsigned char *buf, size_t *len, const char *name, const char *value,
    int longlen)
{
	size_t nl = strlen(name), vl = strlen(value), i;
	size_t ls[2] = { nl, vl };

	for (i = 0; i < 2; i++) {
		if (longlen || ls[i] > 127) {
			buf[(*len)++] = (unsigned char)(0x80 | ls[i] >> 24);
			buf[(*len)++] = (unsigned char)(ls[i] >> 16);
			buf[(*len)++] = (unsigned char)(ls[i] >> 8);
			buf[(*len)++] = (unsigned char)ls[i];
		} else
			buf[(*len)++] = (unsigned char)ls[i];
	}
	memcpy(buf + *len, name, nl);
	memcpy(buf + *len + nl, value, vl);
	*len += nl + vl;
}

static void
request(uint16_t id, int flags)
{
	unsigned char p[256];
	size_t n = 0;

	begin(id, FCGI_RESPONDER, flags);
	pair(p, &n, "REQUEST_METHOD", "GET", 0);
	pair(p, &n, "PATH_INFO", "/syslog", 1);
	pair(p, &n, "REQUEST_METHOD", "POST", 0);	/* the first wins */
	pair(p, &n, "QUERY_STRING", "", 0);
	record(FCGI_PARAMS, id, p, n, 3);
	record(FCGI_PARAMS, id, NULL, 0, 0);
	record(FCGI_STDIN, id, NULL, 0, 0);
}

/* Feeds wire in chunks of step bytes (0: all at once) and collects the
 * events in order; the last reply is left in reply. */
static int
feed(size_t step, enum fcgi_event *evs, int max)
{
	size_t at = 0;
	int n = 0;

	while (at < wire_len) {
		size_t len = step ? step : wire_len - at, used;
		enum fcgi_event ev, after;

		if (len > wire_len - at)
			len = wire_len - at;
		used = fcgi_read(&r, wire + at, len, &ev);
		ck_assert_uint_le(used, len);
		if (ev == FCGI_EV_ERROR)
			ck_assert_uint_eq(fcgi_read(&r, wire + at + used, len - used,
			    &after), 0);
		if (ev == FCGI_EV_REPLY)
			reply_len = fcgi_reply(&r, reply);
		if (ev != FCGI_EV_NONE) {
			ck_assert_int_lt(n, max);
			evs[n++] = ev;
			if (ev == FCGI_EV_ERROR)
				return n;
		} else
			ck_assert_uint_eq(used, len);
		at += used;
	}
	return n;
}

START_TEST(reads_a_request_in_any_chunks)
{
	static const size_t steps[] = { 0, 1, 3, 7, 8, 9 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum fcgi_event evs[4];

		setup();
		request(1, 0);
		ck_assert_int_eq(feed(steps[i], evs, 4), 1);
		ck_assert_int_eq(evs[0], FCGI_EV_REQUEST);
		ck_assert_uint_eq(r.request_id, 1);
		ck_assert_str_eq(fcgi_param(&r, "REQUEST_METHOD"), "GET");
		ck_assert_str_eq(fcgi_param(&r, "PATH_INFO"), "/syslog");
		ck_assert_str_eq(fcgi_param(&r, "QUERY_STRING"), "");
		ck_assert_ptr_null(fcgi_param(&r, "HTTP_ACCEPT"));
		ck_assert_int_eq(r.keep_conn, 0);
		teardown();
	}
}
END_TEST

START_TEST(answers_get_values_once_each_with_zero_padding)
{
	static const char want[] =
	    "\016\004FCGI_MAX_CONNS1000"
	    "\015\004FCGI_MAX_REQS1000"
	    "\017\001FCGI_MPXS_CONNS0";
	unsigned char p[512];
	size_t n = 0, len, i;
	enum fcgi_event evs[2];

	/* libfcgi overflowed its stack on this one. */
	for (i = 0; i < 4; i++)
		pair(p, &n, FCGI_MAX_CONNS, "", 0);
	pair(p, &n, FCGI_MPXS_CONNS, "", 1);
	pair(p, &n, "FCGI_SOMETHING_ELSE_ENTIRELY", "x", 0);
	pair(p, &n, FCGI_MAX_REQS, "", 0);
	record(FCGI_GET_VALUES, 0, p, n, 0);
	ck_assert_int_eq(feed(1, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REPLY);
	len = sizeof(want) - 1;
	ck_assert_uint_eq(reply[1], FCGI_GET_VALUES_RESULT);
	ck_assert_uint_eq(reply[2] << 8 | reply[3], 0);
	ck_assert_uint_eq((size_t)(reply[4] << 8 | reply[5]), len);
	ck_assert_uint_eq(reply_len, FCGI_HEADER_LEN + len + reply[6]);
	ck_assert_uint_eq(reply_len % 8, 0);
	ck_assert_mem_eq(reply + FCGI_HEADER_LEN, want, len);
	for (i = FCGI_HEADER_LEN + len; i < reply_len; i++)
		ck_assert_uint_eq(reply[i], 0);
	/* The connection goes on. */
	wire_len = 0;
	request(1, 0);
	ck_assert_int_eq(feed(0, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REQUEST);
}
END_TEST

START_TEST(refuses_a_get_values_pair_cut_by_its_record)
{
	unsigned char p[8] = { 14, 0, 'F', 'C', 'G', 'I' };
	enum fcgi_event evs[2];

	record(FCGI_GET_VALUES, 0, p, 6, 0);
	ck_assert_int_eq(feed(0, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_ERROR);
}
END_TEST

START_TEST(huge_declared_lengths_are_not_buffered)
{
	/* libfcgi: 0x40000000 + 0x40000000 overflowed an int and aborted. */
	unsigned char p[8] = { 0xc0, 0, 0, 0, 0xc0, 0, 0, 0 };
	static unsigned char junk[FCGI_MAX_LENGTH];
	enum fcgi_event evs[2];
	size_t i;

	begin(1, FCGI_RESPONDER, 0);
	record(FCGI_PARAMS, 1, p, 8, 0);
	memset(junk, 'x', sizeof(junk));
	for (i = 0; i < 10; i++)
		record(FCGI_PARAMS, 1, junk, sizeof(junk), 0);
	ck_assert_int_eq(feed(4096, evs, 2), 0);
	ck_assert_int_eq(r.params_overflow, 1);
	ck_assert_uint_le(r.params_cap, FCGI_PARAMS_MAX);
	wire_len = 0;
	record(FCGI_PARAMS, 1, NULL, 0, 0);
	ck_assert_int_eq(feed(0, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REQUEST);
	ck_assert_int_eq(r.params_overflow, 1);
	ck_assert_ptr_null(fcgi_param(&r, "REQUEST_METHOD"));
}
END_TEST

START_TEST(params_of_exactly_the_cap_are_taken)
{
	static unsigned char p[FCGI_PARAMS_MAX];
	static char value[FCGI_PARAMS_MAX];
	size_t n = 0, vlen = FCGI_PARAMS_MAX - 4 - 4 - 1;
	enum fcgi_event evs[2];

	memset(value, 'v', vlen);
	value[vlen] = '\0';
	pair(p, &n, "X", value, 1);
	ck_assert_uint_eq(n, FCGI_PARAMS_MAX);
	begin(1, FCGI_RESPONDER, 0);
	record(FCGI_PARAMS, 1, p, 60000, 0);
	record(FCGI_PARAMS, 1, p + 60000, n - 60000, 0);
	record(FCGI_PARAMS, 1, NULL, 0, 0);
	ck_assert_int_eq(feed(0, evs, 2), 1);
	ck_assert_int_eq(r.params_overflow, 0);
	ck_assert_uint_eq(strlen(fcgi_param(&r, "X")), vlen);
}
END_TEST

START_TEST(refuses_malformed_params)
{
	static const unsigned char bad[][6] = {
		{ 5, 0, 'A', 'B' },		/* cut name */
		{ 0, 1, 'x' },			/* empty name */
		{ 2, 1, 'A', 0, 'x' },		/* NUL in a name */
		{ 0x80, 0, 0 },			/* cut 4-byte length */
	};
	static const size_t lens[] = { 4, 3, 5, 3 };
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		enum fcgi_event evs[2];

		setup();
		begin(1, FCGI_RESPONDER, 0);
		record(FCGI_PARAMS, 1, bad[i], lens[i], 0);
		record(FCGI_PARAMS, 1, NULL, 0, 0);
		ck_assert_int_eq(feed(0, evs, 2), 1);
		ck_assert_int_eq(evs[0], FCGI_EV_ERROR);
		ck_assert_int_eq(r.state, FCGI_BROKEN);
		teardown();
	}
}
END_TEST

START_TEST(refuses_other_versions_and_bad_begin_bodies)
{
	unsigned char h[FCGI_HEADER_LEN] = { 2, FCGI_BEGIN_REQUEST, 0, 1, 0, 8 };
	unsigned char b[9] = { 0, 1 };
	enum fcgi_event evs[2];

	put(h, sizeof(h));
	ck_assert_int_eq(feed(0, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_ERROR);
	teardown();
	setup();
	record(FCGI_BEGIN_REQUEST, 1, b, 9, 0);
	ck_assert_int_eq(feed(0, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_ERROR);
}
END_TEST

START_TEST(answers_unknown_management_types)
{
	enum fcgi_event evs[2];

	record(42, 0, "abc", 3, 5);
	ck_assert_int_eq(feed(2, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REPLY);
	ck_assert_uint_eq(reply_len, 16);
	ck_assert_uint_eq(reply[1], FCGI_UNKNOWN_TYPE);
	ck_assert_uint_eq(reply[8], 42);
}
END_TEST

START_TEST(refuses_other_roles_and_a_second_request)
{
	enum fcgi_event evs[4];

	begin(7, FCGI_AUTHORIZER, 0);
	ck_assert_int_eq(feed(0, evs, 4), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REPLY);
	ck_assert_uint_eq(reply[1], FCGI_END_REQUEST);
	ck_assert_uint_eq(reply[3], 7);
	ck_assert_uint_eq(reply[FCGI_HEADER_LEN + 4], FCGI_UNKNOWN_ROLE);
	ck_assert_int_eq(r.state, FCGI_IDLE);

	wire_len = 0;
	request(1, 0);
	begin(2, FCGI_RESPONDER, 0);
	ck_assert_int_eq(feed(0, evs, 4), 2);
	ck_assert_int_eq(evs[0], FCGI_EV_REQUEST);
	ck_assert_int_eq(evs[1], FCGI_EV_REPLY);
	ck_assert_uint_eq(reply[3], 2);
	ck_assert_uint_eq(reply[FCGI_HEADER_LEN + 4], FCGI_CANT_MPX_CONN);
	ck_assert_int_eq(r.state, FCGI_ACTIVE);
	ck_assert_str_eq(fcgi_param(&r, "PATH_INFO"), "/syslog");
}
END_TEST

START_TEST(keep_conn_takes_the_next_request)
{
	enum fcgi_event evs[4];

	request(1, FCGI_KEEP_CONN);
	ck_assert_int_eq(feed(0, evs, 4), 1);
	ck_assert_int_eq(r.keep_conn, 1);
	fcgi_request_done(&r);
	ck_assert_int_eq(r.state, FCGI_IDLE);
	wire_len = 0;
	request(2, 0);
	ck_assert_int_eq(feed(5, evs, 4), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REQUEST);
	ck_assert_uint_eq(r.request_id, 2);
	ck_assert_int_eq(r.keep_conn, 0);
}
END_TEST

START_TEST(abort_of_the_active_request_only)
{
	enum fcgi_event evs[4];

	request(1, 0);
	record(FCGI_ABORT_REQUEST, 9, NULL, 0, 0);	/* not ours */
	record(FCGI_ABORT_REQUEST, 1, NULL, 0, 0);
	ck_assert_int_eq(feed(0, evs, 4), 2);
	ck_assert_int_eq(evs[0], FCGI_EV_REQUEST);
	ck_assert_int_eq(evs[1], FCGI_EV_ABORT);
}
END_TEST

START_TEST(end_request_is_complete)
{
	unsigned char end[FCGI_END_LEN];
	static const unsigned char want[FCGI_END_LEN] = {
		1, FCGI_STDOUT, 0x01, 0x02, 0, 0, 0, 0,
		1, FCGI_END_REQUEST, 0x01, 0x02, 0, 8, 0, 0,
		0, 0, 0, 0, FCGI_REQUEST_COMPLETE, 0, 0, 0
	};

	ck_assert_uint_eq(fcgi_end_request(end, 0x0102), FCGI_END_LEN);
	ck_assert_mem_eq(end, want, FCGI_END_LEN);
}
END_TEST

/* Found by tests/fuzz/fuzz_fcgi.c: the name was compared as a C string,
 * so "FCGI_MAX_CONNS\0" was answered as FCGI_MAX_CONNS. */
START_TEST(a_get_values_name_is_compared_whole)
{
	static const unsigned char p[] = "\017\000FCGI_MAX_CONNS\0"
	    "\016\000FCGI_MAX_REQS\0";
	enum fcgi_event evs[2];

	record(FCGI_GET_VALUES, 0, p, sizeof(p) - 1, 0);
	ck_assert_int_eq(feed(3, evs, 2), 1);
	ck_assert_int_eq(evs[0], FCGI_EV_REPLY);
	ck_assert_uint_eq(reply[1], FCGI_GET_VALUES_RESULT);
	ck_assert_uint_eq(reply[4] << 8 | reply[5], 0);
	ck_assert_uint_eq(reply_len, FCGI_HEADER_LEN);
}
END_TEST

Suite *
fcgi_suite(void)
{
	Suite *s = suite_create("fcgi");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, reads_a_request_in_any_chunks);
	tcase_add_test(core, answers_get_values_once_each_with_zero_padding);
	tcase_add_test(core, answers_unknown_management_types);
	tcase_add_test(core, refuses_other_roles_and_a_second_request);
	tcase_add_test(core, keep_conn_takes_the_next_request);
	tcase_add_test(core, abort_of_the_active_request_only);
	tcase_add_test(core, end_request_is_complete);
	suite_add_tcase(s, core);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, huge_declared_lengths_are_not_buffered);
	tcase_add_test(limits, params_of_exactly_the_cap_are_taken);
	tcase_add_test(limits, refuses_malformed_params);
	tcase_add_test(limits, refuses_a_get_values_pair_cut_by_its_record);
	tcase_add_test(limits, refuses_other_versions_and_bad_begin_bodies);
	tcase_add_test(limits, a_get_values_name_is_compared_whole);
	suite_add_tcase(s, limits);
	return s;
}
