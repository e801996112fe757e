/* check_rotated.c - unit tests of a stream's predecessors (rotated.c):
 * the glob match, the order (named paths in order, a glob's matches
 * newest first), and what is passed over, on files in a temporary
 * directory. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rotated.h"
#include "check_suites.h"

static char dir[64];
static char list[4096];		/* the rotated list being tried */
static struct rotated_set set;
static int logged;		/* rotated_open's last error logged */

static void
setup(void)
{
	strcpy(dir, "/tmp/check_rotated.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(list, 0, sizeof(list));
	set.n = 0;
}

static void
teardown(void)
{
	char cmd[128];

	rotated_close_from(&set, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Makes DIR/name holding its own name, modified at mtime. */
static void
make(const char *name, time_t mtime)
{
	struct timespec t[2] = { { mtime, 0 }, { mtime, 0 } };
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(p, "w"));
	fputs(name, fp);
	fclose(fp);
	ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

/* Appends DIR/word to the list. */
static void
add_word(const char *word)
{
	char *end = list;

	while (*end != '\0')
		end += strlen(end) + 1;
	snprintf(end, sizeof(list) - (size_t)(end - list) - 1, "%s/%s", dir,
	    word);
}

/* The contents of the set's files (each its name), joined by '|'. */
static const char *
opened(void)
{
	static char out[1024];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < set.n; i++) {
		char buf[128];
		ssize_t n = pread(set.fd[i], buf, sizeof(buf) - 1, 0);

		ck_assert_int_ge(n, 0);
		buf[n] = '\0';
		ck_assert_int_eq(set.size[i], n);
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    i > 0 ? "|" : "", buf);
	}
	return out;
}

START_TEST(match_knows_star_and_question_mark_only)
{
	ck_assert(rotated_match("app.log-*", "app.log-20261201"));
	ck_assert(rotated_match("app.log-*", "app.log-"));
	ck_assert(!rotated_match("app.log-*", "app.log"));
	ck_assert(rotated_match("a.?", "a.1"));
	ck_assert(!rotated_match("a.?", "a.10"));
	ck_assert(rotated_match("*.log.*", "x.log.1"));
	ck_assert(rotated_match("*a*b*", "xxaxxbxx"));
	ck_assert(!rotated_match("*a*b", "xxaxxbxx"));
	ck_assert(rotated_match("[ab]", "[ab]"));	/* not a class */
	ck_assert(!rotated_match("[ab]", "a"));
	ck_assert(rotated_match("\\*", "\\x"));		/* no escapes */
	ck_assert(rotated_match("**", ""));
}
END_TEST

START_TEST(named_paths_open_in_their_order)
{
	make("log.2", 3000);
	make("log.1", 1000);
	add_word("log.2");
	add_word("log.1");
	add_word("log.3");		/* missing: passed over */
	rotated_open(&set, list, NULL, "t", &logged, NULL);
	ck_assert_str_eq(opened(), "log.2|log.1");
}
END_TEST

START_TEST(glob_opens_newest_modification_first)
{
	make("app.log-20261130", 3000);
	make("app.log-20261201", 2000);
	make("app.log-20261129", 1000);
	make("other-20261201", 4000);
	add_word("app.log-*");
	rotated_open(&set, list, NULL, "t", &logged, NULL);
	ck_assert_str_eq(opened(),
	    "app.log-20261130|app.log-20261201|app.log-20261129");
}
END_TEST

/* The current file (a glob that matches the path itself), a file seen
 * twice, a symbolic link from a glob, a FIFO, a directory: passed over.
 * A named symbolic link is the admin's: followed. */
START_TEST(what_is_not_a_predecessor_is_passed_over)
{
	char p[256], target[256];
	struct stat cur;

	make("log", 5000);
	make("log.1", 4000);
	snprintf(p, sizeof(p), "%s/log.link", dir);
	snprintf(target, sizeof(target), "%s/log.1", dir);
	ck_assert_int_eq(symlink(target, p), 0);
	snprintf(p, sizeof(p), "%s/log.fifo", dir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/log.dir", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/log", dir);
	ck_assert_int_eq(stat(p, &cur), 0);
	add_word("log*");
	add_word("log.1");
	rotated_open(&set, list, &cur, "t", &logged, NULL);
	ck_assert_str_eq(opened(), "log.1");

	rotated_close_from(&set, 0);
	memset(list, 0, sizeof(list));
	add_word("log.link");
	rotated_open(&set, list, &cur, "t", &logged, NULL);
	ck_assert_str_eq(opened(), "log.1");
}
END_TEST

START_TEST(at_most_16_files_are_opened)
{
	char name[32];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "log-%02d", i);
		make(name, 1000 + i);
	}
	add_word("log-*");
	rotated_open(&set, list, NULL, "t", &logged, NULL);
	ck_assert_uint_eq(set.n, CFG_ROTATED_MAX);
	ck_assert_str_eq(opened(), "log-39|log-38|log-37|log-36|log-35|"
	    "log-34|log-33|log-32|log-31|log-30|log-29|log-28|log-27|log-26|"
	    "log-25|log-24");
	rotated_close_from(&set, 3);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_str_eq(opened(), "log-39|log-38|log-37");
}
END_TEST

