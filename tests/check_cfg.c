/* check_cfg.c - unit tests of the configuration parser (cfg.c). */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "check_suites.h"

#define FILE_NAME	"t.conf"
#define A_STREAM	"[stream s]\npath = /var/log/s\n"

static struct cfg cfg;
static char err[512];

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(err, 0, sizeof(err));
}

static void
teardown(void)
{
	cfg_free(&cfg);
}

static int
parse(const char *text)
{
	return cfg_parse(&cfg, text, FILE_NAME, err, sizeof(err));
}

/* Asserts that text is refused with "t.conf:LINE: ..." mentioning what,
 * and that the refused cfg is left empty. */
static void
assert_refused(const char *text, int line, const char *what)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), FILE_NAME ":%d: ", line);
	ck_assert_msg(parse(text) == -1, "accepted: \"%s\"", text);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "error \"%s\" does not start with \"%s\" (for \"%s\")", err, prefix,
	    text);
	ck_assert_msg(strstr(err, what) != NULL,
	    "error \"%s\" does not mention \"%s\"", err, what);
	ck_assert_ptr_null(cfg.streams);
	ck_assert_uint_eq(cfg.nstreams, 0);
}

/* --- Core: what a valid file means --- */

START_TEST(defaults_apply_without_global_keys)
{
	const struct cfg_stream *st;

	ck_assert_int_eq(parse(A_STREAM), 0);
	ck_assert_uint_eq(cfg.nstreams, 1);
	st = &cfg.streams[0];
	ck_assert_str_eq(st->name, "s");
	ck_assert_str_eq(st->path, "/var/log/s");
	ck_assert_ptr_null(st->event);
	ck_assert_int_eq(st->heartbeat, 15);
	ck_assert_int_eq(st->retry, 3000);
	ck_assert_int_eq(st->backlog, 10);
	ck_assert_int_eq(st->max_clients, 1000);
	ck_assert_uint_eq(st->max_line, 65536);
	ck_assert_uint_eq(st->buffer, 1048576);
	ck_assert_int_eq(cfg.defaults.heartbeat, 15);
	ck_assert_ptr_null(cfg.defaults.path);
}
END_TEST

START_TEST(global_keys_are_inherited_by_every_stream)
{
	const char *text =
	    "heartbeat = 30\nretry = 500\nbacklog = 0\nmax-clients = 7\n"
	    "max-line = 100\nbuffer = 8192\nevent = log\n"
	    "[stream a]\npath = /a\n[stream b]\npath = /b\n";
	size_t i;

	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(cfg.nstreams, 2);
	for (i = 0; i < 2; i++) {
		const struct cfg_stream *st = &cfg.streams[i];

		ck_assert_int_eq(st->heartbeat, 30);
		ck_assert_int_eq(st->retry, 500);
		ck_assert_int_eq(st->backlog, 0);
		ck_assert_int_eq(st->max_clients, 7);
		ck_assert_uint_eq(st->max_line, 100);
		ck_assert_uint_eq(st->buffer, 8192);
		ck_assert_str_eq(st->event, "log");
	}
	ck_assert_str_eq(cfg.streams[0].path, "/a");
	ck_assert_str_eq(cfg.streams[1].path, "/b");
}
END_TEST

START_TEST(stream_keys_override_globals_for_that_stream_only)
{
	const char *text =
	    "backlog = 20\nevent = log\n"
	    "[stream a]\npath = /a\nbacklog = 50\nevent = mine\nheartbeat = 5\n"
	    "[stream b]\npath = /b\n";

	ck_assert_int_eq(parse(text), 0);
	ck_assert_int_eq(cfg.streams[0].backlog, 50);
	ck_assert_str_eq(cfg.streams[0].event, "mine");
	ck_assert_int_eq(cfg.streams[0].heartbeat, 5);
	ck_assert_int_eq(cfg.streams[1].backlog, 20);
	ck_assert_str_eq(cfg.streams[1].event, "log");
	ck_assert_int_eq(cfg.streams[1].heartbeat, 15);
	ck_assert_int_eq(cfg.defaults.backlog, 20);
}
END_TEST

