/* check_req.c - unit tests of the request decision (req.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "front.h"
#include "http.h"
#include "page.h"
#include "req.h"
#include "check_suites.h"

#define BROWSER_ACCEPT \
	"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

static struct cfg multi;	/* syslog (0) and app.log (1) */
static struct cfg single;	/* only syslog */
static struct req req;

static void
setup(void)
{
	char err[256];

	ck_assert_msg(cfg_parse(&multi, "[stream syslog]\npath = /var/log/syslog\n"
	    "[stream app.log]\npath = /var/log/app\n", "multi", err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cfg_parse(&single, "[stream syslog]\n"
	    "path = /var/log/syslog\n", "single", err, sizeof(err)) == 0, "%s",
	    err);
	memset(&req, 0xa5, sizeof(req));
}

static void
teardown(void)
{
	cfg_free(&multi);
	cfg_free(&single);
}

/* Decides a GET with the given query on the two-stream config. */
static void
get_query(const char *query)
{
	struct req_params p = { .method = "GET", .query = query };

	req_parse(&multi, &p, &req);
}

static void
assert_error(int status, const char *what)
{
	ck_assert_msg(req.kind == REQ_ERROR, "%s: not refused", what);
	ck_assert_msg(req.status == status, "%s: status %d, not %d", what,
	    req.status, status);
	ck_assert_ptr_nonnull(req.message);
	ck_assert_ptr_null(strchr(req.message, '\n'));
}

static void
assert_stream(int stream)
{
	ck_assert_msg(req.kind == REQ_STREAM, "kind %d, not REQ_STREAM (status %d: %s)",
	    (int)req.kind, req.status, req.message ? req.message : "");
	ck_assert_int_eq(req.stream, stream);
}

/* --- Core: naming the stream, choosing the answer --- */

/* The request's Last-Event-ID was the bare offset off. */
#define assert_bare(off) do {						\
	ck_assert_int_eq(req.id_kind, ID_BARE);				\
	ck_assert(req.last_id.offset == (uint64_t)(off));		\
} while (0)

START_TEST(stream_is_named_by_path_info)
{
	struct req_params p = { .method = "GET", .path_info = "/app.log" };

	req_parse(&multi, &p, &req);
	assert_stream(1);
	ck_assert_int_eq(req.head, 0);
	ck_assert_int_eq(req.lines, -1);
	ck_assert_int_eq(req.id_kind, ID_NONE);
}
END_TEST

START_TEST(stream_is_named_by_query)
{
	get_query("stream=app.log");
	assert_stream(1);
	get_query("stream=syslog");
	assert_stream(0);
}
END_TEST

START_TEST(path_info_wins_over_query)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .query = "stream=app.log" };

	req_parse(&multi, &p, &req);
	assert_stream(0);
}
END_TEST

START_TEST(path_info_of_a_slash_alone_falls_back_to_query)
{
	struct req_params p = { .method = "GET", .path_info = "/",
	    .query = "stream=app.log" };

	req_parse(&multi, &p, &req);
	assert_stream(1);
	p.path_info = "";
	req_parse(&multi, &p, &req);
	assert_stream(1);
}
END_TEST

START_TEST(only_stream_is_used_when_one_is_configured)
{
	struct req_params p = { .method = "GET" };

	req_parse(&single, &p, &req);
	assert_stream(0);
	p.accept = "text/event-stream";
	p.query = "lines=5";
	req_parse(&single, &p, &req);
	assert_stream(0);
	ck_assert_int_eq(req.lines, 5);
}
END_TEST

START_TEST(index_is_json_without_accept)
{
	struct req_params p = { .method = "GET" };

	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.kind, REQ_INDEX_JSON);
}
END_TEST

START_TEST(index_is_html_for_a_browser)
{
	struct req_params p = { .method = "GET", .accept = BROWSER_ACCEPT };

	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.kind, REQ_INDEX_HTML);
}
END_TEST

START_TEST(index_is_json_for_event_stream_accept)
{
	struct req_params p = { .method = "GET", .accept = "text/event-stream" };

	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.kind, REQ_INDEX_JSON);
}
END_TEST

START_TEST(index_is_json_for_any_accept)
{
	struct req_params p = { .method = "GET", .accept = "*/*" };

	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.kind, REQ_INDEX_JSON);
}
END_TEST