/* A glob's directory is read again only when it changed: what a resume
 * found nowhere costs no directory scan the next time. */
START_TEST(glob_matches_are_kept_while_the_directory_is_unchanged)
{
	struct rotated_cache cache;
	struct timespec t[2] = { { 9000, 0 }, { 9000, 0 } };
	char p[256];

	memset(&cache, 0, sizeof(cache));
	make("log-1", 1000);
	make("log-2", 2000);
	add_word("log-*");
	/* Changed just now: read every time, as it may change again within
	 * its time stamp's tick. */
	rotated_open(&set, list, NULL, "t", &logged, &cache);
	ck_assert_str_eq(opened(), "log-2|log-1");
	ck_assert_uint_eq(cache.glob[0]->ino, 0);
	rotated_close_from(&set, 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, dir, t, 0), 0);
	rotated_open(&set, list, NULL, "t", &logged, &cache);
	ck_assert_str_eq(opened(), "log-2|log-1");
	ck_assert_uint_ne(cache.glob[0]->ino, 0);
	/* A file's time changed, the directory not: the order kept. */
	snprintf(p, sizeof(p), "%s/log-1", dir);
	ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	rotated_close_from(&set, 0);
	rotated_open(&set, list, NULL, "t", &logged, &cache);
	ck_assert_str_eq(opened(), "log-2|log-1");
	/* A file removed, another made: read again. */
	snprintf(p, sizeof(p), "%s/log-2", dir);
	ck_assert_int_eq(unlink(p), 0);
	make("log-3", 3000);
	rotated_close_from(&set, 0);
	rotated_open(&set, list, NULL, "t", &logged, &cache);
	ck_assert_str_eq(opened(), "log-1|log-3");
	rotated_cache_free(&cache);
	ck_assert_ptr_null(cache.glob[0]);
}
END_TEST

/* A predecessor that cannot be opened is logged once, however many
 * resumes try it, and again once it was fine in between. */
START_TEST(a_failing_open_is_logged_once)
{
	char errlog[128], buf[4096];
	int saved = dup(2), fd;
	ssize_t n;
	int lines = 0, i;

	snprintf(errlog, sizeof(errlog), "%s/err", dir);
	make("file", 1000);
	add_word("file/log.1");		/* ENOTDIR */
	fflush(stderr);
	ck_assert_int_ge(fd = open(errlog, O_WRONLY | O_CREAT, 0600), 0);
	dup2(fd, 2);
	close(fd);
	for (i = 0; i < 5; i++)
		rotated_open(&set, list, NULL, "t", &logged, NULL);
	ck_assert_int_eq(logged, ENOTDIR);
	memset(list, 0, sizeof(list));
	add_word("missing");		/* fine: nothing to open */
	rotated_open(&set, list, NULL, "t", &logged, NULL);
	ck_assert_int_eq(logged, 0);
	memset(list, 0, sizeof(list));
	add_word("file/log.1");
	rotated_open(&set, list, NULL, "t", &logged, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_ge(fd = open(errlog, O_RDONLY), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (i = 0; buf[i] != '\0'; i++)
		lines += buf[i] == '\n';
	ck_assert_msg(lines == 2, "%d lines logged: %s", lines, buf);
	ck_assert_ptr_nonnull(strstr(buf, "Not a directory"));
}
END_TEST

Suite *
rotated_suite(void)
{
	Suite *s = suite_create("rotated");
	TCase *tc = tcase_create("Core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, match_knows_star_and_question_mark_only);
	tcase_add_test(tc, named_paths_open_in_their_order);
	tcase_add_test(tc, glob_opens_newest_modification_first);
	tcase_add_test(tc, what_is_not_a_predecessor_is_passed_over);
	tcase_add_test(tc, at_most_16_files_are_opened);
	tcase_add_test(tc, a_failing_open_is_logged_once);
	tcase_add_test(tc, glob_matches_are_kept_while_the_directory_is_unchanged);
	suite_add_tcase(s, tc);
	return s;
}