START_TEST(hash_at_line_start_is_a_comment)
{
	ck_assert_int_eq(parse("# heartbeat = nonsense\n#no space = x\n"
	    "[stream s]\n#path = relative\npath = /var/log/s\n"), 0);
	ck_assert_int_eq(cfg.streams[0].heartbeat, 15);
	ck_assert_str_eq(cfg.streams[0].path, "/var/log/s");
}
END_TEST

START_TEST(hash_after_whitespace_is_a_comment)
{
	ck_assert_int_eq(parse("heartbeat = 20 # seconds\n   # indented\n"
	    "[stream s] # the only one\npath = /var/log/s\t# tab before\n"), 0);
	ck_assert_int_eq(cfg.streams[0].heartbeat, 20);
	ck_assert_str_eq(cfg.streams[0].path, "/var/log/s");
}
END_TEST

START_TEST(hash_inside_a_word_is_not_a_comment)
{
	ck_assert_int_eq(parse("[stream s]\npath = /var/log/a#b\n"), 0);
	ck_assert_str_eq(cfg.streams[0].path, "/var/log/a#b");
}
END_TEST

START_TEST(blank_lines_and_crlf_line_ends_are_accepted)
{
	ck_assert_int_eq(parse("\r\n  \r\nbacklog = 3\r\n\t\r\n"
	    "[stream s]\r\npath = /var/log/s\r\n"), 0);
	ck_assert_int_eq(cfg.streams[0].backlog, 3);
	ck_assert_str_eq(cfg.streams[0].path, "/var/log/s");
}
END_TEST

START_TEST(find_returns_the_named_stream)
{
	ck_assert_int_eq(parse("[stream a]\npath = /a\n[stream b]\npath = /b\n"),
	    0);
	ck_assert_ptr_eq(cfg_find(&cfg, "b"), &cfg.streams[1]);
	ck_assert_ptr_eq(cfg_find(&cfg, "a"), &cfg.streams[0]);
	ck_assert_ptr_null(cfg_find(&cfg, "c"));
}
END_TEST

/* --- Errors: each refused with its line --- */

START_TEST(unknown_key_is_refused_with_its_line)
{
	assert_refused("heartbeat = 5\n\nfoo = 1\n" A_STREAM, 3,
	    "unknown key \"foo\"");
	assert_refused(A_STREAM "colour = red\n", 3, "unknown key \"colour\"");
}
END_TEST

static const char *const bad_numbers[] = {
	"3s", "abc", "-1", "+5", "0x10", "1.5", "1e3", "10 20",
};

START_TEST(value_that_is_not_a_whole_number_is_refused)
{
	char text[128];

	snprintf(text, sizeof(text), "\nretry = %s\n" A_STREAM, bad_numbers[_i]);
	assert_refused(text, 2, "not a whole number");
}
END_TEST

/* Each integer key just outside its range, below (when the minimum is
 * above 0: a negative number is "not a whole number") and above. */
static const struct {
	const char *key, *value;
} out_of_range[] = {
	{ "heartbeat", "0" }, { "heartbeat", "3601" },
	{ "retry", "3600001" },
	{ "backlog", "100001" },
	{ "max-clients", "0" }, { "max-clients", "1000001" },
	{ "max-line", "15" }, { "max-line", "1048577" },
	{ "buffer", "4095" }, { "buffer", "1073741825" },
	{ "retry", "99999999999999999999999" },
};

START_TEST(value_out_of_range_is_refused_for_each_int_key)
{
	char text[256], what[64];

	snprintf(text, sizeof(text), A_STREAM "%s = %s\n",
	    out_of_range[_i].key, out_of_range[_i].value);
	snprintf(what, sizeof(what), "%s: %s is out of range",
	    out_of_range[_i].key, out_of_range[_i].value);
	assert_refused(text, 3, what);
}
END_TEST

START_TEST(duplicate_key_in_a_section_is_refused)
{
	assert_refused("backlog = 1\nbacklog = 2\n" A_STREAM, 2, "given twice");
	assert_refused("[stream s]\npath = /a\nmax-line = 100\nmax-line = 100\n",
	    4, "given twice");
	assert_refused("[stream s]\npath = /a\npath = /b\n", 3,
	    "path given twice");
	assert_refused("[stream s]\npath = /a\nevent = x\nevent = y\n", 4,
	    "event given twice");
}
END_TEST