START_TEST(browser_gets_viewer_for_a_named_stream)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .accept = BROWSER_ACCEPT };

	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.kind, REQ_VIEWER);
	ck_assert_int_eq(req.stream, 0);
	req_parse(&single, &(struct req_params){ .method = "GET",
	    .accept = BROWSER_ACCEPT }, &req);
	ck_assert_int_eq(req.kind, REQ_VIEWER);
	ck_assert_int_eq(req.stream, 0);
}
END_TEST

START_TEST(event_source_gets_the_stream)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .accept = "text/event-stream" };

	req_parse(&multi, &p, &req);
	assert_stream(0);
	p.accept = "*/*";
	req_parse(&multi, &p, &req);
	assert_stream(0);
}
END_TEST

START_TEST(prefers_html_only_when_html_ranks_higher)
{
	ck_assert_int_eq(req_prefers_html(BROWSER_ACCEPT), 1);
	ck_assert_int_eq(req_prefers_html("text/event-stream"), 0);
	ck_assert_int_eq(req_prefers_html("*/*"), 0);
	ck_assert_int_eq(req_prefers_html(NULL), 0);
	ck_assert_int_eq(req_prefers_html(""), 0);
	ck_assert_int_eq(req_prefers_html("text/html"), 1);
	ck_assert_int_eq(req_prefers_html(
	    "text/html;q=0.5, text/event-stream"), 0);
	ck_assert_int_eq(req_prefers_html(
	    "text/event-stream;q=0.1, text/*"), 1);
}
END_TEST

START_TEST(head_sets_the_head_flag)
{
	struct req_params p = { .method = "HEAD", .path_info = "/syslog" };

	req_parse(&multi, &p, &req);
	assert_stream(0);
	ck_assert_int_eq(req.head, 1);
}
END_TEST

START_TEST(other_methods_get_405)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE", "get" };
	struct req_params p = { .path_info = "/syslog" };
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		p.method = methods[i];
		req_parse(&multi, &p, &req);
		assert_error(405, methods[i]);
	}
	p.method = NULL;
	req_parse(&multi, &p, &req);
	assert_error(405, "no method");
}
END_TEST

START_TEST(unknown_parameters_are_ignored)
{
	get_query("foo=bar&stream=syslog&x&=y&&utm_source=a%20b");
	assert_stream(0);
}
END_TEST

START_TEST(lines_sets_the_backlog)
{
	get_query("stream=syslog&lines=42");
	assert_stream(0);
	ck_assert_int_eq(req.lines, 42);
}
END_TEST

START_TEST(lines_zero_is_accepted)
{
	get_query("stream=syslog&lines=0");
	assert_stream(0);
	ck_assert_int_eq(req.lines, 0);
}
END_TEST

START_TEST(last_event_id_header_is_the_resume_point)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .last_event_id = "12345" };

	req_parse(&multi, &p, &req);
	assert_stream(0);
	assert_bare(12345);
	p.last_event_id = "0";
	req_parse(&multi, &p, &req);
	assert_bare(0);
	p.last_event_id = "1043.5f3a9c2e";
	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.id_kind, ID_TAGGED);
	ck_assert(req.last_id.offset == 1043);
	ck_assert(req.last_id.tag == 0x5f3a9c2e);
}
END_TEST

/* This version and the ones before it never wrote a leading zero: such
 * an id is nobody's. */
START_TEST(last_event_id_with_leading_zeros_is_absent)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .last_event_id = "007" };

	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.id_kind, ID_NONE);
	p.last_event_id = "010.811c9dc5";
	req_parse(&multi, &p, &req);
	ck_assert_int_eq(req.id_kind, ID_NONE);
}
END_TEST

START_TEST(last_event_id_that_is_not_decimal_is_absent)
{
	static const char *const bad[] = {
		"abc", "-1", "1.5", "", "1234567890123456789012345", " 1",
		"1 ", "+1", "0x10", "12a", "12.5F3A9C2E", "12.5f3a9c2", "12.",
		"12.5f3a9c2e0",
	};
	struct req_params p = { .method = "GET", .path_info = "/syslog" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.last_event_id = bad[i];
		req_parse(&multi, &p, &req);
		assert_stream(0);
		ck_assert_msg(req.id_kind == ID_NONE,
		    "\"%s\" not treated as absent", bad[i]);
	}
}
END_TEST

