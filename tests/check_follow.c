/* check_follow.c - unit tests of the file follower (follow.c), with
 * inotify and in polling mode, on files in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"
#include "check_suites.h"

static char dir[64];
static char path[128];		/* the followed path: DIR/log */
static char rotated[128];	/* where it is renamed: DIR/log.1 */
static char other[128];		/* an unrelated file: DIR/other */
static char subdir[128];	/* a directory: DIR/sub */
static char errlog[128];	/* the follower's log while captured: DIR/err */
static int saved_stderr = -1;	/* the real stderr while captured */
static struct follow_watch w;
static struct follow f;

static void
setup(void)
{
	strcpy(dir, "/tmp/check_follow.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(rotated, sizeof(rotated), "%s/log.1", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	snprintf(subdir, sizeof(subdir), "%s/sub", dir);
	snprintf(errlog, sizeof(errlog), "%s/err", dir);
	w.fd = -1;
	memset(&f, 0, sizeof(f));
}

static void
teardown(void)
{
	follow_watch_close(&w);
	unlink(path);
	unlink(rotated);
	unlink(other);
	unlink(errlog);
	rmdir(subdir);
	rmdir(dir);
}

/* Loop tests run twice: _i 0 with inotify (when the system gives it),
 * _i 1 in polling mode. */
static void
watch_mode(int polling)
{
	if (polling)
		w.fd = -1;
	else
		follow_watch_init(&w);
}

static void
write_at(const char *p, const char *data, size_t len, int flags)
{
	int fd = open(p, O_WRONLY | O_CREAT | flags, 0644);

	ck_assert_msg(fd >= 0, "open %s: %s", p, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
write_file(const char *p, const char *s)
{
	write_at(p, s, strlen(s), O_TRUNC);
}

static void
append_file(const char *p, const char *s)
{
	write_at(p, s, strlen(s), O_APPEND);
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* less the one of opendir */
}

/* Sends stderr, where the follower logs, to errlog until log_end. */
static void
log_begin(void)
{
	int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_msg(fd >= 0, "open %s: %s", errlog, strerror(errno));
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static void
log_end(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
}

/* How many lines of the captured log contain needle. */
static int
log_count(const char *needle)
{
	char buf[8192], *p, *nl;
	ssize_t n;
	int fd = open(errlog, O_RDONLY), count = 0;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		count += strstr(p, needle) != NULL;
	}
	return count;
}

/* Makes this process short of descriptors: the next open fails with
 * EMFILE until fds_restore. */
static void
fds_exhaust(struct rlimit *saved)
{
	struct rlimit lim;
	int lowest = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(lowest, 0);
	close(lowest);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, saved), 0);
	lim = *saved;
	lim.rlim_cur = (rlim_t)lowest;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
}

static void
fds_restore(const struct rlimit *saved)
{
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, saved), 0);
}

/* Who may not read a file of mode 0600 we create: as root, the follower
 * looks with euid nobody between reader_begin and reader_end (root reads
 * anything); else we are that reader and the file is made mode 0. */