START_TEST(same_key_in_two_sections_is_not_a_duplicate)
{
	ck_assert_int_eq(parse("backlog = 1\n[stream a]\npath = /a\nbacklog = 2\n"
	    "[stream b]\npath = /b\nbacklog = 3\n"), 0);
	ck_assert_int_eq(cfg.streams[0].backlog, 2);
	ck_assert_int_eq(cfg.streams[1].backlog, 3);
}
END_TEST

START_TEST(duplicate_stream_name_is_refused)
{
	assert_refused("[stream a]\npath = /a\n\n[stream a]\npath = /b\n", 4,
	    "stream \"a\" is defined twice");
}
END_TEST

START_TEST(bad_stream_name_is_refused)
{
	char text[256];
	char long_name[66];

	assert_refused("[stream ../x]\npath = /a\n", 1, "stream name");
	assert_refused("[stream a/b]\npath = /a\n", 1, "stream name");
	assert_refused("[stream a b]\npath = /a\n", 1, "stream name");
	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	snprintf(text, sizeof(text), "[stream %s]\npath = /a\n", long_name);
	assert_refused(text, 1, "stream name");
	/* An empty name: the header is then "[stream]", refused as such. */
	assert_refused("[stream ]\npath = /a\n", 1, "[stream NAME]");
	assert_refused("[stream    ]\npath = /a\n", 1, "[stream NAME]");
}
END_TEST

START_TEST(bad_section_header_is_refused)
{
	assert_refused("[foo]\npath = /a\n", 1, "[stream NAME]");
	assert_refused("[stream]\npath = /a\n", 1, "[stream NAME]");
	assert_refused("\n[stream s\npath = /a\n", 2, "[stream NAME]");
	assert_refused("[stream s]x\npath = /a\n", 1, "[stream NAME]");
	assert_refused("[streams s]\npath = /a\n", 1, "[stream NAME]");
}
END_TEST

START_TEST(line_without_equals_is_refused)
{
	assert_refused("heartbeat 15\n" A_STREAM, 1, "key = value");
	assert_refused(A_STREAM "= 15\n", 3, "key = value");
}
END_TEST

START_TEST(key_without_value_is_refused)
{
	assert_refused("heartbeat =\n" A_STREAM, 1, "heartbeat has no value");
	assert_refused("[stream s]\npath =   # comment\n", 2, "path has no value");
}
END_TEST

START_TEST(relative_path_is_refused)
{
	assert_refused("[stream s]\npath = var/log/s\n", 2, "absolute");
	assert_refused("[stream s]\npath = ./s\n", 2, "absolute");
}
END_TEST

START_TEST(path_in_global_section_is_refused)
{
	assert_refused("path = /var/log/s\n" A_STREAM, 1, "[stream NAME]");
}
END_TEST

/* The error names the section that lacks its path: the line of its header,
 * not of whatever follows it. */
START_TEST(section_without_path_is_refused_at_its_header)
{
	assert_refused("[stream a]\nevent = x\n\n[stream b]\npath = /b\n", 1,
	    "stream \"a\" has no path");
	assert_refused("[stream a]\npath = /a\n[stream b]\nevent = x\n", 3,
	    "stream \"b\" has no path");
}
END_TEST

START_TEST(file_without_stream_is_refused)
{
	ck_assert_int_eq(parse("heartbeat = 5\n"), -1);
	ck_assert_msg(strncmp(err, FILE_NAME ":", strlen(FILE_NAME ":")) == 0,
	    "error \"%s\" does not name the file", err);
	ck_assert_msg(strstr(err, "no [stream NAME] section") != NULL,
	    "error \"%s\" does not say what is missing", err);
	ck_assert_int_eq(parse(""), -1);
	ck_assert_ptr_null(strstr(err, "(null)"));
	ck_assert_int_eq(parse("# only a comment\n"), -1);
}
END_TEST

START_TEST(event_reset_is_refused)
{
	assert_refused("[stream s]\npath = /a\nevent = reset\n", 3, "reserved");
	assert_refused("event = reset\n" A_STREAM, 1, "reserved");
	assert_refused("[stream s]\npath = /a\nevent = rotated\n", 3,
	    "reserved");
}
END_TEST

/* --- rotated: the files a stream's path is rotated to --- */