START_TEST(last_event_id_header_wins_over_query)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .last_event_id = "100", .query = "lastEventId=200" };

	req_parse(&multi, &p, &req);
	assert_bare(100);
}
END_TEST

START_TEST(invalid_last_event_id_header_falls_back_to_query)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .last_event_id = "abc", .query = "lastEventId=200" };

	req_parse(&multi, &p, &req);
	assert_bare(200);
	p.last_event_id = NULL;
	req_parse(&multi, &p, &req);
	assert_bare(200);
	p.query = "lastEventId=zzz";
	req_parse(&multi, &p, &req);
	assert_stream(0);
	ck_assert_int_eq(req.id_kind, ID_NONE);
}
END_TEST

START_TEST(query_values_are_percent_decoded)
{
	get_query("stream=sys%6cog");
	assert_stream(0);
	get_query("stream=app%2Elog");
	assert_stream(1);
	get_query("%73tream=syslog&lastEventId=%31%32");
	assert_stream(0);
	assert_bare(12);
	get_query("stream=syslog&lastEventId=12%2e811c9dc5");
	ck_assert_int_eq(req.id_kind, ID_TAGGED);
	ck_assert(req.last_id.offset == 12 && req.last_id.tag == 0x811c9dc5);
}
END_TEST

/* '+' and %20 are spaces, which no stream name holds: the query is well
 * formed (not 400) and names an unknown stream (404); a decoded space in a
 * number makes it no number. */
START_TEST(plus_and_pct20_decode_to_a_space)
{
	get_query("stream=sys+log");
	assert_error(404, "sys+log");
	get_query("stream=sys%20log");
	assert_error(404, "sys%20log");
	get_query("stream=syslog&lastEventId=1%202");
	assert_stream(0);
	ck_assert_int_eq(req.id_kind, ID_NONE);
	get_query("stream=syslog&lines=1+2");
	assert_error(400, "lines=1+2");
}
END_TEST

/* --- Errors --- */

START_TEST(unknown_stream_is_404)
{
	struct req_params p = { .method = "GET", .path_info = "/nope" };

	req_parse(&multi, &p, &req);
	assert_error(404, "/nope");
	req_parse(&single, &p, &req);
	assert_error(404, "/nope, one stream");
	get_query("stream=nope");
	assert_error(404, "stream=nope");
	get_query("stream=");
	assert_error(404, "stream=");
}
END_TEST

START_TEST(name_with_slash_is_404)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog/x" };

	req_parse(&multi, &p, &req);
	assert_error(404, "/syslog/x");
	p.path_info = "//syslog";
	req_parse(&multi, &p, &req);
	assert_error(404, "//syslog");
	get_query("stream=%2Fvar%2Flog%2Fsyslog");
	assert_error(404, "stream=/var/log/syslog");
}
END_TEST

START_TEST(dot_dot_is_404)
{
	struct req_params p = { .method = "GET", .path_info = "/.." };

	req_parse(&multi, &p, &req);
	assert_error(404, "/..");
	p.path_info = "/../syslog";
	req_parse(&multi, &p, &req);
	assert_error(404, "/../syslog");
	get_query("stream=..");
	assert_error(404, "stream=..");
	get_query("stream=%2e%2e%2fsyslog");
	assert_error(404, "stream=../syslog");
}
END_TEST

START_TEST(nul_via_pct00_is_404)
{
	get_query("stream=syslog%00");
	assert_error(404, "syslog%00");
	get_query("stream=%00syslog");
	assert_error(404, "%00syslog");
	get_query("stream=sys%00log");
	assert_error(404, "sys%00log");
}
END_TEST

static const char *const bad_lines[] = {
	"lines=-1", "lines=abc", "lines=100001", "lines=", "lines", "lines=1.5",
	"lines=+5", "lines=99999999999",
};

START_TEST(bad_lines_is_400)
{
	char query[64];

	snprintf(query, sizeof(query), "stream=syslog&%s", bad_lines[_i]);
	get_query(query);
	assert_error(400, query);
}
END_TEST

START_TEST(malformed_percent_encoding_is_400)
{
	static const char *const bad[] = {
		"stream=%zz", "stream=sys%4", "stream=syslog%", "lines=%4",
		"lastEventId=%g0", "foo=%zz&stream=syslog", "%zz=1&stream=syslog",
		"stream=syslog&foo=%",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		get_query(bad[i]);
		assert_error(400, bad[i]);
	}
}
END_TEST