static void
reader_begin(void)
{
	if (geteuid() != 0 && getuid() != 0)
		return;
	ck_assert_int_eq(seteuid(65534), 0);
	/* Else /proc/self/fd, which the follower watches through, is root's. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static void
reader_end(void)
{
	if (getuid() == 0)
		ck_assert_int_eq(seteuid(0), 0);
}

/* Creates path as logrotate's create does: content, then mode 0600 that
 * the follower may not read (see reader_begin). */
static void
create_unreadable(const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	if (getuid() != 0)
		ck_assert_int_eq(fchmod(fd, 0), 0);
	close(fd);
}

/* Follows path holding s (polling) and returns its generation. */
static struct follow_gen *
gen_of(const char *s)
{
	write_file(path, s);
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	ck_assert_ptr_nonnull(f.cur);
	return f.cur;
}

static void
gen_of_bytes(const char *data, size_t len)
{
	write_at(path, data, len, O_TRUNC);
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	ck_assert_ptr_nonnull(f.cur);
}

/* --- Backlog: where the last N lines start --- */

START_TEST(backlog_of_0_lines_starts_at_the_end)
{
	ck_assert_int_eq(follow_backlog_start(gen_of("a\nbb\nccc\n"), 0), 9);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(backlog_of_1_line_starts_at_the_last_line)
{
	ck_assert_int_eq(follow_backlog_start(gen_of("a\nbb\nccc\n"), 1), 5);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(backlog_of_n_lines_starts_n_lines_back)
{
	struct follow_gen *g = gen_of("a\nbb\nccc\n");

	ck_assert_int_eq(follow_backlog_start(g, 2), 2);
	ck_assert_int_eq(follow_backlog_start(g, 3), 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(backlog_beyond_the_file_starts_at_0)
{
	struct follow_gen *g = gen_of("a\nbb\nccc\n");

	ck_assert_int_eq(follow_backlog_start(g, 4), 0);
	ck_assert_int_eq(follow_backlog_start(g, 100000), 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(unterminated_last_line_is_not_counted)
{
	struct follow_gen *g = gen_of("a\nbb\nccc");

	ck_assert_int_eq(follow_backlog_start(g, 0), 5);
	ck_assert_int_eq(follow_backlog_start(g, 1), 2);
	ck_assert_int_eq(follow_backlog_start(g, 2), 0);
	ck_assert_int_eq(follow_backlog_start(g, 3), 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(backlog_of_empty_or_newline_free_file_is_0)
{
	struct follow_gen *g = gen_of("");

	ck_assert_int_eq(follow_backlog_start(g, 0), 0);
	ck_assert_int_eq(follow_backlog_start(g, 5), 0);
	follow_stop(&f, &w);
	g = gen_of("no newline");
	ck_assert_int_eq(follow_backlog_start(g, 0), 0);
	ck_assert_int_eq(follow_backlog_start(g, 1), 0);
	follow_stop(&f, &w);
}
END_TEST

/* 3000 lines of 100 bytes: the last 64 KiB chunk starts mid-line. */
START_TEST(backlog_spans_64k_chunks)
{
	static const int counts[] = { 0, 1, 655, 656, 1000, 2999, 3000, 5000 };
	char *data = malloc(300000);
	size_t i;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < 3000; i++) {
		memset(data + i * 100, 'a' + (int)(i % 26), 99);
		data[i * 100 + 99] = '\n';
	}
	gen_of_bytes(data, 300000);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		off_t want = 300000 - 100 * (off_t)counts[i];

		ck_assert_int_eq(follow_backlog_start(f.cur, counts[i]),
		    want < 0 ? 0 : want);
	}
	follow_stop(&f, &w);
	free(data);
}
END_TEST

/* Newlines on both sides of the boundary of the last chunk. */
START_TEST(backlog_finds_newlines_at_the_chunk_boundary)
{
	enum { S = 200000 };
	char *data = malloc(S);

	ck_assert_ptr_nonnull(data);
	memset(data, 'x', S);
	data[10] = '\n';
	data[S - 65537] = '\n';
	data[S - 65536] = '\n';
	data[S - 1] = '\n';
	gen_of_bytes(data, S);
	ck_assert_int_eq(follow_backlog_start(f.cur, 0), S);
	ck_assert_int_eq(follow_backlog_start(f.cur, 1), S - 65535);
	ck_assert_int_eq(follow_backlog_start(f.cur, 2), S - 65536);
	ck_assert_int_eq(follow_backlog_start(f.cur, 3), 11);
	ck_assert_int_eq(follow_backlog_start(f.cur, 4), 0);
	follow_stop(&f, &w);
	free(data);
}
END_TEST

START_TEST(backlog_crosses_a_line_longer_than_a_chunk)
{
	enum { S = 2 + 100000 + 1 };
	char *data = malloc(S);

	ck_assert_ptr_nonnull(data);
	memcpy(data, "x\n", 2);
	memset(data + 2, 'y', 100000);
	data[S - 1] = '\n';
	gen_of_bytes(data, S);
	ck_assert_int_eq(follow_backlog_start(f.cur, 1), 2);
	ck_assert_int_eq(follow_backlog_start(f.cur, 2), 0);
	follow_stop(&f, &w);
	free(data);
}
END_TEST

/* --- Tags: the head a generation keeps --- */

START_TEST(gen_tag_is_the_hash_of_the_bytes_before)
{
	struct follow_gen *g = gen_of("a\nbb\n");

	ck_assert_uint_eq(follow_gen_tag(g, 0), ID_TAG_EMPTY);
	ck_assert_uint_eq(follow_gen_tag(g, 2),
	    id_fnv1a(ID_TAG_EMPTY, "a\n", 2));
	ck_assert_uint_eq(follow_gen_tag(g, 5),
	    id_fnv1a(ID_TAG_EMPTY, "a\nbb\n", 5));
	ck_assert_uint_eq(g->head_len, 5);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(gen_head_is_read_once_and_stops_at_4096_bytes)
{
	enum { S = 3 * ID_TAG_SPAN };
	char *data = malloc(S);
	struct follow_gen *g;
	uint32_t want;

	ck_assert_ptr_nonnull(data);
	memset(data, 'z', S);
	gen_of_bytes(data, S);
	g = f.cur;
	want = id_fnv1a(ID_TAG_EMPTY, data, ID_TAG_SPAN);
	ck_assert_uint_eq(follow_gen_tag(g, S - 1), want);
	ck_assert_uint_eq(follow_gen_tag(g, ID_TAG_SPAN + 1), want);
	ck_assert_uint_eq(g->head_len, ID_TAG_SPAN);
	/* What the file holds now is not read again: the head is kept. */
	write_at(path, "y", 1, 0);
	ck_assert_uint_eq(follow_gen_tag(g, S), want);
	follow_stop(&f, &w);
	free(data);
}
END_TEST

/* Truncated and written past its old size between two looks: the first
 * bytes differ from the head its tags were made of. */
START_TEST(regrown_file_gets_a_new_epoch)
{
	struct follow_gen *g;

	watch_mode(_i);
	write_file(path, "aaaa\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	g = f.cur;
	(void)follow_gen_tag(g, 5);
	append_file(path, "bbbb\n");		/* grows: the same epoch */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_uint_eq(g->epoch, 0);
	write_file(path, "cccc\ndddd\neeee\n");	/* regrown past 10 */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_uint_eq(g->epoch, 1);
	/* What it held is remembered, for its copy to be found. */
	ck_assert_uint_eq(g->pre_len, 10);
	ck_assert_uint_eq(g->pre_tag, id_fnv1a(ID_TAG_EMPTY, "aaaa\nbbbb\n",
	    10));
	ck_assert_uint_eq(g->head_len, 15);	/* read again as it grows */
	ck_assert_uint_eq(follow_gen_tag(g, 5),
	    id_fnv1a(ID_TAG_EMPTY, "cccc\n", 5));
	follow_stop(&f, &w);
}
END_TEST

START_TEST(detached_gen_takes_the_reference_on_its_successor)
{
	struct follow_gen *cur, *pred;
	int fd;

	write_file(rotated, "old\n");
	cur = gen_of("new\n");
	ck_assert_int_ge(fd = open(rotated, O_RDONLY), 0);
	follow_gen_get(cur);
	pred = follow_gen_detached(&f, &w, fd, 4, cur);
	ck_assert_ptr_nonnull(pred);
	ck_assert_int_eq(pred->detached, 1);
	ck_assert_int_eq(pred->wd, -1);
	ck_assert_ptr_eq(pred->succ, cur);
	ck_assert_int_eq(cur->refs, 2);
	follow_gen_put(&f, &w, pred);		/* closes fd, drops cur's */
	ck_assert_int_eq(fd_is_open(fd), 0);
	ck_assert_int_eq(cur->refs, 1);
	follow_stop(&f, &w);
}
END_TEST

/* A second client resuming in the same predecessor, with the same
 * successor, shares its generation: its descriptor is closed, its
 * reference on the successor dropped. One with another successor does
 * not. */
START_TEST(detached_gen_of_the_same_file_and_successor_is_shared)
{
	struct follow_gen *cur, *a, *b, *c;
	int fd1, fd2, fd3;

	write_file(rotated, "old\n");
	cur = gen_of("new\n");
	ck_assert_int_ge(fd1 = open(rotated, O_RDONLY), 0);
	ck_assert_int_ge(fd2 = open(rotated, O_RDONLY), 0);
	ck_assert_int_ge(fd3 = open(rotated, O_RDONLY), 0);
	follow_gen_get(cur);
	a = follow_gen_detached(&f, &w, fd1, 4, cur);
	follow_gen_get(cur);
	b = follow_gen_detached(&f, &w, fd2, 4, cur);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(fd_is_open(fd2), 0);
	ck_assert_int_eq(a->refs, 2);
	ck_assert_int_eq(cur->refs, 2);
	c = follow_gen_detached(&f, &w, fd3, 4, NULL);
	ck_assert_ptr_ne(c, a);
	ck_assert_int_eq(fd_is_open(fd3), 1);
	follow_gen_put(&f, &w, c);
	follow_gen_put(&f, &w, b);
	ck_assert_int_eq(fd_is_open(fd1), 1);
	follow_gen_put(&f, &w, a);
	ck_assert_int_eq(fd_is_open(fd1), 0);
	ck_assert_ptr_null(f.detached);
	ck_assert_int_eq(cur->refs, 1);
	follow_stop(&f, &w);
}
END_TEST

/* --- Follow: by name, like tail -F; each test in both modes --- */

START_TEST(missing_file_is_waited_for_then_becomes_current)
{
	watch_mode(_i);
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	ck_assert_ptr_null(f.cur);
	ck_assert_int_eq(follow_check(&f, &w), 0);
	ck_assert_ptr_null(f.cur);
	write_file(path, "hello\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_nonnull(f.cur);
	ck_assert_int_eq(f.cur->size, 6);
	ck_assert_int_eq(f.cur->refs, 1);
	ck_assert_ptr_null(f.cur->succ);
	ck_assert_int_eq(follow_check(&f, &w), 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(unchanged_file_checks_as_no_change)
{
	struct follow_gen *g;

	watch_mode(_i);
	write_file(path, "a\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	g = f.cur;
	ck_assert_int_eq(follow_check(&f, &w), 0);
	ck_assert_int_eq(follow_check(&f, &w), 0);
	ck_assert_ptr_eq(f.cur, g);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(growth_is_a_change_of_the_same_file)
{
	struct follow_gen *g;

	watch_mode(_i);
	write_file(path, "a\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	g = f.cur;
	append_file(path, "bb\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_eq(f.cur, g);
	ck_assert_int_eq(g->size, 5);
	ck_assert_uint_eq(g->epoch, 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(new_file_after_rename_becomes_current)
{
	struct follow_gen *old;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	ck_assert_int_eq(rename(path, rotated), 0);
	write_file(path, "newer\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_nonnull(f.cur);
	ck_assert_ptr_ne(f.cur, old);
	ck_assert_int_eq(f.cur->size, 6);
	ck_assert_uint_eq(f.cur->epoch, 0);
	/* Nobody read the old file: it is gone, the new one stands alone. */
	ck_assert_int_eq(f.cur->refs, 1);
	ck_assert_ptr_eq(f.gens, f.cur);
	ck_assert_ptr_null(f.cur->next);
	ck_assert_ptr_eq(f.last, f.cur);
	ck_assert_int_eq(follow_check(&f, &w), 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(renamed_file_stays_open_while_referenced)
{
	struct follow_gen *old, *g;
	char buf[16];
	int old_fd, found = 0;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	old_fd = old->fd;
	follow_gen_get(old);		/* a client reading it */
	ck_assert_int_eq(rename(path, rotated), 0);
	write_file(path, "newer\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_ne(f.cur, old);
	ck_assert_ptr_eq(old->succ, f.cur);
	ck_assert_int_eq(old->refs, 1);
	ck_assert_int_eq(f.cur->refs, 2);	/* current, and old's successor */
	ck_assert(fd_is_open(old_fd));
	ck_assert_int_eq(pread(old_fd, buf, sizeof(buf), 0), 4);
	ck_assert_mem_eq(buf, "old\n", 4);
	for (g = f.gens; g != NULL; g = g->next)
		found += g == old;
	ck_assert_int_eq(found, 1);

	/* The old file is read to its end: its growth is still seen. */
	append_file(rotated, "last\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_int_eq(old->size, 9);

	/* The client is done: the old file closes, its hold on the new one
	 * goes with it. */
	follow_gen_put(&f, &w, old);
	ck_assert(!fd_is_open(old_fd));
	ck_assert_int_eq(f.cur->refs, 1);
	ck_assert_ptr_eq(f.gens, f.cur);
	ck_assert_ptr_null(f.cur->next);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(rotation_in_two_steps_links_the_successor)
{
	struct follow_gen *old;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	follow_gen_get(old);
	ck_assert_int_eq(rename(path, rotated), 0);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_null(f.cur);
	ck_assert_ptr_null(old->succ);
	ck_assert(fd_is_open(old->fd));
	ck_assert_int_eq(follow_check(&f, &w), 0);
	write_file(path, "new\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_nonnull(f.cur);
	ck_assert_ptr_eq(old->succ, f.cur);
	follow_gen_put(&f, &w, old);
	ck_assert_int_eq(f.cur->refs, 1);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(truncation_bumps_the_epoch)
{
	struct follow_gen *g;

	watch_mode(_i);
	write_file(path, "0123456789\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	g = f.cur;
	ck_assert_uint_eq(g->epoch, 0);
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_eq(f.cur, g);
	ck_assert_uint_eq(g->epoch, 1);
	ck_assert_int_eq(g->size, 0);
	append_file(path, "x\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_uint_eq(g->epoch, 1);
	write_file(path, "");		/* O_TRUNC, as logrotate copytruncate */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_uint_eq(g->epoch, 2);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(deleted_file_leaves_no_current)
{
	watch_mode(_i);
	write_file(path, "a\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	ck_assert_ptr_nonnull(f.cur);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_ptr_null(f.cur);
	ck_assert_ptr_null(f.gens);
	ck_assert_int_eq(follow_check(&f, &w), 0);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(stop_closes_every_file)
{
	struct follow_gen *held;
	int before;

	watch_mode(_i);
	before = open_fds();
	write_file(path, "a\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	held = f.cur;
	follow_gen_get(held);
	ck_assert_int_eq(rename(path, rotated), 0);
	write_file(path, "b\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_int_eq(open_fds(), before + 2);
	follow_stop(&f, &w);
	ck_assert_ptr_null(f.cur);
	ck_assert_int_eq(open_fds(), before + 2);	/* the client's chain */
	follow_gen_put(&f, &w, held);
	ck_assert_int_eq(open_fds(), before);
	ck_assert_ptr_null(f.gens);
}
END_TEST

START_TEST(directory_path_is_refused_with_einval)
{
	watch_mode(_i);
	ck_assert_int_eq(mkdir(subdir, 0755), 0);
	errno = 0;
	ck_assert_int_eq(follow_start(&f, &w, "test", subdir), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(f.cur);
	ck_assert_ptr_null(f.gens);
}
END_TEST

START_TEST(unreadable_file_is_refused)
{
	if (geteuid() == 0)
		return;		/* root reads anything: nothing to test */
	watch_mode(_i);
	write_file(path, "secret\n");
	ck_assert_int_eq(chmod(path, 0), 0);
	errno = 0;
	ck_assert_int_eq(follow_start(&f, &w, "test", path), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_ptr_null(f.cur);
}
END_TEST

/* --- Recover: a new file at the path that cannot be opened yet --- */

START_TEST(emfile_at_rotation_keeps_the_old_file_until_fds_free)
{
	struct follow_gen *old;
	struct rlimit lim;
	int r1, r2, e1, e2, logged, cur_kept;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	follow_gen_get(old);		/* a client reading it */
	ck_assert_int_eq(rename(path, rotated), 0);
	write_file(path, "new\n");
	log_begin();
	fds_exhaust(&lim);
	r1 = follow_check(&f, &w);
	e1 = f.error;
	r2 = follow_check(&f, &w);
	e2 = f.error;
	cur_kept = f.cur == old && old->succ == NULL;
	fds_restore(&lim);
	logged = log_count("Too many open files (retrying)");
	ck_assert_int_eq(r1, 0);
	ck_assert_int_eq(e1, EMFILE);
	ck_assert_int_eq(r2, 0);
	ck_assert_int_eq(e2, EMFILE);
	ck_assert_msg(cur_kept, "the old file is no longer current");
	ck_assert_int_eq(logged, 1);
	ck_assert(follow_needs_poll(&f));

	/* Descriptors again: the rotation goes on as any other. */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	log_end();
	ck_assert_ptr_ne(f.cur, old);
	ck_assert_ptr_eq(old->succ, f.cur);
	ck_assert_int_eq(f.cur->size, 4);
	ck_assert_int_eq(f.error, 0);
	ck_assert_int_eq(follow_needs_poll(&f), f.polled);
	ck_assert_int_eq(log_count("succeeded, no longer retrying"), 1);
	ck_assert_int_eq(log_count("(retrying)"), 1);
	follow_gen_put(&f, &w, old);
	ck_assert_int_eq(f.cur->refs, 1);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(unreadable_new_file_is_retried_until_chmod)
{
	struct follow_gen *old;
	int r1, r2, r3, e1, e2, kept;

	watch_mode(_i);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	follow_gen_get(old);
	ck_assert_int_eq(rename(path, rotated), 0);
	create_unreadable("new1\n");
	log_begin();
	reader_begin();
	r1 = follow_check(&f, &w);
	e1 = f.error;
	reader_end();
	append_file(rotated, "old2\n");	/* the writer has not reopened */
	reader_begin();
	r2 = follow_check(&f, &w);
	e2 = f.error;
	kept = f.cur == old && old->succ == NULL && old->size == 9 &&
	    follow_newest(&f) == old;
	reader_end();
	ck_assert_int_eq(r1, 0);
	ck_assert_int_eq(e1, EACCES);
	ck_assert_int_eq(r2, 1);		/* the old file grew */
	ck_assert_int_eq(e2, EACCES);
	ck_assert_msg(kept, "the old file is no longer current");
	ck_assert_int_eq(log_count("Permission denied (retrying)"), 1);
	ck_assert(follow_needs_poll(&f));

	ck_assert_int_eq(chmod(path, 0644), 0);
	reader_begin();
	r3 = follow_check(&f, &w);
	reader_end();
	log_end();
	ck_assert_int_eq(r3, 1);
	ck_assert_ptr_ne(f.cur, old);
	ck_assert_ptr_eq(old->succ, f.cur);
	ck_assert_int_eq(f.cur->size, 5);
	ck_assert_int_eq(f.error, 0);
	ck_assert_int_eq(log_count("succeeded, no longer retrying"), 1);
	follow_gen_put(&f, &w, old);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(unopenable_file_with_none_current_is_retried)
{
	struct follow_gen *old, *newest;
	struct rlimit lim;
	int r1, e1, none;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	follow_gen_get(old);
	ck_assert_int_eq(rename(path, rotated), 0);
	ck_assert_int_eq(follow_check(&f, &w), 1);	/* gone: none current */
	ck_assert_ptr_null(f.cur);
	ck_assert_ptr_null(follow_newest(&f));	/* new clients wait */
	write_file(path, "new\n");
	log_begin();
	fds_exhaust(&lim);
	r1 = follow_check(&f, &w);
	e1 = f.error;
	none = f.cur == NULL && old->succ == NULL;
	newest = follow_newest(&f);
	fds_restore(&lim);
	ck_assert_int_eq(r1, 0);
	ck_assert_int_eq(e1, EMFILE);
	ck_assert(none);
	ck_assert_ptr_eq(newest, old);		/* new clients get the old file */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	log_end();
	ck_assert_ptr_nonnull(f.cur);
	ck_assert_ptr_eq(old->succ, f.cur);
	ck_assert_ptr_eq(follow_newest(&f), f.cur);
	ck_assert_int_eq(f.error, 0);
	follow_gen_put(&f, &w, old);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(vanished_unopenable_file_ends_the_retries)
{
	struct rlimit lim;
	int e1;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	ck_assert_int_eq(unlink(path), 0);
	write_file(path, "new\n");
	log_begin();
	fds_exhaust(&lim);
	follow_check(&f, &w);
	e1 = f.error;
	fds_restore(&lim);
	ck_assert_int_eq(e1, EMFILE);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	log_end();
	ck_assert_ptr_null(f.cur);
	ck_assert_int_eq(f.error, 0);
	ck_assert_int_eq(follow_needs_poll(&f), f.polled);
	follow_stop(&f, &w);
}
END_TEST

START_TEST(directory_at_the_path_is_retried_as_not_a_regular_file)
{
	struct follow_gen *old;

	watch_mode(_i);
	write_file(path, "old\n");
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	old = f.cur;
	ck_assert_int_eq(rename(path, rotated), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	log_begin();
	ck_assert_int_eq(follow_check(&f, &w), 0);
	ck_assert_int_eq(follow_check(&f, &w), 0);
	ck_assert_ptr_eq(f.cur, old);
	ck_assert_int_eq(f.error, EINVAL);
	ck_assert_int_eq(log_count("not a regular file (retrying)"), 1);
	ck_assert_int_eq(rmdir(path), 0);
	write_file(path, "new\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	log_end();
	ck_assert_int_eq(f.error, 0);
	ck_assert_ptr_ne(f.cur, old);
	follow_stop(&f, &w);
}
END_TEST

/* With inotify, creating the path and writing to it give events that the
 * follower claims; another file's do not. */
START_TEST(inotify_events_for_the_path_are_wanted)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd;
	int wanted = 0, unwanted = 0, round;

	follow_watch_init(&w);
	if (w.fd < 0)
		return;		/* no inotify here: polling is tested above */
	ck_assert_int_eq(follow_start(&f, &w, "test", path), 0);
	if (f.polled)
		return;		/* a remote file system: polled */
	ck_assert_int_ge(f.wd_dir, 0);
	write_file(other, "x\n");
	write_file(path, "a\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_int_ge(f.cur->wd, 0);
	append_file(path, "b\n");
	for (round = 0; round < 10; round++) {
		ssize_t n;
		char *p;

		pfd.fd = w.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) <= 0)
			break;
		n = read(w.fd, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			const char *name = ev->len ? ev->name : NULL;

			if (follow_wants(&f, ev->wd, name))
				wanted++;
			else if (name != NULL && strcmp(name, "other") == 0)
				unwanted++;
			p += sizeof(*ev) + ev->len;
		}
	}
	ck_assert_int_gt(wanted, 0);
	ck_assert_int_gt(unwanted, 0);
	ck_assert_int_eq(follow_wants(&f, f.wd_dir, "log"), 1);
	ck_assert_int_eq(follow_wants(&f, f.wd_dir, "other"), 0);
	ck_assert_int_eq(follow_wants(&f, f.cur->wd, NULL), 1);
	follow_stop(&f, &w);
}
END_TEST

Suite *
follow_suite(void)
{
	Suite *s = suite_create("follow");
	TCase *tc;

	tc = tcase_create("Backlog");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, backlog_of_0_lines_starts_at_the_end);
	tcase_add_test(tc, backlog_of_1_line_starts_at_the_last_line);
	tcase_add_test(tc, backlog_of_n_lines_starts_n_lines_back);
	tcase_add_test(tc, backlog_beyond_the_file_starts_at_0);
	tcase_add_test(tc, unterminated_last_line_is_not_counted);
	tcase_add_test(tc, backlog_of_empty_or_newline_free_file_is_0);
	tcase_add_test(tc, backlog_spans_64k_chunks);
	tcase_add_test(tc, backlog_finds_newlines_at_the_chunk_boundary);
	tcase_add_test(tc, backlog_crosses_a_line_longer_than_a_chunk);
	suite_add_tcase(s, tc);

	tc = tcase_create("Resume");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gen_tag_is_the_hash_of_the_bytes_before);
	tcase_add_test(tc, gen_head_is_read_once_and_stops_at_4096_bytes);
	tcase_add_loop_test(tc, regrown_file_gets_a_new_epoch, 0, 2);
	tcase_add_test(tc, detached_gen_takes_the_reference_on_its_successor);
	tcase_add_test(tc, detached_gen_of_the_same_file_and_successor_is_shared);
	suite_add_tcase(s, tc);

	/* _i 0: inotify, _i 1: polling (watch fd -1); same contract. */
	tc = tcase_create("Core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, missing_file_is_waited_for_then_becomes_current,
	    0, 2);
	tcase_add_loop_test(tc, unchanged_file_checks_as_no_change, 0, 2);
	tcase_add_loop_test(tc, growth_is_a_change_of_the_same_file, 0, 2);
	tcase_add_loop_test(tc, new_file_after_rename_becomes_current, 0, 2);
	tcase_add_loop_test(tc, renamed_file_stays_open_while_referenced, 0, 2);
	tcase_add_loop_test(tc, rotation_in_two_steps_links_the_successor, 0, 2);
	tcase_add_loop_test(tc, truncation_bumps_the_epoch, 0, 2);
	tcase_add_loop_test(tc, deleted_file_leaves_no_current, 0, 2);
	tcase_add_loop_test(tc, stop_closes_every_file, 0, 2);
	tcase_add_loop_test(tc, directory_path_is_refused_with_einval, 0, 2);
	tcase_add_loop_test(tc, unreadable_file_is_refused, 0, 2);
	tcase_add_test(tc, inotify_events_for_the_path_are_wanted);
	suite_add_tcase(s, tc);

	/* A new file that cannot be opened yet, in both modes too. */
	tc = tcase_create("Recover");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc,
	    emfile_at_rotation_keeps_the_old_file_until_fds_free, 0, 2);
	tcase_add_loop_test(tc, unreadable_new_file_is_retried_until_chmod,
	    0, 2);
	tcase_add_loop_test(tc, unopenable_file_with_none_current_is_retried,
	    0, 2);
	tcase_add_loop_test(tc, vanished_unopenable_file_ends_the_retries,
	    0, 2);
	tcase_add_loop_test(tc,
	    directory_at_the_path_is_retried_as_not_a_regular_file, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