/* The words of list, joined by '|'. */
static const char *
words(const char *list)
{
	static char out[1024];
	const char *w = NULL;

	out[0] = '\0';
	while ((w = cfg_value_list_next(list, w)) != NULL)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    out[0] != '\0' ? "|" : "", w);
	return out;
}

START_TEST(rotated_defaults_to_path_dot_1)
{
	ck_assert_int_eq(parse("[stream a]\npath = /var/log/a\n"), 0);
	ck_assert_str_eq(words(cfg.streams[0].rotated), "/var/log/a.1");
	ck_assert_ptr_null(cfg.defaults.rotated);
	cfg_free(&cfg);
	/* A path that would read as a glob has no default: none. */
	ck_assert_int_eq(parse("[stream a]\npath = /var/log/a*b\n"), 0);
	ck_assert_str_eq(words(cfg.streams[0].rotated), "");
}
END_TEST

START_TEST(rotated_takes_paths_and_globs_newest_first)
{
	ck_assert_int_eq(parse("[stream a]\npath = /l/a\n"
	    "rotated = /l/a.1  /l/a.2\t/old/a-*.log /l/a.?\n"), 0);
	ck_assert_str_eq(words(cfg.streams[0].rotated),
	    "/l/a.1|/l/a.2|/old/a-*.log|/l/a.?");
}
END_TEST

START_TEST(rotated_empty_turns_the_lookup_off)
{
	ck_assert_int_eq(parse("[stream a]\npath = /l/a\nrotated =\n"
	    "[stream b]\npath = /l/b\nrotated =   # none\n"), 0);
	ck_assert_ptr_nonnull(cfg.streams[0].rotated);
	ck_assert_str_eq(words(cfg.streams[0].rotated), "");
	ck_assert_str_eq(words(cfg.streams[1].rotated), "");
}
END_TEST

START_TEST(rotated_bad_values_are_refused)
{
	char text[2048];
	int i;

	assert_refused(A_STREAM "rotated = a.1\n", 3, "absolute");
	assert_refused(A_STREAM "rotated = /l/a.1 *\n", 3, "absolute");
	assert_refused(A_STREAM "rotated = /l/*/a.1\n", 3, "last component");
	assert_refused(A_STREAM "rotated = /l/?/a\n", 3, "last component");
	assert_refused(A_STREAM "rotated = /l/\n", 3, "directory");
	assert_refused("rotated = /l/a.1\n" A_STREAM, 1, "[stream NAME]");
	assert_refused(A_STREAM "rotated = /a\nrotated = /b\n", 4, "twice");
	strcpy(text, A_STREAM "rotated =");
	for (i = 0; i < CFG_ROTATED_MAX + 1; i++)
		sprintf(text + strlen(text), " /l/a.%d", i);
	strcat(text, "\n");
	assert_refused(text, 3, "more than 16");
	text[strlen(text) - strlen(" /l/a.16\n")] = '\0';
	strcat(text, "\n");
	ck_assert_int_eq(parse(text), 0);
}
END_TEST

/* A reload keeps a stream whose rotated did not change, and ends the
 * clients of one whose did. */
START_TEST(rotated_takes_part_in_stream_equality)
{
	struct cfg other;

	ck_assert_int_eq(parse("[stream a]\npath = /l/a\n"), 0);
	ck_assert_int_eq(cfg_parse(&other, "[stream a]\npath = /l/a\n"
	    "rotated = /l/a.1\n", FILE_NAME, err, sizeof(err)), 0);
	ck_assert(cfg_stream_equal(&cfg.streams[0], &other.streams[0]));
	cfg_free(&other);
	ck_assert_int_eq(cfg_parse(&other, "[stream a]\npath = /l/a\n"
	    "rotated = /l/a.0\n", FILE_NAME, err, sizeof(err)), 0);
	ck_assert(!cfg_stream_equal(&cfg.streams[0], &other.streams[0]));
	cfg_free(&other);
}
END_TEST