START_TEST(repeated_parameter_is_400)
{
	static const char *const bad[] = {
		"stream=syslog&stream=syslog", "stream=syslog&lines=1&lines=1",
		"stream=syslog&lastEventId=1&lastEventId=2",
		"stream=syslog&st%72eam=app.log",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		get_query(bad[i]);
		assert_error(400, bad[i]);
	}
}
END_TEST

START_TEST(query_over_4096_bytes_is_400)
{
	char *query = malloc(REQ_QUERY_MAX + 2);

	ck_assert_ptr_nonnull(query);
	memcpy(query, "stream=syslog&x=", 16);
	memset(query + 16, 'a', REQ_QUERY_MAX + 1 - 16);
	query[REQ_QUERY_MAX + 1] = '\0';
	get_query(query);
	assert_error(400, "4097-byte query");
	free(query);
}
END_TEST

START_TEST(method_is_judged_before_the_query)
{
	struct req_params p = { .method = "POST", .query = "stream=%zz" };

	req_parse(&multi, &p, &req);
	assert_error(405, "POST with a bad query");
}
END_TEST

/* --- Limits --- */

START_TEST(lines_100000_is_accepted)
{
	get_query("stream=syslog&lines=100000");
	assert_stream(0);
	ck_assert_int_eq(req.lines, 100000);
}
END_TEST

START_TEST(query_of_4096_bytes_is_accepted)
{
	char *query = malloc(REQ_QUERY_MAX + 1);

	ck_assert_ptr_nonnull(query);
	memcpy(query, "stream=syslog&x=", 16);
	memset(query + 16, 'a', REQ_QUERY_MAX - 16);
	query[REQ_QUERY_MAX] = '\0';
	get_query(query);
	assert_stream(0);
	free(query);
}
END_TEST

/* The bare offset a request with Last-Event-ID s resumes at, -1 for
 * none. */
static int64_t
header_id(const char *s)
{
	struct req_params p = { .method = "GET", .path_info = "/syslog",
	    .last_event_id = s };

	req_parse(&multi, &p, &req);
	return req.id_kind == ID_BARE ? (int64_t)req.last_id.offset : -1;
}

START_TEST(id_below_2_62_is_accepted)
{
	ck_assert(header_id("4611686018427387903") == 4611686018427387903LL);
	ck_assert(header_id("4611686018427387904") == -1);
}
END_TEST

/* Numbers past int64 must not wrap around into a valid-looking offset:
 * 2^64 + 5 is not offset 5. */
START_TEST(id_overflowing_64_bits_is_absent)
{
	static const char *const big[] = {
		"9999999999999999999",		/* 19 digits, > 2^63 */
		"18446744073709551621",		/* 2^64 + 5 */
		"92233720368547758070",
	};
	size_t i;

	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		ck_assert_msg(header_id(big[i]) == -1, "\"%s\" taken as %lld",
		    big[i], (long long)header_id(big[i]));
}
END_TEST

/* Found by tests/fuzz/fuzz_req.c: a negative q gave the event stream less
 * than the 0 of an HTML never asked for, and the viewer page was sent. */
START_TEST(q_outside_0_to_1_is_taken_as_its_bound)
{
	ck_assert_int_eq(req_prefers_html("text/event-stream;q=-1"), 0);
	ck_assert_int_eq(req_prefers_html("text/event-stream;q=-0.5, a/b"), 0);
	ck_assert_int_eq(req_prefers_html("text/html;q=7, text/event-stream"),
	    0);
	ck_assert_int_eq(req_prefers_html("text/html;q=inf, */*"), 0);
	ck_assert_int_eq(req_prefers_html("text/html;q=nan"), 0);
	ck_assert_int_eq(req_prefers_html("text/html;q=0.9, */*;q=-3"), 1);
}
END_TEST

/* --- Access: allow-users (403, the index) and CORS --- */

/* open: anyone; team: alice and bob; authed: any user; with origins. */
static struct cfg acc;

static void
acc_setup(void)
{
	char err[256];

	setup();
	ck_assert_msg(cfg_parse(&acc,
	    "allow-origin = https://dash.example.org http://127.0.0.1:8080\n"
	    "[stream open]\npath = /var/log/open\n"
	    "[stream team]\npath = /var/log/team\nallow-users = alice bob\n"
	    "[stream authed]\npath = /var/log/authed\nallow-users = *\n"
	    "allow-origin = *\n"
	    "[stream local]\npath = /var/log/local\nallow-origin = "
	    "http://localhost:8080\n", "acc", err, sizeof(err)) == 0, "%s", err);
}

static void
acc_teardown(void)
{
	cfg_free(&acc);
	teardown();
}

static void
acc_get(const char *method, const char *path_info, const char *user,
    const char *origin)
{
	struct req_params p = { .method = method, .path_info = path_info,
	    .remote_user = user, .origin = origin };

	req_parse(&acc, &p, &req);
}

START_TEST(listed_user_gets_the_stream)
{
	acc_get("GET", "/team", "bob", NULL);
	assert_stream(1);
	acc_get("GET", "/authed", "anyone", NULL);
	assert_stream(2);
	acc_get("GET", "/open", NULL, NULL);
	assert_stream(0);
}
END_TEST

START_TEST(missing_or_unlisted_user_gets_403)
{
	const char *users[] = { NULL, "", "carol", "Alice", "alice ", "*" };
	size_t i;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		acc_get("GET", "/team", users[i], NULL);
		assert_error(403, users[i] ? users[i] : "(none)");
		ck_assert_int_eq(req.stream, 1);
		ck_assert_ptr_null(strchr(req.message, '/'));
	}
	acc_get("GET", "/authed", "", NULL);
	assert_error(403, "empty REMOTE_USER on allow-users = *");
	acc_get("GET", "/authed", NULL, NULL);
	assert_error(403, "no REMOTE_USER on allow-users = *");
}
END_TEST

START_TEST(viewer_and_head_of_a_forbidden_stream_are_403)
{
	struct req_params p = { .method = "GET", .path_info = "/team",
	    .accept = BROWSER_ACCEPT, .remote_user = "carol" };

	req_parse(&acc, &p, &req);
	assert_error(403, "viewer");
	p.remote_user = "alice";
	req_parse(&acc, &p, &req);
	ck_assert_int_eq(req.kind, REQ_VIEWER);
	acc_get("HEAD", "/team", NULL, NULL);
	assert_error(403, "HEAD");
	ck_assert_int_eq(req.head, 1);
}
END_TEST

START_TEST(index_lists_only_what_the_user_may_open)
{
	char *json, *html;

	acc_get("GET", NULL, NULL, NULL);
	ck_assert_int_eq(req.kind, REQ_INDEX_JSON);
	json = page_index_json(&acc, &req);
	html = page_index_html(&acc, &req);
	ck_assert_str_eq(json, "[\"open\",\"local\"]\n");
	ck_assert_ptr_null(strstr(html, "team"));
	ck_assert_ptr_null(strstr(html, "authed"));
	ck_assert_ptr_nonnull(strstr(html, "?stream=local"));
	free(json);
	free(html);
	acc_get("GET", NULL, "carol", NULL);
	json = page_index_json(&acc, &req);
	ck_assert_str_eq(json, "[\"open\",\"authed\",\"local\"]\n");
	free(json);
	acc_get("GET", NULL, "alice", NULL);
	json = page_index_json(&acc, &req);
	html = page_index_html(&acc, &req);
	ck_assert_str_eq(json, "[\"open\",\"team\",\"authed\",\"local\"]\n");
	ck_assert_ptr_nonnull(strstr(html, "?stream=team"));
	free(json);
	free(html);
}
END_TEST