START_TEST(event_name_outside_the_charset_is_refused)
{
	char text[256], long_name[66];

	assert_refused(A_STREAM "event = log entry\n", 3, "event:");
	assert_refused(A_STREAM "event = log!\n", 3, "event:");
	assert_refused(A_STREAM "event = a:b\n", 3, "event:");
	assert_refused(A_STREAM "event = caf\xc3\xa9\n", 3, "event:");
	memset(long_name, 'e', 65);
	long_name[65] = '\0';
	snprintf(text, sizeof(text), A_STREAM "event = %s\n", long_name);
	assert_refused(text, 3, "event:");
}
END_TEST

/* --- Limits: the edges that are still valid --- */

static const struct {
	const char *key, *min, *max;
} int_bounds[] = {
	{ "heartbeat", "1", "3600" },
	{ "retry", "0", "3600000" },
	{ "backlog", "0", "100000" },
	{ "max-clients", "1", "1000000" },
	{ "max-line", "16", "1048576" },
	{ "buffer", "4096", "1073741824" },
};

START_TEST(int_keys_accept_both_bounds)
{
	char text[256];

	snprintf(text, sizeof(text), "%s = %s\n[stream s]\npath = /a\n%s = %s\n",
	    int_bounds[_i].key, int_bounds[_i].min, int_bounds[_i].key,
	    int_bounds[_i].max);
	ck_assert_msg(parse(text) == 0, "refused \"%s\": %s", text, err);
}
END_TEST

START_TEST(largest_values_are_stored_exactly)
{
	ck_assert_int_eq(parse("[stream s]\npath = /a\nheartbeat = 3600\n"
	    "retry = 3600000\nbacklog = 100000\nmax-clients = 1000000\n"
	    "max-line = 1048576\nbuffer = 1073741824\n"), 0);
	ck_assert_int_eq(cfg.streams[0].heartbeat, 3600);
	ck_assert_int_eq(cfg.streams[0].retry, 3600000);
	ck_assert_int_eq(cfg.streams[0].backlog, 100000);
	ck_assert_int_eq(cfg.streams[0].max_clients, 1000000);
	ck_assert_uint_eq(cfg.streams[0].max_line, 1048576);
	ck_assert_uint_eq(cfg.streams[0].buffer, 1073741824);
}
END_TEST

START_TEST(stream_name_of_64_chars_is_accepted)
{
	char text[256], name[65];

	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(text, sizeof(text), "[stream %s]\npath = /a\n", name);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_str_eq(cfg.streams[0].name, name);
	ck_assert_int_eq(cfg_value_is_name(name, 64), 1);
	ck_assert_int_eq(cfg_value_is_name(name, 0), 0);
}
END_TEST

START_TEST(names_use_the_whole_charset)
{
	ck_assert_int_eq(parse("[stream AZaz09._-]\npath = /a\n"
	    "event = Zz.9_-a\n"), 0);
	ck_assert_str_eq(cfg.streams[0].name, "AZaz09._-");
	ck_assert_str_eq(cfg.streams[0].event, "Zz.9_-a");
}
END_TEST

START_TEST(error_message_is_cut_to_the_buffer)
{
	char small[12];

	memset(small, 'X', sizeof(small));
	ck_assert_int_eq(cfg_parse(&cfg, "foo = 1\n", FILE_NAME, small,
	    sizeof(small)), -1);
	ck_assert_ptr_nonnull(memchr(small, '\0', sizeof(small)));
}
END_TEST

/* --- Access: allow-users and allow-origin --- */

/* The words of an access list joined by single spaces, for comparing. */
static const char *
joined(const char *list)
{
	static char buf[1024];
	const char *w;

	buf[0] = '\0';
	for (w = NULL; (w = cfg_value_list_next(list, w)) != NULL; ) {
		if (buf[0] != '\0')
			strcat(buf, " ");
		strcat(buf, w);
	}
	return buf;
}

START_TEST(access_lists_are_unset_by_default)
{
	ck_assert_int_eq(parse(A_STREAM), 0);
	ck_assert_ptr_null(cfg.streams[0].allow_users);
	ck_assert_ptr_null(cfg.streams[0].allow_origin);
	ck_assert_ptr_null(cfg_value_list_next(NULL, NULL));
}
END_TEST