START_TEST(listed_origin_is_allowed_and_echoed)
{
	acc_get("GET", "/open", NULL, "https://dash.example.org");
	assert_stream(0);
	ck_assert_str_eq(req.allow_origin, "https://dash.example.org");
	ck_assert_int_eq(req.vary_origin, 1);
	/* The global list applies to the index and to unknown streams. */
	acc_get("GET", NULL, NULL, "http://127.0.0.1:8080");
	ck_assert_str_eq(req.allow_origin, "http://127.0.0.1:8080");
	acc_get("GET", "/nosuch", NULL, "http://127.0.0.1:8080");
	assert_error(404, "unknown stream");
	ck_assert_str_eq(req.allow_origin, "http://127.0.0.1:8080");
	/* A stream's own list replaces the global one. */
	acc_get("GET", "/local", NULL, "https://dash.example.org");
	ck_assert_ptr_null(req.allow_origin);
	acc_get("GET", "/local", NULL, "http://localhost:8080");
	ck_assert_str_eq(req.allow_origin, "http://localhost:8080");
	/* Errors carry it too, so that the page can read them. */
	acc_get("GET", "/team", NULL, "https://dash.example.org");
	assert_error(403, "team without a user");
	ck_assert_str_eq(req.allow_origin, "https://dash.example.org");
	acc_get("HEAD", "/open", NULL, "https://dash.example.org");
	ck_assert_str_eq(req.allow_origin, "https://dash.example.org");
}
END_TEST

START_TEST(other_origins_get_no_cors_answer)
{
	const char *origins[] = { "https://evil.example.org",
	    "https://dash.example.org.evil.org", "http://dash.example.org",
	    "https://dash.example.org:8443", "null", "" };
	size_t i;

	for (i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
		acc_get("GET", "/open", NULL, origins[i]);
		assert_stream(0);
		ck_assert_msg(req.allow_origin == NULL, "%s allowed", origins[i]);
		ck_assert_int_eq(req.vary_origin, 1);
	}
	acc_get("GET", "/open", NULL, NULL);
	ck_assert_ptr_null(req.allow_origin);
	ck_assert_int_eq(req.vary_origin, 1);
	/* Without allow-origin nothing depends on Origin. */
	get_query("stream=syslog");
	ck_assert_ptr_null(req.allow_origin);
	ck_assert_int_eq(req.vary_origin, 0);
}
END_TEST

START_TEST(star_allows_any_origin_without_credentials)
{
	char h[HTTP_ACCESS_MAX];

	acc_get("GET", "/authed", "u", "https://anywhere.example");
	assert_stream(2);
	ck_assert_str_eq(req.allow_origin, "*");
	http_access_headers(h, &req, NULL);
	ck_assert_str_eq(h, "Vary: Origin\r\nAccess-Control-Allow-Origin: *\r\n");
}
END_TEST

START_TEST(preflight_from_an_allowed_origin_is_allowed)
{
	struct req_params p = { .method = "OPTIONS", .path_info = "/team",
	    .origin = "https://dash.example.org", .cors_method = "GET" };
	char h[HTTP_ACCESS_MAX];

	/* A preflight carries no credentials: no user needed. */
	req_parse(&acc, &p, &req);
	ck_assert_int_eq(req.kind, REQ_PREFLIGHT);
	ck_assert_int_eq(req.head, 0);
	http_access_headers(h, &req, NULL);
	ck_assert_str_eq(h, "Vary: Origin\r\n"
	    "Access-Control-Allow-Origin: https://dash.example.org\r\n"
	    "Access-Control-Allow-Credentials: true\r\n"
	    "Access-Control-Allow-Methods: GET, HEAD\r\n"
	    "Access-Control-Allow-Headers: Last-Event-ID\r\n"
	    "Access-Control-Max-Age: 3600\r\n");
	p.cors_method = "HEAD";
	p.path_info = NULL;
	req_parse(&acc, &p, &req);
	ck_assert_int_eq(req.kind, REQ_PREFLIGHT);
}
END_TEST

START_TEST(other_options_requests_are_405)
{
	struct req_params p = { .method = "OPTIONS", .path_info = "/open",
	    .origin = "https://evil.example.org", .cors_method = "GET" };

	req_parse(&acc, &p, &req);
	assert_error(405, "preflight from another origin");
	ck_assert_ptr_null(req.allow_origin);
	p.origin = "https://dash.example.org";
	p.cors_method = "POST";
	req_parse(&acc, &p, &req);
	assert_error(405, "preflight for POST");
	p.cors_method = NULL;
	req_parse(&acc, &p, &req);
	assert_error(405, "OPTIONS without Access-Control-Request-Method");
	p.cors_method = "GET";
	p.origin = NULL;
	req_parse(&acc, &p, &req);
	assert_error(405, "OPTIONS without Origin");
	p.origin = "https://dash.example.org";
	p.path_info = "/nosuch";
	req_parse(&acc, &p, &req);
	assert_error(404, "preflight of an unknown stream");
}
END_TEST