START_TEST(access_lists_are_words_inherited_and_replaced)
{
	const char *text =
	    "allow-users = alice  bob\tcarol@EXAMPLE.ORG\n"
	    "allow-origin = https://dash.example.org\n"
	    "[stream a]\npath = /a\n"
	    "[stream b]\npath = /b\nallow-users = dave\n"
	    "allow-origin = *\n";

	ck_assert_int_eq(parse(text), 0);
	ck_assert_str_eq(joined(cfg.streams[0].allow_users),
	    "alice bob carol@EXAMPLE.ORG");
	ck_assert_str_eq(joined(cfg.streams[0].allow_origin),
	    "https://dash.example.org");
	ck_assert_str_eq(joined(cfg.streams[1].allow_users), "dave");
	ck_assert_str_eq(joined(cfg.streams[1].allow_origin), "*");
	ck_assert_str_eq(joined(cfg.defaults.allow_users),
	    "alice bob carol@EXAMPLE.ORG");
	/* Each stream has its own copy. */
	ck_assert_ptr_ne(cfg.streams[0].allow_users, cfg.defaults.allow_users);
}
END_TEST

START_TEST(origins_are_kept_as_a_browser_writes_them)
{
	ck_assert_int_eq(parse("[stream s]\npath = /s\nallow-origin = "
	    "HTTPS://Dash.Example.ORG:443 http://LOCALHOST:80 "
	    "http://127.0.0.1:8080 https://[::1]:0443 http://[::1]:9\n"), 0);
	ck_assert_str_eq(joined(cfg.streams[0].allow_origin),
	    "https://dash.example.org http://localhost http://127.0.0.1:8080 "
	    "https://[::1] http://[::1]:9");
}
END_TEST

static const char *const bad_origins[] = {
	"https://dash.example.org/", "https://dash.example.org/path",
	"ftp://example.org", "example.org", "https://", "https://:80",
	"https://x:", "https://x:0", "https://x:65536", "https://x:8o",
	"https://x?y", "https://user@x", "null", "https://[::1", "https://[]",
	"http://ex_ample.org",
};

START_TEST(origin_that_is_not_scheme_host_port_is_refused)
{
	char text[256];

	snprintf(text, sizeof(text), "[stream s]\npath = /s\n"
	    "allow-origin = https://ok.example.org %s\n", bad_origins[_i]);
	assert_refused(text, 3, "allow-origin: an origin");
}
END_TEST

START_TEST(user_name_with_a_control_character_is_refused)
{
	assert_refused("allow-users = alice bo\x01" "b\n" A_STREAM, 1,
	    "allow-users: a name contains a control character");
	assert_refused("allow-users = alice bo\x7f" "b\n" A_STREAM, 1,
	    "control character");
}
END_TEST

START_TEST(user_name_over_256_bytes_is_refused)
{
	char text[600], name[258];

	memset(name, 'u', 257);
	name[257] = '\0';
	snprintf(text, sizeof(text), A_STREAM "allow-users = %s\n", name);
	assert_refused(text, 3, "longer than 256 bytes");
	name[256] = '\0';
	snprintf(text, sizeof(text), A_STREAM "allow-users = %s\n", name);
	ck_assert_msg(parse(text) == 0, "%s", err);
}
END_TEST

START_TEST(star_must_stand_alone)
{
	assert_refused(A_STREAM "allow-users = alice *\n", 3,
	    "allow-users: \"*\" stands alone");
	assert_refused(A_STREAM "allow-origin = * https://x.org\n", 3,
	    "allow-origin: \"*\" stands alone");
}
END_TEST

START_TEST(access_key_given_twice_is_refused)
{
	assert_refused(A_STREAM "allow-users = a\nallow-users = b\n", 4,
	    "allow-users given twice");
	assert_refused("allow-origin = *\nallow-origin = *\n" A_STREAM, 2,
	    "allow-origin given twice");
	assert_refused(A_STREAM "allow-user = a\n", 3,
	    "unknown key \"allow-user\"");
}
END_TEST