START_TEST(access_headers_follow_extra)
{
	char h[HTTP_ACCESS_MAX];

	acc_get("GET", "/open", NULL, "https://dash.example.org");
	http_access_headers(h, &req, "Retry-After: 3\r\n");
	ck_assert_str_eq(h, "Retry-After: 3\r\nVary: Origin\r\n"
	    "Access-Control-Allow-Origin: https://dash.example.org\r\n"
	    "Access-Control-Allow-Credentials: true\r\n");
	get_query("stream=syslog");
	ck_assert_str_eq(http_access_headers(h, &req, NULL), "");
}
END_TEST

Suite *
req_suite(void)
{
	Suite *s = suite_create("req");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stream_is_named_by_path_info);
	tcase_add_test(tc, stream_is_named_by_query);
	tcase_add_test(tc, path_info_wins_over_query);
	tcase_add_test(tc, path_info_of_a_slash_alone_falls_back_to_query);
	tcase_add_test(tc, only_stream_is_used_when_one_is_configured);
	tcase_add_test(tc, index_is_json_without_accept);
	tcase_add_test(tc, index_is_html_for_a_browser);
	tcase_add_test(tc, index_is_json_for_event_stream_accept);
	tcase_add_test(tc, index_is_json_for_any_accept);
	tcase_add_test(tc, browser_gets_viewer_for_a_named_stream);
	tcase_add_test(tc, event_source_gets_the_stream);
	tcase_add_test(tc, prefers_html_only_when_html_ranks_higher);
	tcase_add_test(tc, head_sets_the_head_flag);
	tcase_add_test(tc, other_methods_get_405);
	tcase_add_test(tc, unknown_parameters_are_ignored);
	tcase_add_test(tc, lines_sets_the_backlog);
	tcase_add_test(tc, lines_zero_is_accepted);
	tcase_add_test(tc, last_event_id_header_is_the_resume_point);
	tcase_add_test(tc, last_event_id_with_leading_zeros_is_absent);
	tcase_add_test(tc, last_event_id_that_is_not_decimal_is_absent);
	tcase_add_test(tc, last_event_id_header_wins_over_query);
	tcase_add_test(tc, invalid_last_event_id_header_falls_back_to_query);
	tcase_add_test(tc, query_values_are_percent_decoded);
	tcase_add_test(tc, plus_and_pct20_decode_to_a_space);
	suite_add_tcase(s, tc);

	tc = tcase_create("Errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_stream_is_404);
	tcase_add_test(tc, name_with_slash_is_404);
	tcase_add_test(tc, dot_dot_is_404);
	tcase_add_test(tc, nul_via_pct00_is_404);
	tcase_add_loop_test(tc, bad_lines_is_400, 0,
	    (int)(sizeof(bad_lines) / sizeof(bad_lines[0])));
	tcase_add_test(tc, malformed_percent_encoding_is_400);
	tcase_add_test(tc, repeated_parameter_is_400);
	tcase_add_test(tc, query_over_4096_bytes_is_400);
	tcase_add_test(tc, method_is_judged_before_the_query);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lines_100000_is_accepted);
	tcase_add_test(tc, query_of_4096_bytes_is_accepted);
	tcase_add_test(tc, id_below_2_62_is_accepted);
	tcase_add_test(tc, id_overflowing_64_bits_is_absent);
	tcase_add_test(tc, q_outside_0_to_1_is_taken_as_its_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("Access");
	tcase_add_checked_fixture(tc, acc_setup, acc_teardown);
	tcase_add_test(tc, listed_user_gets_the_stream);
	tcase_add_test(tc, missing_or_unlisted_user_gets_403);
	tcase_add_test(tc, viewer_and_head_of_a_forbidden_stream_are_403);
	tcase_add_test(tc, index_lists_only_what_the_user_may_open);
	tcase_add_test(tc, listed_origin_is_allowed_and_echoed);
	tcase_add_test(tc, other_origins_get_no_cors_answer);
	tcase_add_test(tc, star_allows_any_origin_without_credentials);
	tcase_add_test(tc, preflight_from_an_allowed_origin_is_allowed);
	tcase_add_test(tc, other_options_requests_are_405);
	tcase_add_test(tc, access_headers_follow_extra);
	suite_add_tcase(s, tc);
	return s;
}