START_TEST(access_lists_count_in_stream_equality)
{
	struct cfg other;
	char err2[256];
	const char *base = "[stream s]\npath = /s\nallow-users = a b\n";
	const char *texts[] = {
		"[stream s]\npath = /s\n",
		"[stream s]\npath = /s\nallow-users = a\n",
		"[stream s]\npath = /s\nallow-users = a b c\n",
		"[stream s]\npath = /s\nallow-users = b a\n",
		"[stream s]\npath = /s\nallow-users = a b\nallow-origin = *\n",
	};
	size_t i;

	ck_assert_int_eq(parse(base), 0);
	ck_assert_int_eq(cfg_parse(&other, "allow-users = a  b\n[stream s]\n"
	    "path = /s\n", "o", err2, sizeof(err2)), 0);
	ck_assert(cfg_stream_equal(&cfg.streams[0], &other.streams[0]));
	cfg_free(&other);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_int_eq(cfg_parse(&other, texts[i], "o", err2,
		    sizeof(err2)), 0);
		ck_assert_msg(!cfg_stream_equal(&cfg.streams[0], &other.streams[0]),
		    "equal to \"%s\"", texts[i]);
		cfg_free(&other);
	}
}
END_TEST

Suite *
cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_apply_without_global_keys);
	tcase_add_test(tc, global_keys_are_inherited_by_every_stream);
	tcase_add_test(tc, stream_keys_override_globals_for_that_stream_only);
	tcase_add_test(tc, hash_at_line_start_is_a_comment);
	tcase_add_test(tc, hash_after_whitespace_is_a_comment);
	tcase_add_test(tc, hash_inside_a_word_is_not_a_comment);
	tcase_add_test(tc, blank_lines_and_crlf_line_ends_are_accepted);
	tcase_add_test(tc, find_returns_the_named_stream);
	suite_add_tcase(s, tc);

	tc = tcase_create("Errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_key_is_refused_with_its_line);
	tcase_add_loop_test(tc, value_that_is_not_a_whole_number_is_refused, 0,
	    (int)(sizeof(bad_numbers) / sizeof(bad_numbers[0])));
	tcase_add_loop_test(tc, value_out_of_range_is_refused_for_each_int_key, 0,
	    (int)(sizeof(out_of_range) / sizeof(out_of_range[0])));
	tcase_add_test(tc, duplicate_key_in_a_section_is_refused);
	tcase_add_test(tc, same_key_in_two_sections_is_not_a_duplicate);
	tcase_add_test(tc, duplicate_stream_name_is_refused);
	tcase_add_test(tc, bad_stream_name_is_refused);
	tcase_add_test(tc, bad_section_header_is_refused);
	tcase_add_test(tc, line_without_equals_is_refused);
	tcase_add_test(tc, key_without_value_is_refused);
	tcase_add_test(tc, relative_path_is_refused);
	tcase_add_test(tc, path_in_global_section_is_refused);
	tcase_add_test(tc, section_without_path_is_refused_at_its_header);
	tcase_add_test(tc, file_without_stream_is_refused);
	tcase_add_test(tc, event_reset_is_refused);
	tcase_add_test(tc, rotated_defaults_to_path_dot_1);
	tcase_add_test(tc, rotated_takes_paths_and_globs_newest_first);
	tcase_add_test(tc, rotated_empty_turns_the_lookup_off);
	tcase_add_test(tc, rotated_bad_values_are_refused);
	tcase_add_test(tc, rotated_takes_part_in_stream_equality);
	tcase_add_test(tc, event_name_outside_the_charset_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, int_keys_accept_both_bounds, 0,
	    (int)(sizeof(int_bounds) / sizeof(int_bounds[0])));
	tcase_add_test(tc, largest_values_are_stored_exactly);
	tcase_add_test(tc, stream_name_of_64_chars_is_accepted);
	tcase_add_test(tc, names_use_the_whole_charset);
	tcase_add_test(tc, error_message_is_cut_to_the_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("Access");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, access_lists_are_unset_by_default);
	tcase_add_test(tc, access_lists_are_words_inherited_and_replaced);
	tcase_add_test(tc, origins_are_kept_as_a_browser_writes_them);
	tcase_add_loop_test(tc, origin_that_is_not_scheme_host_port_is_refused,
	    0, (int)(sizeof(bad_origins) / sizeof(bad_origins[0])));
	tcase_add_test(tc, user_name_with_a_control_character_is_refused);
	tcase_add_test(tc, user_name_over_256_bytes_is_refused);
	tcase_add_test(tc, star_must_stand_alone);
	tcase_add_test(tc, access_key_given_twice_is_refused);
	tcase_add_test(tc, access_lists_count_in_stream_equality);
	suite_add_tcase(s, tc);
	return s;
}
